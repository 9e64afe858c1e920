//! POST /v1/auth/register {email,password,name}: a customer account.
//!
//! The role is never client-chosen: a `role` field (or any other unknown
//! field) is a 422. The email is claimed in the same transaction as the
//! user, so two concurrent registrations of one email cannot both win.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{password, Email, Password, Role, UserId},
    clock::now_rfc3339,
    http::{json, json_body},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{users::UserName, StoreError, User, UserStore},
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

#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    operation_id = "register",
    request_body(content = Registration, content_type = "application/json"),
    responses(
        (status = 201, description = "A customer account", body = quiet_core::store::User),
        (status = 409, description = "The email is taken", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<U: UserStore>(users: &U, req: Request) -> Result<Response<Body>, ApiError> {
    let body: Registration = json_body(&req)?;
    let hash = password::hash(&body.password)
        .map_err(|err| ApiError::Internal(StoreError::Dynamo(err.to_string())))?;
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
