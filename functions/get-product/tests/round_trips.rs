//! DESIGN's round-trip budget for a product read: one DynamoDB call,
//! counted on the wire, whether the answer is 200, 304 or 404.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use quiet_core::store::DynamoProducts;

fn get(sku: &str, if_none_match: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder().uri(format!("/v1/products/{sku}"));
    if let Some(tag) = if_none_match {
        builder = builder.header("if-none-match", tag);
    }
    builder
        .body(Body::Empty)
        .expect("request")
        .with_path_parameters(HashMap::from([("sku".to_string(), sku.to_string())]))
}

#[tokio::test]
async fn a_product_read_is_one_dynamodb_call() {
    let (_, skus) = testkit::seed_category(&testkit::products(), 1).await;
    let (client, calls) = testkit::counting_dynamodb();
    let store = DynamoProducts::new(client, testkit::table());

    for (request, status) in [
        (get(&skus[0], None), 200),
        (get(&skus[0], Some("\"v1-s5\"")), 304),
        (get("NO-SUCH-SKU", None), 404),
    ] {
        calls.reset();
        let response = match get_product::handler(
            &get_product::Deps {
                products: store.clone(),
            },
            request,
        )
        .await
        {
            Ok(response) => response,
            Err(err) => err.into_response(),
        };
        assert_eq!(response.status(), status);
        assert_eq!(calls.get(), 1, "{status}: {} calls", calls.get());
    }
}
