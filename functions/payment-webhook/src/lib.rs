//! POST /v1/payments/webhook: the payment provider tells us a payment
//! succeeded or failed.
//!
//! The signature is checked on the raw bytes before anything else (401 bad,
//! 400 stale). A repeated event id is a 200 no-op. An amount or currency
//! that differs from the order is refused (409), logged as a security event,
//! and changes nothing. `payment.succeeded` on a `pending_payment` order
//! makes it `paid`; money for an order cancelled or expired meanwhile is
//! recorded for refund, never dropped.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    clock,
    http::{json, json_body},
    openapi::{ProblemDoc, PROBLEM_JSON},
    payments::{PaymentEvent, PaymentProvider, SignatureError, SignedWebhooks},
    store::{OrderStore, PaymentOutcome},
    ApiError,
};
use serde::Serialize;

pub const SIGNATURE: &str = "payment-signature";

pub struct Deps<O, P = SignedWebhooks> {
    pub orders: O,
    pub provider: P,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ack {
    received: bool,
    /// paid, duplicate, recorded (a failed payment), or refund_required
    /// (money for an order no longer awaiting it).
    #[schema(value_type = String, pattern = "^(paid|duplicate|recorded|refund_required)$")]
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
        (status = 404, description = "No such order", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "Amount or currency (any well-formed ISO 4217 code) differs from the order; nothing changes", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "A field is not of its form, e.g. a currency that is not three capital letters", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<O: OrderStore, P: PaymentProvider>(
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
    let order = deps
        .orders
        .get(&event.order_id)
        .await?
        .ok_or_else(ApiError::order_not_found)?;
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
        PaymentOutcome::Paid => "paid",
        PaymentOutcome::Duplicate => "duplicate",
        PaymentOutcome::Recorded => "recorded",
        PaymentOutcome::RefundRequired => {
            tracing::warn!(
                event_id = event.id.as_str(),
                order_id = %order.order_id,
                "payment for an order no longer awaiting it: flagged for refund"
            );
            "refund_required"
        }
    };
    Ok(json(
        StatusCode::OK,
        &Ack {
            received: true,
            outcome,
        },
    ))
}
