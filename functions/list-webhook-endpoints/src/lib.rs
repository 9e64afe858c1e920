//! GET /v1/admin/webhook-endpoints (admin): every endpoint, oldest first,
//! without secrets. A shop has a handful, so this is one page (one Query).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages::Page,
    store::WebhookStore,
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<W> {
    pub webhooks: W,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    get,
    path = "/v1/admin/webhook-endpoints",
    tag = "admin",
    operation_id = "list-webhook-endpoints",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every endpoint, oldest first; next_cursor is always null", body = quiet_core::pages::Page<quiet_core::store::webhooks::Endpoint>),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<W: WebhookStore>(
    deps: &Deps<W>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let mut items = deps.webhooks.endpoints().await?;
    items.sort_by(|a, b| (&a.created_at, a.id.as_str()).cmp(&(&b.created_at, b.id.as_str())));
    Ok(no_store(json(
        StatusCode::OK,
        &Page {
            items,
            next_cursor: None,
        },
    )))
}
