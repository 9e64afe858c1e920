//! POST /v1/payments/webhook: the payment provider tells us a payment or a
//! refund succeeded or failed.
//!
//! The signature is checked on the raw bytes before anything else (401 bad,
//! 400 stale). A repeated event id is a 200 no-op. An amount or currency
//! that differs from the order is refused (409), logged as a security event,
//! and changes nothing. `payment.succeeded` on a `pending_payment` order
//! makes it `paid`; money for an order cancelled or expired meanwhile is
//! recorded for refund, never dropped. `refund.succeeded` / `refund.failed`
//! settle the refund they name (its amount and the order's currency must
//! match); a failed refund's money becomes refundable again.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    clock,
    domain::refund::{RefundId, RefundStatus},
    http::{json, json_body},
    metrics,
    openapi::{ProblemDoc, PROBLEM_JSON},
    payments::{PaymentEvent, PaymentEventType, PaymentProvider, SignatureError, SignedWebhooks},
    store::{Order, OrderPayments, OrderReads, OrderRefunds, PaymentOutcome, Settlement},
    ApiError,
};
use serde::Serialize;

pub use quiet_core::payments::SIGNATURE_HEADER as SIGNATURE;

pub struct Deps<O, P = SignedWebhooks> {
    pub orders: O,
    pub provider: P,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ack {
    received: bool,
    /// paid, duplicate, recorded (a failed payment), refund_required
    /// (money for an order no longer awaiting it), refund_succeeded or
    /// refund_failed.
    #[schema(value_type = String, pattern = "^(paid|duplicate|recorded|refund_required|refund_succeeded|refund_failed)$")]
    outcome: &'static str,
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

#[utoipa::path(
    post,
    path = "/v1/payments/webhook",
    tag = "payments",
    operation_id = "payment-webhook",
    request_body(content = quiet_core::payments::PaymentEvent, content_type = "application/json"),
    params(
        ("payment-signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>")
    ),
    responses(
        (status = 200, description = "Applied, or a repeat of an applied event", body = Ack),
        (status = 400, description = "Stale signature timestamp or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 401, description = "Missing or invalid signature", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 404, description = "No such order, or no such refund of it", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Amount or currency (any well-formed ISO 4217 code) differs from the order (from the refund, for a refund event), or the refund was already settled the other way; nothing changes", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "A field is not of its form, e.g. a currency that is not three capital letters, or refund_id missing on a refund event (or present on a payment event)", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderReads + OrderPayments + OrderRefunds, P: PaymentProvider>(
    deps: &Deps<O, P>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let signature = req.headers().get(SIGNATURE).and_then(|v| v.to_str().ok());
    match deps
        .provider
        .authenticate(signature, body_bytes(&req), clock::now())
    {
        Ok(()) => {}
        Err(SignatureError::Invalid) => return Err(ApiError::Unauthorized),
        Err(SignatureError::Stale) => {
            return Err(ApiError::BadRequest(
                "the signature timestamp is too old or too far in the future".into(),
            ))
        }
    }
    let event: PaymentEvent = json_body(&req)?;
    match (event.kind.is_refund(), &event.refund_id) {
        (true, None) => {
            return Err(ApiError::validation(
                "refund_id",
                "a refund event must name its refund",
            ))
        }
        (false, Some(_)) => {
            return Err(ApiError::validation(
                "refund_id",
                "only refund events name a refund",
            ))
        }
        _ => {}
    }
    let order = deps
        .orders
        .get(&event.order_id)
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    if let Some(refund_id) = &event.refund_id {
        return settle(deps, &event, order, refund_id).await;
    }
    if event.amount != order.total.amount || !event.currency.is(order.total.currency) {
        tracing::warn!(
            security_event = "payment_amount_mismatch",
            event_id = event.id.as_str(),
            order_id = %order.order_id,
            event_amount = event.amount,
            order_amount = order.total.amount,
            event_currency = event.currency.as_str(),
            order_currency = order.total.currency.code(),
            "payment event refused: amount or currency differs from the order"
        );
        return Err(ApiError::Conflict(
            "the amount or currency does not match the order".into(),
        ));
    }
    let outcome = deps
        .orders
        .record_payment(&event, &order, &clock::now_rfc3339())
        .await?;
    let outcome = match outcome {
        PaymentOutcome::Paid => {
            metrics::count("PaymentsSucceeded", &[]);
            metrics::amount("Revenue", event.amount, order.total.currency.code());
            "paid"
        }
        PaymentOutcome::Duplicate => "duplicate",
        PaymentOutcome::Recorded => {
            if event.kind == PaymentEventType::Failed {
                metrics::count("PaymentsFailed", &[]);
            }
            "recorded"
        }
        PaymentOutcome::RefundRequired => {
            metrics::count("PaymentsRefundRequired", &[]);
            tracing::warn!(
                event_id = event.id.as_str(),
                order_id = %order.order_id,
                "payment for an order no longer awaiting it: flagged for refund"
            );
            "refund_required"
        }
    };
    Ok(ack(outcome))
}

fn ack(outcome: &'static str) -> Response<Body> {
    json(
        StatusCode::OK,
        &Ack {
            received: true,
            outcome,
        },
    )
}

/// Applies a refund event. Concurrent changes to the order's refunds make
/// the write lose its condition: re-read and apply again.
async fn settle<O: OrderReads + OrderRefunds, P: PaymentProvider>(
    deps: &Deps<O, P>,
    event: &PaymentEvent,
    mut order: Order,
    refund_id: &RefundId,
) -> Result<Response<Body>, ApiError> {
    let succeeded = event.kind == PaymentEventType::RefundSucceeded;
    for _ in 0..ATTEMPTS {
        let refund = order
            .refunds
            .iter()
            .find(|refund| &refund.refund_id == refund_id)
            .ok_or_else(|| ApiError::NotFound("no such refund of this order".into()))?;
        if event.amount != refund.amount.amount || !event.currency.is(order.total.currency) {
            tracing::warn!(
                security_event = "refund_amount_mismatch",
                event_id = event.id.as_str(),
                order_id = %order.order_id,
                refund_id = %refund_id,
                event_amount = event.amount,
                refund_amount = refund.amount.amount,
                event_currency = event.currency.as_str(),
                "refund event refused: amount or currency differs from the refund"
            );
            return Err(ApiError::Conflict(
                "the amount or currency does not match the refund".into(),
            ));
        }
        match deps
            .orders
            .settle_refund(event, &order, refund_id, succeeded, &clock::now_rfc3339())
            .await?
        {
            Settlement::Settled(RefundStatus::Succeeded) => {
                metrics::count("RefundsSucceeded", &[]);
                metrics::amount("Refunded", event.amount, order.total.currency.code());
                return Ok(ack("refund_succeeded"));
            }
            Settlement::Settled(_) => {
                metrics::count("RefundsFailed", &[]);
                tracing::warn!(order_id = %order.order_id, refund_id = %refund_id, "the provider refused a refund");
                return Ok(ack("refund_failed"));
            }
            Settlement::Duplicate => return Ok(ack("duplicate")),
            Settlement::AlreadyFinal(status)
                if (status == RefundStatus::Succeeded) == succeeded =>
            {
                return Ok(ack("duplicate"))
            }
            Settlement::AlreadyFinal(_) => {
                return Err(ApiError::Conflict(
                    "the refund was already settled the other way".into(),
                ))
            }
            Settlement::Changed => {
                order = deps
                    .orders
                    .get(&event.order_id)
                    .await?
                    .ok_or_else(ApiError::order_not_found)?;
            }
        }
    }
    Err(ApiError::Conflict(
        "the order is changing; send the event again".into(),
    ))
}

/// Tries against a busy order before asking the provider to resend.
const ATTEMPTS: usize = 5;
