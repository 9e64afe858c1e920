//! DELETE /v1/admin/promotions/{code} (admin): soft delete. The code stops
//! working at once (carts that carry it are refused at checkout) and leaves
//! the listing; orders that used it keep their discount, and cancelling one
//! still gives its redemption back. The code is never reused.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    http::{code_param, empty},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{PromotionStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<R> {
    pub promotions: R,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/promotions/{code}",
    tag = "admin",
    operation_id = "delete-promotion",
    params(
        ("code" = String, Path, description = "A code, any case; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted (soft): unusable and unlisted"),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live promotion with that code", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: PromotionStore>(
    deps: &Deps<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let code = code_param(&req)?;
    match deps.promotions.delete(&code, &now_rfc3339()).await {
        Ok(()) => Ok(empty(StatusCode::NO_CONTENT)),
        Err(StoreError::NotFound) => Err(ApiError::promotion_not_found()),
        Err(err) => Err(err.into()),
    }
}
