//! get-product against the real emulator, through the handler.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use get_product::handler;
use lambda_http::{Body, Response};
use lambda_http::{Request, RequestExt};

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

async fn call(req: Request) -> Response<Body> {
    match handler(
        &get_product::Deps {
            products: testkit::products(),
        },
        req,
    )
    .await
    {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

#[tokio::test]
async fn returns_the_product_with_validators_and_caching() {
    let (_, skus) = testkit::seed_category(&testkit::products(), 1).await;
    let response = call(get(&skus[0], None)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"v1-s5\"");
    assert_eq!(
        response.headers()["cache-control"],
        get_product::CACHE_CONTROL
    );
    let product: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).expect("JSON");
    assert_eq!(product["sku"], skus[0].as_str());
    assert_eq!(product["stock"], 5);
}

#[tokio::test]
async fn a_matching_if_none_match_is_304_without_a_body() {
    let (_, skus) = testkit::seed_category(&testkit::products(), 1).await;
    let etag = call(get(&skus[0], None)).await.headers()["etag"]
        .to_str()
        .expect("ascii")
        .to_string();
    let response = call(get(&skus[0], Some(&etag))).await;
    assert_eq!(response.status(), 304);
    assert!(response.body().is_empty());
    assert_eq!(response.headers()["etag"], etag.as_str());

    let stale = call(get(&skus[0], Some("\"v0-s0\""))).await;
    assert_eq!(stale.status(), 200);
}

#[tokio::test]
async fn unknown_and_malformed_skus_are_404_problems() {
    for sku in ["NO-SUCH-SKU-404", "not-a-sku", "A"] {
        let response = call(get(sku, None)).await;
        assert_eq!(response.status(), 404, "{sku}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value =
            serde_json::from_slice(response.body().as_ref()).expect("JSON");
        assert_eq!(problem["status"], 404);
    }
}
