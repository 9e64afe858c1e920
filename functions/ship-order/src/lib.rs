//! POST /v1/admin/orders/{id}/ship (admin): `paid → shipped`; any other
//! state is 409.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    deps::Orders,
    http::{json, no_store, order_id_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{OrderStore, StoreError},
    ApiError,
};

#[utoipa::path(
    post,
    path = "/v1/admin/orders/{id}/ship",
    tag = "admin",
    operation_id = "ship-order",
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shipped", body = quiet_core::store::Order),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such order", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Only a paid order can be shipped", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderStore>(
    deps: &Orders<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let id = order_id_param(&req)?;
    match deps.orders.ship(&id, &now_rfc3339()).await {
        Ok(order) => Ok(no_store(json(StatusCode::OK, &order))),
        Err(StoreError::NotFound) => Err(ApiError::order_not_found()),
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
            "only a paid order can be shipped".into(),
        )),
        Err(err) => Err(err.into()),
    }
}
