//! GET /v1/erasures/{id}: an account erasure's status, for whoever holds
//! its id. No sign-in: the account it erased cannot sign in any more, and
//! the id is 128 random bits. The answer names nobody (no user id).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    events::ErasureId,
    http::{json, no_store, path_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::ErasureStore,
    ApiError,
};

fn not_found() -> ApiError {
    ApiError::NotFound("no erasure with that id".into())
}

/// What this function needs; `main.rs` builds it once at init.
pub struct Deps<E> {
    pub erasures: E,
}

#[utoipa::path(
    get,
    path = "/v1/erasures/{id}",
    tag = "auth",
    operation_id = "get-erasure",
    params(("id" = String, Path, pattern = "^era_[0-9a-f]{32}$", description = "From the Location of DELETE /v1/me")),
    responses(
        (status = 200, description = "The erasure: in_progress, then completed", body = quiet_core::store::Erasure),
        (status = 404, description = "No erasure with that id", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<E: ErasureStore>(
    deps: &Deps<E>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let erasures = &deps.erasures;
    let id = path_param(&req, "id")
        .and_then(|raw| ErasureId::try_from(raw.to_string()).ok())
        .ok_or_else(not_found)?;
    let erasure = erasures.get(&id).await?.ok_or_else(not_found)?;
    Ok(no_store(json(StatusCode::OK, &erasure)))
}
