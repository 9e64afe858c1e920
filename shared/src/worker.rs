//! The edge every worker shares, as [`crate::http`] is for endpoints.
//!
//! SQS workers run with `ReportBatchItemFailures`: [`process_batch`] hands
//! each message to the handler on its own and returns exactly the ids that
//! failed, so one bad message never fails (and redelivers) its batch, and a
//! failed one is retried by SQS until its DLQ takes it. A message that can
//! never be applied (a [permanent](WorkerError::is_permanent) error: it
//! does not parse, or is not an event this worker takes) is sent to the
//! DLQ at once instead of being tried [`MAX_RECEIVES`] times; it is never
//! dropped: if that send fails, it is reported failed and retried.
//!
//! The correlation id arrives as a message attribute and is put on the
//! worker's log lines and on any event the handler writes.

use std::{future::Future, time::Instant};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

use crate::events::Event;
use crate::store::{outbox::CORRELATION_ATTRIBUTE, StoreError};

/// Must equal the template's `maxReceiveCount`: the delivery after which a
/// failing message goes to its DLQ.
pub const MAX_RECEIVES: u32 = 5;

/// Why a message could not be applied. Every variant but `Malformed` is
/// retried ([`WorkerError::is_permanent`]).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The message is not an event this worker understands: no delivery
    /// of it can succeed.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The event refers to something that does not exist (yet).
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("relay: {0}")]
    Relay(String),
    #[error(transparent)]
    Provider(#[from] crate::payments::GatewayError),
    /// Some webhook deliveries failed; the message comes back after the
    /// retry schedule's delay.
    #[error("webhook deliveries failed: {0}")]
    Webhooks(String),
}

impl WorkerError {
    /// No redelivery could succeed: the message goes to the DLQ now. Only
    /// a message this worker cannot read; a missing order may appear yet,
    /// and a store or provider fault may pass.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Malformed(_))
    }
}

/// Where a message that can never be applied goes at once.
pub trait DeadLetters {
    fn park(
        &self,
        message: &SqsMessage,
        reason: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The worker's own queue's DLQ (`DEAD_LETTER_QUEUE_URL`), the one SQS
/// moves a message to after [`MAX_RECEIVES`] failed deliveries.
pub struct DeadLetterQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// The message attribute that says why a message was parked.
pub const PARKED_REASON_ATTRIBUTE: &str = "parked_reason";

impl DeadLetterQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = crate::Config::from_env()?;
        let url = crate::config::required(&crate::config::env, "DEAD_LETTER_QUEUE_URL")?;
        Ok(Self::new(aws_sdk_sqs::Client::new(config.sdk()), url))
    }
}

impl DeadLetters for DeadLetterQueue {
    async fn park(&self, message: &SqsMessage, reason: &str) -> Result<(), String> {
        let text = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(message.body.clone().unwrap_or_default())
            .message_attributes(PARKED_REASON_ATTRIBUTE, text(reason)?);
        // What tells a parked message's story in the logs goes with it.
        for (name, value) in &message.message_attributes {
            if let Some(value) = value.string_value.as_deref() {
                send = send.message_attributes(name, text(value)?);
            }
        }
        send.send().await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// What the queue says about this receipt of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// 1 on the first delivery; [`MAX_RECEIVES`] on the last before the DLQ.
    pub receive_count: u32,
    /// For a handler that sets its own retry delay (`ChangeMessageVisibility`).
    pub receipt_handle: String,
}

impl Receipt {
    pub fn is_last(&self) -> bool {
        self.receive_count >= MAX_RECEIVES
    }
}

/// Serves an SQS-triggered worker until the process ends.
pub async fn run_sqs<H, Fut>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Event, Receipt) -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
{
    let handler = &handler;
    let dead_letters = &DeadLetterQueue::from_env()?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        process_batch(event.payload, handler, dead_letters)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}

/// Applies each message of a batch; the response lists the failed ones.
/// A message that failed for good is parked in `dead_letters` instead,
/// and listed only if that fails. `Err` only for a failed message without
/// an id, which cannot be reported alone: the whole batch is then retried
/// (consumers are idempotent).
pub async fn process_batch<H, Fut, D>(
    batch: SqsEvent,
    handler: &H,
    dead_letters: &D,
) -> Result<SqsBatchResponse, WorkerError>
where
    H: Fn(Event, Receipt) -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
    D: DeadLetters,
{
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        let correlation_id = message
            .message_attributes
            .get(CORRELATION_ATTRIBUTE)
            .and_then(|attribute| attribute.string_value.clone())
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| id.clone());
        let delivery = Receipt {
            receive_count: message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1),
            receipt_handle: message.receipt_handle.clone().unwrap_or_default(),
        };
        let span = tracing::info_span!(
            "message",
            message_id = %id,
            %correlation_id,
            receive_count = delivery.receive_count
        );
        let last = delivery.is_last();
        let work = crate::telemetry::with_correlation_id(
            correlation_id,
            apply(message, delivery, last, handler, dead_letters),
        )
        .instrument(span);
        if work.await.is_err() {
            if id.is_empty() {
                return Err(WorkerError::Malformed(
                    "a failed message has no id; retrying the batch".into(),
                ));
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn apply<H, Fut, D>(
    message: SqsMessage,
    delivery: Receipt,
    last: bool,
    handler: &H,
    dead_letters: &D,
) -> Result<(), ()>
where
    H: Fn(Event, Receipt) -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
    D: DeadLetters,
{
    let started = Instant::now();
    let parsed = message
        .body
        .as_deref()
        .ok_or_else(|| WorkerError::Malformed("no body".into()))
        .and_then(|body| Event::from_json(body).map_err(|e| WorkerError::Malformed(e.to_string())));
    let (event_id, event_type, result) = match parsed {
        Ok(event) => (
            event.event_id.to_string(),
            event.change.name(),
            handler(event, delivery).await,
        ),
        Err(err) => (String::new(), "", Err(err)),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &result {
        Ok(()) => tracing::info!(event_id, event_type, latency_ms, "message applied"),
        Err(err) if err.is_permanent() => {
            let reason = err.to_string();
            return match dead_letters.park(&message, &reason).await {
                Ok(()) => {
                    tracing::error!(
                        event_id,
                        event_type,
                        latency_ms,
                        error = reason,
                        "message can never be applied; sent to the DLQ"
                    );
                    Ok(())
                }
                Err(park) => {
                    tracing::error!(
                        event_id,
                        event_type,
                        error = reason,
                        park_error = park,
                        "message can never be applied and could not be parked; SQS will redeliver it"
                    );
                    Err(())
                }
            };
        }
        Err(err) if last => tracing::error!(
            event_id,
            event_type,
            latency_ms,
            error = %err,
            "message failed its last delivery; it goes to the DLQ"
        ),
        Err(err) => tracing::warn!(
            event_id,
            event_type,
            latency_ms,
            error = %err,
            "message failed; SQS will redeliver it"
        ),
    }
    result.map_err(|_| ())
}

/// Serves a scheduled worker (an EventBridge schedule invokes it with an
/// event it ignores). The summary it returns is logged and returned.
pub async fn run_scheduled<H, Fut, S>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn() -> Fut,
    Fut: Future<Output = Result<S, WorkerError>>,
    S: serde::Serialize,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let correlation_id = event.context.request_id.clone();
            let span = tracing::info_span!("scheduled", %correlation_id);
            let summary = crate::telemetry::with_correlation_id(correlation_id, handler())
                .instrument(span.clone())
                .await;
            let summary = summary.inspect_err(|err| {
                span.in_scope(|| tracing::error!(error = %err, "scheduled run failed"));
            })?;
            let summary = serde_json::to_value(summary)?;
            span.in_scope(|| tracing::info!(summary = %summary, "scheduled run done"));
            Ok::<_, lambda_runtime::Error>(summary)
        },
    ))
    .await
}
