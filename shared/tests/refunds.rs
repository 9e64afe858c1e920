//! Refund writes against the emulator, where a race can be staged exactly.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quiet_core::store::OrderPayments;
use quiet_core::store::OrderRefunds;
use quiet_core::{
    auth::UserId,
    clock,
    domain::{
        refund::{self, RefundRequest, Refundable},
        OrderStatus,
    },
    payments::PaymentEvent,
    store::{
        idempotency::Claim, Completion, DynamoIdempotency, DynamoOrders, IdempotencyStore,
        KeyScope, Order, OrderReads, PaymentOutcome, RefundCommit, StoredResponse,
    },
};

fn orders() -> DynamoOrders {
    DynamoOrders::new(testkit::dynamodb(), testkit::table())
}

fn payment(order: &Order, id: &str) -> PaymentEvent {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "type": "payment.succeeded",
        "order_id": order.order_id,
        "amount": order.total.amount,
        "currency": "USD",
    }))
    .expect("event")
}

async fn paid_order() -> Order {
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let order = testkit::place_order(&skus[0], 2, clock::now_ms()).await;
    let now = clock::now_rfc3339();
    let event = payment(
        &order,
        &format!("evt_{}", testkit::unique("pay").replace('-', "_")),
    );
    let outcome = orders()
        .record_payment(&event, &order, &now)
        .await
        .expect("payment");
    assert_eq!(outcome, PaymentOutcome::Paid);
    orders()
        .get(&order.order_id)
        .await
        .expect("read")
        .expect("order")
}

/// A refund planned from `order` as read, committed as the create-refund
/// function does.
async fn refund_from(order: &Order) -> RefundCommit {
    let request: RefundRequest =
        serde_json::from_value(serde_json::json!({"restock": false, "reason": "test"}))
            .expect("request");
    let plan = refund::plan(
        Refundable {
            lines: &order.items,
            captured: order.captured,
            refunded: order.refunded,
            refunds: &order.refunds,
            prices_include_tax: false,
            stock_released: false,
        },
        &request,
    )
    .expect("plan");
    let refund = plan.refund(request.reason.clone(), &clock::now_rfc3339());
    let idempotency = DynamoIdempotency::new(testkit::dynamodb(), testkit::table());
    let scope = KeyScope::user(&UserId::generate());
    let key_hash = testkit::unique("key");
    let Claim::Claimed { lease } = idempotency
        .claim(&scope, &key_hash, "body", clock::now())
        .await
        .expect("claim")
    else {
        panic!("a new key is claimed");
    };
    let stored = StoredResponse::json(201, "{}".into());
    orders()
        .refund(
            order,
            &refund,
            &plan,
            &Completion {
                scope: &scope,
                key_hash: &key_hash,
                lease: &lease,
                response: &stored,
                about: None,
            },
        )
        .await
        .expect("refund")
}

/// Staff refund an order from a read taken before a duplicate payment of
/// it arrived: the duplicate's money must stay in the capture, so it can be
/// refunded too (issue 37, defect 3).
#[tokio::test]
async fn a_refund_from_a_stale_read_never_loses_a_later_capture() {
    let order = paid_order().await;
    let read_by_staff = order.clone();
    let duplicate = payment(
        &order,
        &format!("evt_{}", testkit::unique("dup").replace('-', "_")),
    );
    let outcome = orders()
        .record_payment(&duplicate, &order, &clock::now_rfc3339())
        .await
        .expect("duplicate");
    assert_eq!(outcome, PaymentOutcome::RefundRequired);

    let commit = refund_from(&read_by_staff).await;

    let now = orders()
        .get(&order.order_id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(
        now.captured.amount,
        2 * order.total.amount,
        "both payments captured"
    );
    assert_eq!(commit, RefundCommit::Changed, "planned on a stale capture");
    assert_eq!(now.status, OrderStatus::Paid);
    // Planned again on what is there now, the refund goes through and
    // covers both payments.
    assert_eq!(refund_from(&now).await, RefundCommit::Done);
    let after = orders()
        .get(&order.order_id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(after.refunded.amount, 2 * order.total.amount);
    assert_eq!(after.status, OrderStatus::Refunded);
}
