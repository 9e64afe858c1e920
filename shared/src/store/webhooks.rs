//! Merchant webhook endpoints and the delivery of each event to each of
//! them.
//!
//! A delivery is one item per (endpoint, event), written by the webhooks
//! worker the first time it sees the event, with the exact body it sends:
//! every retry and every replay sends the same bytes under the same
//! `webhook-id`, so a receiver can deduplicate. Its status says what
//! happened last: `pending` (to be sent, or failing and being retried),
//! `delivered`, or `parked` (every retry failed; staff can replay it).

use std::future::Future;

use aws_sdk_dynamodb::{
    types::{Put, ReturnValue, TransactWriteItem, Update},
    Client,
};
use serde::Serialize;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::outbox::{self, Relay};
use super::{Completion, StoreError};
use crate::domain::PageLimit;
use crate::events::{Change, EndpointId, Event, EventId};
use crate::keys::{self, Item};
use crate::webhooks::{EventTypes, Secret};

/// Deliveries are kept this long for the listing, then expire (TTL).
const DELIVERY_RETENTION_SECS: u64 = 30 * 24 * 3600;

/// A merchant's endpoint as the API shows it; the secret is shown once, at
/// creation ([`CreatedEndpoint`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    #[schema(value_type = String, example = "whep_0f6c3a5a3d0c4f0b9a8c7d6e5f4a3b2c")]
    pub id: EndpointId,
    #[schema(example = "https://erp.example.com/hooks/quiet-engine")]
    pub url: String,
    pub event_types: EventTypes,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    pub secret: Secret,
}

/// The answer to a creation: the endpoint and, this once, its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` and base64: the key for verifying `webhook-signature`.
    /// Shown only in this answer (and its idempotent replays).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Parked,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Parked => "parked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Parked]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The event's id: the `webhook-id` header of every attempt.
    #[schema(value_type = String, example = "evt_0193a1b2c3d4e5f60718293a4b5c6d7e")]
    pub id: EventId,
    #[schema(example = "order.paid")]
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts so far, replays included.
    pub attempts: u32,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_attempt_at: Option<String>,
    /// The receiver's HTTP status on the last attempt, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_response_status: Option<u16>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The exact body every attempt sends.
    #[serde(skip)]
    pub payload: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub status: DeliveryStatus,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub at: String,
}

#[derive(Debug)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Where the next page starts, if there may be one.
    pub last: Option<EventId>,
}

pub trait WebhookStore: Send + Sync {
    /// Writes `endpoint` and, when the request had an `Idempotency-Key`,
    /// completes its record in the same transaction: no crash can leave an
    /// endpoint whose key a retry would run again (a second endpoint with
    /// a second secret). `ConditionFailed` when the claim was taken over.
    fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        completion: Option<&Completion<'_>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every endpoint, oldest first is not promised.
    fn endpoints(&self) -> impl Future<Output = Result<Vec<Endpoint>, StoreError>> + Send;

    fn endpoint(
        &self,
        id: &EndpointId,
    ) -> impl Future<Output = Result<Option<Endpoint>, StoreError>> + Send;

    /// `NotFound` if there is no such endpoint. Its deliveries stay until
    /// they expire; nothing more is sent to it.
    fn delete_endpoint(
        &self,
        id: &EndpointId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The delivery of `event` to `endpoint`, written with `payload` if it
    /// is the first time; an existing one is returned as it is (its body
    /// included), so a retry sends what the first attempt sent.
    fn open_delivery(
        &self,
        endpoint: &EndpointId,
        event: &Event,
        payload: &str,
        now: &str,
    ) -> impl Future<Output = Result<Delivery, StoreError>> + Send;

    fn delivery(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    fn record_attempt(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Newest first; only those with `status` if given.
    fn deliveries(
        &self,
        endpoint: &EndpointId,
        status: Option<DeliveryStatus>,
        limit: PageLimit,
        after: Option<&EventId>,
    ) -> impl Future<Output = Result<DeliveryPage, StoreError>> + Send;

    /// Makes the delivery pending again and, in the same transaction, puts
    /// a replay request in the outbox for the webhooks worker. `NotFound`
    /// if there is no such delivery.
    fn request_replay(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        now: &str,
    ) -> impl Future<Output = Result<Delivery, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoWebhooks {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoWebhooks {
    /// Without a relay, replay requests wait in the outbox for the sweeper.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            relay: None,
        }
    }

    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }
}

fn endpoint_item(endpoint: &Endpoint) -> Result<Item, StoreError> {
    let mut item = keys::webhook::endpoint(&endpoint.id);
    item.extend([
        ("id".into(), s(endpoint.id.as_str())),
        ("url".into(), s(&endpoint.url)),
        (
            "event_types".into(),
            s(serde_json::to_string(endpoint.event_types.as_slice())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?),
        ),
        ("secret".into(), s(endpoint.secret.as_str())),
        ("created_at".into(), s(&endpoint.created_at)),
    ]);
    Ok(item)
}

fn decode_endpoint(item: &Item) -> Result<Endpoint, StoreError> {
    let types: Vec<String> = serde_json::from_str(get_s(item, "event_types")?)
        .map_err(|_| StoreError::Corrupt("endpoint event_types".into()))?;
    Ok(Endpoint {
        id: get_parsed(item, "id")?,
        url: get_s(item, "url")?.to_string(),
        event_types: EventTypes::parse(&types)
            .map_err(|_| StoreError::Corrupt("endpoint event_types".into()))?,
        created_at: get_s(item, "created_at")?.to_string(),
        secret: Secret::parse(get_s(item, "secret")?)
            .ok_or_else(|| StoreError::Corrupt("endpoint secret".into()))?,
    })
}

fn decode_delivery(item: &Item) -> Result<Delivery, StoreError> {
    let optional = |name: &str| get_s(item, name).ok().map(str::to_string);
    Ok(Delivery {
        id: get_parsed(item, "event_id")?,
        event_type: get_s(item, "event_type")?.to_string(),
        status: DeliveryStatus::parse(get_s(item, "status")?)
            .ok_or_else(|| StoreError::Corrupt("delivery status".into()))?,
        attempts: get_n(item, "attempts")?,
        created_at: get_s(item, "created_at")?.to_string(),
        last_attempt_at: optional("last_attempt_at"),
        last_response_status: get_n(item, "last_response_status").ok(),
        last_error: optional("last_error"),
        payload: get_s(item, "payload")?.to_string(),
    })
}

impl WebhookStore for DynamoWebhooks {
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        completion: Option<&Completion<'_>>,
    ) -> Result<(), StoreError> {
        let put = super::built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(endpoint_item(endpoint)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .build(),
        )?;
        let mut actions = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(completion) = completion {
            actions.push(super::idempotency::complete_action(
                &self.table,
                completion,
            )?);
        }
        match super::transact(&self.client, actions).await? {
            Ok(()) => Ok(()),
            Err(codes) if super::condition_failed(&codes, 1) => Err(StoreError::ConditionFailed),
            Err(_) => Err(StoreError::AlreadyExists),
        }
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let (pk, prefix) = keys::webhook::endpoints();
        let mut endpoints = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":pk", pk.clone())
                .expression_attribute_values(":prefix", prefix.clone())
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                endpoints.push(decode_endpoint(&item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(endpoints),
            }
        }
    }

    async fn endpoint(&self, id: &EndpointId) -> Result<Option<Endpoint>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::endpoint(id)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode_endpoint).transpose()
    }

    async fn delete_endpoint(&self, id: &EndpointId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::endpoint(id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        if super::unless_condition_failed(result)? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn open_delivery(
        &self,
        endpoint: &EndpointId,
        event: &Event,
        payload: &str,
        now: &str,
    ) -> Result<Delivery, StoreError> {
        let expires = crate::clock::now().saturating_add(DELIVERY_RETENTION_SECS);
        let mut update = "SET event_id = if_not_exists(event_id, :id), \
             event_type = if_not_exists(event_type, :type), \
             payload = if_not_exists(payload, :payload), \
             #status = if_not_exists(#status, :pending), \
             attempts = if_not_exists(attempts, :zero), \
             created_at = if_not_exists(created_at, :now), \
             #expires = if_not_exists(#expires, :expires)"
            .to_string();
        // A body about a customer's order is indexed under the customer, so
        // an erasure finds it whichever endpoint (live or deleted) it went to.
        let customer = event.change.order().map(|(_, user)| {
            let (pk, sk) = keys::webhook::by_customer(user, endpoint, &event.event_id);
            update.push_str(", #cpk = :cpk, #csk = :csk");
            (pk, sk)
        });
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::delivery(endpoint, &event.event_id)));
        if let Some((pk, sk)) = customer {
            request = request
                .expression_attribute_names("#cpk", keys::GSI2.pk)
                .expression_attribute_names("#csk", keys::GSI2.sk)
                .expression_attribute_values(":cpk", pk)
                .expression_attribute_values(":csk", sk);
        }
        let out = request
            .update_expression(update)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expires", keys::EXPIRES_AT)
            .expression_attribute_values(":id", s(event.event_id.as_str()))
            .expression_attribute_values(":type", s(event.change.name()))
            .expression_attribute_values(":payload", s(payload))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":zero", n(0u32))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":expires", n(expires))
            .return_values(ReturnValue::AllNew)
            .send()
            .await?;
        decode_delivery(&out.attributes.unwrap_or_default())
    }

    async fn delivery(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
    ) -> Result<Option<Delivery>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::delivery(endpoint, event)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode_delivery).transpose()
    }

    async fn record_attempt(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        let mut set = vec!["#status = :status", "last_attempt_at = :at"];
        let mut remove = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::delivery(endpoint, event)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(attempt.status.as_str()))
            .expression_attribute_values(":at", s(&attempt.at))
            .expression_attribute_values(":one", n(1u32));
        match attempt.response_status {
            Some(code) => {
                set.push("last_response_status = :code");
                request = request.expression_attribute_values(":code", n(code));
            }
            None => remove.push("last_response_status"),
        }
        match &attempt.error {
            Some(error) => {
                set.push("last_error = :error");
                request = request.expression_attribute_values(":error", s(error));
            }
            None => remove.push("last_error"),
        }
        let mut expression = format!("SET {} ADD attempts :one", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = request.update_expression(expression).send().await;
        // A delivery that expired meanwhile has nothing left to record.
        super::unless_condition_failed(result).map(|_| ())
    }

    async fn deliveries(
        &self,
        endpoint: &EndpointId,
        status: Option<DeliveryStatus>,
        limit: PageLimit,
        after: Option<&EventId>,
    ) -> Result<DeliveryPage, StoreError> {
        let (pk, prefix) = keys::webhook::deliveries(endpoint);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", pk)
            .expression_attribute_values(":prefix", prefix)
            .scan_index_forward(false)
            .set_exclusive_start_key(after.map(|event| keys::webhook::delivery(endpoint, event)))
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX));
        if let Some(status) = status {
            // A filter still reads the page; staff look at parked ones
            // rarely, and an endpoint's deliveries expire after 30 days.
            request = request
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        let out = request.send().await?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode_delivery)
            .collect::<Result<Vec<_>, _>>()?;
        let last = out
            .last_evaluated_key
            .as_ref()
            .and_then(|key| get_s(key, keys::SK).ok())
            .and_then(|sk| sk.strip_prefix("DELIVERY#"))
            .and_then(|id| EventId::try_from(id.to_string()).ok());
        Ok(DeliveryPage { items, last })
    }

    async fn request_replay(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        now: &str,
    ) -> Result<Delivery, StoreError> {
        let Some(mut delivery) = self.delivery(endpoint, event).await? else {
            return Err(StoreError::NotFound);
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::webhook::delivery(endpoint, event)))
            .update_expression("SET #status = :pending, replay_requested_at = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":now", s(now))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let replay = Event::new(Change::WebhookReplayRequested {
            endpoint_id: endpoint.clone(),
            delivery_id: event.clone(),
        });
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        actions.extend(outbox::put_actions(&self.table, &replay)?);
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &replay).await;
                delivery.status = DeliveryStatus::Pending;
                Ok(delivery)
            }
            // Expired between the read and the write.
            Err(_) => Err(StoreError::NotFound),
        }
    }
}
