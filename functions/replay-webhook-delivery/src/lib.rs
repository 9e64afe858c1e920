//! POST /v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/replay
//! (admin): sends a delivery again (usually a parked one, once the
//! merchant's system is back), with the same `webhook-id` and body and a
//! fresh timestamp and signature. 202: the delivery is pending again and a
//! replay request went to the outbox in the same transaction, so the
//! webhooks worker sends it within seconds, with the usual retries.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    events::{EndpointId, EventId},
    http::{delivery_id_param, endpoint_id_param, json},
    idempotent,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{KeyScope, StoreError, WebhookStore},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<W> {
    pub webhooks: W,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    post,
    path = "/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
    tag = "admin",
    operation_id = "replay-webhook-delivery",
    params(
        ("id" = String, Path, description = "The endpoint's id (whep_...)"),
        ("delivery_id" = String, Path, description = "The delivery's id: its event's id (evt_...)"),
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key replays once")
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued: the delivery is pending again; a replay carries Idempotent-Replayed: true", body = quiet_core::store::webhooks::Delivery, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such endpoint, or no such delivery to it", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "A request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "The Idempotency-Key was used with another request", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<W: WebhookStore>(
    deps: &Deps<W>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let endpoint = endpoint_id_param(&req)?;
    let delivery = delivery_id_param(&req)?;
    // The route names the delivery; the key is bound to it as well as to
    // the (empty) body.
    let route = format!("webhook-replay:{endpoint}:{delivery}");
    idempotent::once(
        &deps.idempotency,
        &req,
        KeyScope::user(&admin.id),
        &route,
        &[],
        replay(deps, &endpoint, &delivery),
    )
    .await
}

async fn replay<W: WebhookStore>(
    deps: &Deps<W>,
    endpoint: &EndpointId,
    delivery: &EventId,
) -> Result<Response<Body>, ApiError> {
    if deps.webhooks.endpoint(endpoint).await?.is_none() {
        return Err(ApiError::webhook_endpoint_not_found());
    }
    match deps
        .webhooks
        .request_replay(endpoint, delivery, &now_rfc3339())
        .await
    {
        Ok(delivery) => {
            tracing::info!(endpoint_id = %endpoint, delivery_id = %delivery.id, "webhook replay requested");
            Ok(json(StatusCode::ACCEPTED, &delivery))
        }
        Err(StoreError::NotFound) => Err(ApiError::delivery_not_found()),
        Err(err) => Err(err.into()),
    }
}
