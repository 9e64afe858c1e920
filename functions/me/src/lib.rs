//! GET /v1/me: the caller's own profile.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, TokenVerifier},
    http::{json, no_store},
    store::UserStore,
    ApiError,
};

pub struct Deps<U> {
    pub users: U,
    pub verifier: TokenVerifier,
}

#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "auth",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = quiet_core::store::User)
    )
)]
pub async fn handler<U: UserStore>(
    deps: &Deps<U>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = authenticate(&req, &deps.verifier)?;
    // A valid token for an account that no longer exists proves nothing.
    let user = deps
        .users
        .get(&caller.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(no_store(json(StatusCode::OK, &user)))
}
