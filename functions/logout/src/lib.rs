//! POST /v1/auth/logout {refresh_token} (signed in): revokes the token's
//! family, so every refresh token of that login is dead. Always 204 for a
//! signed-in caller: an unknown token, or someone else's, changes nothing
//! and reveals nothing.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, hash_refresh_token, TokenVerifier},
    domain::Text,
    http::{empty, json_body},
    store::SessionStore,
    ApiError,
};
use serde::Deserialize;

pub struct Deps<S> {
    pub sessions: S,
    pub verifier: TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logout {
    #[schema(inline)]
    refresh_token: Text<1, 256>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    operation_id = "logout",
    request_body(content = Logout, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The refresh token's family is revoked")
    )
)]
pub async fn handler<S: SessionStore>(
    deps: &Deps<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let body: Logout = json_body(&req)?;
    deps.sessions
        .revoke(&hash_refresh_token(body.refresh_token.as_str()), &user.id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
