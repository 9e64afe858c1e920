//! PUT /v1/cart/promotion {code}: puts a discount code on the caller's
//! cart. The code must apply to the cart as it is now: an unknown, not yet
//! active, expired, used-up or out-of-scope code, or a once-per-customer
//! code this customer already used, is a 422 saying which, with the cart
//! unchanged. The answer is the cart with its discount.
//!
//! DynamoDB calls: the cart, then its products with the code (one
//! BatchGetItem), the customer's redemption for a once-per-customer code,
//! and the save. This is advice, not the guarantee: checkout re-checks the live code and
//! redeems it inside its one transaction, so a code that runs out between
//! here and checkout is refused there (409), never over-redeemed.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    clock,
    domain::promotion::{PromoCode, Refusal},
    http::{json, json_body, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{CartStore, PricingStore, PromotionStore, StoreError},
    ApiError,
};
use serde::Deserialize;

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<C, L, R> {
    pub carts: C,
    /// The cart's products and its promotion, in one read.
    pub pricing: L,
    /// Whether a customer already used a once-per-customer code.
    pub promotions: R,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCode {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9-]{3,32}$")]
    code: PromoCode,
}

/// Two writes to one cart at once retry on the fresh version, as for lines.
const ATTEMPTS: usize = 3;

fn refused(reason: Refusal) -> ApiError {
    ApiError::validation("code", reason.to_string())
}

#[utoipa::path(
    put,
    path = "/v1/cart/promotion",
    tag = "cart",
    operation_id = "put-cart-promotion",
    request_body(content = ApplyCode, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart with the code's discount", body = quiet_core::store::CartView),
        (status = 409, description = "The cart kept changing underneath (retry)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "The code does not apply (errors[0].message says why, for the shopper), or the cart is empty", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<C: CartStore, L: PricingStore, R: PromotionStore>(
    deps: &Deps<C, L, R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let body: ApplyCode = json_body(&req)?;
    let now = clock::now_secs();
    for _ in 0..ATTEMPTS {
        let cart = deps.carts.get(&user.id).await?;
        if cart.lines.is_empty() {
            return Err(ApiError::validation(
                "code",
                "add something to your cart before a code",
            ));
        }
        // The cart's products and the code, in one read.
        let inputs = deps
            .pricing
            .load(&cart.skus(), Some(&body.code), None)
            .await?;
        let promotion = inputs.promotion.ok_or_else(|| refused(Refusal::Unknown))?;
        promotion.rules.active_at(now).map_err(refused)?;
        if promotion.exhausted() {
            return Err(refused(Refusal::Exhausted));
        }
        if promotion.rules.once_per_customer
            && deps
                .promotions
                .redeemed_by(promotion.code(), &user.id)
                .await?
        {
            return Err(refused(Refusal::AlreadyUsed));
        }
        let mut cart = cart.repriced(&inputs.products);
        cart.promotion = Some(promotion.rules);
        let view = cart.view_at(now, None)?;
        if let Some(outcome) = view.promotion.as_ref().filter(|p| !p.applies) {
            let reason = outcome.message.clone().unwrap_or_default();
            return Err(ApiError::validation("code", reason));
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
