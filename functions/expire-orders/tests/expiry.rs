//! Expiry against the real emulator, raced by itself and by payments.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quiet_core::store::OrderPayments;
use std::time::Duration;

use expire_orders::{handle, Deps};
use quiet_core::{
    clock,
    domain::{OrderStatus, Sku},
    payments::PaymentEvent,
    store::{DynamoOrders, Order, OrderReads, PaymentOutcome, ProductStore},
};

const TTL: Duration = Duration::from_secs(900);

/// An expiry run takes every overdue order in the table, so the tests of
/// this binary take turns rather than expire each other's orders.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn deps() -> Deps<DynamoOrders> {
    Deps {
        orders: DynamoOrders::new(testkit::dynamodb(), testkit::table()),
        payment_ttl: TTL,
    }
}

async fn stock(sku: &str) -> u64 {
    let sku: Sku = sku.to_string().try_into().expect("sku");
    testkit::products()
        .get(&sku)
        .await
        .expect("read")
        .expect("product")
        .stock
        .into()
}

/// A product with 100 units, and `count` orders of 3 units each placed an
/// hour ago (well past the TTL).
async fn overdue_orders(count: usize) -> (String, Vec<Order>) {
    let products = testkit::products();
    let category = testkit::unique("cat").to_lowercase();
    let sku = testkit::unique("EXP").to_uppercase();
    products
        .create(
            &testkit::new_product(&sku, &category, 100),
            "2026-01-01T00:00:00Z",
        )
        .await
        .expect("product");
    let an_hour_ago = clock::now_ms() - 3_600_000;
    let mut orders = Vec::new();
    for _ in 0..count {
        orders.push(testkit::place_order(&sku, 3, an_hour_ago).await);
    }
    assert_eq!(stock(&sku).await, 100 - 3 * count as u64);
    (sku, orders)
}

async fn status(order: &Order) -> OrderStatus {
    deps()
        .orders
        .get(&order.order_id)
        .await
        .expect("read")
        .expect("order")
        .status
}

#[tokio::test]
async fn overlapping_runs_return_the_stock_exactly_once() {
    let _turn = TURN.lock().await;
    let (sku, orders) = overdue_orders(6).await;
    // A fresh order is not overdue and must stay.
    let fresh = testkit::place_order(&sku, 1, clock::now_ms()).await;

    let (a, b) = (deps(), deps());
    let now = clock::now_ms();
    let (first, second) = tokio::join!(handle(&a, now), handle(&b, now));
    let (first, second) = (first.expect("run a"), second.expect("run b"));

    // Other tests' overdue orders share the table, so count only ours.
    for order in &orders {
        assert_eq!(status(order).await, OrderStatus::Expired);
    }
    assert!(first.expired + second.expired >= 6);
    assert_eq!(status(&fresh).await, OrderStatus::PendingPayment);
    assert_eq!(
        stock(&sku).await,
        100 - 1,
        "6 × 3 units back once, the fresh 1 held"
    );

    // A third run finds nothing of ours left to do.
    handle(&deps(), clock::now_ms()).await.expect("run c");
    assert_eq!(stock(&sku).await, 99);
}

fn payment_for(order: &Order) -> PaymentEvent {
    serde_json::from_value(serde_json::json!({
        "id": format!("evt_race_{}", &order.order_id.as_str()[4..]),
        "type": "payment.succeeded",
        "order_id": order.order_id,
        "amount": order.total.amount,
        "currency": "USD",
    }))
    .expect("payment event")
}

#[tokio::test]
async fn a_payment_racing_expiry_ends_consistent() {
    let _turn = TURN.lock().await;
    let (sku, orders) = overdue_orders(10).await;
    let orders_store = DynamoOrders::new(testkit::dynamodb(), testkit::table());

    // The expiry run starts, and the payments (each read its order while
    // it was still pending) arrive staggered across it, so some land
    // before their order's expiry and some after.
    let expiry = tokio::spawn(async move { handle(&deps(), clock::now_ms()).await });
    let payments = orders.iter().enumerate().map(|(i, order)| {
        let store = orders_store.clone();
        let event = payment_for(order);
        let order = order.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(15 * i as u64)).await;
            store
                .record_payment(&event, &order, &clock::now_rfc3339())
                .await
                .expect("payment recorded")
        })
    });
    let payments: Vec<_> = payments.collect();
    let mut outcomes = Vec::new();
    for payment in payments {
        outcomes.push(payment.await.expect("task"));
    }
    expiry.await.expect("task").expect("expiry run");

    let mut paid_units = 0;
    for (order, outcome) in orders.iter().zip(&outcomes) {
        match (status(order).await, outcome) {
            (OrderStatus::Paid, PaymentOutcome::Paid) => paid_units += 3,
            (OrderStatus::Expired, PaymentOutcome::RefundRequired) => {}
            other => panic!("{}: inconsistent end state {other:?}", order.order_id),
        }
    }
    eprintln!(
        "race: {} paid, {} expired",
        paid_units / 3,
        10 - paid_units / 3
    );
    assert_eq!(
        stock(&sku).await,
        100 - paid_units,
        "paid orders keep their stock; expired ones gave it back once"
    );
    // Whoever won, a later run changes nothing.
    handle(&deps(), clock::now_ms()).await.expect("again");
    assert_eq!(stock(&sku).await, 100 - paid_units);
}
