//! POST /v1/products/{sku}/stock {delta} (admin): receive or write off
//! stock. One atomic ADD conditioned on the result staying within
//! 0..=1,000,000, so it composes with concurrent checkouts and other
//! adjustments; 409 with the current stock when it would not.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    deps::CatalogAdmin,
    domain::Sku,
    http::{json, json_body, sku_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{ProductStore, StockChange, StockDelta, StoreError},
    ApiError,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    delta: StockDelta,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Stock<'a> {
    #[schema(value_type = Sku)]
    sku: &'a Sku,
    stock: u32,
}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/stock",
    tag = "admin",
    operation_id = "adjust-stock",
    request_body(content = Adjustment, content_type = "application/json"),
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stock after the change", body = Stock),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The change would leave stock outside 0..=1000000", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &CatalogAdmin<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let sku = sku_param(&req)?;
    let body: Adjustment = json_body(&req)?;
    match deps.products.adjust_stock(&sku, body.delta).await {
        Ok(StockChange::Applied { stock }) => Ok(json(StatusCode::OK, &Stock { sku: &sku, stock })),
        Ok(StockChange::Refused { stock }) => Err(ApiError::Conflict(format!(
            "stock is {stock}; a change of {} would take it outside 0..=1000000",
            body.delta.get()
        ))),
        Err(StoreError::NotFound) => Err(ApiError::product_not_found()),
        Err(err) => Err(err.into()),
    }
}
