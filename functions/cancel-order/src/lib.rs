//! POST /v1/orders/{id}/cancel: `pending_payment → cancelled` by its owner;
//! the reserved stock goes back in the same transaction, exactly once.
//! Other states are 409; anyone else's order is 404.
//!
//! With an `Idempotency-Key`, a retry gets the first 200 again, not the
//! 409 a second cancel would be.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    clock::now_rfc3339,
    http::{json, no_store, order_id_param},
    idempotent,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{KeyScope, OrderLifecycle, OrderReads, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<O> {
    pub orders: O,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/cancel",
    tag = "orders",
    operation_id = "cancel-order",
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404"),
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key gets the first answer again")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled; the stock is back. A replay carries Idempotent-Replayed: true", body = quiet_core::store::Order, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such order of yours", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Only a pending_payment order can be cancelled; or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "The Idempotency-Key was used with another request", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads + OrderLifecycle>(
    deps: &Deps<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let id = order_id_param(&req)?;
    let cancelled = async {
        match deps.orders.cancel(&id, &user.id, &now_rfc3339()).await {
            Ok(order) => Ok(no_store(json(StatusCode::OK, &order))),
            Err(StoreError::NotFound) => Err(ApiError::order_not_found()),
            Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
                "only an order awaiting payment can be cancelled".into(),
            )),
            Err(err) => Err(err.into()),
        }
    };
    idempotent::once(
        &deps.idempotency,
        &req,
        KeyScope::user(&user.id),
        "cancel",
        &[],
        cancelled,
    )
    .await
}
