//! GET /v1/openapi.json: the OpenAPI 3.1 document of the whole API.
//!
//! It serves `docs/openapi.json`, compiled in. Nothing in that file is
//! written by hand: `tools/openapi-doc` generates it from every function's
//! route annotation, and its test fails when the committed copy differs
//! (`UPDATE_OPENAPI=1 cargo test -p openapi-doc` rewrites it). That tool
//! crate, not this function, depends on the other functions.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::ApiError;

pub const CACHE_CONTROL: &str = "public, max-age=300";

/// What the function serves: the committed copy, compiled in. A test keeps
/// it equal to what `tools/openapi-doc` generates, so a cold start does not
/// spend ~3 ms of init (twice the floor's) building and printing a 119 kB
/// document.
pub const SERVED: &str = include_str!("../../../docs/openapi.json");

/// What this function needs: the document, a constant ([`SERVED`]).
pub struct Deps {
    pub document: &'static str,
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "ops",
    operation_id = "openapi",
    responses(
        (status = 200, description = "This document", content_type = "application/json")
    )
)]
pub async fn handler(deps: &Deps, _req: Request) -> Result<Response<Body>, ApiError> {
    let mut response = Response::new(Body::Text(deps.document.to_string()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}
