//! GET /v1/products/{sku}: one live product, one consistent GetItem.
//!
//! Responses carry a strong `ETag` and a short public `Cache-Control`: stock
//! moves, so shared caches may hold a product for seconds, not minutes, and
//! revalidate cheaply with `If-None-Match` (304, no body).

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    http::{empty, if_none_match, json, sku_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::ProductStore,
    ApiError,
};

pub const CACHE_CONTROL: &str = "public, max-age=10";

/// What this function needs; `main.rs` builds it once at init.
pub struct Deps<S> {
    pub products: S,
}

#[utoipa::path(
    get,
    path = "/v1/products/{sku}",
    tag = "catalog",
    operation_id = "get-product",
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404"),
        ("if-none-match" = Option<String>, Header, description = "An ETag from an earlier response")
    ),
    responses(
        (status = 200, description = "The product", body = quiet_core::domain::Product, headers(("etag" = String, description = "Strong validator of version and stock"), ("cache-control" = String, description = "public, max-age=10"))),
        (status = 304, description = "The If-None-Match ETag is current"),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<S: ProductStore>(
    deps: &Deps<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let store = &deps.products;
    let sku = sku_param(&req)?;
    let product = store
        .get(&sku)
        .await?
        .ok_or_else(ApiError::product_not_found)?;

    let etag = product.etag();
    let mut response = if if_none_match(&req, &etag) {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        json(StatusCode::OK, &product)
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}
