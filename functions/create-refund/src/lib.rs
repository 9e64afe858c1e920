//! POST /v1/admin/orders/{id}/refunds (admin, Idempotency-Key)
//! `{amount?, lines?, restock, reason}`: gives captured money back, in full
//! or in part, and optionally puts the refunded units back in stock.
//!
//! 3 DynamoDB calls: claim the key, read the order, and one transaction
//! that writes the refund onto the order (conditional on the order's refund
//! version, so the sum of refunds can never pass the capture whatever runs
//! at once), completes the key, restocks, and queues `refund.requested` in
//! the outbox; the refunds worker sends it to the payment provider, whose
//! webhook settles it. A concurrent refund of the same order makes the
//! write lose its condition: the order is read and the request priced
//! again, so a request that no longer fits is refused rather than cut.
//!
//! Same key and body again → the stored 201 with `Idempotent-Replayed:
//! true`; another body (or another order) → 422; while the first runs →
//! 409. A refusal wrote nothing and gives the key back.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    auth::{authenticate, Role},
    clock,
    domain::{
        refund::{self, Refund, RefundRefusal, RefundRequest, Refundable},
        OrderId, OrderStatus,
    },
    http::{json_body, order_id_param},
    idempotent::{self, Begin, Ticket},
    metrics,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{
        IdempotencyStore, KeyScope, Order, OrderReads, OrderRefunds, RefundCommit, StoredResponse,
    },
    ApiError,
};
use serde::Serialize;

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<O, I> {
    pub orders: O,
    pub idempotency: I,
    pub verifier: quiet_core::auth::TokenVerifier,
}

/// Tries against an order that other refunds keep changing.
const ATTEMPTS: usize = 8;

/// The refund made, and the order as it now stands.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Refunded {
    pub refund: Refund,
    pub order: Order,
}

#[utoipa::path(
    post,
    path = "/v1/admin/orders/{id}/refunds",
    tag = "admin",
    operation_id = "create-refund",
    request_body(content = RefundRequest, content_type = "application/json"),
    params(
        ("id" = quiet_core::domain::OrderId, Path, description = "An order id; anything that cannot be one is 404"),
        ("idempotency-key" = String, Header, description = "1 to 255 characters, unique per refund")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The refund, pending at the provider, and the order; a replay carries Idempotent-Replayed: true", body = Refunded, headers(("idempotent-replayed" = Option<String>))),
        (status = 400, description = "Idempotency-Key missing or too long, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such order", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Nothing captured (unpaid), more than is left to refund, everything refunded already, the order's refund limit reached, or this key still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid body; a sku not in the order or more units than are left; restock of units already restocked (or of a cancelled order's, whose stock went back then); another currency; or the key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads + OrderRefunds, I: IdempotencyStore>(
    deps: &Deps<O, I>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let id = order_id_param(&req)?;
    idempotent::required_key(&req)?;
    let body: RefundRequest = json_body(&req)?;
    let canonical = serde_json::to_string(&(&id, &body)).map_err(ApiError::internal)?;
    let ticket = match idempotent::begin_required(
        &deps.idempotency,
        &req,
        KeyScope::user(&admin.id),
        "refunds",
        &canonical,
    )
    .await?
    {
        Begin::Run(ticket) => ticket,
        Begin::Replay(response) => return Ok(response),
    };
    // Every error path wrote nothing: the key goes back.
    let result = make(deps, &id, &body, &ticket).await;
    idempotent::release_on_error(&deps.idempotency, Some(&ticket), result).await
}

async fn make<O: OrderReads + OrderRefunds, I: IdempotencyStore>(
    deps: &Deps<O, I>,
    id: &OrderId,
    request: &RefundRequest,
    ticket: &Ticket,
) -> Result<Response<Body>, ApiError> {
    for _ in 0..ATTEMPTS {
        let order = deps
            .orders
            .get(id)
            .await?
            .ok_or_else(ApiError::order_not_found)?;
        if order.status == OrderStatus::PendingPayment {
            return Err(ApiError::Conflict(
                "the order is not paid; cancel it instead".into(),
            ));
        }
        let base = order.status_before_refund.unwrap_or(order.status);
        let plan = refund::plan(
            Refundable {
                lines: &order.items,
                captured: order.captured,
                refunded: order.refunded,
                refunds: &order.refunds,
                prices_include_tax: order
                    .tax_rate
                    .as_ref()
                    .is_some_and(|tax| tax.prices_include_tax),
                stock_released: matches!(base, OrderStatus::Cancelled | OrderStatus::Expired),
            },
            request,
        )
        .map_err(refused)?;
        let now = clock::now_rfc3339();
        let refund = plan.refund(request.reason.clone(), &now);
        let mut after = order.clone();
        after.status = plan.status();
        after.refunded = plan.refunded;
        after.refunds.push(refund.clone());
        after.updated_at = now;
        let response = Refunded {
            refund: refund.clone(),
            order: after,
        };
        let body = serde_json::to_string(&response).map_err(ApiError::internal)?;
        let stored = StoredResponse::json(StatusCode::CREATED.as_u16(), body);
        match deps
            .orders
            .refund(
                &order,
                &refund,
                &plan,
                // The answer holds the customer's order (and address).
                &ticket.completion_about(&stored, &order.user_id),
            )
            .await?
        {
            RefundCommit::Done => {
                metrics::count("RefundsRequested", &[]);
                tracing::info!(
                    order_id = %order.order_id,
                    refund_id = %refund.refund_id,
                    amount = refund.amount.amount,
                    restocked = refund.restocked.len(),
                    "refund requested"
                );
                return Ok(idempotent::sent(stored));
            }
            RefundCommit::Changed => continue,
            RefundCommit::LeaseLost => return Err(idempotent::in_progress()),
        }
    }
    Err(ApiError::Conflict(
        "the order kept changing; retry with the same Idempotency-Key".into(),
    ))
}

fn refused(refusal: RefundRefusal) -> ApiError {
    match refusal.field() {
        Some(field) => ApiError::validation(field, refusal.to_string()),
        None => ApiError::Conflict(refusal.to_string()),
    }
}
