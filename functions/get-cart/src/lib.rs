//! GET /v1/cart: the caller's cart at today's catalog prices. Lines whose
//! product was deleted are left out (checkout would refuse them anyway).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    deps::Shopper,
    http::{json, no_store},
    store::{CartStore, ProductStore},
    ApiError,
};

#[utoipa::path(
    get,
    path = "/v1/cart",
    tag = "cart",
    operation_id = "get-cart",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart at today's prices", body = quiet_core::store::CartView)
    )
)]
pub async fn handler<C: CartStore, P: ProductStore>(
    deps: &Shopper<C, P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let cart = deps.carts.get(&user.id).await?;
    let current = deps.products.get_many(&cart.skus()).await?;
    let view = cart.repriced(&current).view()?;
    Ok(no_store(json(StatusCode::OK, &view)))
}
