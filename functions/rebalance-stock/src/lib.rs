//! Scheduled: evens out every sharded SKU's stock over its shards, and
//! drains the shards of a SKU whose shard count went down (or back to 1)
//! into the rest (domain::stock, store::shards).
//!
//! Checkouts take from a random shard, so shards drift apart and one runs
//! dry while others hold units; returns land on the product item. A dry
//! shard costs its buyer two more calls (every bin read, then taken where
//! the units are), never a wrong answer, so this only keeps checkouts on
//! their fast path. Every move is a transaction conditional on the units
//! being there and the layout unchanged: runs can overlap each other, an
//! admin's re-sharding and a sale, and the SKU's total never moves.

use quiet_core::{
    domain::Sku,
    store::{ProductStore, Rebalanced},
    worker::WorkerError,
};
use serde::Serialize;

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Sharded SKUs looked at.
    pub skus: u32,
    pub moves: u32,
    pub units_moved: u64,
    /// Moves that lost a race with a checkout or an edit; planned again
    /// next run.
    pub skipped: u32,
    /// SKUs whose extra shards were drained and let go.
    pub shrunk: Vec<Sku>,
}

/// What this function needs; `main.rs` builds it once at init.
pub struct Deps<P> {
    pub products: P,
}

pub async fn handle<P: ProductStore>(deps: &Deps<P>) -> Result<Summary, WorkerError> {
    let products = &deps.products;
    let mut summary = Summary::default();
    for sku in products.sharded().await? {
        let Rebalanced {
            moves,
            units,
            skipped,
            shrunk,
        } = products.rebalance(&sku).await?;
        summary.skus += 1;
        summary.moves += moves;
        summary.units_moved += units;
        summary.skipped += skipped;
        if shrunk {
            summary.shrunk.push(sku);
        }
    }
    Ok(summary)
}
