//! DESIGN's round-trip budget for a cart write: two DynamoDB calls (read
//! the cart and the product together, write the cart), counted on the wire.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use put_cart_item::Deps;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    store::DynamoCarts,
};

fn put(token: &str, sku: &str, quantity: u32) -> Request {
    lambda_http::http::Request::builder()
        .method("PUT")
        .uri(format!("/v1/cart/items/{sku}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::Text(format!(r#"{{"quantity":{quantity}}}"#)))
        .expect("request")
        .with_path_parameters(HashMap::from([("sku".to_string(), sku.to_string())]))
}

#[tokio::test]
async fn a_cart_write_is_two_dynamodb_calls() {
    let (signer, verifier) = testkit::token_keys();
    let token = signer.sign(&UserId::generate(), Role::Customer, clock::now());
    let (_, skus) = testkit::seed_category(&testkit::products(), 2).await;
    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps {
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        verifier,
    };

    // A new cart, a second line, and a change of quantity.
    for (sku, quantity) in [(&skus[0], 1), (&skus[1], 3), (&skus[0], 2)] {
        calls.reset();
        let response = put_cart_item::handler(&deps, put(&token, sku, quantity))
            .await
            .expect("cart written");
        assert_eq!(response.status(), 200);
        assert_eq!(calls.get(), 2, "{sku} × {quantity}: {} calls", calls.get());
    }
}
