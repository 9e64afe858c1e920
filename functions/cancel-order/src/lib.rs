//! POST /v1/orders/{id}/cancel: `pending_payment → cancelled` by its owner;
//! the reserved stock goes back in the same transaction, exactly once.
//! Other states are 409; anyone else's order is 404.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    clock::now_rfc3339,
    deps::Orders,
    http::{json, no_store, order_id_param},
    store::{OrderStore, StoreError},
    ApiError,
};

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
