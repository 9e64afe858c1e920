//! DELETE /v1/products/{sku} (admin): soft delete. The product leaves
//! listings, reads and carts; orders that bought it keep their copy.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    http::{empty, sku_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{ProductStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<P> {
    pub products: P,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    delete,
    path = "/v1/products/{sku}",
    tag = "admin",
    operation_id = "delete-product",
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted (soft): gone from listings, reads and carts"),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &Deps<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let sku = sku_param(&req)?;
    match deps.products.delete(&sku, &now_rfc3339()).await {
        Ok(()) => Ok(empty(StatusCode::NO_CONTENT)),
        Err(StoreError::NotFound) => Err(ApiError::product_not_found()),
        Err(err) => Err(err.into()),
    }
}
