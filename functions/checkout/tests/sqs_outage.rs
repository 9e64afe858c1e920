//! An SQS outage delays events but loses none: checkout still places the
//! order, its event waits in the outbox, and the sweeper delivers it once
//! SQS is back.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use checkout::Deps;
use lambda_http::{Body, Request};
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::Quantity,
    events::{Change, Event, Topic},
    store::{
        Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoNotifications, DynamoOrders,
        DynamoOutbox, DynamoPricing, OutboxStore, ProductStore,
    },
    worker::Receipt,
};

fn checkout_request(token: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "outage-1")
        .body(Body::Text(
            r#"{"shipping_address":{"name":"Ada","line1":"1 Way","city":"London","postal_code":"N1","country":"GB"}}"#
                .into(),
        ))
        .expect("request")
}

#[tokio::test]
async fn checkout_succeeds_while_sqs_is_down_and_the_sweeper_delivers_later() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let sku = skus[0].clone().try_into().expect("sku");
    let product = products.get(&sku).await.expect("read").expect("product");
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    let mut cart = Cart::default();
    cart.set(CartLine {
        sku: sku.clone(),
        quantity: Quantity::try_from(1).expect("quantity"),
        name: product.name.as_str().to_string(),
        unit_price: product.price,
        category: None,
    })
    .expect("room");
    carts.save(&user, &cart).await.expect("cart");

    // SQS is unreachable: nothing listens on port 9 of this machine.
    let (queue, _) = testkit::queue_with_dlq(30).await;
    let down = testkit::relay("http://127.0.0.1:9", &queue).await;
    testkit::ships_to("GB", 0).await;
    let deps = Deps {
        checkout: DynamoCheckout::new(testkit::dynamodb(), testkit::table()).with_relay(down),
        carts,
        pricing: DynamoPricing::new(testkit::dynamodb(), testkit::table()),
        verifier,
        prices_include_tax: false,
    };
    let started = Instant::now();
    let response = checkout::handler(&deps, checkout_request(&token))
        .await
        .expect("checkout answers");
    assert_eq!(response.status(), 201, "the order is placed anyway");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let body: serde_json::Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("json"),
        other => panic!("unexpected body {other:?}"),
    };
    let order_id = body["order_id"].as_str().expect("order id").to_string();
    let ours = |event: &Event| matches!(&event.change, Change::OrderPlaced(o) if o.order_id.as_str() == order_id);

    // The queue got nothing; the event waits in the outbox.
    let sqs = testkit::sqs();
    let nothing = sqs
        .receive_message()
        .queue_url(&queue)
        .send()
        .await
        .expect("receive");
    assert!(nothing.messages.unwrap_or_default().is_empty());
    let outbox = DynamoOutbox::new(testkit::dynamodb(), testkit::table());
    let waiting = outbox.due(clock::now_ms(), 100).await.expect("due");
    assert!(
        waiting.iter().any(|p| ours(&p.event)),
        "event kept in the outbox"
    );

    // SQS is back: the scheduled sweeper resends what was not acknowledged.
    let sweeper = relay_outbox::Deps {
        outbox: outbox.clone(),
        relay: testkit::relay(&testkit::emulator().endpoint, &queue).await,
        resend_after: Duration::from_secs(1),
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let summary = relay_outbox::handle(&sweeper, clock::now_ms())
        .await
        .expect("sweep");
    assert!(summary.resent >= 1, "{summary:?}");

    let mut delivered = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for message in out.messages.unwrap_or_default() {
            delivered.push(
                Event::from_json(message.body.as_deref().unwrap_or_default()).expect("event"),
            );
        }
    }
    let event = delivered
        .into_iter()
        .find(|e| ours(e))
        .expect("the event arrived");

    // The consumer applies it and acknowledges it: the outbox lets go, and
    // the next sweep sends nothing more for it.
    let worker = notifications_worker::Deps {
        orders: DynamoOrders::new(testkit::dynamodb(), testkit::table()),
        notifications: DynamoNotifications::new(testkit::dynamodb(), testkit::table()),
        outbox: outbox.clone(),
    };
    notifications_worker::handle(
        &worker,
        event,
        Receipt {
            receive_count: 1,
            receipt_handle: String::new(),
        },
    )
    .await
    .expect("applied");
    // Each consumer acknowledges its own copy: the notifications copy
    // leaves, the merchant webhooks' copy waits for its worker.
    let left = outbox
        .due(clock::now_ms() + 3_600_000, 100)
        .await
        .expect("due");
    let topics: Vec<Topic> = left
        .iter()
        .filter(|p| ours(&p.event))
        .map(|p| p.topic)
        .collect();
    assert_eq!(
        topics,
        [Topic::Webhooks],
        "acknowledged events leave the outbox"
    );
}
