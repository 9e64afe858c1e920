//! GET /v1/admin/orders?status=&limit=&cursor= (admin): orders in one
//! status, newest first, for the people who pack and ship them.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    domain::OrderStatus,
    error::FieldError,
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
    path = "/v1/admin/orders",
    tag = "admin",
    operation_id = "admin-list-orders",
    params(
        ("status" = quiet_core::domain::OrderStatus, Query),
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Orders in that status, newest first", body = quiet_core::pages::Page<quiet_core::store::Order>),
        (status = 400, description = "Tampered or foreign cursor", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Missing or invalid status or limit", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads>(
    deps: &Deps<O>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let cursor_key = &deps.cursor_key;
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let status = pages::param(&req, "status")
        .ok_or_else(|| "is required".to_string())
        .and_then(|s| OrderStatus::try_from(s.to_string()))
        .map_err(|message| FieldError::new("status", message));
    let (status, limit) = match (status, pages::limit(&req)) {
        (Ok(status), Ok(limit)) => (status, limit),
        (status, limit) => {
            return Err(ApiError::Validation(
                [status.err(), limit.err()].into_iter().flatten().collect(),
            ))
        }
    };
    let scope = format!("status:{}", status.as_str());
    let after = pages::after(&req, cursor_key, &scope, |s| OrderPosition::decode(&s))?;
    let page = deps
        .orders
        .list(&OrderListing::WithStatus(status), limit, after.as_ref())
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
