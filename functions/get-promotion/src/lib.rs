//! GET /v1/admin/promotions/{code} (admin): one live promotion with its
//! rules, redemptions so far and ETag (for PATCH's If-Match).

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    http::{code_param, json_with_etag, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::PromotionStore,
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<R> {
    pub promotions: R,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    get,
    path = "/v1/admin/promotions/{code}",
    tag = "admin",
    operation_id = "get-promotion",
    params(
        ("code" = String, Path, description = "A code, any case; anything that cannot be one is 404")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The promotion", body = quiet_core::store::Promotion, headers(("etag" = String))),
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
    let promotion = deps
        .promotions
        .get(&code)
        .await?
        .ok_or_else(ApiError::promotion_not_found)?;
    Ok(no_store(json_with_etag(
        StatusCode::OK,
        &promotion,
        &promotion.etag(),
    )))
}
