//! DESIGN's round-trip budget for a cart write is two DynamoDB calls.
//! Removing a line reads the cart and writes it back; removing a line that
//! is not there only reads. Counted on the wire.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use delete_cart_item::Deps;
use lambda_http::{Body, Request, RequestExt};
use quiet_core::{
    auth::{Role, UserId},
    clock,
    store::{Cart, CartLine, CartStore, DynamoCarts},
};

fn delete(token: &str, sku: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("DELETE")
        .uri(format!("/v1/cart/items/{sku}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .expect("request")
        .with_path_parameters(HashMap::from([("sku".to_string(), sku.to_string())]))
}

fn lines(response: &lambda_http::Response<Body>) -> usize {
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("json");
    body["items"].as_array().map_or(0, Vec::len)
}

/// A saved cart of one unit of each SKU, as PUT would have left it.
async fn cart_of(user: &UserId, skus: &[String]) {
    let mut cart = Cart::default();
    for sku in skus {
        let line: CartLine = serde_json::from_value(serde_json::json!({
            "sku": sku,
            "quantity": 1,
            "name": "Test product",
            "unit_price": {"amount": 1234, "currency": "USD"},
        }))
        .expect("valid line");
        cart.set(line).expect("room in the cart");
    }
    DynamoCarts::new(testkit::dynamodb(), testkit::table())
        .save(user, &cart)
        .await
        .expect("cart saved");
}

#[tokio::test]
async fn removing_a_line_is_at_most_two_dynamodb_calls() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    let (_, skus) = testkit::seed_category(&testkit::products(), 2).await;
    cart_of(&user, &skus).await;
    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps {
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        verifier,
    };

    let response = delete_cart_item::handler(&deps, delete(&token, &skus[0]))
        .await
        .expect("line removed");
    assert_eq!(response.status(), 200);
    assert_eq!(lines(&response), 1, "one line left");
    assert_eq!(calls.get(), 2, "removing a line: {} calls", calls.get());

    calls.reset();
    let response = delete_cart_item::handler(&deps, delete(&token, &skus[0]))
        .await
        .expect("nothing to remove");
    assert_eq!(response.status(), 200);
    assert_eq!(lines(&response), 1, "the cart as it was");
    assert_eq!(
        calls.get(),
        1,
        "removing an absent line: {} calls",
        calls.get()
    );
}
