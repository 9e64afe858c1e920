//! DELETE /v1/admin/webhook-endpoints/{id} (admin): unsubscribes. Nothing
//! more is sent to it, retries in flight included; its deliveries stay
//! listed until they expire.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    http::{empty, endpoint_id_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{StoreError, WebhookStore},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<W> {
    pub webhooks: W,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/webhook-endpoints/{id}",
    tag = "admin",
    operation_id = "delete-webhook-endpoint",
    params(("id" = String, Path, description = "The endpoint's id (whep_...)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted: no more deliveries"),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No endpoint with that id", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<W: WebhookStore>(
    deps: &Deps<W>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let id = endpoint_id_param(&req)?;
    match deps.webhooks.delete_endpoint(&id).await {
        Ok(()) => {
            tracing::info!(endpoint_id = %id, "webhook endpoint deleted");
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Err(StoreError::NotFound) => Err(ApiError::webhook_endpoint_not_found()),
        Err(err) => Err(err.into()),
    }
}
