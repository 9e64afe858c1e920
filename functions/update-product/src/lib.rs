//! PATCH /v1/products/{sku} (admin): edits name, description, category,
//! price or `stock_shards`, guarded by `If-Match` (428 without it, 412 when
//! stale) so two staff editing at once cannot silently overwrite each
//! other. Stock is not editable here: it moves only by atomic increments
//! (POST …/stock).
//!
//! `stock_shards` (1..=32) spreads a hot SKU's stock over that many shard
//! items for a flash sale, or (1) brings it back to the product item. The
//! edit is one transaction; the units then move by conditional transfers
//! (store::shards) while orders go on, before the answer when nothing
//! races them, else by the scheduled rebalancer. The answer's `stock` is
//! the SKU's total either way.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    domain::Product,
    http::{if_match, json, json_body, sku_param, IfMatch},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{ProductPatch, ProductStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<P> {
    pub products: P,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    patch,
    path = "/v1/products/{sku}",
    tag = "admin",
    operation_id = "update-product",
    request_body(content = quiet_core::store::ProductPatch, content_type = "application/json"),
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404"),
        ("if-match" = String, Header, description = "The ETag you read, or *")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = quiet_core::domain::Product, headers(("etag" = String))),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 412, description = "The product changed since that ETag", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 428, description = "If-Match is required", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &Deps<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let sku = sku_param(&req)?;
    // A malformed request is refused as such (400/415/422) before its
    // precondition is judged (428/412).
    let patch: ProductPatch = json_body(&req)?;
    if patch.is_empty() {
        return Err(ApiError::validation(
            "body",
            "send at least one of name, description, category, price, stock_shards",
        ));
    }
    let expected = match if_match(&req, Product::version_in_etag)? {
        IfMatch::Any => None,
        IfMatch::Version(version) => Some(version),
    };
    let product = match deps
        .products
        .update(&sku, expected, &patch, &now_rfc3339())
        .await
    {
        Ok(product) => product,
        Err(StoreError::NotFound) => return Err(ApiError::product_not_found()),
        Err(StoreError::ConditionFailed) => return Err(ApiError::PreconditionFailed),
        Err(err) => return Err(err.into()),
    };
    let mut response = json(StatusCode::OK, &product);
    if let Ok(etag) = HeaderValue::from_str(&product.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}
