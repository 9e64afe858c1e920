//! POST /v1/checkout (Idempotency-Key) {shipping_address}: turns the cart
//! into a `pending_payment` order at today's catalog prices, reserving
//! stock and redeeming the cart's discount code in the same transaction,
//! with tax for the destination. 4 DynamoDB calls, with a code or without:
//! claim the key, read the cart, read its products with the live promotion
//! and the destination's tax rates (one BatchGetItem), commit (see
//! `quiet_core::store::checkout`). A destination without tax rates is one
//! the shop does not ship to: 422.
//!
//! A sharded SKU (a flash sale: docs/FLASH-SALE.md) takes its units from
//! one shard chosen at random. When that shard is short, every bin of the
//! SKU is read (one BatchGetItem) and the units are taken where they are,
//! across bins if need be: 2 calls more, at most `SHARD_RETRIES` times. The
//! answer is 409 only when that read shows too few units in all.
//!
//! Same key and body again → the stored 201 with `Idempotent-Replayed:
//! true`; another body → 422; while the first runs → 409. Failures that
//! wrote nothing (empty cart, not enough stock, a code used up) give the
//! key back, so the same key can be retried once the cart is fixed.

use lambda_http::{
    http::{header, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, AuthUser},
    clock,
    domain::{
        line::Totals,
        pricing::{self, ToPrice},
        promotion::Refusal,
        stock::{self, ShardCount, Take},
        tax::{AppliedTax, CountryRates},
        Line, OrderId, OrderStatus, Product, ShippingAddress, Sku, Total,
    },
    http::json_body,
    idempotent::{self, Begin, Ticket},
    metrics,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{
        Cart, CartStore, CheckoutStore, Commit, KeyScope, LineTake, Order, PricingStore, Promotion,
        StoredResponse,
    },
    ApiError,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<K, C, L> {
    pub checkout: K,
    pub carts: C,
    /// Products, promotion and tax rates, in one read.
    pub pricing: L,
    pub verifier: quiet_core::auth::TokenVerifier,
    pub prices_include_tax: bool,
}

pub use quiet_core::http::{IDEMPOTENCY_KEY, REPLAYED};

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    shipping_address: ShippingAddress,
}

#[utoipa::path(
    post,
    path = "/v1/checkout",
    tag = "orders",
    operation_id = "checkout",
    request_body(content = CheckoutRequest, content_type = "application/json"),
    params(
        ("idempotency-key" = String, Header, description = "1 to 255 characters, unique per checkout attempt")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A pending_payment order; a replay carries Idempotent-Replayed: true", body = quiet_core::store::Order, headers(("location" = String), ("idempotent-replayed" = Option<String>))),
        (status = 400, description = "Idempotency-Key missing or too long, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Not enough stock (skus lists them), the cart's code cannot be redeemed (promotion_code names it: used up, expired, already used by you, or no longer matching the cart), or this key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Empty cart, invalid address, a country the shop does not ship to (no tax rates: shipping_address.country), or the key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<K: CheckoutStore, C: CartStore, L: PricingStore>(
    deps: &Deps<K, C, L>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&req, &deps.verifier)?;
    idempotent::required_key(&req)?;
    let body: CheckoutRequest = json_body(&req)?;
    // The parsed body re-serialised: the same request however it was
    // spaced or ordered.
    let canonical = serde_json::to_string(&body).map_err(ApiError::internal)?;
    let ticket = match idempotent::begin_required(
        &deps.checkout,
        &req,
        KeyScope::user(&user.id),
        "checkout",
        &canonical,
    )
    .await?
    {
        Begin::Run(ticket) => ticket,
        Begin::Replay(response) => return Ok(response),
    };
    // Every error path of `place` wrote nothing (the commit is one
    // transaction): the key goes back, so a retry runs again.
    let result = place(deps, &user, &ticket, body.shipping_address).await;
    idempotent::release_on_error(&deps.checkout, Some(&ticket), result).await
}

/// An order's lines, sums and tax, priced as the cart view prices them
/// (`domain::pricing::price`) from the live catalog, the live promotion and
/// the destination's rates. Pure; refuses what checkout refuses: a line
/// short of stock, a code that is gone, used up, edited since it went on
/// the cart or not applicable, a region the rates need.
pub fn quote<'p>(
    cart: &Cart,
    catalog: &HashMap<Sku, Product>,
    promotion: Option<&'p Promotion>,
    rates: &CountryRates,
    shipping_address: &ShippingAddress,
    prices_include_tax: bool,
    now: i64,
) -> Result<Quote<'p>, ApiError> {
    // Two lines of one SKU cannot exist (the cart is keyed by SKU), so each
    // line is one conditional decrement.
    // A sharded SKU's product item does not know its total: its shards'
    // conditions decide.
    let mut short = Vec::new();
    let mut lines = Vec::with_capacity(cart.lines.len());
    for line in &cart.lines {
        let Some(product) = catalog
            .get(&line.sku)
            .filter(|p| p.is_sharded() || p.stock >= line.quantity.get())
        else {
            short.push(line.sku.to_string());
            continue;
        };
        lines.push(ToPrice {
            sku: &line.sku,
            name: product.name.as_str(),
            quantity: line.quantity,
            unit_price: product.price,
            category: Some(&product.category),
        });
    }
    if !short.is_empty() {
        metrics::count("CheckoutConflicts", &[("reason", "out_of_stock")]);
        return Err(ApiError::InsufficientStock(short));
    }

    let promotion = match &cart.promotion {
        Some(applied) => {
            let unavailable = |reason: Refusal| ApiError::PromotionUnavailable {
                code: applied.code.to_string(),
                reason: reason.to_string(),
            };
            let promotion = promotion.ok_or_else(|| unavailable(Refusal::Unknown))?;
            if promotion.exhausted() {
                return Err(unavailable(Refusal::Exhausted));
            }
            // Priced only by the rules the cart showed: an edit since then
            // would charge a price the shopper never saw.
            if promotion.rules != *applied {
                return Err(unavailable(Refusal::Changed));
            }
            Some((promotion, unavailable))
        }
        None => None,
    };
    // Tax after the discount, per line, at the rate of the destination
    // (its region's where it has one); the order keeps the rate it used.
    // A code that does not apply is refused before a missing region.
    let tax = rates
        .rate_for(shipping_address.region.as_ref())
        .map(|rate_bps| AppliedTax {
            country: shipping_address.country.clone(),
            region: shipping_address.region.clone(),
            rate_bps,
            prices_include_tax,
        });
    let priced = pricing::price(
        &lines,
        promotion.as_ref().map(|(p, _)| &p.rules),
        now,
        tax.as_ref().ok(),
    )
    .map_err(ApiError::internal)?;
    if let (Some((_, unavailable)), Some(Err(refusal))) = (&promotion, priced.promotion) {
        return Err(unavailable(refusal));
    }
    let tax = tax.map_err(|e| ApiError::validation("shipping_address.region", e.to_string()))?;
    Ok(Quote {
        items: priced.items,
        totals: priced.totals,
        tax,
        promotion: promotion.map(|(p, _)| p),
    })
}

/// What checkout will charge, before anything is written.
#[derive(Debug)]
pub struct Quote<'p> {
    pub items: Vec<Line>,
    pub totals: Totals,
    pub tax: AppliedTax,
    /// The live promotion the order redeems.
    pub promotion: Option<&'p Promotion>,
}

async fn place<K: CheckoutStore, C: CartStore, L: PricingStore>(
    deps: &Deps<K, C, L>,
    user: &AuthUser,
    ticket: &Ticket,
    shipping_address: ShippingAddress,
) -> Result<Response<Body>, ApiError> {
    let cart = deps.carts.get(&user.id).await?;
    if cart.lines.is_empty() {
        return Err(ApiError::validation("cart", "the cart is empty"));
    }
    // Products, the live promotion (never the cart's copy) and the
    // destination's tax rates: one read.
    let code = cart.promotion.as_ref().map(|rules| &rules.code);
    let inputs = deps
        .pricing
        .load(&cart.skus(), code, Some(&shipping_address.country))
        .await?;
    let rates = inputs
        .rates
        .as_ref()
        .ok_or_else(|| ApiError::validation("shipping_address.country", "we do not ship there"))?;
    let catalog = &inputs.products;
    let Quote {
        items,
        totals,
        tax,
        promotion,
    } = quote(
        &cart,
        catalog,
        inputs.promotion.as_ref(),
        rates,
        &shipping_address,
        deps.prices_include_tax,
        clock::now_secs(),
    )?;

    let created_at = clock::now_rfc3339();
    let order = Order {
        order_id: OrderId::generate(),
        status: OrderStatus::PendingPayment,
        items,
        subtotal: totals.subtotal,
        discount: totals.discount,
        tax: totals.tax,
        total: totals.total,
        tax_rate: Some(tax),
        promotion_code: promotion.as_ref().map(|p| p.code().clone()),
        promotion_once: promotion
            .as_ref()
            .is_some_and(|p| p.rules.once_per_customer),
        shipping_address,
        captured: Total::zero(totals.total.currency),
        refunded: Total::zero(totals.total.currency),
        refunds: Vec::new(),
        refund_version: 0,
        status_before_refund: None,
        updated_at: created_at.clone(),
        created_at,
        user_id: user.id.clone(),
        created_ms: clock::now_ms(),
    };
    let body = serde_json::to_string(&order).map_err(ApiError::internal)?;
    let stored = StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body,
        headers: vec![(
            header::LOCATION.as_str().to_string(),
            format!("/v1/orders/{}", order.order_id),
        )],
    };
    let completion = ticket.completion(&stored);
    let mut takes: Vec<LineTake> = order
        .items
        .iter()
        .enumerate()
        .map(|(line, item)| {
            let shards = catalog
                .get(&item.sku)
                .map_or(ShardCount::ONE, Product::shard_count);
            LineTake {
                line,
                take: Take {
                    bin: stock::pick(shards, stock::random()),
                    units: item.quantity.get(),
                },
            }
        })
        .collect();
    let mut retries = 0;
    let outcome = loop {
        let outcome = deps
            .checkout
            .commit(
                &user.id,
                &order,
                &takes,
                cart.version,
                promotion,
                &completion,
            )
            .await?;
        match outcome {
            Commit::OutOfStock(short)
                if retries < SHARD_RETRIES
                    && short
                        .iter()
                        .all(|sku| catalog.get(sku).is_some_and(Product::is_sharded)) =>
            {
                retries += 1;
                takes = retake(&deps.checkout, &order, catalog, takes, &short).await?;
            }
            outcome => break outcome,
        }
    };
    match outcome {
        Commit::Placed => {
            metrics::count("OrdersPlaced", &[]);
            Ok(idempotent::sent(stored))
        }
        Commit::OutOfStock(skus) => {
            metrics::count("CheckoutConflicts", &[("reason", "out_of_stock")]);
            Err(ApiError::InsufficientStock(
                skus.iter().map(ToString::to_string).collect(),
            ))
        }
        Commit::CartChanged => {
            metrics::count("CheckoutConflicts", &[("reason", "cart_changed")]);
            Err(ApiError::Conflict(
                "the cart changed during checkout; review it and try again".into(),
            ))
        }
        Commit::LeaseLost => Err(idempotent::in_progress()),
        Commit::PromotionExhausted => {
            metrics::count("CheckoutConflicts", &[("reason", "promotion")]);
            Err(refused(promotion, Refusal::RanOut))
        }
        Commit::PromotionAlreadyUsed => {
            metrics::count("CheckoutConflicts", &[("reason", "promotion")]);
            Err(refused(promotion, Refusal::AlreadyUsed))
        }
    }
}

/// How often a checkout re-reads a sharded SKU's bins after a short one.
const SHARD_RETRIES: usize = 4;

/// Room for takes in one transaction: 100 actions, less the order, the
/// cart, the key's completion, the outbox items and a code's two.
const MAX_TAKES: usize = 90;

/// New takes for the lines of `short` (sharded SKUs whose bin was short),
/// from a fresh read of their bins; the other lines keep theirs. 409 when
/// a SKU's bins hold too few units in all.
async fn retake<K: CheckoutStore>(
    checkout: &K,
    order: &Order,
    catalog: &HashMap<Sku, Product>,
    takes: Vec<LineTake>,
    short: &[Sku],
) -> Result<Vec<LineTake>, ApiError> {
    let wanted: Vec<(Sku, u8)> = short
        .iter()
        .filter_map(|sku| catalog.get(sku).map(|p| (sku.clone(), p.shards_to_read())))
        .collect();
    let bins = checkout.bins(&wanted).await?;
    let is_short = |line: usize| short.contains(&order.items[line].sku);
    let mut kept: Vec<LineTake> = takes.into_iter().filter(|t| !is_short(t.line)).collect();
    let lines: Vec<usize> = (0..order.items.len()).filter(|i| is_short(*i)).collect();
    let mut refused = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let item = &order.items[*line];
        // Leave each line still to plan at least one take.
        let room = MAX_TAKES.saturating_sub(kept.len() + lines.len() - n - 1);
        match bins
            .get(&item.sku)
            .and_then(|b| b.take(item.quantity.get(), room, stock::random()))
        {
            Some(found) => {
                kept.extend(found.into_iter().map(|take| LineTake { line: *line, take }))
            }
            None => refused.push(item.sku.to_string()),
        }
    }
    if refused.is_empty() {
        Ok(kept)
    } else {
        metrics::count("CheckoutConflicts", &[("reason", "out_of_stock")]);
        Err(ApiError::InsufficientStock(refused))
    }
}

fn refused(promotion: Option<&Promotion>, reason: Refusal) -> ApiError {
    ApiError::PromotionUnavailable {
        code: promotion.map(|p| p.code().to_string()).unwrap_or_default(),
        reason: reason.to_string(),
    }
}
