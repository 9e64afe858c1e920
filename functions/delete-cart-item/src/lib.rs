//! DELETE /v1/cart/items/{sku}: removes a line. Removing a line that is
//! not there is not an error: the cart is returned as it is.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    http::{json, no_store, sku_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{CartStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<C> {
    pub carts: C,
    pub verifier: quiet_core::auth::TokenVerifier,
}

const ATTEMPTS: usize = 3;

#[utoipa::path(
    delete,
    path = "/v1/cart/items/{sku}",
    tag = "cart",
    operation_id = "delete-cart-item",
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart (unchanged if the line was not there)", body = quiet_core::store::CartView),
        (status = 404, description = "Not a SKU", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The cart kept changing underneath (retry)", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<C: CartStore>(
    deps: &Deps<C>,
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
