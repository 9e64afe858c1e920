//! list-products against the real emulator, through the handler.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use list_products::{handler, Deps};
use serde_json::Value;

fn deps() -> Deps<quiet_core::store::DynamoProducts> {
    Deps {
        store: testkit::products(),
        cursor_key: testkit::cursor_key(),
    }
}

fn get(params: &[(&str, &str)]) -> Request {
    let query: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    lambda_http::http::Request::builder()
        .uri("/v1/products")
        .body(Body::Empty)
        .expect("request")
        .with_query_string_parameters(query)
}

async fn call(
    deps: &Deps<quiet_core::store::DynamoProducts>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let response = match handler(deps, get(params)).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    let body = serde_json::from_slice(response.body().as_ref()).expect("JSON body");
    (response.status().as_u16(), body)
}

fn skus(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["sku"].as_str().expect("sku").to_string())
        .collect()
}

#[tokio::test]
async fn following_cursors_visits_every_product_of_a_category_once_in_order() {
    let deps = deps();
    let (category, expected) = testkit::seed_category(&deps.store, 7).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut params = vec![("category", category.as_str()), ("limit", "3")];
        if let Some(c) = &cursor {
            params.push(("cursor", c));
        }
        let (status, page) = call(&deps, &params).await;
        assert_eq!(status, 200, "{page}");
        assert!(skus(&page).len() <= 3);
        seen.extend(skus(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn category_filter_returns_only_that_category() {
    let deps = deps();
    let (mine, expected) = testkit::seed_category(&deps.store, 2).await;
    let (_other, _) = testkit::seed_category(&deps.store, 2).await;
    let (status, page) = call(&deps, &[("category", &mine)]).await;
    assert_eq!(status, 200);
    assert_eq!(skus(&page), expected);
    assert!(page["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|p| p["category"] == mine.as_str()));
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn product_json_has_the_documented_shape() {
    let deps = deps();
    let (category, _) = testkit::seed_category(&deps.store, 1).await;
    let (_, page) = call(&deps, &[("category", &category)]).await;
    let product = &page["items"][0];
    let mut keys: Vec<&str> = product
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "category",
            "created_at",
            "description",
            "name",
            "price",
            "sku",
            "stock",
            "stock_shards",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(product["price"]["amount"], 1234);
    assert_eq!(product["price"]["currency"], "USD");
    assert!(product["name"].as_str().expect("name").ends_with('🧪'));
}

#[tokio::test]
async fn bad_limits_and_categories_are_422_naming_each_field() {
    let deps = deps();
    for limit in ["0", "101", "abc", "-5", "2.5"] {
        let (status, problem) = call(&deps, &[("limit", limit)]).await;
        assert_eq!(status, 422, "limit={limit}");
        assert_eq!(problem["errors"][0]["field"], "limit");
    }
    let (status, problem) = call(&deps, &[("limit", "0"), ("category", "Not Valid")]).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().expect("errors").len(), 2);
}

#[tokio::test]
async fn tampered_or_foreign_cursors_are_400() {
    let deps = deps();
    let (category, _) = testkit::seed_category(&deps.store, 3).await;
    let (_, page) = call(&deps, &[("category", &category), ("limit", "1")]).await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_string();

    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (cat, token) in [
        (category.as_str(), tampered.as_str()),
        ("other-cat", cursor.as_str()),
        (category.as_str(), "garbage"),
    ] {
        let (status, problem) = call(&deps, &[("category", cat), ("cursor", token)]).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["type"], "/problems/bad-request");
    }
}
