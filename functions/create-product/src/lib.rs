//! POST /v1/products (admin): a new product, 201 with its ETag and Location.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    deps::CatalogAdmin,
    http::{json, json_body},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{NewProduct, ProductStore, StoreError},
    ApiError,
};

#[utoipa::path(
    post,
    path = "/v1/products",
    tag = "admin",
    operation_id = "create-product",
    request_body(content = quiet_core::store::NewProduct, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = quiet_core::domain::Product, headers(("etag" = String), ("location" = String))),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The SKU exists", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &CatalogAdmin<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let new: NewProduct = json_body(&req)?;
    let product = match deps.products.create(&new, &now_rfc3339()).await {
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
