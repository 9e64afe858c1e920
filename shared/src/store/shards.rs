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
//!
//! A SKU's total is its product item's units plus its shards', and no
//! DynamoDB read but a transaction sees several items at one instant: a
//! BatchGetItem reads them side by side. Units only ever move between bins
//! in the rebalancer's moves, so those are numbered, and every move
//! records its number twice: on the shards it touches (`last_move`) and,
//! for each of them, on the product item (`moved_<i>`), which also keeps
//! the count (`moves`, each move conditional on the count it planned
//! against, so numbers never repeat). A read of the product item and its
//! shards in one batch where every shard's `last_move` equals the product
//! item's `moved_<i>` saw no move half-done: a move between two of its
//! reads leaves a shard and the product item disagreeing about it. Any
//! disagreement, and the batch is read again.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    types::{Delete, TransactWriteItem, Update},
    Client,
};

use super::attr::{counter, n};
use super::product_item::{decode_product, layout_of};
use super::{built, StoreError, LIVE};
use crate::domain::stock::{self, Bin, Bins, Move, ShardCount, Take};
use crate::domain::{Product, Sku};
use crate::keys::{self, Item};

/// On the product item: how many moves there have been.
const MOVES: &str = "moves";
/// On a shard item: the number of the last move that touched it.
const LAST_MOVE: &str = "last_move";

/// Reads of a SKU's bins before one caught mid-move is taken as it is:
/// moves come in a burst a minute, so a second read nearly always holds.
const READ_ATTEMPTS: usize = 3;

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

/// How many units an item holds (a shard never written holds none).
fn held(item: &Item) -> Result<u32, StoreError> {
    counter(item, "stock")
}

/// The product item's record of the last move that touched shard `i`.
fn moved(i: u8) -> String {
    format!("moved_{i}")
}

/// A product item and the units of its shards, read together.
struct Counted {
    item: Item,
    shards: Vec<u32>,
}

impl Counted {
    fn bins(&self) -> Result<Bins, StoreError> {
        Ok(Bins {
            product: held(&self.item)?,
            shards: self.shards.clone(),
        })
    }
}

/// The shards an item's layout says may hold units, and at least `reach`.
fn reach_of(item: &Item, reach: u8) -> Result<u8, StoreError> {
    let (shards, span) = layout_of(item)?;
    Ok(reach.max(stock::shards_to_read(shards, span)))
}

/// Every bin of each SKU: its product item and shards (at least
/// `0..reach`, and as many as the product item says), in one strongly
/// consistent BatchGetItem per 100 keys, a SKU's keys never split. A read
/// whose shards and product item disagree about a move (see the module
/// doc), or that found the layout reaching further, is read again, up to
/// [`READ_ATTEMPTS`] in all. SKUs whose product item is gone or deleted
/// are absent.
async fn read_counted(
    client: &Client,
    table: &str,
    skus: &[(Sku, u8)],
) -> Result<HashMap<Sku, Counted>, StoreError> {
    let mut pending: Vec<(Sku, u8)> = skus.to_vec();
    let mut counted = HashMap::new();
    for attempt in 1..=READ_ATTEMPTS {
        let mut again = Vec::new();
        for batch in batches(&pending) {
            let mut keys = Vec::new();
            for (sku, reach) in batch {
                keys.push(keys::product::key(sku));
                keys.extend((0..*reach).map(|i| keys::product::shard(sku, i)));
            }
            let found = super::batch_get(client, table, keys).await?;
            let find = |key: &Item| found.iter().find(|item| super::has_key(item, key));
            for (sku, reach) in batch {
                let Some(item) = find(&keys::product::key(sku)).filter(|i| super::is_live(i))
                else {
                    continue;
                };
                let shards: Vec<_> = (0..*reach)
                    .map(|i| find(&keys::product::shard(sku, i)))
                    .collect();
                let (shards, agree) = tally(item, &shards)?;
                let wider = reach_of(item, *reach)?;
                if (agree && wider == *reach) || attempt == READ_ATTEMPTS {
                    if !agree {
                        tracing::warn!(%sku, "moves kept overtaking reads of its stock; counted as read");
                    }
                    counted.insert(
                        sku.clone(),
                        Counted {
                            item: item.clone(),
                            shards,
                        },
                    );
                } else {
                    again.push((sku.clone(), wider));
                }
            }
        }
        if again.is_empty() {
            break;
        }
        pending = again;
    }
    Ok(counted)
}

/// The units each shard holds, and whether the shards and the product
/// item (read in one batch) agree about every move that touched a shard:
/// if not, a move committed between two of the reads (see the module doc).
fn tally(product: &Item, shards: &[Option<&Item>]) -> Result<(Vec<u32>, bool), StoreError> {
    let mut units = Vec::with_capacity(shards.len());
    let mut agree = true;
    for (i, shard) in (0u8..).zip(shards) {
        units.push(shard.map(held).transpose()?.unwrap_or(0));
        let stamp: u64 = shard
            .map(|s| counter(s, LAST_MOVE))
            .transpose()?
            .unwrap_or(0);
        agree &= stamp == counter::<u64>(product, &moved(i))?;
    }
    Ok((units, agree))
}

/// Groups SKUs into batches of at most 100 keys (a product and its shards).
fn batches(skus: &[(Sku, u8)]) -> Vec<&[(Sku, u8)]> {
    let mut out = Vec::new();
    let (mut start, mut keys) = (0, 0);
    for (i, (_, reach)) in skus.iter().enumerate() {
        let these = 1 + usize::from(*reach);
        if keys + these > 100 {
            out.push(&skus[start..i]);
            (start, keys) = (i, 0);
        }
        keys += these;
    }
    if start < skus.len() {
        out.push(&skus[start..]);
    }
    out
}

/// Every bin of each SKU, as [`read_counted`] reads them.
pub(crate) async fn read_bins(
    client: &Client,
    table: &str,
    skus: &[(Sku, u8)],
) -> Result<HashMap<Sku, Bins>, StoreError> {
    read_counted(client, table, skus)
        .await?
        .into_iter()
        .map(|(sku, c)| Ok((sku, c.bins()?)))
        .collect()
}

/// Live products from their items, each with its total: an unsharded
/// product's is its item's; a sharded one's adds its shards', read after
/// the item in one BatchGetItem per 100 keys. The product item is not
/// read again (on a SKU on sale it is the hot item), so the shards are
/// checked against the item as given: the stamps of a move that came
/// between show (see the module doc), and only then is that SKU read
/// again, product item and shards in one batch ([`read_counted`]).
/// Deleted products are left out.
pub(crate) async fn products_counted(
    client: &Client,
    table: &str,
    items: Vec<Item>,
) -> Result<Vec<Product>, StoreError> {
    let mut products = Vec::with_capacity(items.len());
    for item in items {
        if let Some(product) = decode_product(&item)? {
            products.push((product, item));
        }
    }
    let mut wanted: Vec<(usize, u8)> = Vec::new();
    for (p, (product, _)) in products.iter().enumerate() {
        wanted.extend((0..product.shards_to_read()).map(|i| (p, i)));
    }
    if wanted.is_empty() {
        return Ok(products.into_iter().map(|(product, _)| product).collect());
    }
    let mut found: HashMap<(usize, u8), Item> = HashMap::new();
    for chunk in wanted.chunks(100) {
        let keys = chunk
            .iter()
            .map(|(p, i)| keys::product::shard(&products[*p].0.sku, *i))
            .collect();
        let items = super::batch_get(client, table, keys).await?;
        for (p, i) in chunk {
            let key = keys::product::shard(&products[*p].0.sku, *i);
            if let Some(item) = items.iter().find(|item| super::has_key(item, &key)) {
                found.insert((*p, *i), item.clone());
            }
        }
    }
    let mut overtaken = Vec::new();
    for (p, (product, item)) in products.iter_mut().enumerate() {
        let shards: Vec<_> = (0..product.shards_to_read())
            .map(|i| found.get(&(p, i)))
            .collect();
        let (units, agree) = tally(item, &shards)?;
        if agree {
            add_units(product, &units);
        } else {
            overtaken.push((product.sku.clone(), product.shards_to_read()));
        }
    }
    let mut again = if overtaken.is_empty() {
        HashMap::new()
    } else {
        read_counted(client, table, &overtaken).await?
    };
    let mut live = Vec::with_capacity(products.len());
    for (product, _) in products {
        if !overtaken.iter().any(|(sku, _)| *sku == product.sku) {
            live.push(product);
        } else if let Some(read) = again.remove(&product.sku) {
            if let Some(mut fresh) = decode_product(&read.item)? {
                add_units(&mut fresh, &read.shards);
                live.push(fresh);
            }
        }
    }
    Ok(live)
}

/// Adds the shards' units to the product item's own: the SKU's total.
fn add_units(product: &mut Product, shards: &[u32]) {
    product.stock = shards
        .iter()
        .fold(product.stock, |sum, u| sum.saturating_add(*u));
}

/// One move between two bins of `sku`, planned against the layout
/// `(shards, span)` and the product item's move count `seen`: `false` when
/// a condition failed (the units moved on, the layout changed, or another
/// move came first), and nothing moved. The product item counts the move
/// and the shards it touches carry its number (see the module doc).
pub(crate) async fn move_units(
    client: &Client,
    table: &str,
    sku: &Sku,
    layout: (u8, u8),
    seen: u64,
    step: Move,
) -> Result<bool, StoreError> {
    let (mut condition, values) = layout_condition(layout.0, layout.1);
    condition.push_str(if seen == 0 {
        " AND attribute_not_exists(moves)"
    } else {
        " AND moves = :seen"
    });
    let number = seen + 1;
    // The product item records the move against each shard it touches.
    let stamps: String = [step.from, step.to]
        .iter()
        .filter_map(|bin| match bin {
            Bin::Shard(i) => Some(format!(", {} = :number", moved(*i))),
            Bin::Product => None,
        })
        .collect();
    // The product item's side: units out, units in, or only the count.
    let product_side = |units: Option<Direction>| -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(table)
            .set_key(Some(keys::product::key(sku)))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":number", n(number));
        update = match units {
            Some(Direction::Out) => update
                .update_expression(format!(
                    "SET stock = stock - :units, moves = :number{stamps}"
                ))
                .condition_expression(format!("{condition} AND stock >= :units"))
                .expression_attribute_values(":units", n(step.units)),
            Some(Direction::In) => update
                .update_expression(format!("SET moves = :number{stamps} ADD stock :units"))
                .condition_expression(&condition)
                .expression_attribute_values(":units", n(step.units)),
            None => update
                .update_expression(format!("SET moves = :number{stamps}"))
                .condition_expression(&condition),
        };
        if seen > 0 {
            update = update.expression_attribute_values(":seen", n(seen));
        }
        for (name, value) in &values {
            update = update.expression_attribute_values(*name, n(value));
        }
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    };
    let shard_side = |i: u8, units: Direction| -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(keys::product::shard(sku, i)))
            .expression_attribute_values(":units", n(step.units))
            .expression_attribute_values(":number", n(number));
        let update = if units == Direction::Out {
            update
                .update_expression("SET stock = stock - :units, last_move = :number")
                .condition_expression("stock >= :units AND attribute_not_exists(deleted_at)")
        } else {
            update
                .update_expression("SET last_move = :number ADD stock :units")
                .condition_expression("attribute_not_exists(deleted_at)")
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    };
    let actions = match (step.from, step.to) {
        (Bin::Product, Bin::Shard(to)) => vec![
            product_side(Some(Direction::Out))?,
            shard_side(to, Direction::In)?,
        ],
        (Bin::Shard(from), Bin::Product) => vec![
            shard_side(from, Direction::Out)?,
            product_side(Some(Direction::In))?,
        ],
        (Bin::Shard(from), Bin::Shard(to)) => vec![
            shard_side(from, Direction::Out)?,
            shard_side(to, Direction::In)?,
            product_side(None)?,
        ],
        (Bin::Product, Bin::Product) => return Ok(true),
    };
    Ok(super::transact(client, actions).await?.is_ok())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Out,
    In,
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
    let keep = stock::shards_in_use(shards);
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
    // The deleted shards' move records go with them.
    let forget: String = (keep..span).map(|i| format!(", {}", moved(i))).collect();
    update = if keep == 0 {
        update.update_expression(format!("REMOVE shard_span{forget}"))
    } else {
        update
            .update_expression(format!("SET shard_span = :keep REMOVE {}", &forget[2..]))
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
    let Some(read) = read_counted(client, table, &[(sku.clone(), 0)])
        .await?
        .remove(sku)
    else {
        return Ok(done);
    };
    let (shards, span) = layout_of(&read.item)?;
    let mut seen: u64 = counter(&read.item, MOVES)?;
    let count = ShardCount::try_from(u64::from(shards)).map_err(StoreError::Corrupt)?;
    for step in read.bins()?.rebalance(count) {
        if move_units(client, table, sku, (shards, span), seen, step).await? {
            seen += 1;
            done.moves += 1;
            done.units += u64::from(step.units);
        } else {
            done.skipped += 1;
        }
    }
    if done.skipped == 0 {
        let shrinks = span > stock::shards_in_use(shards);
        done.shrunk = shrink_span(client, table, sku, shards, span).await? && shrinks;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attrs: &[(&str, u64)]) -> Item {
        attrs
            .iter()
            .map(|(name, value)| (name.to_string(), n(value)))
            .collect()
    }

    /// Move 3 took 4 units from the product item into shard 1.
    fn after_move_3() -> (Item, Vec<Item>) {
        let product = item(&[("stock", 2), ("moves", 3), ("moved_0", 2), ("moved_1", 3)]);
        let shards = vec![
            item(&[("stock", 5), ("last_move", 2)]),
            item(&[("stock", 7), ("last_move", 3)]),
            item(&[]),
        ];
        (product, shards)
    }

    #[test]
    fn a_read_between_moves_adds_up() {
        let (product, shards) = after_move_3();
        let read: Vec<_> = shards.iter().map(Some).collect();
        assert_eq!(
            tally(&product, &read).expect("tally"),
            (vec![5, 7, 0], true)
        );
    }

    #[test]
    fn a_read_that_a_move_overtook_is_caught_either_way() {
        let (product, shards) = after_move_3();
        // The product item as before move 3 (4 units more), shard 1 after
        // it: those 4 units would count twice.
        let early = item(&[("stock", 6), ("moves", 2), ("moved_0", 2), ("moved_1", 1)]);
        let read: Vec<_> = shards.iter().map(Some).collect();
        assert!(!tally(&early, &read).expect("tally").1);
        // The product item after it, shard 1 before it: counted nowhere.
        let before = item(&[("stock", 3), ("last_move", 1)]);
        let read = vec![Some(&shards[0]), Some(&before), Some(&shards[2])];
        assert!(!tally(&product, &read).expect("tally").1);
    }

    #[test]
    fn shards_never_moved_or_never_written_agree_with_a_product_never_moved() {
        let product = item(&[("stock", 9)]);
        let untouched = item(&[("stock", 1)]);
        let read = vec![Some(&untouched), None];
        assert_eq!(tally(&product, &read).expect("tally"), (vec![1, 0], true));
    }
}
