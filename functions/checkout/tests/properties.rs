//! Random interleavings of cart changes, checkouts (with retried
//! idempotency keys), cancels, payments (with duplicate events), expiries
//! (from stale snapshots) and shipments, against the real store and the
//! checkout handler: stock never goes negative, is never returned twice,
//! and no order moves along a transition the state machine forbids.
//!
//! The invariant checked after every step is conservation: units on the
//! shelf plus units held by live orders (awaiting payment, paid, shipped)
//! equal the units the product started with. Overselling breaks it one way,
//! returning stock twice the other. `PROPTEST_CASES` sets the number of
//! sequences (default 24; each step is a few emulator round trips).

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quiet_core::store::OrderLifecycle;
use quiet_core::store::OrderPayments;
use std::collections::{HashMap, HashSet};

use checkout::Deps;
use lambda_http::{Body, Request};
use proptest::prelude::*;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::{OrderId, OrderStatus, Quantity, Sku},
    payments::PaymentEvent,
    store::{
        CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoOrders, DynamoPricing,
        DynamoProducts, Order, OrderReads, PaymentOutcome, ProductStore, StoreError,
    },
};

const USERS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    /// Put `quantity` units of the product in `user`'s cart.
    Cart {
        user: usize,
        quantity: u64,
    },
    /// POST /v1/checkout with idempotency key `key` (so keys repeat).
    Checkout {
        user: usize,
        key: u8,
    },
    /// Cancel the n-th order placed (modulo), by its owner or someone else.
    Cancel {
        order: usize,
        by_owner: bool,
    },
    /// A successful payment event `event` (0 or 1, so events repeat).
    Pay {
        order: usize,
        event: u8,
    },
    /// The expiry worker acting on the snapshot taken when it was placed.
    Expire {
        order: usize,
    },
    Ship {
        order: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..USERS, 1..=3u64).prop_map(|(user, quantity)| Step::Cart { user, quantity }),
        3 => (0..USERS, 0..2u8).prop_map(|(user, key)| Step::Checkout { user, key }),
        1 => (any::<usize>(), any::<bool>())
            .prop_map(|(order, by_owner)| Step::Cancel { order, by_owner }),
        2 => (any::<usize>(), 0..2u8).prop_map(|(order, event)| Step::Pay { order, event }),
        1 => any::<usize>().prop_map(|order| Step::Expire { order }),
        1 => any::<usize>().prop_map(|order| Step::Ship { order }),
    ]
}

struct World {
    sku: Sku,
    initial: u64,
    users: Vec<(UserId, String)>,
    deps: Deps<DynamoCheckout, DynamoCarts, DynamoPricing>,
    products: DynamoProducts,
    orders: DynamoOrders,
    /// Every order placed, as it was when placed, and who owns it.
    placed: Vec<(Order, usize)>,
    /// The status each order had at the last check.
    seen: HashMap<OrderId, OrderStatus>,
    events: HashSet<String>,
}

impl World {
    async fn new(initial: u64) -> Self {
        let (signer, verifier) = testkit::token_keys();
        testkit::ships_to("GB", 0).await;
        let products = testkit::products();
        let sku = testkit::unique("PROP").to_uppercase();
        products
            .create(
                &testkit::new_product(&sku, "props", initial),
                "2026-01-01T00:00:00Z",
            )
            .await
            .expect("product");
        let users = (0..USERS)
            .map(|_| {
                let user = UserId::generate();
                let token = signer.sign(&user, Role::Customer, clock::now());
                (user, token)
            })
            .collect();
        Self {
            sku: sku.try_into().expect("sku"),
            initial,
            users,
            deps: Deps {
                checkout: DynamoCheckout::new(testkit::dynamodb(), testkit::table()),
                carts: DynamoCarts::new(testkit::dynamodb(), testkit::table()),
                pricing: DynamoPricing::new(testkit::dynamodb(), testkit::table()),
                verifier,
                prices_include_tax: false,
            },
            products,
            orders: DynamoOrders::new(testkit::dynamodb(), testkit::table()),
            placed: Vec::new(),
            seen: HashMap::new(),
            events: HashSet::new(),
        }
    }

    fn pick(&self, n: usize) -> Option<(Order, usize)> {
        (!self.placed.is_empty()).then(|| self.placed[n % self.placed.len()].clone())
    }

    async fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let now = clock::now_rfc3339();
        match *step {
            Step::Cart { user, quantity } => {
                let product = self
                    .products
                    .get(&self.sku)
                    .await
                    .expect("read")
                    .expect("product");
                let (id, _) = &self.users[user];
                let mut cart = self.deps.carts.get(id).await.expect("cart");
                cart.set(CartLine {
                    sku: self.sku.clone(),
                    quantity: Quantity::try_from(quantity).expect("quantity"),
                    name: product.name.as_str().to_string(),
                    unit_price: product.price,
                    category: None,
                })
                .expect("room");
                self.deps.carts.save(id, &cart).await.expect("save cart");
            }
            Step::Checkout { user, key } => {
                let response =
                    checkout::handler(&self.deps, checkout_request(&self.users[user].1, key))
                        .await
                        .unwrap_or_else(|err| err.into_response());
                let status = response.status().as_u16();
                prop_assert!(
                    [201, 409, 422].contains(&status),
                    "checkout answered {status}"
                );
                if status == 201 {
                    let Body::Text(text) = response.body() else {
                        return Err(TestCaseError::fail("201 without a JSON body"));
                    };
                    let body: serde_json::Value = serde_json::from_str(text).expect("json");
                    let id: OrderId = body["order_id"]
                        .as_str()
                        .expect("order id")
                        .to_string()
                        .try_into()
                        .expect("order id");
                    if !self.placed.iter().any(|(o, _)| o.order_id == id) {
                        let order = self
                            .orders
                            .get(&id)
                            .await
                            .expect("read")
                            .expect("placed order exists");
                        prop_assert_eq!(order.status, OrderStatus::PendingPayment);
                        self.seen.insert(id, OrderStatus::PendingPayment);
                        self.placed.push((order, user));
                    }
                }
            }
            Step::Cancel { order, by_owner } => {
                let Some((order, owner)) = self.pick(order) else {
                    return Ok(());
                };
                let caller = if by_owner { owner } else { (owner + 1) % USERS };
                let before = self.seen[&order.order_id];
                let result = self
                    .orders
                    .cancel(&order.order_id, &self.users[caller].0, &now)
                    .await;
                match (by_owner, before, result) {
                    (true, OrderStatus::PendingPayment, Ok(o)) => {
                        prop_assert_eq!(o.status, OrderStatus::Cancelled)
                    }
                    (true, _, Err(StoreError::ConditionFailed))
                        if before != OrderStatus::PendingPayment => {}
                    (false, _, Err(StoreError::NotFound)) => {}
                    (_, _, other) => {
                        return Err(TestCaseError::fail(format!(
                            "cancel by owner={by_owner} of a {before:?} order: {other:?}"
                        )))
                    }
                }
            }
            Step::Pay { order, event } => {
                let Some((order, _)) = self.pick(order) else {
                    return Ok(());
                };
                let before = self.seen[&order.order_id];
                let id = format!("evt_prop_{}_{event}", &order.order_id.as_str()[4..]);
                let payment: PaymentEvent = serde_json::from_value(serde_json::json!({
                    "id": id,
                    "type": "payment.succeeded",
                    "order_id": order.order_id,
                    "amount": order.total.amount,
                    "currency": "USD",
                }))
                .expect("payment event");
                let outcome = self
                    .orders
                    .record_payment(&payment, &order, &now)
                    .await
                    .expect("payment recorded");
                let expected = if self.events.contains(&id) {
                    PaymentOutcome::Duplicate
                } else {
                    match before {
                        OrderStatus::PendingPayment => PaymentOutcome::Paid,
                        // Money for an order not awaiting it, including a
                        // second payment of a paid one, is kept for refund.
                        _ => PaymentOutcome::RefundRequired,
                    }
                };
                prop_assert_eq!(outcome, expected, "payment {} of a {:?} order", id, before);
                self.events.insert(id);
            }
            Step::Expire { order } => {
                let Some((order, _)) = self.pick(order) else {
                    return Ok(());
                };
                let before = self.seen[&order.order_id];
                let result = self.orders.expire(&order, &now).await;
                match (before, result) {
                    (OrderStatus::PendingPayment, Ok(o)) => {
                        prop_assert_eq!(o.status, OrderStatus::Expired)
                    }
                    (b, Err(StoreError::ConditionFailed)) if b != OrderStatus::PendingPayment => {}
                    (b, other) => {
                        return Err(TestCaseError::fail(format!(
                            "expiry of a {b:?} order: {other:?}"
                        )))
                    }
                }
            }
            Step::Ship { order } => {
                let Some((order, _)) = self.pick(order) else {
                    return Ok(());
                };
                let before = self.seen[&order.order_id];
                let result = self.orders.ship(&order.order_id, &now).await;
                match (before, result) {
                    (OrderStatus::Paid, Ok(o)) => prop_assert_eq!(o.status, OrderStatus::Shipped),
                    (b, Err(StoreError::ConditionFailed)) if b != OrderStatus::Paid => {}
                    (b, other) => {
                        return Err(TestCaseError::fail(format!(
                            "shipping a {b:?} order: {other:?}"
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    /// Conservation of units and legal transitions, from what is stored.
    async fn check(&mut self) -> Result<(), TestCaseError> {
        let shelf: u64 = self
            .products
            .get(&self.sku)
            .await
            .expect("stock decodes (it would not if negative)")
            .expect("product")
            .stock
            .into();
        let mut held = 0u64;
        for (placed, _) in &self.placed {
            let now = self
                .orders
                .get(&placed.order_id)
                .await
                .expect("read")
                .expect("order")
                .status;
            let before = self.seen[&placed.order_id];
            prop_assert!(
                now == before || before.can_become(now),
                "{} moved {:?} -> {:?}",
                placed.order_id.as_str(),
                before,
                now
            );
            self.seen.insert(placed.order_id.clone(), now);
            if matches!(
                now,
                OrderStatus::PendingPayment | OrderStatus::Paid | OrderStatus::Shipped
            ) {
                held += placed
                    .items
                    .iter()
                    .filter(|line| line.sku == self.sku)
                    .map(|line| u64::from(line.quantity.get()))
                    .sum::<u64>();
            }
        }
        prop_assert_eq!(
            shelf + held,
            self.initial,
            "shelf {} + held {}",
            shelf,
            held
        );
        Ok(())
    }
}

fn checkout_request(token: &str, key: u8) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", format!("prop-key-{key}"))
        .body(Body::Text(
            r#"{"shipping_address":{"name":"Ada","line1":"1 Way","city":"London","postal_code":"N1","country":"GB"}}"#
                .into(),
        ))
        .expect("request")
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn stock_is_conserved_and_orders_only_move_forward(
        initial in 0..=6u64,
        steps in proptest::collection::vec(step(), 1..=16),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            // Clients are bound to the runtime that made them: one world per case.
            let mut world = World::new(initial).await;
            for step in &steps {
                world.apply(step).await?;
                world.check().await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
