//! Notifications: the messages the system sent a customer, as they read
//! them at GET /v1/notifications.
//!
//! Writing the record is the delivery here (the email provider seam would
//! sit beside [`NotificationStore::deliver`]); its key is the id of the
//! event that caused it, so a redelivered event delivers nothing twice.

use std::future::Future;

use serde::Serialize;

use super::attr::{get_parsed, get_s, s};
use super::StoreError;
use crate::domain::UserId;
use crate::domain::{OrderId, PageLimit};
use crate::events::EventId;
use crate::keys::{self, Item};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Payment received: the order confirmation.
    OrderConfirmation,
    ShippingNotice,
    OrderCancelled,
    /// Unpaid in time: the reservation was released.
    OrderExpired,
    /// The provider confirmed a refund.
    RefundIssued,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "order_confirmation",
            Self::ShippingNotice => "shipping_notice",
            Self::OrderCancelled => "order_cancelled",
            Self::OrderExpired => "order_expired",
            Self::RefundIssued => "refund_issued",
        }
    }
}

impl TryFrom<String> for NotificationKind {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        [
            Self::OrderConfirmation,
            Self::ShippingNotice,
            Self::OrderCancelled,
            Self::OrderExpired,
            Self::RefundIssued,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
        .ok_or_else(|| format!("unknown notification kind {value}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// The id of the event that caused it.
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    pub order_id: OrderId,
    pub subject: String,
    pub body: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    pub user_id: UserId,
}

fn decode(item: &Item) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: get_parsed(item, "event_id")?,
        kind: get_parsed(item, "kind")?,
        order_id: get_parsed(item, "order_id")?,
        subject: get_s(item, "subject")?.to_string(),
        body: get_s(item, "body")?.to_string(),
        created_at: get_s(item, "created_at")?.to_string(),
        user_id: get_parsed(item, "user_id")?,
    })
}

pub trait NotificationStore: Send + Sync {
    /// Records the notification; `false` when it was delivered before.
    fn deliver(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A user's notifications, newest first, and the last one's id when
    /// more may follow (a page resumes after it).
    fn list(
        &self,
        user: &UserId,
        limit: PageLimit,
        after: Option<&EventId>,
    ) -> impl Future<Output = Result<(Vec<Notification>, Option<EventId>), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoNotifications {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoNotifications {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl NotificationStore for DynamoNotifications {
    async fn deliver(&self, notification: &Notification) -> Result<bool, StoreError> {
        let mut item = keys::notification::key(&notification.user_id, &notification.id);
        item.extend([
            ("event_id".into(), s(notification.id.as_str())),
            ("kind".into(), s(notification.kind.as_str())),
            ("order_id".into(), s(notification.order_id.as_str())),
            ("subject".into(), s(&notification.subject)),
            ("body".into(), s(&notification.body)),
            ("created_at".into(), s(&notification.created_at)),
            ("user_id".into(), s(notification.user_id.as_str())),
        ]);
        super::put_if_absent(&self.client, &self.table, item).await
    }

    async fn list(
        &self,
        user: &UserId,
        limit: PageLimit,
        after: Option<&EventId>,
    ) -> Result<(Vec<Notification>, Option<EventId>), StoreError> {
        let (partition, prefix) = keys::notification::listing(user);
        let start = after.map(|id| keys::notification::key(user, id));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", partition)
            .expression_attribute_values(":prefix", prefix)
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let last = out
            .last_evaluated_key
            .and(items.last().map(|notification| notification.id.clone()));
        Ok((items, last))
    }
}
