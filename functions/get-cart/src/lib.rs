//! GET /v1/cart?country=&region=: the caller's cart at today's catalog
//! prices, with its code's discount. Lines whose product was deleted are
//! left out (checkout would refuse them anyway). With `country` (and
//! `region`), the tax is estimated at that destination's rates, read with
//! the products in one call; a country the shop does not ship to is 422.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    clock,
    domain::{address::Country, address::Region, tax::AppliedTax},
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages::param,
    store::{CartStore, PricingStore},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<C, L> {
    pub carts: C,
    /// Products and, for a tax estimate, a destination's rates, in one read.
    pub pricing: L,
    pub verifier: quiet_core::auth::TokenVerifier,
    pub prices_include_tax: bool,
}

#[utoipa::path(
    get,
    path = "/v1/cart",
    tag = "cart",
    operation_id = "get-cart",
    params(
        ("country" = Option<String>, Query, pattern = r"^(\s*[A-Z]{2}\s*)?$", description = "Estimate tax for this destination (ISO 3166-1 alpha-2)"),
        ("region" = Option<String>, Query, pattern = r"^(\s*[A-Z0-9]{1,3}\s*)?$", description = "The destination's region, where it has its own rate")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart at today's prices", body = quiet_core::store::CartView),
        (status = 422, description = "Not a country or region code, or a country the shop does not ship to", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<C: CartStore, L: PricingStore>(
    deps: &Deps<C, L>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let country = param(&req, "country")
        .map(|raw| Country::try_from(raw.to_string()))
        .transpose()
        .map_err(|message| ApiError::validation("country", message))?;
    let region = param(&req, "region")
        .map(|raw| Region::try_from(raw.to_string()))
        .transpose()
        .map_err(|message| ApiError::validation("region", message))?;
    let cart = deps.carts.get(&user.id).await?;
    let inputs = deps
        .pricing
        .load(&cart.skus(), None, country.as_ref())
        .await?;
    let tax = match country {
        Some(country) => {
            let rates = inputs
                .rates
                .as_ref()
                .ok_or_else(|| ApiError::validation("country", "we do not ship there"))?;
            Some(AppliedTax {
                rate_bps: rates
                    .rate_for(region.as_ref())
                    .map_err(|e| ApiError::validation("region", e.to_string()))?,
                country,
                region,
                prices_include_tax: deps.prices_include_tax,
            })
        }
        None => None,
    };
    let view = cart
        .repriced(&inputs.products)
        .view_at(clock::now_secs(), tax)?;
    Ok(no_store(json(StatusCode::OK, &view)))
}
