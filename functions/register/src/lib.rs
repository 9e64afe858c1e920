//! POST /v1/auth/register {email,password,name}: a customer account.
//!
//! The role is never client-chosen: a `role` field (or any other unknown
//! field) is a 422. The email is claimed in the same transaction as the
//! user, so two concurrent registrations of one email cannot both win.
//!
//! With an `Idempotency-Key` (scoped to the email, since the caller has no
//! account yet), a retry gets the first 201 again instead of a 409. The
//! password is left out of the request's fingerprint: a fast hash of it
//! must not sit in the table for a day. So the same key, email and name
//! with another password is a replay of the account made, not a 422; the
//! account's password stays the first one.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{password, Email, Password, Role, UserId},
    clock::now_rfc3339,
    http::{json, json_body},
    idempotent,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{users::UserName, IdempotencyStore, KeyScope, StoreError, User, UserStore},
    ApiError,
};
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    email: Email,
    password: Password,
    #[schema(inline)]
    name: UserName,
}

/// What this function needs; `main.rs` builds it once at init.
pub struct Deps<U, I> {
    pub users: U,
    pub idempotency: I,
}

#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    operation_id = "register",
    request_body(content = Registration, content_type = "application/json"),
    params(
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key, email and name gets the first answer again")
    ),
    responses(
        (status = 201, description = "A customer account; a replay carries Idempotent-Replayed: true", body = quiet_core::store::User, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The email is taken, or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid fields, or the Idempotency-Key was used with another email or name", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<U: UserStore, I: IdempotencyStore>(
    deps: &Deps<U, I>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let (users, idempotency) = (&deps.users, &deps.idempotency);
    let body: Registration = json_body(&req)?;
    let scope = KeyScope::registering(&body.email);
    idempotent::once(
        idempotency,
        &req,
        scope,
        "register",
        &["password"],
        register(users, body),
    )
    .await
}

async fn register<U: UserStore>(users: &U, body: Registration) -> Result<Response<Body>, ApiError> {
    let hash = password::hash(&body.password).map_err(ApiError::internal)?;
    let user = User {
        id: UserId::generate(),
        email: body.email,
        name: body.name,
        role: Role::Customer,
        created_at: now_rfc3339(),
    };
    match users.create(&user, &hash).await {
        Ok(()) => Ok(json(StatusCode::CREATED, &user)),
        Err(StoreError::AlreadyExists) => Err(ApiError::Conflict(
            "an account with this email already exists".into(),
        )),
        Err(err) => Err(err.into()),
    }
}
