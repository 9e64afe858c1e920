//! search-products against the real emulator, through the handler: the
//! index follows the search log, results are read live, and the DynamoDB
//! calls per search stay at the design's floor (counted on the wire).

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use quiet_core::{
    clock,
    store::{
        DynamoProducts, DynamoSearchLog, LogEntry, ProductPatch, ProductStore, SearchDoc,
        SearchLog, StockDelta,
    },
};
use search_products::{handler, Deps};
use serde_json::Value;

fn search(params: &[(&str, &str)]) -> Request {
    lambda_http::http::Request::builder()
        .uri("/v1/products/search")
        .body(Body::Empty)
        .expect("request")
        .with_query_string_parameters(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
}

async fn call(
    deps: &Deps<DynamoProducts, DynamoSearchLog>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let response = match handler(deps, search(params)).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    let body = serde_json::from_slice(response.body().as_ref()).expect("json body");
    (response.status().as_u16(), body)
}

fn skus(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["sku"].as_str().expect("sku").to_string())
        .collect()
}

/// A word no other product in the shared emulator has, nor one within an
/// edit of it (48 random bits).
fn word() -> String {
    let random = quiet_core::events::JobId::generate();
    format!("zq{}", &random.as_str()[4..16])
}

async fn wait_past_the_log_interval() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn the_index_follows_the_log_and_results_are_read_live() {
    let store = testkit::products();
    let log = DynamoSearchLog::new(testkit::dynamodb(), testkit::table());
    let w = word();
    let sku = testkit::unique("SRCH").to_uppercase();
    let mut new = testkit::new_product(&sku, "e2e-search", 1);
    new.name = format!("Kettle {w}").try_into().expect("name");
    let created = store
        .create(&new, &clock::now_rfc3339())
        .await
        .expect("created");

    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps::new(
        DynamoProducts::new(client.clone(), testkit::table()),
        DynamoSearchLog::new(client, testkit::table()),
        testkit::cursor_key(),
    );
    // The first search builds the index from the catalog.
    let (status, body) = call(&deps, &[("q", &w)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(skus(&body), [sku.as_str()]);
    assert_eq!(body["items"][0]["stock"], 1);

    // Within the second: no log read, one live read of the page.
    calls.reset();
    let (_, body) = call(&deps, &[("q", &format!("{w} kettel"))]).await;
    assert_eq!(skus(&body), [sku.as_str()]);
    assert_eq!(calls.get(), 1, "one BatchGetItem");

    // Stock is read live: sold out is filtered now, without any event.
    store
        .adjust_stock(&created.sku, StockDelta::try_from(-1i64).expect("delta"))
        .await
        .expect("adjusted");
    let (_, body) = call(&deps, &[("q", &w), ("in_stock", "true")]).await;
    assert_eq!(skus(&body), Vec::<String>::new());
    let (_, body) = call(&deps, &[("q", &w)]).await;
    assert_eq!(body["items"][0]["stock"], 0);

    // An edit reaches the index through the log: one Query when due.
    let patch: ProductPatch =
        serde_json::from_value(serde_json::json!({"name": format!("Teapot {w}")})).expect("patch");
    let edited = store
        .update(&created.sku, None, &patch, &clock::now_rfc3339())
        .await
        .expect("edited");
    log.record(&LogEntry {
        at_ms: clock::now_ms(),
        sku: edited.sku.clone(),
        doc: Some(SearchDoc::from(&edited)),
    })
    .await
    .expect("logged");
    wait_past_the_log_interval().await;
    calls.reset();
    let (_, body) = call(&deps, &[("q", &format!("teapot {w}"))]).await;
    assert_eq!(skus(&body), [sku.as_str()]);
    assert_eq!(calls.get(), 2, "the log's Query and one BatchGetItem");
    let (_, body) = call(&deps, &[("q", &format!("kettle {w}"))]).await;
    assert_eq!(skus(&body), Vec::<String>::new(), "the old name is gone");

    // A delete: gone from results at once (read live), and from the index.
    store
        .delete(&created.sku, &clock::now_rfc3339())
        .await
        .expect("deleted");
    let (_, body) = call(&deps, &[("q", &w)]).await;
    assert_eq!(skus(&body), Vec::<String>::new());
    log.record(&LogEntry {
        at_ms: clock::now_ms(),
        sku: edited.sku.clone(),
        doc: None,
    })
    .await
    .expect("logged");
    wait_past_the_log_interval().await;
    calls.reset();
    let (_, body) = call(&deps, &[("q", &w)]).await;
    assert_eq!(skus(&body), Vec::<String>::new());
    assert_eq!(calls.get(), 1, "the log's Query; nothing left to read");
}

#[tokio::test]
async fn pages_follow_the_ranking_without_duplicates_or_gaps() {
    let store = testkit::products();
    let w = word();
    let category = testkit::unique("srch").to_lowercase();
    let mut expected = Vec::new();
    for i in 0..23 {
        let sku = format!("{}-{i:02}", testkit::unique("PG").to_uppercase());
        let mut new = testkit::new_product(&sku, &category, u64::from(i % 3 != 0));
        // Three tiers of score, with ties inside each.
        new.name = match i % 3 {
            0 => w.clone(),
            1 => format!("{w} cup"),
            _ => "Plain cup".to_string(),
        }
        .try_into()
        .expect("name");
        new.description = format!("About {w}.").try_into().expect("text");
        store
            .create(&new, &clock::now_rfc3339())
            .await
            .expect("created");
        expected.push(sku);
    }
    let deps = Deps::new(
        testkit::products(),
        DynamoSearchLog::new(testkit::dynamodb(), testkit::table()),
        testkit::cursor_key(),
    );
    let (_, all) = call(&deps, &[("q", &w), ("limit", "100")]).await;
    let ranked = skus(&all);
    assert_eq!(ranked.len(), 23);
    assert!(
        ranked[..8]
            .iter()
            .all(|s| expected.iter().position(|e| e == s).expect("ours") % 3 == 0),
        "exact names first: {ranked:?}"
    );

    for (filters, want) in [
        (vec![], ranked.clone()),
        (
            vec![("in_stock", "true")],
            ranked
                .iter()
                .filter(|s| expected.iter().position(|e| e == *s).expect("ours") % 3 != 0)
                .cloned()
                .collect::<Vec<_>>(),
        ),
    ] {
        for limit in ["1", "4", "7"] {
            let mut walked = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..40 {
                let mut params = vec![
                    ("q", w.as_str()),
                    ("limit", limit),
                    ("category", category.as_str()),
                ];
                params.extend(filters.iter().copied());
                if let Some(c) = &cursor {
                    params.push(("cursor", c));
                }
                let (status, body) = call(&deps, &params).await;
                assert_eq!(status, 200, "{body}");
                walked.extend(skus(&body));
                cursor = body["next_cursor"].as_str().map(str::to_string);
                if cursor.is_none() {
                    break;
                }
            }
            assert_eq!(walked, want, "limit {limit}, filters {filters:?}");
        }
    }

    // A cursor is bound to its search.
    let (_, first) = call(&deps, &[("q", &w), ("limit", "2")]).await;
    let cursor = first["next_cursor"].as_str().expect("more").to_string();
    let (status, _) = call(&deps, &[("q", "cup"), ("limit", "2"), ("cursor", &cursor)]).await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &deps,
        &[("q", &w), ("limit", "2"), ("cursor", &format!("{cursor}x"))],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn hostile_queries_get_a_clean_422_or_safe_results() {
    let deps = Deps::new(
        testkit::products(),
        DynamoSearchLog::new(testkit::dynamodb(), testkit::table()),
        testkit::cursor_key(),
    );
    let long = "sencha ".repeat(40);
    for (params, status) in [
        (vec![], 422),
        (vec![("q", "   ")], 422),
        (vec![("q", long.as_str())], 422),
        (vec![("q", "sencha\u{0}")], 422),
        (vec![("q", "\u{1b}[31msencha")], 422),
        (vec![("q", "a b c d e f g h i j k l m n o p q r s")], 422),
        (vec![("q", "sencha"), ("min_price", "-1")], 422),
        (
            vec![("q", "sencha"), ("min_price", "9"), ("max_price", "1")],
            422,
        ),
        (vec![("q", "sencha"), ("in_stock", "yes")], 422),
        (vec![("q", "sencha"), ("category", "Not A Slug")], 422),
        (vec![("q", "sencha"), ("limit", "1000")], 422),
        (vec![("q", "sencha"), ("cursor", "not-a-cursor")], 400),
        (vec![("q", "\"sencha\" OR 1=1; DROP TABLE --")], 200),
        (vec![("q", "name:* ~2 ^9 [a TO z] (x) {y} \\ / ?")], 200),
        (vec![("q", &"a".repeat(200))], 200),
        (vec![("q", "🍵🍵🍵")], 200),
        (vec![("q", "ＳＥＮＣＨＡ")], 200),
    ] {
        let (got, body) = call(&deps, &params).await;
        assert_eq!(got, status, "{params:?}: {body}");
        if status == 200 {
            assert!(body["items"].is_array(), "{body}");
        } else {
            assert_eq!(body["status"], status, "problem+json: {body}");
        }
    }
}
