//! POST /v1/admin/reports {from, to} (admin): queues a sales report over
//! orders placed in `[from, to)` (RFC 3339). 202 `{job_id, status:"queued"}`
//! with `Location: /v1/admin/reports/{job_id}`; the reports worker fills it
//! in. The job and its event are written in one transaction, so an accepted
//! report is never lost, even if SQS is down at that moment.
//!
//! `Idempotency-Key` (optional): a retry with the key gets the same job
//! back, not a second report; its completion is written in the job's
//! transaction, since a new job id would otherwise mean a new report.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role, TokenVerifier},
    clock,
    error::FieldError,
    events::JobId,
    http::{json, json_body, no_store},
    idempotent::{self, Begin},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{DynamoIdempotency, IdempotencyStore, KeyScope, Report, ReportStatus, ReportStore},
    ApiError,
};
use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// The longest window one report may cover.
pub const MAX_WINDOW_DAYS: i64 = 366;

pub struct Deps<R, I = DynamoIdempotency> {
    pub reports: R,
    pub idempotency: I,
    pub verifier: TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Inclusive start, RFC 3339.
    #[schema(format = DateTime)]
    from: String,
    /// Exclusive end, RFC 3339; at most 366 days after `from`.
    #[schema(format = DateTime)]
    to: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Accepted<'a> {
    #[schema(value_type = JobId)]
    job_id: &'a JobId,
    status: ReportStatus,
}

fn instant(field: &str, text: &str) -> Result<(OffsetDateTime, u64), FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            "must be an RFC 3339 date-time, like 2026-01-31T00:00:00Z",
        )
    };
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| invalid())?;
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| FieldError::new(field, "must not be before 1970"))?;
    Ok((at, ms))
}

#[utoipa::path(
    post,
    path = "/v1/admin/reports",
    tag = "admin",
    operation_id = "create-report",
    request_body(content = ReportRequest, content_type = "application/json"),
    params(
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key and body gets the same job")
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued; a replay carries Idempotent-Replayed: true", body = Accepted, headers(("location" = String), ("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "A request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid window, or the Idempotency-Key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: ReportStore, I: IdempotencyStore>(
    deps: &Deps<R, I>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = authenticate(&req, &deps.verifier)?;
    caller.require(Role::Admin)?;
    let body: ReportRequest = json_body(&req)?;
    let (from, to) = match (instant("from", &body.from), instant("to", &body.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (from, to) => {
            return Err(ApiError::Validation(
                [from.err(), to.err()].into_iter().flatten().collect(),
            ))
        }
    };
    if to.0 <= from.0 {
        return Err(ApiError::validation("to", "must be later than from"));
    }
    if (to.0 - from.0).whole_days() > MAX_WINDOW_DAYS {
        return Err(ApiError::validation(
            "to",
            format!("a report covers at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    let ticket = match idempotent::begin(
        &deps.idempotency,
        &req,
        KeyScope::user(&caller.id),
        "reports",
        &idempotent::fingerprint(&req, &[]),
    )
    .await?
    {
        Begin::Run(ticket) => ticket,
        Begin::Replay(response) => return Ok(response),
    };
    let now = clock::now_rfc3339();
    let report = Report {
        job_id: JobId::generate(),
        status: ReportStatus::Queued,
        from: body.from,
        to: body.to,
        created_at: now.clone(),
        updated_at: now,
        result: None,
        error: None,
        from_ms: from.1,
        to_ms: to.1,
        requested_by: caller.id,
    };
    let mut response = no_store(json(
        StatusCode::ACCEPTED,
        &Accepted {
            job_id: &report.job_id,
            status: report.status,
        },
    ));
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/admin/reports/{}", report.job_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    let stored = idempotent::stored(&response);
    let completion = ticket.as_ref().map(|ticket| ticket.completion(&stored));
    let created = deps
        .reports
        .create(&report, completion.as_ref())
        .await
        .map(|()| response)
        .map_err(ApiError::from);
    idempotent::release_on_error(&deps.idempotency, ticket.as_ref(), created).await
}
