//! The transactional outbox and its relay to SQS.
//!
//! - A state change puts its [`Event`] in the outbox inside its own
//!   transaction ([`put_actions`]): no change without its event, no event
//!   without its change. An event with two consumers (a merchant-facing
//!   one: its own worker and the webhooks worker) gets one item per
//!   consumer, so each acknowledges, is resent and is parked on its own.
//! - Right after the commit, the writer sends the event to its topic's queue
//!   ([`Relay::publish`]). This costs no DynamoDB call: the outbox item is
//!   removed by the consumer once it has applied the event ([`OutboxStore::ack`]),
//!   so a lost send, an SQS outage, or a message lost after delivery all
//!   leave the item behind.
//! - The scheduled sweeper resends what is still there after a grace period
//!   ([`OutboxStore::due`]) and moves its due time forward; an event resent
//!   [`MAX_RELAYS`] times is parked for a human (its message is in the DLQ).
//!
//! Delivery is therefore at least once; consumers deduplicate by event id.

use std::{collections::HashMap, future::Future, time::Duration};

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_sqs::types::MessageAttributeValue;

use super::attr::{get_n, get_s, n, s};
use super::StoreError;
use crate::config::{Config, ConfigError};
use crate::events::{Event, EventId, Topic};
use crate::keys::{self, Item};

/// After this many resends an event is parked instead of sent again.
pub const MAX_RELAYS: u32 = 5;
/// The SQS message attribute carrying the correlation id.
pub const CORRELATION_ATTRIBUTE: &str = "correlation_id";
/// The SQS message attribute naming the event type (for filtering and
/// reading a DLQ without decoding bodies).
pub const TYPE_ATTRIBUTE: &str = "event_type";

/// The outbox item for `event`'s consumer on `topic`, due for a resend
/// from the moment it was written (the sweeper adds its own grace period).
pub(crate) fn item(event: &Event, topic: Topic) -> Result<Item, StoreError> {
    let body = event
        .to_json()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let correlation_id =
        crate::telemetry::correlation_id().unwrap_or_else(|| event.event_id.as_str().to_string());
    let mut item = keys::outbox::pending(&event.event_id, topic, event.occurred_ms);
    item.extend([
        ("topic".into(), s(topic.as_str())),
        ("body".into(), s(body)),
        ("correlation_id".into(), s(correlation_id)),
        ("relays".into(), n(0u32)),
    ]);
    Ok(item)
}

/// The outbox writes, one per consumer, as actions of the change's own
/// transaction.
pub(crate) fn put_actions(
    table: &str,
    event: &Event,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    event
        .change
        .topics()
        .into_iter()
        .map(|topic| {
            Put::builder()
                .table_name(table)
                .set_item(Some(item(event, topic)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| StoreError::Dynamo(e.to_string()))
        })
        .collect()
}

/// An outbox event that is due for (re)sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub event: Event,
    /// The consumer still to apply it.
    pub topic: Topic,
    pub correlation_id: String,
    pub relays: u32,
}

fn decode_pending(item: &Item) -> Result<Pending, StoreError> {
    Ok(Pending {
        event: Event::from_json(get_s(item, "body")?)
            .map_err(|e| StoreError::Corrupt(format!("outbox body: {e}")))?,
        topic: Topic::parse(get_s(item, "topic")?)
            .ok_or_else(|| StoreError::Corrupt("outbox topic".into()))?,
        correlation_id: get_s(item, "correlation_id")?.to_string(),
        relays: get_n(item, "relays")?,
    })
}

pub trait OutboxStore: Send + Sync {
    /// Events not yet applied whose due time is at or before `due_ms`,
    /// oldest first.
    fn due(
        &self,
        due_ms: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pending>, StoreError>> + Send;

    /// After a resend: counts it and makes the event due again at
    /// `next_due_ms`. `false` when the consumer acknowledged it meanwhile.
    fn resent(
        &self,
        id: &EventId,
        topic: Topic,
        next_due_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes an event out of the sweep for good, keeping it for inspection.
    fn park(
        &self,
        id: &EventId,
        topic: Topic,
        now: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The consumer holds the event for a retry of its own until `due_ms`:
    /// the sweeper leaves it alone until then (and its grace period after).
    /// Counts no resend; an item acknowledged or parked meanwhile stays so.
    fn postpone(
        &self,
        id: &EventId,
        topic: Topic,
        due_ms: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The consumer on `topic` applied the event: its item leaves the outbox.
    fn ack(
        &self,
        id: &EventId,
        topic: Topic,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoOutbox {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOutbox {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl OutboxStore for DynamoOutbox {
    async fn due(&self, due_ms: u64, limit: u32) -> Result<Vec<Pending>, StoreError> {
        let index = keys::GSI1;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk AND #sk < :due")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_names("#sk", index.sk)
            .expression_attribute_values(":pk", keys::outbox::due_partition())
            .expression_attribute_values(":due", keys::outbox::due_before(due_ms))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await?;
        // One unreadable item (edited by hand, or written by a newer
        // version) must not stop the sweep for every other event.
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| match decode_pending(item) {
                Ok(pending) => Some(pending),
                Err(err) => {
                    let pk = item.get(keys::PK).and_then(|v| v.as_s().ok());
                    tracing::error!(pk = ?pk, error = %err, "outbox item skipped: unreadable");
                    None
                }
            })
            .collect())
    }

    async fn resent(
        &self,
        id: &EventId,
        topic: Topic,
        next_due_ms: u64,
    ) -> Result<bool, StoreError> {
        let (due_name, due_value) = keys::outbox::due_at(id, topic, next_due_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox::key(id, topic)))
            .update_expression("SET #due = :due ADD relays :one")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#due", due_name)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":due", due_value)
            .expression_attribute_values(":one", n(1u32))
            .send()
            .await;
        super::unless_condition_failed(result)
    }

    async fn postpone(&self, id: &EventId, topic: Topic, due_ms: u64) -> Result<(), StoreError> {
        let (due_name, due_value) = keys::outbox::due_at(id, topic, due_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox::key(id, topic)))
            .update_expression("SET #due = :due")
            // Parked items have left the index; they stay out of it.
            .condition_expression("attribute_exists(#ipk)")
            .expression_attribute_names("#due", due_name)
            .expression_attribute_names("#ipk", keys::GSI1.pk)
            .expression_attribute_values(":due", due_value)
            .send()
            .await;
        super::unless_condition_failed(result).map(|_| ())
    }

    async fn park(&self, id: &EventId, topic: Topic, now: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox::key(id, topic)))
            .update_expression("REMOVE #ipk, #isk SET parked_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#ipk", keys::GSI1.pk)
            .expression_attribute_names("#isk", keys::GSI1.sk)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        super::unless_condition_failed(result).map(|_| ())
    }

    async fn ack(&self, id: &EventId, topic: Topic) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox::key(id, topic)))
            .send()
            .await?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("no queue is configured for topic {0}")]
    NoQueue(&'static str),
    #[error("sqs: {0}")]
    Sqs(String),
}

/// Sends events to their topics' queues.
#[derive(Debug, Clone)]
pub struct Relay {
    sqs: aws_sdk_sqs::Client,
    queues: HashMap<Topic, String>,
}

impl Relay {
    pub fn new(sqs: aws_sdk_sqs::Client, queues: HashMap<Topic, String>) -> Self {
        Self { sqs, queues }
    }

    /// A relay for `topics`, whose queue URLs must be configured.
    pub fn from_env(config: &Config, topics: &[Topic]) -> Result<Self, ConfigError> {
        let queues = topics
            .iter()
            .map(|topic| {
                crate::config::required(&crate::config::env, topic.queue_url_variable())
                    .map(|url| (*topic, url))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(Self::client(config.sdk()), queues))
    }

    /// An SQS client that gives up quickly: a send is best effort (the
    /// sweeper resends), so an SQS outage must not hold a checkout for the
    /// SDK's default retries and timeouts.
    pub fn client(sdk: &aws_types::SdkConfig) -> aws_sdk_sqs::Client {
        let conf = aws_sdk_sqs::config::Builder::from(sdk)
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(500))
                    .operation_attempt_timeout(Duration::from_secs(1))
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    /// Sends one event to one of its consumers, with its correlation id.
    pub async fn send(
        &self,
        event: &Event,
        topic: Topic,
        correlation_id: &str,
    ) -> Result<(), RelayError> {
        let queue = self
            .queues
            .get(&topic)
            .ok_or(RelayError::NoQueue(topic.as_str()))?;
        let body = event
            .to_json()
            .map_err(|e| RelayError::Sqs(e.to_string()))?;
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| RelayError::Sqs(e.to_string()))
        };
        self.sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .message_attributes(CORRELATION_ATTRIBUTE, attribute(correlation_id)?)
            .message_attributes(TYPE_ATTRIBUTE, attribute(event.change.name())?)
            .send()
            .await
            .map_err(|e| {
                RelayError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
            })?;
        Ok(())
    }

    /// Right after a commit: sends what it wrote, to every consumer at
    /// once (so a second consumer adds no latency). Never fails the caller;
    /// what could not be sent stays in the outbox for the sweeper.
    pub async fn publish(&self, event: &Event) {
        let correlation_id = crate::telemetry::correlation_id()
            .unwrap_or_else(|| event.event_id.as_str().to_string());
        let sends = event.change.topics().into_iter().map(|topic| {
            let correlation_id = &correlation_id;
            async move { (topic, self.send(event, topic, correlation_id).await) }
        });
        for (topic, result) in futures_util::future::join_all(sends).await {
            match result {
                Ok(()) => tracing::info!(
                    event_id = %event.event_id,
                    event_type = event.change.name(),
                    topic = topic.as_str(),
                    "event relayed"
                ),
                Err(err) => tracing::warn!(
                    event_id = %event.event_id,
                    event_type = event.change.name(),
                    topic = topic.as_str(),
                    error = %err,
                    "event not relayed now; the outbox sweeper will resend it"
                ),
            }
        }
    }
}

/// An optional relay: stores built without one (tests, tools) leave their
/// events to the sweeper.
pub(crate) async fn publish(relay: Option<&Relay>, event: &Event) {
    if let Some(relay) = relay {
        relay.publish(event).await;
    }
}
