//! POST /v1/auth/refresh {refresh_token}: a new token pair; the presented
//! refresh token is spent. Presenting a spent one is 401 and revokes its
//! whole family (see `quiet_core::store::sessions`).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{hash_refresh_token, new_refresh_token, TokenPair, TokenSigner},
    clock,
    domain::Text,
    http::{json, json_body, no_store},
    store::{Rotation, SessionStore},
    ApiError,
};
use serde::Deserialize;

pub struct Deps<S> {
    pub sessions: S,
    pub signer: TokenSigner,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refresh {
    refresh_token: Text<1, 256>,
}

pub async fn handler<S: SessionStore>(
    deps: &Deps<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let body: Refresh = json_body(&req)?;
    let now = clock::now();
    let (next, next_hash) = new_refresh_token();
    let presented = hash_refresh_token(body.refresh_token.as_str());
    match deps.sessions.rotate(&presented, &next_hash, now).await? {
        Rotation::Rotated(session) => {
            let pair = TokenPair::issue(&deps.signer, &session.user_id, session.role, next, now);
            Ok(no_store(json(StatusCode::OK, &pair)))
        }
        Rotation::Refused => Err(ApiError::Unauthorized),
    }
}
