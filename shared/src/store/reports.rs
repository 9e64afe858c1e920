//! Sales report jobs: requested over HTTP, computed by the reports worker.
//!
//! A job is `queued` when requested (its `report.requested` event written in
//! the same transaction), `running` while the worker aggregates, then
//! `succeeded` with its summary or `failed` with a reason.

use std::future::Future;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::idempotency::{self, Completion};
use super::outbox::{self, Relay};
use super::StoreError;
use crate::events::{Change, Event, JobId};
use crate::keys::{self, Item};

pub use crate::domain::report::{Report, ReportStatus, ReportSummary, SkuSales};

fn decode(item: &Item) -> Result<Report, StoreError> {
    let result = match item.get("result").and_then(|v| v.as_s().ok()) {
        Some(json) => Some(
            serde_json::from_str(json)
                .map_err(|_| StoreError::Corrupt("report result does not decode".into()))?,
        ),
        None => None,
    };
    Ok(Report {
        job_id: get_parsed(item, "job_id")?,
        status: get_parsed(item, "status")?,
        from: get_s(item, "from")?.to_string(),
        to: get_s(item, "to")?.to_string(),
        created_at: get_s(item, "created_at")?.to_string(),
        updated_at: get_s(item, "updated_at")?.to_string(),
        result,
        error: item
            .get("error")
            .and_then(|v| v.as_s().ok())
            .map(String::to_string),
        from_ms: get_n(item, "from_ms")?,
        to_ms: get_n(item, "to_ms")?,
        requested_by: get_parsed(item, "requested_by")?,
    })
}

pub trait ReportStore: Send + Sync {
    /// Writes a queued job and its `report.requested` event together, with
    /// the request's idempotency completion if it has one. `LeaseLost` if
    /// that key was taken over (nothing written).
    fn create(
        &self,
        report: &Report,
        completion: Option<&Completion<'_>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get(&self, id: &JobId) -> impl Future<Output = Result<Option<Report>, StoreError>> + Send;

    /// `queued | running → running` (a retry restarts); `false` once final.
    fn start(&self, id: &JobId, now: &str)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `running → succeeded` with its summary, or `→ failed` with a reason.
    fn finish(
        &self,
        id: &JobId,
        outcome: Result<&ReportSummary, &str>,
        now: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct DynamoReports {
    client: aws_sdk_dynamodb::Client,
    table: String,
    relay: Option<Relay>,
}

impl DynamoReports {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
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

impl ReportStore for DynamoReports {
    async fn create(
        &self,
        report: &Report,
        completion: Option<&Completion<'_>>,
    ) -> Result<(), StoreError> {
        let mut item = keys::report::job(&report.job_id);
        item.extend([
            ("job_id".into(), s(report.job_id.as_str())),
            ("status".into(), s(report.status.as_str())),
            ("from".into(), s(&report.from)),
            ("to".into(), s(&report.to)),
            ("from_ms".into(), n(report.from_ms)),
            ("to_ms".into(), n(report.to_ms)),
            ("created_at".into(), s(&report.created_at)),
            ("updated_at".into(), s(&report.updated_at)),
            ("requested_by".into(), s(report.requested_by.as_str())),
        ]);
        let job = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let event = Event::new(Change::ReportRequested {
            job_id: report.job_id.clone(),
        });
        let mut actions = vec![TransactWriteItem::builder().put(job).build()];
        actions.extend(outbox::put_actions(&self.table, &event)?);
        let claim_at = actions.len();
        if let Some(completion) = completion {
            actions.push(idempotency::complete_action(&self.table, completion)?);
        }
        match super::transact(&self.client, actions).await? {
            Ok(()) => {
                outbox::publish(self.relay.as_ref(), &event).await;
                Ok(())
            }
            Err(codes) if super::condition_failed(&codes, claim_at) => Err(StoreError::LeaseLost),
            // A fresh random job id cannot exist already.
            Err(codes) => Err(StoreError::Dynamo(format!("report not created: {codes:?}"))),
        }
    }

    async fn get(&self, id: &JobId) -> Result<Option<Report>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::report::job(id)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode).transpose()
    }

    async fn start(&self, id: &JobId, now: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::report::job(id)))
            .update_expression("SET #status = :running, updated_at = :now")
            .condition_expression("#status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(ReportStatus::Running.as_str()))
            .expression_attribute_values(":queued", s(ReportStatus::Queued.as_str()))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        super::unless_condition_failed(result)
    }

    async fn finish(
        &self,
        id: &JobId,
        outcome: Result<&ReportSummary, &str>,
        now: &str,
    ) -> Result<(), StoreError> {
        let (status, name, value) = match outcome {
            Ok(summary) => (
                ReportStatus::Succeeded,
                "result",
                serde_json::to_string(summary).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
            Err(reason) => (ReportStatus::Failed, "error", reason.to_string()),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::report::job(id)))
            .update_expression("SET #status = :status, #value = :value, updated_at = :now")
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#value", name)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":value", s(value))
            .expression_attribute_values(":running", s(ReportStatus::Running.as_str()))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        // Already final: a duplicate delivery finished it first.
        super::unless_condition_failed(result).map(|_| ())
    }
}
