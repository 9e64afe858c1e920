//! GET /v1/admin/webhook-endpoints/{id}/deliveries?status=&limit=&cursor=
//! (admin): an endpoint's deliveries, newest event first, with what the
//! last attempt got. `status=parked` lists what exhausted its retries and
//! waits for a replay.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    events::EventId,
    http::{endpoint_id_param, json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages,
    store::{webhooks::DeliveryStatus, WebhookStore},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<W> {
    pub webhooks: W,
    pub verifier: quiet_core::auth::TokenVerifier,
    /// Signs page cursors; only the functions that page hold `CURSOR_SECRET`.
    pub cursor_key: quiet_core::domain::CursorKey,
}

#[utoipa::path(
    get,
    path = "/v1/admin/webhook-endpoints/{id}/deliveries",
    tag = "admin",
    operation_id = "list-webhook-deliveries",
    params(
        ("id" = String, Path, description = "The endpoint's id (whep_...)"),
        ("status" = Option<quiet_core::store::webhooks::DeliveryStatus>, Query, description = "Only deliveries in this state"),
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deliveries, newest event first (a filtered page may hold fewer than limit and still have a next_cursor)", body = quiet_core::pages::Page<quiet_core::store::webhooks::Delivery>),
        (status = 400, description = "Tampered or foreign cursor", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No endpoint with that id", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid limit or status", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<W: WebhookStore>(
    deps: &Deps<W>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let cursor_key = &deps.cursor_key;
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let id = endpoint_id_param(&req)?;
    let limit = pages::limit(&req).map_err(|e| ApiError::Validation(vec![e]))?;
    let status = pages::param(&req, "status")
        .map(|text| {
            DeliveryStatus::parse(text).ok_or_else(|| {
                ApiError::validation("status", "must be pending, delivered or parked")
            })
        })
        .transpose()?;
    // Cursors are bound to the endpoint, so one cannot page another.
    let scope = format!("webhook-deliveries:{id}");
    let after = pages::after(&req, cursor_key, &scope, |s| EventId::try_from(s).ok())?;
    if deps.webhooks.endpoint(&id).await?.is_none() {
        return Err(ApiError::webhook_endpoint_not_found());
    }
    let page = deps
        .webhooks
        .deliveries(&id, status, limit, after.as_ref())
        .await?;
    let next_cursor = pages::next_cursor(cursor_key, &scope, page.last.map(|e| e.to_string()));
    Ok(no_store(json(
        StatusCode::OK,
        &pages::Page {
            items: page.items,
            next_cursor,
        },
    )))
}
