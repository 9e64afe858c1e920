//! DELETE /v1/me {password}: erases the caller's account (GDPR art. 17,
//! CCPA's right to delete).
//!
//! The password is asked again, so a stolen access token alone cannot
//! erase anyone; wrong passwords count towards the same five-in-15-minutes
//! lock as login. What happens at once and what the erasure worker does
//! after is in `quiet_core::store::erasure`. The answer is 202 with the
//! erasure's id: `GET /v1/erasures/{id}` tells when it is complete, without
//! signing in (the account can no longer sign in).

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, password, Password, TokenVerifier},
    clock,
    events::ErasureId,
    http::{json, json_body, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{Erasure, ErasureStatus, ErasureStore, LoginAttempt, StoreError, UserStore},
    ApiError,
};
use serde::Deserialize;

pub struct Deps<U, E> {
    pub users: U,
    pub erasures: E,
    pub verifier: TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseAccount {
    /// The account's password, asked again.
    #[schema(value_type = String, min_length = 12, max_length = 128)]
    password: Password,
}

#[utoipa::path(
    delete,
    path = "/v1/me",
    tag = "auth",
    operation_id = "erase-account",
    security(("bearer" = [])),
    request_body(content = EraseAccount, content_type = "application/json"),
    responses(
        (status = 202, description = "Erased: the profile, email and sessions at once, the rest within seconds; GET the Location for when it is complete", body = quiet_core::store::Erasure, headers(("location" = String, description = "/v1/erasures/{id}"))),
        (status = 422, description = "The password is not this account's (or not a password at all)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 429, description = "Five wrong passwords for this account in 15 minutes", content_type = PROBLEM_JSON, body = ProblemDoc, headers(("retry-after" = u64, description = "Seconds to wait")))
    )
)]
pub async fn handler<U: UserStore, E: ErasureStore>(
    deps: &Deps<U, E>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = authenticate(&req, &deps.verifier)?;
    let body: EraseAccount = json_body(&req)?;
    // Gone already (a retry after success): the token proves nothing now.
    let user = deps
        .users
        .get(&caller.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let now = clock::now();
    // As at login: the attempt is taken before the password is checked.
    let (attempt, credentials) = tokio::join!(
        deps.users.reserve_attempt(&user.email, now),
        deps.users.credentials(&user.email)
    );
    if let LoginAttempt::Refused { retry_after_secs } = attempt? {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let credentials = credentials?;
    let confirmed = credentials.is_some_and(|c| {
        c.user_id == user.id && password::verify(&body.password, &c.password_hash)
    });
    if !confirmed {
        return Err(ApiError::validation(
            "password",
            "does not match this account's password",
        ));
    }

    let id = ErasureId::generate();
    let requested_at = clock::now_rfc3339();
    match deps.erasures.begin(&user, &id, &requested_at).await {
        Ok(()) => {}
        // Erased by a concurrent request meanwhile.
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
        Err(err) => return Err(err.into()),
    }
    tracing::info!(erasure_id = id.as_str(), "account erasure started");
    let location = format!("/v1/erasures/{}", id.as_str());
    let erasure = Erasure {
        id,
        status: ErasureStatus::InProgress,
        requested_at,
        completed_at: None,
    };
    let mut response = no_store(json(StatusCode::ACCEPTED, &erasure));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
