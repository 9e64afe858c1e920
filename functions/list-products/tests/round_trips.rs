//! DESIGN's round-trip budget for a listing page: one DynamoDB call,
//! counted on the wire, for the catalog, a category, and a later page.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use list_products::{handler, Deps};
use quiet_core::store::DynamoProducts;

fn list(params: &[(&str, &str)]) -> Request {
    lambda_http::http::Request::builder()
        .uri("/v1/products")
        .body(Body::Empty)
        .expect("request")
        .with_query_string_parameters(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
}

#[tokio::test]
async fn a_listing_page_is_one_dynamodb_call() {
    let (category, _) = testkit::seed_category(&testkit::products(), 5).await;
    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps {
        store: DynamoProducts::new(client, testkit::table()),
        cursor_key: testkit::cursor_key(),
    };

    calls.reset();
    let first = handler(&deps, list(&[("category", &category), ("limit", "2")]))
        .await
        .expect("first page");
    assert_eq!(first.status(), 200);
    assert_eq!(calls.get(), 1);
    let body: serde_json::Value = serde_json::from_slice(first.body().as_ref()).expect("json");
    let cursor = body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_string();

    calls.reset();
    let next = handler(
        &deps,
        list(&[("category", &category), ("limit", "2"), ("cursor", &cursor)]),
    )
    .await
    .expect("next page");
    assert_eq!(next.status(), 200);
    assert_eq!(calls.get(), 1);

    calls.reset();
    let catalog = handler(&deps, list(&[("limit", "3")]))
        .await
        .expect("catalog");
    assert_eq!(catalog.status(), 200);
    assert_eq!(calls.get(), 1);
}
