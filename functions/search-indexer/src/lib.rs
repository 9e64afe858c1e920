//! Worker on the catalog queue: keeps the search log (store::search) up to
//! date with the catalog, one entry per `product.changed` event.
//!
//! It records the product as it reads it now, not as the event saw it, so
//! events handled out of order or twice still leave the newest state last
//! (search applies entries by catalog version); a deleted product is
//! recorded as a tombstone.

use quiet_core::{
    clock,
    events::{Change, Event, Topic},
    store::{LogEntry, OutboxStore, ProductStore, SearchDoc, SearchLog},
    worker::{Receipt, WorkerError},
};

pub struct Deps<P, L, X> {
    pub products: P,
    pub log: L,
    pub outbox: X,
}

pub async fn handle<P: ProductStore, L: SearchLog, X: OutboxStore>(
    deps: &Deps<P, L, X>,
    event: Event,
    _delivery: Receipt,
) -> Result<(), WorkerError> {
    let Change::ProductChanged { sku } = &event.change else {
        return Err(WorkerError::Malformed(format!(
            "{} does not belong on the catalog queue",
            event.change.name()
        )));
    };
    let product = deps.products.get(sku).await?;
    let entry = LogEntry {
        at_ms: clock::now_ms(),
        sku: sku.clone(),
        doc: product.as_ref().map(SearchDoc::from),
    };
    deps.log.record(&entry).await?;
    tracing::info!(%sku, live = entry.doc.is_some(), "search log updated");
    deps.outbox.ack(&event.event_id, Topic::Catalog).await?;
    Ok(())
}
