//! The checkout's DynamoDB budget (DESIGN: at most 4 calls; the issue
//! allows 5 with a discount code, and it takes 4 with a code and tax too),
//! counted on the wire against the real emulator, and what a replay costs.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use checkout::Deps;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::{promotion::Rules, Product, Quantity, Sku},
    store::{
        Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoPricing, DynamoPromotions,
        ProductStore, PromotionStore,
    },
};
use std::collections::HashMap;

/// A cart of two units each of three new products, written uncounted.
async fn cart_of_three(user: &UserId, code: Option<Rules>) -> HashMap<Sku, Product> {
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
            category: Some(product.category.clone()),
        })
        .expect("room");
    }
    cart.promotion = code;
    carts.save(user, &cart).await.expect("cart saved");
    catalog
}

#[tokio::test]
async fn with_a_code_and_tax_a_checkout_still_takes_at_most_four_dynamodb_calls() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    testkit::ships_to("GB", 2000).await;
    let promotions = DynamoPromotions::new(testkit::dynamodb(), testkit::table());
    let code = testkit::unique("PROMO");
    let new: Rules = serde_json::from_value(serde_json::json!({
        "code": code, "discount": {"kind": "percent", "percent": 10},
        "max_redemptions": 5, "once_per_customer": true
    }))
    .expect("promotion");
    promotions
        .create(&new, &clock::now_rfc3339())
        .await
        .expect("created");
    cart_of_three(&user, Some(new.clone())).await;

    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps {
        checkout: DynamoCheckout::new(client.clone(), testkit::table()),
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        pricing: DynamoPricing::new(client, testkit::table()),
        verifier,
        prices_include_tax: false,
    };
    let response = checkout::handler(&deps, testkit::checkout_request(&token, "budget-code"))
        .await
        .expect("checkout answers");

    assert_eq!(response.status(), 201);
    assert!(
        calls.get() <= 4,
        "checkout with a code made {} DynamoDB calls",
        calls.get()
    );
    let order: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).expect("order JSON");
    assert_eq!(order["promotion_code"], code.as_str());
    assert_eq!(order["tax_rate"]["rate_bps"], 2000);
    assert!(order["tax"]["amount"].as_u64() > Some(0), "{order}");
    let amount = |name: &str| order[name]["amount"].as_u64().expect(name);
    assert_eq!(
        amount("total"),
        amount("subtotal") - amount("discount") + amount("tax")
    );
    assert!(order["discount"]["amount"].as_u64() > Some(0), "{order}");
    let redeemed = promotions
        .get(&new.code)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(redeemed.redemptions, 1);
    assert!(promotions
        .redeemed_by(&new.code, &user)
        .await
        .expect("read"));
}

#[tokio::test]
async fn a_checkout_takes_at_most_four_dynamodb_calls() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    testkit::ships_to("GB", 2000).await;

    // Given a cart with three different products, written uncounted.
    let products = testkit::products();
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    let catalog = cart_of_three(&user, None).await;

    // When it checks out through a client that counts its calls.
    let (client, calls) = testkit::counting_dynamodb();
    // The order.placed event goes to SQS after the commit: not a DynamoDB call.
    let (queue, _) = testkit::queue_with_dlq(30).await;
    let relay = testkit::relay(&testkit::emulator().endpoint, &queue).await;
    let deps = Deps {
        checkout: DynamoCheckout::new(client.clone(), testkit::table()).with_relay(relay),
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        pricing: DynamoPricing::new(client, testkit::table()),
        verifier,
        prices_include_tax: false,
    };
    let response = checkout::handler(&deps, testkit::checkout_request(&token, "budget-1"))
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
    let replay = checkout::handler(&deps, testkit::checkout_request(&token, "budget-1"))
        .await
        .expect("replay answers");
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(calls.get(), 1);
}
