//! GET /v1/me/export: everything we hold about the caller, as one JSON
//! document (GDPR art. 15 and 20, CCPA's right to know).
//!
//! The account, every order (newest first), the cart, every notification
//! and the logins that have not expired. Never a password hash, a refresh
//! token or its hash, or a family id: the document is safe to hand to the
//! person it is about. The five reads run concurrently, so the answer
//! takes about as long as the longest of them.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, TokenVerifier, UserId},
    clock,
    domain::PageLimit,
    http::{json, no_store},
    store::{
        CartLine, CartStore, Notification, NotificationStore, Order, OrderListing, OrderReads,
        SessionInfo, SessionStore, StoreError, User, UserStore,
    },
    ApiError,
};
use serde::Serialize;

pub struct Deps<U, O, C, N, S> {
    pub users: U,
    pub orders: O,
    pub carts: C,
    pub notifications: N,
    pub sessions: S,
    pub verifier: TokenVerifier,
}

/// The export document. Its fields are the stores we keep about a person;
/// a new store of personal data belongs here too.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Export {
    #[schema(format = DateTime)]
    pub exported_at: String,
    pub account: User,
    /// Every order, newest first, as GET /v1/orders/{id} shows it.
    pub orders: Vec<Order>,
    pub cart: ExportedCart,
    /// Every notification, newest first.
    pub notifications: Vec<Notification>,
    /// Logins whose refresh token has not expired.
    pub sessions: Vec<SessionInfo>,
}

/// The cart as stored: its lines and the code on it, if any.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportedCart {
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<CartLine>,
    #[schema(value_type = Option<String>)]
    pub promotion_code: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/me/export",
    tag = "auth",
    operation_id = "export-account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything held about the caller; sent as a download (Content-Disposition: attachment)", body = Export)
    )
)]
pub async fn handler<U, O, C, N, S>(
    deps: &Deps<U, O, C, N, S>,
    req: Request,
) -> Result<Response<Body>, ApiError>
where
    U: UserStore,
    O: OrderReads,
    C: CartStore,
    N: NotificationStore,
    S: SessionStore,
{
    let caller = authenticate(&req, &deps.verifier)?;
    let (account, orders, cart, notifications, sessions) = tokio::try_join!(
        deps.users.get(&caller.id),
        all_orders(&deps.orders, &caller.id),
        deps.carts.get(&caller.id),
        all_notifications(&deps.notifications, &caller.id),
        deps.sessions.list(&caller.id),
    )?;
    // A valid token for an account that no longer exists proves nothing.
    let account = account.ok_or(ApiError::Unauthorized)?;
    let export = Export {
        exported_at: clock::now_rfc3339(),
        account,
        orders,
        cart: ExportedCart {
            lines: cart.lines,
            promotion_code: cart.promotion.map(|rules| rules.code.as_str().to_string()),
        },
        notifications,
        sessions,
    };
    let mut response = no_store(json(StatusCode::OK, &export));
    let disposition = format!(
        "attachment; filename=\"quiet-engine-export-{}.json\"",
        caller.id.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn all_orders<O: OrderReads>(orders: &O, user: &UserId) -> Result<Vec<Order>, StoreError> {
    let listing = OrderListing::OwnedBy(user.clone());
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = orders
            .list(&listing, PageLimit::LARGEST, after.as_ref())
            .await?;
        all.extend(page.items);
        match page.last {
            Some(last) => after = Some(last),
            None => return Ok(all),
        }
    }
}

async fn all_notifications<N: NotificationStore>(
    notifications: &N,
    user: &UserId,
) -> Result<Vec<Notification>, StoreError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (items, last) = notifications
            .list(user, PageLimit::LARGEST, after.as_ref())
            .await?;
        all.extend(items);
        match last {
            Some(last) => after = Some(last),
            None => return Ok(all),
        }
    }
}
