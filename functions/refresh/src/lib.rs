//! POST /v1/auth/refresh {refresh_token}: a new token pair; the presented
//! refresh token is spent. Presenting a spent one is 401 and revokes its
//! whole family (see `quiet_core::store::sessions`).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{hash_refresh_token, keys::PendingSigner, new_refresh_token, TokenPair},
    clock,
    domain::Text,
    http::{json, json_body, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{Rotation, SessionStore},
    ApiError,
};
use serde::Deserialize;

pub struct Deps<S> {
    pub sessions: S,
    pub signer: PendingSigner,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    #[schema(inline)]
    refresh_token: Text<1, 256>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body(content = Refresh, content_type = "application/json"),
    responses(
        (status = 200, description = "A new pair; the presented refresh token is spent", body = quiet_core::auth::TokenPair),
        (status = 401, description = "Unknown, expired or spent refresh token (a spent one revokes its family)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 503, description = "The token signing key cannot be read right now; nothing was changed, try again", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<S: SessionStore>(
    deps: &Deps<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let body: Refresh = json_body(&req)?;
    let now = clock::now();
    let (next, next_hash) = new_refresh_token();
    let presented = hash_refresh_token(body.refresh_token.as_str());
    // Before the rotation, which spends the presented token: without a key
    // to sign the new pair the client must keep a token that still works.
    let signer = deps.signer.get().await.map_err(ApiError::Unavailable)?;
    match deps.sessions.rotate(&presented, &next_hash, now).await? {
        Rotation::Rotated(session) => {
            let pair = TokenPair::issue(signer, &session.user_id, session.role, next, now);
            Ok(no_store(json(StatusCode::OK, &pair)))
        }
        Rotation::Refused => Err(ApiError::Unauthorized),
    }
}
