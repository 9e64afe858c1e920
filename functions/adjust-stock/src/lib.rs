//! POST /v1/products/{sku}/stock {delta} (admin): receive or write off
//! stock. One atomic ADD conditioned on the result staying within
//! 0..=1,000,000, so it composes with concurrent checkouts and other
//! adjustments; 409 with the current stock when it would not.
//!
//! With an `Idempotency-Key` a retry must not add the delta twice, so the
//! change and the key's completion are one transaction: the stock is read
//! and set from that value to the new one (re-read if a checkout moved it
//! meanwhile). That costs 3 DynamoDB calls instead of 1; without a key it
//! stays the one ADD.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    domain::{product::MAX_STOCK, Sku},
    http::{json, json_body, sku_param},
    idempotent::{self, Begin, Ticket},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{KeyScope, ProductStore, StockChange, StockDelta, StoreError},
    ApiError,
};

/// Tries against a stock that checkouts keep moving.
const ATTEMPTS: usize = 8;
use serde::{Deserialize, Serialize};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<P> {
    pub products: P,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    delta: StockDelta,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Stock<'a> {
    #[schema(value_type = Sku)]
    sku: &'a Sku,
    stock: u32,
}

#[utoipa::path(
    post,
    path = "/v1/products/{sku}/stock",
    tag = "admin",
    operation_id = "adjust-stock",
    request_body(content = Adjustment, content_type = "application/json"),
    params(
        ("sku" = quiet_core::domain::Sku, Path, description = "A SKU; anything that cannot be one is 404"),
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key and body changes the stock once")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stock after the change; a replay carries Idempotent-Replayed: true", body = Stock, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No live product with that SKU", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The change would leave stock outside 0..=1000000, or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid body, or the Idempotency-Key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore>(
    deps: &Deps<P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let sku = sku_param(&req)?;
    let body: Adjustment = json_body(&req)?;
    match idempotent::begin(
        &deps.idempotency,
        &req,
        KeyScope::user(&admin.id),
        "stock",
        &idempotent::fingerprint(&req, &[]),
    )
    .await?
    {
        Begin::Replay(response) => Ok(response),
        Begin::Run(None) => match deps.products.adjust_stock(&sku, body.delta).await {
            Ok(StockChange::Applied { stock }) => {
                Ok(json(StatusCode::OK, &Stock { sku: &sku, stock }))
            }
            Ok(StockChange::Refused { stock }) => Err(refused(stock, body.delta)),
            Err(StoreError::NotFound) => Err(ApiError::product_not_found()),
            Err(err) => Err(err.into()),
        },
        Begin::Run(Some(ticket)) => {
            let result = keyed(deps, &sku, body.delta, &ticket).await;
            idempotent::release_on_error(&deps.idempotency, Some(&ticket), result).await
        }
    }
}

fn refused(stock: u32, delta: StockDelta) -> ApiError {
    ApiError::Conflict(format!(
        "stock is {stock}; a change of {} would take it outside 0..=1000000",
        delta.get()
    ))
}

async fn keyed<P: ProductStore>(
    deps: &Deps<P>,
    sku: &Sku,
    delta: StockDelta,
    ticket: &Ticket,
) -> Result<Response<Body>, ApiError> {
    for _ in 0..ATTEMPTS {
        let product = deps
            .products
            .get(sku)
            .await?
            .ok_or_else(ApiError::product_not_found)?;
        let from = product.stock;
        let to = u32::try_from(i64::from(from) + delta.get())
            .ok()
            .filter(|to| *to <= MAX_STOCK)
            .ok_or_else(|| refused(from, delta))?;
        let stored = idempotent::stored(&json(StatusCode::OK, &Stock { sku, stock: to }));
        if deps
            .products
            .replace_stock(&product, to, &ticket.completion(&stored))
            .await?
        {
            return Ok(idempotent::sent(stored));
        }
    }
    Err(ApiError::Conflict(
        "the stock kept changing; retry with the same Idempotency-Key".into(),
    ))
}
