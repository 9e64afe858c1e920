//! Domain events: what changed, as the outbox stores it and SQS carries it.
//!
//! A state change (order placed, paid, shipped, cancelled, expired; report
//! requested, product edited) writes its [`Event`] to the outbox in the same DynamoDB
//! transaction as the change itself (see [`crate::store::outbox`]), so an
//! event exists exactly when its change happened. Each [`Change`] belongs
//! to one [`Topic`], i.e. one queue and one consumer.
//!
//! On the wire an event is one flat JSON object:
//! `{"event_id":"evt_…","occurred_ms":…,"type":"order.paid","order_id":"ord_…","user_id":"…"}`.
//! Consumers ignore fields they do not know, so adding one is not a breaking
//! change.

use serde::{Deserialize, Serialize};

use crate::domain::UserId;
use crate::domain::{refund::RefundId, OrderId, OrderStatus, Sku};

use quiet_support::id::time_ordered_id_at;
use quiet_support::id_type;

pub use crate::domain::{erasure::ErasureId, report::JobId};

id_type!(
    /// An event id: `evt_` and 32 hex digits, time-ordered. Consumers
    /// deduplicate by it.
    EventId,
    "evt_",
    time_ordered_id,
    "must be evt_ and 32 lowercase hex digits"
);
id_type!(
    /// A merchant's webhook endpoint: `whep_` and 32 hex digits.
    EndpointId,
    "whep_",
    random_id,
    "must be whep_ and 32 lowercase hex digits"
);

/// The queue a change travels on; one consumer per topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Order lifecycle events, consumed by the notifications worker.
    Orders,
    /// Report requests, consumed by the reports worker.
    Reports,
    /// Refunds for the payment provider, sent by the refunds worker.
    Refunds,
    /// Merchant-facing events (and replays of them), delivered to the
    /// shop's webhook endpoints by the webhooks worker.
    Webhooks,
    /// Catalog edits, applied to the search index by the search indexer.
    Catalog,
    /// Account erasures, carried out by the erasure worker.
    Accounts,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Orders,
        Topic::Reports,
        Topic::Refunds,
        Topic::Webhooks,
        Topic::Catalog,
        Topic::Accounts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Reports => "reports",
            Self::Refunds => "refunds",
            Self::Webhooks => "webhooks",
            Self::Catalog => "catalog",
            Self::Accounts => "accounts",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|topic| topic.as_str() == name)
    }

    /// The environment variable holding this topic's queue URL.
    pub fn queue_url_variable(self) -> &'static str {
        match self {
            Self::Orders => "ORDER_EVENTS_QUEUE_URL",
            Self::Reports => "REPORTS_QUEUE_URL",
            Self::Refunds => "REFUNDS_QUEUE_URL",
            Self::Webhooks => "WEBHOOK_EVENTS_QUEUE_URL",
            Self::Catalog => "CATALOG_EVENTS_QUEUE_URL",
            Self::Accounts => "ACCOUNT_EVENTS_QUEUE_URL",
        }
    }
}

/// Which refund of which order, and whose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRef {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub refund_id: RefundId,
}

/// Which order and whose: enough for a consumer to find everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRef {
    pub order_id: OrderId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Change {
    #[serde(rename = "order.placed")]
    OrderPlaced(OrderRef),
    #[serde(rename = "order.paid")]
    OrderPaid(OrderRef),
    #[serde(rename = "order.shipped")]
    OrderShipped(OrderRef),
    #[serde(rename = "order.cancelled")]
    OrderCancelled(OrderRef),
    #[serde(rename = "order.expired")]
    OrderExpired(OrderRef),
    #[serde(rename = "report.requested")]
    ReportRequested { job_id: JobId },
    /// Staff refunded money: to be sent to the payment provider.
    #[serde(rename = "refund.requested")]
    RefundRequested(RefundRef),
    /// The provider confirmed the refund: the customer is told.
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded(RefundRef),
    /// The provider refused it: the money is refundable again.
    #[serde(rename = "refund.failed")]
    RefundFailed(RefundRef),
    /// Staff asked for a parked (or any) webhook delivery to be sent again.
    #[serde(rename = "webhook.replay_requested")]
    /// (`delivery_id` is the delivered event's id; `event_id` would clash
    /// with the envelope's own.)
    WebhookReplayRequested {
        endpoint_id: EndpointId,
        delivery_id: EventId,
    },
    /// A product was created, edited or deleted: the search index reads
    /// its current state (so events applied late or twice do no harm).
    #[serde(rename = "product.changed")]
    ProductChanged { sku: Sku },
    /// An account was erased: its profile and email are gone already; the
    /// rest (orders' addresses, the user's items, sessions, webhook
    /// bodies) is for the erasure worker. `registration_scope` names the
    /// idempotency records of the account's sign-up by a hash of the
    /// email, never the email itself.
    #[serde(rename = "account.erased")]
    AccountErased {
        erasure_id: ErasureId,
        user_id: UserId,
        registration_scope: String,
    },
}

/// The event types a merchant can subscribe a webhook endpoint to: every
/// order, payment and refund change (`order.paid` is the payment).
pub const WEBHOOK_EVENT_TYPES: [&str; 8] = [
    "order.placed",
    "order.paid",
    "order.shipped",
    "order.cancelled",
    "order.expired",
    "refund.requested",
    "refund.succeeded",
    "refund.failed",
];

impl Change {
    /// The event an order entering `status` announces; refunds announce
    /// themselves (their events name the refund), so the refund states
    /// have none here.
    pub fn order_became(status: OrderStatus, order: OrderRef) -> Option<Self> {
        Some(match status {
            OrderStatus::PendingPayment => Self::OrderPlaced(order),
            OrderStatus::Paid => Self::OrderPaid(order),
            OrderStatus::Shipped => Self::OrderShipped(order),
            OrderStatus::Cancelled => Self::OrderCancelled(order),
            OrderStatus::Expired => Self::OrderExpired(order),
            OrderStatus::PartiallyRefunded | OrderStatus::Refunded => return None,
        })
    }

    /// The queue of the consumer that applies the change.
    pub fn topic(&self) -> Topic {
        match self {
            Self::ReportRequested { .. } => Topic::Reports,
            Self::RefundRequested(_) => Topic::Refunds,
            Self::WebhookReplayRequested { .. } => Topic::Webhooks,
            Self::ProductChanged { .. } => Topic::Catalog,
            Self::AccountErased { .. } => Topic::Accounts,
            _ => Topic::Orders,
        }
    }

    /// Every consumer of the change: its own, and the webhooks worker for
    /// what merchants can subscribe to. Each gets its own outbox item, so
    /// one consumer failing never holds up (or repeats) another.
    pub fn topics(&self) -> Vec<Topic> {
        let mut topics = vec![self.topic()];
        if self.is_merchant_facing() && self.topic() != Topic::Webhooks {
            topics.push(Topic::Webhooks);
        }
        topics
    }

    /// Whether webhook endpoints can subscribe to it.
    pub fn is_merchant_facing(&self) -> bool {
        WEBHOOK_EVENT_TYPES.contains(&self.name())
    }

    /// The order it is about, if any.
    pub fn order(&self) -> Option<(&OrderId, &UserId)> {
        match self {
            Self::OrderPlaced(o)
            | Self::OrderPaid(o)
            | Self::OrderShipped(o)
            | Self::OrderCancelled(o)
            | Self::OrderExpired(o) => Some((&o.order_id, &o.user_id)),
            Self::RefundRequested(r) | Self::RefundSucceeded(r) | Self::RefundFailed(r) => {
                Some((&r.order_id, &r.user_id))
            }
            Self::ReportRequested { .. }
            | Self::WebhookReplayRequested { .. }
            | Self::ProductChanged { .. }
            | Self::AccountErased { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::OrderPlaced(_) => "order.placed",
            Self::OrderPaid(_) => "order.paid",
            Self::OrderShipped(_) => "order.shipped",
            Self::OrderCancelled(_) => "order.cancelled",
            Self::OrderExpired(_) => "order.expired",
            Self::ReportRequested { .. } => "report.requested",
            Self::RefundRequested(_) => "refund.requested",
            Self::RefundSucceeded(_) => "refund.succeeded",
            Self::RefundFailed(_) => "refund.failed",
            Self::WebhookReplayRequested { .. } => "webhook.replay_requested",
            Self::ProductChanged { .. } => "product.changed",
            Self::AccountErased { .. } => "account.erased",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    /// When the change committed (epoch ms); orders consumers' records.
    pub occurred_ms: u64,
    #[serde(flatten)]
    pub change: Change,
}

impl Event {
    /// An event that happens now; its id carries the same millisecond.
    pub fn new(change: Change) -> Self {
        let occurred_ms = crate::clock::now_ms();
        Self {
            event_id: EventId(time_ordered_id_at("evt_", occurred_ms)),
            occurred_ms,
            change,
        }
    }

    /// The message body. Serialising our own plain types cannot fail; the
    /// `Result` spares callers an `unwrap`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_ref() -> OrderRef {
        OrderRef {
            order_id: OrderId::generate(),
            user_id: UserId::generate(),
        }
    }

    #[test]
    fn events_round_trip_as_flat_json() {
        let event = Event::new(Change::OrderPaid(order_ref()));
        let json = event.to_json().expect("serialises");
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(value["type"], "order.paid");
        assert!(value["order_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ord_")));
        assert_eq!(Event::from_json(&json).expect("parses"), event);
    }

    #[test]
    fn unknown_fields_are_tolerated_and_unknown_types_refused() {
        let event = Event::new(Change::ReportRequested {
            job_id: JobId::generate(),
        });
        let mut value = serde_json::to_value(&event).expect("json");
        value["added_later"] = serde_json::json!(1);
        assert_eq!(Event::from_json(&value.to_string()).expect("parses"), event);
        value["type"] = serde_json::json!("order.teleported");
        assert!(Event::from_json(&value.to_string()).is_err());
    }

    #[test]
    fn merchant_facing_changes_also_go_to_the_webhooks_queue() {
        let paid = Change::OrderPaid(order_ref());
        assert_eq!(paid.topics(), [Topic::Orders, Topic::Webhooks]);
        let report = Change::ReportRequested {
            job_id: JobId::generate(),
        };
        assert_eq!(report.topics(), [Topic::Reports]);
        let replay = Change::WebhookReplayRequested {
            endpoint_id: EndpointId::generate(),
            delivery_id: EventId::generate(),
        };
        assert_eq!(replay.topics(), [Topic::Webhooks]);
        let event = Event::new(replay.clone());
        let back = Event::from_json(&event.to_json().expect("json")).expect("round trip");
        assert_eq!(back.change, replay);
        assert!(!replay.is_merchant_facing());
        for topic in Topic::ALL {
            assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(EventId::try_from("evt_".to_string() + &"a".repeat(32)).is_ok());
        assert!(EventId::try_from("evt_".to_string() + &"A".repeat(32)).is_err());
        assert!(JobId::try_from("rpt_123".to_string()).is_err());
        assert_ne!(JobId::generate(), JobId::generate());
    }

    #[test]
    fn event_ids_sort_by_time() {
        let first = EventId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = EventId::generate();
        assert!(first.as_str() < second.as_str());
        assert!(EventId::try_from(second.to_string()).is_ok());
    }
}
