//! The search indexer against the real emulator: every catalog edit leaves
//! a product.changed event in the outbox (same transaction), and the
//! indexer turns it into a search log entry of the product as it is now.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use quiet_core::{
    clock,
    events::{Change, Topic},
    store::{DynamoOutbox, DynamoSearchLog, OutboxStore, ProductPatch, ProductStore, SearchLog},
    worker::Receipt,
};
use search_indexer::{handle, Deps};

async fn pending_for(outbox: &DynamoOutbox, sku: &str) -> Vec<quiet_core::events::Event> {
    outbox
        .due(clock::now_ms() + 600_000, 1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|p| p.topic == Topic::Catalog)
        .map(|p| p.event)
        .filter(|e| matches!(&e.change, Change::ProductChanged { sku: s } if s.as_str() == sku))
        .collect()
}

fn first() -> Receipt {
    Receipt {
        receive_count: 1,
        receipt_handle: "test".into(),
    }
}

#[tokio::test]
async fn every_catalog_edit_reaches_the_search_log_once_applied() {
    let store = testkit::products();
    let outbox = DynamoOutbox::new(testkit::dynamodb(), testkit::table());
    let log = DynamoSearchLog::new(testkit::dynamodb(), testkit::table());
    let deps = Deps {
        products: testkit::products(),
        log: log.clone(),
        outbox: outbox.clone(),
    };
    let sku = testkit::unique("IDX").to_uppercase();
    let from = clock::now_ms();

    store
        .create(
            &testkit::new_product(&sku, "e2e-search", 3),
            &clock::now_rfc3339(),
        )
        .await
        .expect("created");
    let patch: ProductPatch =
        serde_json::from_value(serde_json::json!({"name": "Renamed kettle"})).expect("patch");
    store
        .update(
            &sku.clone().try_into().expect("sku"),
            None,
            &patch,
            &clock::now_rfc3339(),
        )
        .await
        .expect("edited");
    // A stock move is not a catalog edit: search reads stock live.
    store
        .adjust_stock(
            &sku.clone().try_into().expect("sku"),
            2i64.try_into().expect("delta"),
        )
        .await
        .expect("adjusted");
    let events = pending_for(&outbox, &sku).await;
    assert_eq!(events.len(), 2, "create and edit, not the stock move");

    // Handled twice and out of order: the log says what the product is now.
    for event in events.iter().rev().chain(events.iter()) {
        handle(&deps, event.clone(), first())
            .await
            .expect("handled");
    }
    assert!(pending_for(&outbox, &sku).await.is_empty(), "acknowledged");
    let entries: Vec<_> = log
        .since(from)
        .await
        .expect("log")
        .into_iter()
        .filter(|e| e.sku.as_str() == sku)
        .collect();
    assert_eq!(entries.len(), 4);
    for entry in &entries {
        let doc = entry.doc.as_ref().expect("live");
        assert_eq!(doc.name.as_str(), "Renamed kettle");
        assert_eq!(doc.version, 2);
    }

    store
        .delete(&sku.clone().try_into().expect("sku"), &clock::now_rfc3339())
        .await
        .expect("deleted");
    let events = pending_for(&outbox, &sku).await;
    assert_eq!(events.len(), 1);
    handle(&deps, events[0].clone(), first())
        .await
        .expect("handled");
    let last = log
        .since(from)
        .await
        .expect("log")
        .into_iter()
        .rfind(|e| e.sku.as_str() == sku)
        .expect("an entry");
    assert_eq!(last.doc, None, "a tombstone");
}
