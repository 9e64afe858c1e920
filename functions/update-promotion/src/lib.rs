//! PATCH /v1/admin/promotions/{code} (admin): edits a promotion's rules,
//! guarded by `If-Match` as product edits are (428 without, 412 stale).
//! Redemptions do not change the ETag, so a rush on the code never fails an
//! edit; an edit does make checkouts priced with the old rules refuse (409)
//! rather than charge by rules the shopper was not shown.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    http::{code_param, if_match, json_body, json_with_etag, IfMatch},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{Promotion, PromotionPatch, PromotionStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<R> {
    pub promotions: R,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    patch,
    path = "/v1/admin/promotions/{code}",
    tag = "admin",
    operation_id = "update-promotion",
    request_body(content = quiet_core::store::PromotionPatch, content_type = "application/json"),
    params(
        ("code" = String, Path, description = "A code, any case; anything that cannot be one is 404"),
        ("if-match" = String, Header, description = "The ETag you read, or *")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = quiet_core::store::Promotion, headers(("etag" = String))),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live promotion with that code", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 412, description = "The promotion changed since that ETag", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid rules, or a field that cannot be edited (code, redemptions, version)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 428, description = "If-Match is required", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: PromotionStore>(
    deps: &Deps<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let code = code_param(&req)?;
    // A malformed request is refused as such before its precondition.
    let patch: PromotionPatch = json_body(&req)?;
    if patch.is_empty() {
        return Err(ApiError::validation(
            "body",
            "send at least one of discount, min_subtotal, starts_at, ends_at, max_redemptions, once_per_customer, scope",
        ));
    }
    let precondition = if_match(&req, Promotion::version_in_etag)?;
    let current = deps
        .promotions
        .get(&code)
        .await?
        .ok_or_else(ApiError::promotion_not_found)?;
    let version = match precondition {
        IfMatch::Any => current.version,
        IfMatch::Version(version) if version == current.version => version,
        IfMatch::Version(_) => return Err(ApiError::PreconditionFailed),
    };
    let rules = patch.apply(&current.rules);
    rules
        .check()
        .map_err(|(field, message)| ApiError::validation(field, message))?;
    // Conditional on the version read, so a concurrent edit is a 412, not
    // a lost update.
    let promotion = match deps
        .promotions
        .replace_rules(&code, version, &rules, &now_rfc3339())
        .await
    {
        Ok(promotion) => promotion,
        Err(StoreError::NotFound) => return Err(ApiError::promotion_not_found()),
        Err(StoreError::ConditionFailed) => return Err(ApiError::PreconditionFailed),
        Err(err) => return Err(err.into()),
    };
    Ok(json_with_etag(
        StatusCode::OK,
        &promotion,
        &promotion.etag(),
    ))
}
