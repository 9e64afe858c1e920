//! PUT /v1/cart/items/{sku} {quantity}: sets a line's quantity (1..=99),
//! adding it if new; at most 50 lines; only live products (404 otherwise).
//! Prices are never accepted from the client: `{quantity}` is the whole
//! body, anything else is 422.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    domain::Quantity,
    http::{json, json_body, no_store, sku_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{CartLine, CartStore, StoreError},
    ApiError,
};
use serde::Deserialize;

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<C> {
    pub carts: C,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    quantity: Quantity,
}

/// Two writes to one cart at the same moment (two tabs) retry on the
/// fresh version rather than fail; more contention than this is abuse.
const ATTEMPTS: usize = 3;

#[utoipa::path(
    put,
    path = "/v1/cart/items/{sku}",
    tag = "cart",
    operation_id = "put-cart-item",
    request_body(content = SetQuantity, content_type = "application/json"),
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart", body = quiet_core::store::CartView),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The cart kept changing underneath (retry)", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<C: CartStore>(
    deps: &Deps<C>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let sku = sku_param(&req)?;
    let body: SetQuantity = json_body(&req)?;
    for _ in 0..ATTEMPTS {
        let (mut cart, product) = deps.carts.get_with_product(&user.id, &sku).await?;
        let product = product.ok_or_else(ApiError::product_not_found)?;
        cart.set(CartLine {
            sku: sku.clone(),
            quantity: body.quantity,
            name: product.name.as_str().to_string(),
            unit_price: product.price,
            category: Some(product.category.clone()),
        })
        .map_err(|full| ApiError::validation("sku", full.to_string()))?;
        match deps.carts.save(&user.id, &cart).await {
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
