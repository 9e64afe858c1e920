//! GET /.well-known/jwks.json: the public keys that verify access tokens,
//! for clients and other services. Plain configuration, serialised once at
//! init; shared caches may keep it for five minutes (rotation publishes the
//! new key before signing with it).

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{auth::keys::Jwks, http::json, ApiError};

pub const CACHE_CONTROL: &str = "public, max-age=300";

/// What this function needs; `main.rs` builds it once at init.
pub struct Deps {
    /// The public keys, from `JWT_JWKS`.
    pub jwks: Jwks,
}

#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    operation_id = "jwks",
    responses(
        (status = 200, description = "Public keys that verify access tokens", body = quiet_core::auth::keys::Jwks)
    )
)]
pub async fn handler(deps: &Deps, _req: Request) -> Result<Response<Body>, ApiError> {
    let jwks = &deps.jwks;
    let mut response = json(StatusCode::OK, jwks);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}
