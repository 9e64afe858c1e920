//! Worker on the refunds queue: sends each `refund.requested` to the
//! payment provider, then marks the refund `submitted`. The provider's
//! webhook (`refund.succeeded` / `refund.failed`) settles it later.
//!
//! A provider that is down or refusing fails the message, which SQS
//! delivers again (and the outbox sweeper resends if it ever reached the
//! DLQ), so an outage delays a refund and never loses it. The provider is
//! asked with the refund id as its `Idempotency-Key`, so a resend after a
//! lost answer refunds once. A refund already past `pending` is not sent
//! again. Acknowledging the event in the outbox comes last.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use quiet_core::{
    clock,
    events::{Change, Event, Topic},
    payments::{GatewayError, RefundGateway, RefundSubmission, SignedWebhooks},
    store::{OrderReads, OrderRefunds, OutboxStore, RefundCommit},
    worker::{Receipt, WorkerError},
};

pub struct Deps<O, X, G> {
    pub orders: O,
    pub outbox: X,
    pub provider: G,
}

/// Tries to mark a refund submitted against concurrent refund changes.
const ATTEMPTS: usize = 5;

pub async fn handle<O: OrderReads + OrderRefunds, X: OutboxStore, G: RefundGateway>(
    deps: &Deps<O, X, G>,
    event: Event,
    _delivery: Receipt,
) -> Result<(), WorkerError> {
    let Change::RefundRequested(wanted) = &event.change else {
        return Err(WorkerError::Malformed(format!(
            "{} does not belong on the refunds queue",
            event.change.name()
        )));
    };
    let missing = || WorkerError::Missing(format!("refund {} not found", wanted.refund_id));
    let mut order = deps
        .orders
        .get(&wanted.order_id)
        .await?
        .filter(|order| order.user_id == wanted.user_id)
        .ok_or_else(missing)?;
    let refund = order
        .refunds
        .iter()
        .find(|refund| refund.refund_id == wanted.refund_id)
        .ok_or_else(missing)?;
    if refund.status == quiet_core::domain::refund::RefundStatus::Pending {
        deps.provider
            .submit(&RefundSubmission {
                refund_id: refund.refund_id.clone(),
                order_id: order.order_id.clone(),
                amount: refund.amount.amount,
                currency: refund.amount.currency.code(),
            })
            .await?;
        tracing::info!(order_id = %order.order_id, refund_id = %wanted.refund_id, "refund submitted");
        for _ in 0..ATTEMPTS {
            match deps
                .orders
                .mark_refund_submitted(&order, &wanted.refund_id, &clock::now_rfc3339())
                .await?
            {
                RefundCommit::Changed => {
                    order = deps
                        .orders
                        .get(&wanted.order_id)
                        .await?
                        .ok_or_else(missing)?;
                }
                RefundCommit::Done | RefundCommit::LeaseLost => break,
            }
        }
    }
    deps.outbox.ack(&event.event_id, Topic::Refunds).await?;
    Ok(())
}

/// The provider's refunds endpoint over HTTPS (plain HTTP only to a
/// loopback address, for the local stack): `POST <url>` with the
/// submission as JSON, `Idempotency-Key: <refund id>` and a
/// `Payment-Signature` made with the webhook secret, so the provider can
/// tell the request is ours. Any 2xx is acceptance.
pub struct HttpProvider {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<std::io::Cursor<Vec<u8>>>>,
    uri: http::Uri,
    signer: SignedWebhooks,
}

/// A provider that does not answer within this is treated as down.
const TIMEOUT: Duration = Duration::from_secs(5);

impl HttpProvider {
    pub fn new(url: &str, signer: SignedWebhooks) -> Result<Self, quiet_core::config::ConfigError> {
        let invalid = |reason: &str| quiet_core::config::ConfigError::Invalid {
            name: "REFUND_PROVIDER_URL",
            reason: reason.into(),
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(host) => {}
            _ => return Err(invalid("must be https (http only to a loopback address)")),
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| invalid(&format!("no trust roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            uri,
            signer,
        })
    }

    async fn send(&self, refund: &RefundSubmission) -> Result<u16, String> {
        let body = serde_json::to_vec(refund).map_err(|e| e.to_string())?;
        let signature = self.signer.sign(clock::now(), &body);
        let request = http::Request::post(self.uri.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", refund.refund_id.as_str())
            .header(quiet_core::payments::SIGNATURE_HEADER, signature)
            .body(Full::new(std::io::Cursor::new(body)))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // Drained so the connection can be reused.
        let _ = tokio::time::timeout(TIMEOUT, response.into_body().collect()).await;
        Ok(status)
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl RefundGateway for HttpProvider {
    async fn submit(&self, refund: &RefundSubmission) -> Result<(), GatewayError> {
        match self.send(refund).await {
            Ok(status) if (200..300).contains(&status) => Ok(()),
            Ok(status) => Err(GatewayError(format!("answered {status}"))),
            Err(err) => Err(GatewayError(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> SignedWebhooks {
        SignedWebhooks::new("whsec_test_secret").expect("secret")
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://provider.example/refunds",
            "http://127.0.0.1:3301/refunds",
            "http://[::1]:3301/refunds",
            "http://localhost:3301/refunds",
        ] {
            assert!(HttpProvider::new(ok, signer()).is_ok(), "{ok}");
        }
        for bad in [
            "http://provider.example/refunds",
            "http://10.0.0.1/refunds",
            "ftp://127.0.0.1/refunds",
            "not a url",
        ] {
            assert!(HttpProvider::new(bad, signer()).is_err(), "{bad}");
        }
    }
}
