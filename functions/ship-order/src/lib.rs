//! POST /v1/admin/orders/{id}/ship (admin): `paid → shipped`; any other
//! state is 409.
//!
//! With an `Idempotency-Key`, a retry gets the first 200 again, not the
//! 409 a second ship would be.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    http::{json, no_store, order_id_param},
    idempotent::{self, Begin},
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
    path = "/v1/admin/orders/{id}/ship",
    tag = "admin",
    operation_id = "ship-order",
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404"),
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key gets the first answer again")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shipped; a replay carries Idempotent-Replayed: true", body = quiet_core::store::Order, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such order", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Only a paid order can be shipped; or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "The Idempotency-Key was used with another request", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads + OrderLifecycle>(
    deps: &Deps<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let id = order_id_param(&req)?;
    let ticket = match idempotent::begin(
        &deps.idempotency,
        &req,
        KeyScope::user(&admin.id),
        "ship",
        &idempotent::fingerprint(&req, &[]),
    )
    .await?
    {
        Begin::Run(ticket) => ticket,
        Begin::Replay(response) => return Ok(response),
    };
    let shipped = match deps.orders.ship(&id, &now_rfc3339()).await {
        Ok(order) => Ok(order),
        Err(StoreError::NotFound) => Err(ApiError::order_not_found()),
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
            "only a paid order can be shipped".into(),
        )),
        Err(err) => Err(err.into()),
    };
    // The stored answer holds the customer's order (and address): kept
    // under them, so their erasure scrubs it.
    let customer = shipped.as_ref().ok().map(|order| order.user_id.clone());
    let response = shipped.map(|order| no_store(json(StatusCode::OK, &order)));
    idempotent::finish_about(&deps.idempotency, ticket, response, customer.as_ref()).await
}
