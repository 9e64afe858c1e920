//! GET /v1/orders?limit=&cursor=: the caller's own orders, newest first.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::authenticate,
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages,
    store::{OrderListing, OrderPosition, OrderReads},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<O> {
    pub orders: O,
    pub verifier: quiet_core::auth::TokenVerifier,
    /// Signs page cursors; only the functions that page hold `CURSOR_SECRET`.
    pub cursor_key: quiet_core::domain::CursorKey,
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    operation_id = "list-orders",
    params(
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's orders, newest first", body = quiet_core::pages::Page<quiet_core::store::Order>),
        (status = 400, description = "Tampered or foreign cursor", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid limit", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads>(
    deps: &Deps<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let cursor_key = &deps.cursor_key;
    let user = authenticate(&req, &deps.verifier)?;
    let limit = pages::limit(&req).map_err(|e| ApiError::Validation(vec![e]))?;
    // Bound to the caller: someone else's cursor is as invalid as a forged one.
    let scope = format!("orders:{}", user.id.as_str());
    let after = pages::after(&req, cursor_key, &scope, |s| OrderPosition::decode(&s))?;
    let page = deps
        .orders
        .list(&OrderListing::OwnedBy(user.id), limit, after.as_ref())
        .await?;
    let next_cursor = pages::next_cursor(cursor_key, &scope, page.last.map(|p| p.encode()));
    Ok(no_store(json(
        StatusCode::OK,
        &pages::Page {
            items: page.items,
            next_cursor,
        },
    )))
}
