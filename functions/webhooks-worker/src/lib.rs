//! Worker on the webhooks queue: delivers order, payment and refund events
//! to the merchant endpoints subscribed to them, signed the Standard
//! Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! - The first time it sees an event it writes one delivery per subscribed
//!   endpoint with the exact body (the order as it is then), so every
//!   retry and replay sends the same bytes under the same `webhook-id`:
//!   the event's id. Delivery is at least once; receivers deduplicate by it.
//! - Endpoints are tried together; what answered 2xx is marked delivered
//!   and not sent again. If any failed, the message is put back on the
//!   queue with the schedule's delay for that receive
//!   (`ChangeMessageVisibility`) and fails, so SQS brings it back: an
//!   exponential backoff that needs no timer of our own.
//! - On the queue's last receive, what still fails is parked: listed at
//!   `GET /v1/admin/webhook-endpoints/{id}/deliveries?status=parked` and
//!   sent again by its replay route, which comes back here as a
//!   `webhook.replay_requested` event for that one delivery.
//! - Acknowledging the outbox item comes last, as in every consumer.
//!
//! Every connection goes through [`HttpSender`], whose resolver lets the
//! SSRF guard check each address it connects to.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http_body_util::Full;
use hyper_util::{
    client::legacy::{
        connect::{dns::Name, HttpConnector},
        Client,
    },
    rt::TokioExecutor,
};
use quiet_core::{
    clock,
    events::{Change, Event, Topic},
    metrics,
    store::{
        webhooks::{Attempt, Delivery, DeliveryStatus, Endpoint},
        OrderReads, OutboxStore, WebhookStore,
    },
    webhooks::Guard,
    worker::{self, WorkerError},
};
use serde::Serialize;

pub struct Deps<W, O, X, S> {
    pub webhooks: W,
    pub orders: O,
    pub outbox: X,
    pub sender: S,
    pub retries: Retries,
}

/// How long to wait before each retry: the `n`-th entry after the `n`-th
/// failed receive. SQS holds a message invisible for at most 12 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(Vec<u32>);

/// 30 s, 5 min, 1 h, 12 h: with the queue's five receives, a delivery is
/// tried for about 13 hours before it is parked.
const DEFAULT_SCHEDULE: &str = "30,300,3600,43200";
const MAX_DELAY_SECS: u32 = 43_200;

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays = text
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|secs| (1..=MAX_DELAY_SECS).contains(secs))
                    .ok_or_else(|| format!("{part:?} is not 1 to {MAX_DELAY_SECS} seconds"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("names no delay".into());
        }
        Ok(Self(delays))
    }

    pub fn from_env() -> Result<Self, quiet_core::config::ConfigError> {
        let text = quiet_core::config::env("WEBHOOK_RETRY_SCHEDULE")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SCHEDULE.into());
        Self::parse(&text).map_err(|reason| quiet_core::config::ConfigError::Invalid {
            name: "WEBHOOK_RETRY_SCHEDULE",
            reason,
        })
    }

    /// The delay after the `receive_count`-th receive failed; the last
    /// entry repeats.
    pub fn delay(&self, receive_count: u32) -> u32 {
        let index = usize::try_from(receive_count.saturating_sub(1)).unwrap_or(usize::MAX);
        self.0
            .get(index)
            .or(self.0.last())
            .copied()
            .unwrap_or(MAX_DELAY_SECS)
    }
}

/// Puts a failing message back on the queue for its delay.
pub enum Retries {
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
        schedule: Schedule,
    },
    /// Leave the delay to the queue's visibility timeout (tests).
    QueueDefault,
}

impl Retries {
    /// Holds the message back for the schedule's delay; the delay, when
    /// there is a queue to ask.
    async fn delay(&self, delivery: &worker::Receipt) -> Option<u32> {
        let Self::Sqs {
            client,
            queue_url,
            schedule,
        } = self
        else {
            return None;
        };
        let secs = schedule.delay(delivery.receive_count);
        let result = client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(&delivery.receipt_handle)
            .visibility_timeout(i32::try_from(secs).unwrap_or(i32::MAX))
            .send()
            .await;
        match result {
            Ok(_) => tracing::info!(retry_in_secs = secs, "webhook retry scheduled"),
            // The queue's own visibility timeout brings it back instead.
            Err(err) => tracing::warn!(
                error = %aws_sdk_sqs::error::DisplayErrorContext(&err),
                "could not set the retry delay"
            ),
        }
        Some(secs)
    }
}

/// The JSON every endpoint receives.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    /// When the change happened.
    timestamp: String,
    data: Data<'a>,
}

#[derive(Debug, Serialize)]
struct Data<'a> {
    order: &'a quiet_core::store::Order,
    customer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<&'a str>,
}

async fn payload<O: OrderReads>(orders: &O, event: &Event) -> Result<String, WorkerError> {
    let (order_id, user_id) = event
        .change
        .order()
        .ok_or_else(|| WorkerError::Malformed(format!("{} names no order", event.change.name())))?;
    let order = orders
        .get(order_id)
        .await?
        .filter(|order| &order.user_id == user_id)
        .ok_or_else(|| WorkerError::Missing(format!("order {order_id} not found")))?;
    let refund_id = match &event.change {
        Change::RefundRequested(r) | Change::RefundSucceeded(r) | Change::RefundFailed(r) => {
            Some(r.refund_id.as_str())
        }
        _ => None,
    };
    serde_json::to_string(&Payload {
        kind: event.change.name(),
        timestamp: clock::rfc3339_ms(event.occurred_ms),
        data: Data {
            order: &order,
            customer_id: user_id.as_str(),
            refund_id,
        },
    })
    .map_err(|e| WorkerError::Malformed(e.to_string()))
}

pub async fn handle<W, O, X, S>(
    deps: &Deps<W, O, X, S>,
    event: Event,
    delivery: worker::Receipt,
) -> Result<(), WorkerError>
where
    W: WebhookStore,
    O: OrderReads,
    X: OutboxStore,
    S: Sender,
{
    let targets = match &event.change {
        Change::WebhookReplayRequested {
            endpoint_id,
            delivery_id,
        } => {
            let endpoint = deps.webhooks.endpoint(endpoint_id).await?;
            let wanted = deps.webhooks.delivery(endpoint_id, delivery_id).await?;
            match (endpoint, wanted) {
                (Some(endpoint), Some(wanted)) if wanted.status == DeliveryStatus::Pending => {
                    vec![(endpoint, wanted)]
                }
                // Deleted, expired, or sent by an earlier receive.
                _ => Vec::new(),
            }
        }
        change if change.is_merchant_facing() => {
            let subscribed: Vec<Endpoint> = deps
                .webhooks
                .endpoints()
                .await?
                .into_iter()
                .filter(|endpoint| endpoint.event_types.contains(change.name()))
                // An endpoint hears of what happens after it is created,
                // not of an older event the relay happens to send again.
                .filter(|endpoint| {
                    clock::parse_ms(&endpoint.created_at)
                        .is_none_or(|created| created <= event.occurred_ms)
                })
                .collect();
            let mut targets = Vec::with_capacity(subscribed.len());
            if !subscribed.is_empty() {
                let body = payload(&deps.orders, &event).await?;
                let now = clock::now_rfc3339();
                for endpoint in subscribed {
                    let opened = deps
                        .webhooks
                        .open_delivery(&endpoint.id, &event, &body, &now)
                        .await?;
                    if opened.status == DeliveryStatus::Pending {
                        targets.push((endpoint, opened));
                    }
                }
            }
            targets
        }
        other => {
            return Err(WorkerError::Malformed(format!(
                "{} does not belong on the webhooks queue",
                other.name()
            )))
        }
    };

    let sends = targets
        .iter()
        .map(|(endpoint, wanted)| deps.sender.send(endpoint, wanted));
    let outcomes = futures_util::future::join_all(sends).await;
    let last = delivery.is_last();
    let mut failed = 0usize;
    for ((endpoint, wanted), outcome) in targets.iter().zip(outcomes) {
        let (status, response_status, error) = match outcome {
            Ok(code) if (200..300).contains(&code) => (DeliveryStatus::Delivered, Some(code), None),
            Ok(code) => (failure(last), Some(code), Some(format!("answered {code}"))),
            Err(error) => (failure(last), None, Some(error)),
        };
        match status {
            DeliveryStatus::Delivered => {
                metrics::count("WebhookDeliveriesSucceeded", &[]);
                tracing::info!(endpoint_id = %endpoint.id, delivery_id = %wanted.id, "webhook delivered");
            }
            DeliveryStatus::Pending | DeliveryStatus::Parked => {
                failed += 1;
                metrics::count("WebhookDeliveriesFailed", &[]);
                if status == DeliveryStatus::Parked {
                    metrics::count("WebhookDeliveriesParked", &[]);
                }
                tracing::warn!(
                    endpoint_id = %endpoint.id,
                    delivery_id = %wanted.id,
                    response_status,
                    error,
                    parked = status == DeliveryStatus::Parked,
                    "webhook delivery failed"
                );
            }
        }
        let attempt = Attempt {
            status,
            response_status,
            error,
            at: clock::now_rfc3339(),
        };
        deps.webhooks
            .record_attempt(&endpoint.id, &wanted.id, &attempt)
            .await?;
    }
    if failed > 0 && !last {
        if let Some(secs) = deps.retries.delay(&delivery).await {
            // The queue holds the retry; without this the outbox sweeper
            // would resend the event meanwhile and start a second chain of
            // attempts (a production schedule waits minutes to hours).
            let due_ms = clock::now_ms().saturating_add(u64::from(secs) * 1000);
            deps.outbox
                .postpone(&event.event_id, Topic::Webhooks, due_ms)
                .await?;
        }
        return Err(WorkerError::Webhooks(format!(
            "{failed} of {} endpoints",
            targets.len()
        )));
    }
    deps.outbox.ack(&event.event_id, Topic::Webhooks).await?;
    Ok(())
}

/// A failed attempt is retried, except on the last receive: parked.
fn failure(last: bool) -> DeliveryStatus {
    if last {
        DeliveryStatus::Parked
    } else {
        DeliveryStatus::Pending
    }
}

/// Sends one delivery; the receiver's status code, or why there was none.
pub trait Sender: Send + Sync {
    fn send(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<u16, String>> + Send;
}

/// Resolves a host and hands the connector only the addresses the guard
/// allows, so the check and the connection use the same answer.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver(Guard);

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.0;
        Box::pin(async move {
            // The connector sets the port itself.
            guard
                .resolve(name.as_str(), 0)
                .await
                .map(Vec::into_iter)
                .map_err(|reason| std::io::Error::new(std::io::ErrorKind::PermissionDenied, reason))
        })
    }
}

/// A receiver that does not answer within this is treated as down.
const TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = "QuietEngine-Webhooks/1";

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// Delivers over HTTPS (plain HTTP only to loopback under the dev-only
/// setting), never following redirects, within [`TIMEOUT`].
pub struct HttpSender {
    client: Client<Connector, Full<std::io::Cursor<Vec<u8>>>>,
    guard: Guard,
}

impl HttpSender {
    pub fn new(guard: Guard) -> Result<Self, String> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver(guard));
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no trust roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            guard,
        })
    }
}

impl Sender for HttpSender {
    async fn send(&self, endpoint: &Endpoint, delivery: &Delivery) -> Result<u16, String> {
        // Checked again at every delivery: the rules may be stricter than
        // when the endpoint was registered, and an IP literal never reaches
        // the resolver.
        let destination = self
            .guard
            .destination(&endpoint.url)
            .map_err(|m| format!("refused: the URL {m}"))?;
        let uri: http::Uri = destination
            .url
            .parse()
            .map_err(|_| "refused: not a URL".to_string())?;
        let timestamp = clock::now();
        let id = delivery.id.as_str();
        let body = delivery.payload.clone().into_bytes();
        let signature = endpoint.secret.sign(id, timestamp, &body);
        let request = http::Request::post(uri)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(std::io::Cursor::new(body)))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
            .map_err(|e| describe(&e))?;
        // The body is not read: a receiver's answer is its status code.
        Ok(response.status().as_u16())
    }
}

/// The innermost cause: the guard's refusal or the connection error.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_backs_off_and_repeats_its_last_delay() {
        let schedule = Schedule::parse(DEFAULT_SCHEDULE).expect("default");
        assert_eq!(
            (1..=6).map(|n| schedule.delay(n)).collect::<Vec<_>>(),
            [30, 300, 3600, 43200, 43200, 43200]
        );
        assert_eq!(Schedule::parse(" 1, 2 ").expect("local").delay(2), 2);
        for bad in ["", "0", "30,x", "43201", "-1"] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_what_the_guard_refuses() {
        use tower_service::Service;
        let name: Name = "127.0.0.1".parse().expect("name");
        let mut public = GuardedResolver(Guard::PUBLIC_ONLY);
        let refused = public
            .call(name.clone())
            .await
            .expect_err("loopback refused");
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        let mut dev = GuardedResolver(Guard::DEV_LOOPBACK);
        let allowed: Vec<_> = dev.call(name).await.expect("dev loopback").collect();
        assert_eq!(allowed.len(), 1);
        assert!(allowed[0].ip().is_loopback());
    }
}
