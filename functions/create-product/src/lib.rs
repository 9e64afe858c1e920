//! POST /v1/products (admin): a new product, 201 with its ETag and Location.
//! With an `Idempotency-Key`, a retry gets that 201 again instead of the
//! 409 a second create of the SKU would be.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    http::{json, json_body},
    idempotent,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{KeyScope, NewProduct, ProductStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<P> {
    pub products: P,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    post,
    path = "/v1/products",
    tag = "admin",
    operation_id = "create-product",
    request_body(content = quiet_core::store::NewProduct, content_type = "application/json"),
    params(
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key and body gets the first answer again")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; a replay carries Idempotent-Replayed: true", body = quiet_core::domain::Product, headers(("etag" = String), ("location" = String), ("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The SKU exists, or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid product, or the Idempotency-Key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &Deps<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let new: NewProduct = json_body(&req)?;
    let scope = KeyScope::user(&admin.id);
    idempotent::once(
        &deps.idempotency,
        &req,
        scope,
        "products",
        &[],
        create(deps, &new),
    )
    .await
}

async fn create<P: ProductStore>(
    deps: &Deps<P>,
    new: &NewProduct,
) -> Result<Response<Body>, ApiError> {
    let product = match deps.products.create(new, &now_rfc3339()).await {
        Ok(product) => product,
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::Conflict(format!(
                "SKU {} already exists (SKUs of deleted products are not reused)",
                new.sku
            )))
        }
        Err(err) => return Err(err.into()),
    };
    let mut response = json(StatusCode::CREATED, &product);
    let headers = response.headers_mut();
    for (name, value) in [
        (header::ETAG, product.etag()),
        (header::LOCATION, format!("/v1/products/{}", product.sku)),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}
