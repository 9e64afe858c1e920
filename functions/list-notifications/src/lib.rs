//! GET /v1/notifications?limit=&cursor=: the messages the system sent the
//! caller (order confirmations, shipping notices, cancellations, expiries),
//! newest first.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, TokenVerifier},
    domain::CursorKey,
    events::EventId,
    http::{json, no_store},
    openapi::{ProblemDoc, PROBLEM_JSON},
    pages,
    store::NotificationStore,
    ApiError,
};

pub struct Deps<N> {
    pub notifications: N,
    pub verifier: TokenVerifier,
    pub cursor_key: CursorKey,
}

#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    operation_id = "list-notifications",
    params(
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Messages sent to the caller, newest first", body = quiet_core::pages::Page<quiet_core::store::Notification>),
        (status = 400, description = "Tampered or foreign cursor", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid limit", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<N: NotificationStore>(
    deps: &Deps<N>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    let limit = pages::limit(&req).map_err(|e| ApiError::Validation(vec![e]))?;
    // Bound to the caller: someone else's cursor is as invalid as a forged one.
    let scope = format!("notifications:{}", user.id.as_str());
    let after = pages::after(&req, &deps.cursor_key, &scope, |s| {
        EventId::try_from(s).ok()
    })?;
    let (items, last) = deps
        .notifications
        .list(&user.id, limit, after.as_ref())
        .await?;
    let next_cursor = pages::next_cursor(&deps.cursor_key, &scope, last.map(String::from));
    Ok(no_store(json(
        StatusCode::OK,
        &pages::Page { items, next_cursor },
    )))
}
