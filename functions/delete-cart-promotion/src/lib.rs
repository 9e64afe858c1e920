//! DELETE /v1/cart/promotion: takes the code off the caller's cart (a cart
//! without one is answered as it is). The answer is the cart at today's
//! prices.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{CartStore, PricingStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<C, L> {
    pub carts: C,
    /// The cart's products and its promotion, in one read.
    pub pricing: L,
    pub verifier: quiet_core::auth::TokenVerifier,
}

const ATTEMPTS: usize = 3;

#[utoipa::path(
    delete,
    path = "/v1/cart/promotion",
    tag = "cart",
    operation_id = "delete-cart-promotion",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart without a code", body = quiet_core::store::CartView),
        (status = 409, description = "The cart kept changing underneath (retry)", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<C: CartStore, L: PricingStore>(
    deps: &Deps<C, L>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    for _ in 0..ATTEMPTS {
        let mut cart = deps.carts.get(&user.id).await?;
        let had_code = cart.promotion.take().is_some();
        let current = deps.pricing.load(&cart.skus(), None, None).await?;
        let view = cart.repriced(&current.products).view()?;
        if !had_code {
            return Ok(no_store(json(StatusCode::OK, &view)));
        }
        match deps.carts.save(&user.id, &cart).await {
            Ok(()) => return Ok(no_store(json(StatusCode::OK, &view))),
            Err(StoreError::ConditionFailed) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict(
        "the cart is being changed by another request; try again".into(),
    ))
}
