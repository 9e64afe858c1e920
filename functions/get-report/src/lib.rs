//! GET /v1/admin/reports/{job_id} (admin): a report job's status
//! (`queued | running | succeeded | failed`) and, once succeeded, its
//! result: orders, revenue, and per-SKU units and revenue.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role, TokenVerifier},
    events::JobId,
    http::{json, no_store, path_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::ReportStore,
    ApiError,
};

pub struct Deps<R> {
    pub reports: R,
    pub verifier: TokenVerifier,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no report with that id".into())
}

#[utoipa::path(
    get,
    path = "/v1/admin/reports/{job_id}",
    tag = "admin",
    operation_id = "get-report",
    params(
        ("job_id" = quiet_core::events::JobId, Path)
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job, and its result once succeeded", body = quiet_core::store::Report),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such report", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: ReportStore>(
    deps: &Deps<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let id = path_param(&req, "job_id")
        .and_then(|raw| JobId::try_from(raw.to_string()).ok())
        .ok_or_else(not_found)?;
    let report = deps.reports.get(&id).await?.ok_or_else(not_found)?;
    Ok(no_store(json(StatusCode::OK, &report)))
}
