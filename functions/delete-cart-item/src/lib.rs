//! DELETE /v1/cart/items/{sku}: removes a line. Removing a line that is
//! not there is not an error: the cart is returned as it is.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    deps::Shopper,
    http::{json, no_store, sku_param},
    store::{CartStore, ProductStore, StoreError},
    ApiError,
};

const ATTEMPTS: usize = 3;

pub async fn handler<C: CartStore, P: ProductStore>(
    deps: &Shopper<C, P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let sku = sku_param(&req)?;
    for _ in 0..ATTEMPTS {
        let mut cart = deps.carts.get(&user.id).await?;
        let changed = cart.remove(&sku);
        let saved = if changed {
            deps.carts.save(&user.id, &cart).await
        } else {
            Ok(())
        };
        match saved {
            Ok(()) => {
                let view = cart.view()?;
                return Ok(no_store(json(StatusCode::OK, &view)));
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict(
        "the cart is being changed by another request; try again".into(),
    ))
}
