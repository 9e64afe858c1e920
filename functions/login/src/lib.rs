//! POST /v1/auth/login {email,password}: an access token and a refresh
//! token that starts a new family.
//!
//! Unknown email and wrong password are the same 401, and cost the same
//! Argon2 work, so neither the body nor the timing tells whether an account
//! exists. Five failures for one email within 15 minutes (known or not)
//! throttle it: the next attempt is 429 with `Retry-After`, checked before
//! any password work.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{
        keys::PendingSigner, new_family_id, new_refresh_token, password, Email, Password, TokenPair,
    },
    clock,
    http::{json, json_body, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{LoginAttempt, Session, SessionStore, UserStore},
    ApiError,
};
use serde::Deserialize;

pub struct Deps<U, S> {
    pub users: U,
    pub sessions: S,
    pub signer: PendingSigner,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: Email,
    password: Password,
}

#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body(content = Login, content_type = "application/json"),
    responses(
        (status = 200, description = "An access token and a refresh token", body = quiet_core::auth::TokenPair),
        (status = 401, description = "Unknown email or wrong password (one answer for both)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 429, description = "Five failures for this email in 15 minutes", content_type = PROBLEM_JSON, body = ProblemDoc, headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The token signing key cannot be read right now; nothing was changed, try again", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<U: UserStore, S: SessionStore>(
    deps: &Deps<U, S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let body: Login = json_body(&req)?;
    let now = clock::now();
    // The attempt is taken before the password is checked, so concurrent
    // guesses cannot all pass one read of the count; both reads go out at
    // once.
    let (attempt, credentials) = tokio::join!(
        deps.users.reserve_attempt(&body.email, now),
        deps.users.credentials(&body.email)
    );
    if let LoginAttempt::Refused { retry_after_secs } = attempt? {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let credentials = credentials?;

    let verified = match &credentials {
        Some(credentials) => password::verify(&body.password, &credentials.password_hash),
        None => {
            password::verify_nothing(&body.password);
            false
        }
    };
    // A wrong password keeps its attempt: that is the failure counted.
    let Some(credentials) = credentials.filter(|_| verified) else {
        return Err(ApiError::Unauthorized);
    };
    // Fetched since init, overlapping the read and the hashing above; got
    // before anything is written, so a missing key leaves nothing behind.
    let signer = deps.signer.get().await.map_err(ApiError::Unavailable)?;

    let session = Session {
        user_id: credentials.user_id,
        role: credentials.role,
    };
    let (refresh_token, hash) = new_refresh_token();
    deps.sessions
        .start(&session, &new_family_id(), &hash, &body.email, now)
        .await?;
    let pair = TokenPair::issue(signer, &session.user_id, session.role, refresh_token, now);
    Ok(no_store(json(StatusCode::OK, &pair)))
}
