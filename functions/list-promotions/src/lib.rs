//! GET /v1/admin/promotions?limit=&cursor= (admin): live promotions in code
//! order, one Query per page.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    domain::promotion::PromoCode,
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages,
    store::PromotionStore,
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<R> {
    pub promotions: R,
    pub verifier: quiet_core::auth::TokenVerifier,
    /// Signs page cursors; only the functions that page hold `CURSOR_SECRET`.
    pub cursor_key: quiet_core::domain::CursorKey,
}

const SCOPE: &str = "promotions";

#[utoipa::path(
    get,
    path = "/v1/admin/promotions",
    tag = "admin",
    operation_id = "list-promotions",
    params(
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Live promotions in code order", body = quiet_core::pages::Page<quiet_core::store::Promotion>),
        (status = 400, description = "Tampered or foreign cursor", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid limit", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: PromotionStore>(
    deps: &Deps<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let cursor_key = &deps.cursor_key;
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let limit = pages::limit(&req).map_err(|e| ApiError::Validation(vec![e]))?;
    let after = pages::after(&req, cursor_key, SCOPE, |s| PromoCode::try_from(s).ok())?;
    let page = deps.promotions.list(limit, after.as_ref()).await?;
    let next_cursor = pages::next_cursor(cursor_key, SCOPE, page.last.map(|c| c.to_string()));
    Ok(no_store(json(
        StatusCode::OK,
        &pages::Page {
            items: page.items,
            next_cursor,
        },
    )))
}
