//! The checkout's DynamoDB budget (DESIGN: at most 4 calls), counted on
//! the wire against the real emulator, and what a replay costs.

use lambda_http::{Body, Request};
use quiet_core::{
    auth::{Role, UserId},
    clock,
    deps::Checkout,
    domain::Quantity,
    store::{Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoProducts, ProductStore},
};

fn checkout_request(token: &str, key: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::Text(
            r#"{"shipping_address":{"name":"Ada","line1":"1 Way","city":"London","postal_code":"N1","country":"GB"}}"#
                .into(),
        ))
        .expect("request")
}

#[tokio::test]
async fn a_checkout_takes_at_most_four_dynamodb_calls() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());

    // Given a cart with three different products, written uncounted.
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 3).await;
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    let catalog = products
        .get_many(
            &skus
                .iter()
                .map(|s| s.clone().try_into().expect("sku"))
                .collect::<Vec<_>>(),
        )
        .await
        .expect("products");
    let mut cart = Cart::default();
    for product in catalog.values() {
        cart.set(CartLine {
            sku: product.sku.clone(),
            quantity: Quantity::try_from(2).expect("quantity"),
            name: product.name.as_str().to_string(),
            unit_price: product.price,
        })
        .expect("room");
    }
    carts.save(&user, &cart).await.expect("cart saved");

    // When it checks out through a client that counts its calls.
    let (client, calls) = testkit::counting_dynamodb();
    // The order.placed event goes to SQS after the commit: not a DynamoDB call.
    let (queue, _) = testkit::queue_with_dlq(30).await;
    let relay = testkit::relay(&testkit::emulator().endpoint, &queue).await;
    let deps = Checkout {
        checkout: DynamoCheckout::new(client.clone(), testkit::table()).with_relay(relay),
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        products: DynamoProducts::new(client, testkit::table()),
        verifier,
    };
    let response = checkout::handler(&deps, checkout_request(&token, "budget-1"))
        .await
        .expect("checkout answers");

    // Then the order is placed in at most four round trips...
    assert_eq!(response.status(), 201);
    assert!(
        calls.get() <= 4,
        "checkout made {} DynamoDB calls",
        calls.get()
    );
    // ...the stock moved and the cart is empty...
    let after = products
        .get_many(&catalog.keys().cloned().collect::<Vec<_>>())
        .await
        .expect("read");
    assert!(after.values().all(|p| p.stock == 3), "{after:?}");
    assert!(carts.get(&user).await.expect("cart").lines.is_empty());

    // ...and a replay is one call, with no second order.
    calls.reset();
    let replay = checkout::handler(&deps, checkout_request(&token, "budget-1"))
        .await
        .expect("replay answers");
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(calls.get(), 1);
}
