//! GET /v1/orders/{id}: one of the caller's own orders. Anyone else's is
//! 404, exactly like an id that does not exist.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    http::{json, no_store, order_id_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::OrderReads,
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<O> {
    pub orders: O,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    operation_id = "get-order",
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = quiet_core::store::Order),
        (status = 404, description = "No such order of yours (someone else's is 404 too)", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads>(
    deps: &Deps<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let id = order_id_param(&req)?;
    let order = deps
        .orders
        .get(&id)
        .await?
        .filter(|order| order.user_id == user.id)
        .ok_or_else(ApiError::order_not_found)?;
    Ok(no_store(json(StatusCode::OK, &order)))
}
