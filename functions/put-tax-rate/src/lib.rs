//! PUT /v1/admin/tax-rates/{country} (admin): sets the tax rates for a
//! destination country, `{"rate_bps": 2000}`, optionally with other rates
//! for some of its regions (`"regions": {"CA": 725}`). A country without
//! rates is one the shop does not ship to (checkout answers 422). Orders
//! already placed keep the rate they were taxed at.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    domain::{address::Country, tax::CountryRates},
    http::{json, json_body, path_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::TaxStore,
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<T> {
    pub taxes: T,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    put,
    path = "/v1/admin/tax-rates/{country}",
    tag = "admin",
    operation_id = "put-tax-rate",
    request_body(content = quiet_core::domain::tax::CountryRates, content_type = "application/json"),
    params(
        ("country" = String, Path, description = "ISO 3166-1 alpha-2 code, like GB")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The country's rates as now set", body = quiet_core::store::TaxRates),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Not a country code, a rate outside 0..=10000 basis points, or more than 100 regions", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<T: TaxStore>(
    deps: &Deps<T>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let country = path_param(&req, "country")
        .ok_or_else(|| ApiError::validation("country", "missing"))
        .and_then(|raw| {
            Country::try_from(raw.to_string())
                .map_err(|message| ApiError::validation("country", message))
        })?;
    let rates: CountryRates = json_body(&req)?;
    if rates.regions.len() > CountryRates::MAX_REGIONS {
        return Err(ApiError::validation(
            "regions",
            format!("at most {} regions", CountryRates::MAX_REGIONS),
        ));
    }
    let stored = deps.taxes.put(&country, &rates, &now_rfc3339()).await?;
    Ok(json(StatusCode::OK, &stored))
}
