//! POST /v1/orders/{id}/cancel: `pending_payment → cancelled` by its owner;
//! the reserved stock goes back in the same transaction, exactly once.
//! Other states are 409; anyone else's order is 404.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    clock::now_rfc3339,
    deps::Orders,
    http::{json, no_store, order_id_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{OrderStore, StoreError},
    ApiError,
};

#[utoipa::path(
    post,
    path = "/v1/orders/{id}/cancel",
    tag = "orders",
    operation_id = "cancel-order",
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled; the stock is back", body = quiet_core::store::Order),
        (status = 404, description = "No such order of yours", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Only a pending_payment order can be cancelled", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderStore>(
    deps: &Orders<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let id = order_id_param(&req)?;
    match deps.orders.cancel(&id, &user.id, &now_rfc3339()).await {
        Ok(order) => Ok(no_store(json(StatusCode::OK, &order))),
        Err(StoreError::NotFound) => Err(ApiError::order_not_found()),
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
            "only an order awaiting payment can be cancelled".into(),
        )),
        Err(err) => Err(err.into()),
    }
}
