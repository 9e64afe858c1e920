//! Sharded stock in DynamoDB (the model is `domain::stock`).
//!
//! A product item says how its stock is laid out: `stock_shards` (N, the
//! shards checkout spreads over; absent means 1) and `shard_span` (how many
//! shard items may hold units; absent means none). Every write here that
//! depends on the layout is conditional on the product item still having
//! the layout it was planned against, so an admin changing N mid-move makes
//! the move fail instead of stranding units in a shard nobody reads.
//!
//! Shard items are never the product item: checkout's decrement of a shard
//! does not touch the product item at all, which is the point (its reads
//! go on at 3,000 a second; its writes would cap the sale again).

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    types::{ConditionCheck, Delete, TransactWriteItem, Update},
    Client,
};

use super::attr::{get_n, n};
use super::{built, StoreError, LIVE};
use crate::domain::stock::{Bin, Bins, Move, ShardCount, Take};
use crate::domain::{Product, Sku};
use crate::keys::{self, Item};

pub(crate) const STOCK_SHARDS: &str = "stock_shards";
pub(crate) const SHARD_SPAN: &str = "shard_span";

/// The layout a product item declares: `(stock_shards, shard_span)`.
pub(crate) fn layout_of(item: &Item) -> Result<(u8, u8), StoreError> {
    let shards = match item.get(STOCK_SHARDS) {
        Some(_) => get_n(item, STOCK_SHARDS)?,
        None => 1,
    };
    let span = match item.get(SHARD_SPAN) {
        Some(_) => get_n(item, SHARD_SPAN)?,
        None => 0,
    };
    Ok((shards, span))
}

/// The condition "still live, with this layout", on the product item
/// (`#pk` must be named by the caller's request).
fn layout_condition(shards: u8, span: u8) -> (String, Vec<(&'static str, u8)>) {
    let mut expression = LIVE.to_string();
    let mut values = Vec::new();
    if shards == 1 {
        expression
            .push_str(" AND (attribute_not_exists(stock_shards) OR stock_shards = :layout_n)");
    } else {
        expression.push_str(" AND stock_shards = :layout_n");
    }
    values.push((":layout_n", shards));
    if span == 0 {
        expression.push_str(" AND attribute_not_exists(shard_span)");
    } else {
        expression.push_str(" AND shard_span = :layout_span");
        values.push((":layout_span", span));
    }
    (expression, values)
}

/// The key that holds `bin` of `sku`.
pub(crate) fn bin_key(sku: &Sku, bin: Bin) -> Item {
    match bin {
        Bin::Product => keys::product::key(sku),
        Bin::Shard(i) => keys::product::shard(sku, i),
    }
}

/// A conditional decrement of `take` (a checkout's or a withdrawal's): the
/// units must be there, and the product (or its shard) not deleted. A
/// shard never written has no `stock`, so its condition fails too.
pub(crate) fn take_action(
    table: &str,
    sku: &Sku,
    take: Take,
) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(table)
            .set_key(Some(bin_key(sku, take.bin)))
            .update_expression("SET stock = stock - :qty")
            .condition_expression("stock >= :qty AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":qty", n(take.units))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Reads each product's shards (`0..span`, or `0..N` if more) and adds
/// their units to its `stock`: the SKU's total. Products without shards
/// cost nothing; the others one BatchGetItem per 100 shard keys.
pub(crate) async fn add_shard_units(
    client: &Client,
    table: &str,
    products: &mut [Product],
) -> Result<(), StoreError> {
    let mut wanted: Vec<(usize, u8)> = Vec::new();
    for (p, product) in products.iter().enumerate() {
        for i in 0..product.shards_to_read() {
            wanted.push((p, i));
        }
    }
    for chunk in wanted.chunks(100) {
        let keys = chunk
            .iter()
            .map(|(p, i)| keys::product::shard(&products[*p].sku, *i))
            .collect();
        let found = super::batch_get(client, table, keys).await?;
        for (p, i) in chunk {
            let key = keys::product::shard(&products[*p].sku, *i);
            if let Some(item) = found.iter().find(|item| super::has_key(item, &key)) {
                let units: u32 = held(item)?;
                let product = &mut products[*p];
                product.stock = product.stock.saturating_add(units);
            }
        }
    }
    Ok(())
}

fn held(item: &Item) -> Result<u32, StoreError> {
    match item.get("stock") {
        Some(_) => get_n(item, "stock"),
        None => Ok(0),
    }
}

/// Every bin of each SKU, read strongly consistent in one BatchGetItem
/// per 100 keys: the product item and its shards `0..reach` (as given).
/// Should the product item say its shards now reach further (staff raised
/// the count since the caller's read), those are read too, in one more
/// call, so no units go unseen. SKUs whose product item is gone are absent.
pub(crate) async fn read_bins(
    client: &Client,
    table: &str,
    skus: &[(Sku, u8)],
) -> Result<HashMap<Sku, Bins>, StoreError> {
    let mut reach: Vec<u8> = skus.iter().map(|(_, reach)| *reach).collect();
    let mut wanted: Vec<(usize, Bin)> = Vec::new();
    for (s, (_, span)) in skus.iter().enumerate() {
        wanted.push((s, Bin::Product));
        wanted.extend((0..*span).map(|i| (s, Bin::Shard(i))));
    }
    let mut bins: HashMap<Sku, Bins> = HashMap::new();
    let mut live = Vec::new();
    for _pass in 0..2 {
        let mut further = Vec::new();
        for chunk in wanted.chunks(100) {
            let keys = chunk
                .iter()
                .map(|(s, bin)| bin_key(&skus[*s].0, *bin))
                .collect();
            let found = super::batch_get(client, table, keys).await?;
            for (s, bin) in chunk {
                let sku = &skus[*s].0;
                let key = bin_key(sku, *bin);
                let item = found.iter().find(|item| super::has_key(item, &key));
                let units = item.map(held).transpose()?.unwrap_or(0);
                let entry = bins.entry(sku.clone()).or_default();
                match (bin, item) {
                    (Bin::Product, Some(item)) => {
                        live.push(sku.clone());
                        entry.product = units;
                        let (shards, span) = layout_of(item)?;
                        let needed = span.max(if shards > 1 { shards } else { 0 });
                        if needed > reach[*s] {
                            further.extend((reach[*s]..needed).map(|i| (*s, Bin::Shard(i))));
                            reach[*s] = needed;
                        }
                    }
                    (Bin::Product, None) => {}
                    (Bin::Shard(i), _) => {
                        let i = usize::from(*i);
                        if entry.shards.len() <= i {
                            entry.shards.resize(i + 1, 0);
                        }
                        entry.shards[i] = units;
                    }
                }
            }
        }
        if further.is_empty() {
            break;
        }
        wanted = further;
    }
    // No product item, no SKU: whatever its shards say.
    bins.retain(|sku, _| live.contains(sku));
    Ok(bins)
}

/// One move between two bins of `sku`, planned against the layout
/// `(shards, span)`: `false` when a condition failed (the units moved on,
/// or the layout changed), and nothing moved.
pub(crate) async fn move_units(
    client: &Client,
    table: &str,
    sku: &Sku,
    layout: (u8, u8),
    step: Move,
) -> Result<bool, StoreError> {
    let (condition, values) = layout_condition(layout.0, layout.1);
    let side = |bin: Bin, outgoing: bool| -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(table)
            .set_key(Some(bin_key(sku, bin)))
            .expression_attribute_values(":units", n(step.units));
        update = match (bin, outgoing) {
            (Bin::Product, true) => update
                .update_expression("SET stock = stock - :units")
                .condition_expression(format!("{condition} AND stock >= :units")),
            (Bin::Product, false) => update
                .update_expression("ADD stock :units")
                .condition_expression(&condition),
            (Bin::Shard(_), true) => update
                .update_expression("SET stock = stock - :units")
                .condition_expression("stock >= :units AND attribute_not_exists(deleted_at)"),
            (Bin::Shard(_), false) => update
                .update_expression("ADD stock :units")
                .condition_expression("attribute_not_exists(deleted_at)"),
        };
        if bin == Bin::Product {
            update = update.expression_attribute_names("#pk", keys::PK);
            for (name, value) in &values {
                update = update.expression_attribute_values(*name, n(value));
            }
        }
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    };
    let mut actions = vec![side(step.from, true)?, side(step.to, false)?];
    if step.from != Bin::Product && step.to != Bin::Product {
        let mut check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(keys::product::key(sku)))
            .condition_expression(&condition)
            .expression_attribute_names("#pk", keys::PK);
        for (name, value) in &values {
            check = check.expression_attribute_values(*name, n(value));
        }
        actions.push(
            TransactWriteItem::builder()
                .condition_check(built(check.build())?)
                .build(),
        );
    }
    Ok(super::transact(client, actions).await?.is_ok())
}

/// Lowers the span from `span` to what `shards` needs (N when sharded,
/// none when not), deleting the shards past it on condition that they are
/// empty; with no span left the SKU leaves the rebalancer's list. `false`
/// when a shard still held units or the layout changed.
pub(crate) async fn shrink_span(
    client: &Client,
    table: &str,
    sku: &Sku,
    shards: u8,
    span: u8,
) -> Result<bool, StoreError> {
    let keep = if shards > 1 { shards } else { 0 };
    if keep >= span {
        if shards == 1 {
            // Nothing sharded and nothing to drain: off the list.
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(keys::product::sharded(sku)))
                .send()
                .await?;
        }
        return Ok(true);
    }
    let mut actions = Vec::new();
    for i in keep..span {
        let delete = built(
            Delete::builder()
                .table_name(table)
                .set_key(Some(keys::product::shard(sku, i)))
                .condition_expression("attribute_not_exists(stock) OR stock = :zero")
                .expression_attribute_values(":zero", n(0))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().delete(delete).build());
    }
    let (condition, values) = layout_condition(shards, span);
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::product::key(sku)))
        .condition_expression(condition)
        .expression_attribute_names("#pk", keys::PK);
    for (name, value) in &values {
        update = update.expression_attribute_values(*name, n(value));
    }
    update = if keep == 0 {
        update.update_expression("REMOVE shard_span")
    } else {
        update
            .update_expression("SET shard_span = :keep")
            .expression_attribute_values(":keep", n(keep))
    };
    actions.push(
        TransactWriteItem::builder()
            .update(built(update.build())?)
            .build(),
    );
    if keep == 0 && shards == 1 {
        let unlist = built(
            Delete::builder()
                .table_name(table)
                .set_key(Some(keys::product::sharded(sku)))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().delete(unlist).build());
    }
    Ok(super::transact(client, actions).await?.is_ok())
}

/// The SKUs whose stock is (or is being un-) sharded, in SKU order.
pub(crate) async fn sharded_skus(client: &Client, table: &str) -> Result<Vec<Sku>, StoreError> {
    let partition = keys::product::sharded_partition();
    super::query_partition(client, table, None, partition, Some(keys::SK))
        .await?
        .iter()
        .map(|item| super::attr::get_parsed(item, keys::SK))
        .collect()
}

/// What one rebalancing of a SKU did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rebalanced {
    pub moves: u32,
    pub units: u64,
    /// Moves refused because the units or the layout moved on meanwhile;
    /// the next run plans again.
    pub skipped: u32,
    /// The span shrank (shards past N drained and deleted).
    pub shrunk: bool,
}

/// Reads a SKU's bins and evens them out for its N, then lets go of the
/// shards it no longer needs. Safe to run at any time, twice at once, or
/// against checkouts: every step is conditional (see `move_units`).
pub(crate) async fn rebalance(
    client: &Client,
    table: &str,
    sku: &Sku,
) -> Result<Rebalanced, StoreError> {
    let mut done = Rebalanced::default();
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(keys::product::key(sku)))
        .consistent_read(true)
        .send()
        .await?;
    let Some(item) = out.item.filter(super::is_live) else {
        return Ok(done);
    };
    let (shards, span) = layout_of(&item)?;
    let count = ShardCount::try_from(u64::from(shards)).map_err(StoreError::Corrupt)?;
    let reach = span.max(if shards > 1 { shards } else { 0 });
    let bins = read_bins(client, table, &[(sku.clone(), reach)])
        .await?
        .remove(sku)
        .unwrap_or_default();
    for step in bins.rebalance(count) {
        if move_units(client, table, sku, (shards, span), step).await? {
            done.moves += 1;
            done.units += u64::from(step.units);
        } else {
            done.skipped += 1;
        }
    }
    if done.skipped == 0 {
        let needed = if shards > 1 { shards } else { 0 };
        let shrinks = span > needed;
        done.shrunk = shrink_span(client, table, sku, shards, span).await? && shrinks;
    }
    Ok(done)
}
