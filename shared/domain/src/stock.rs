//! Sharded stock: where a SKU's units are, and how to take or move them.
//!
//! One DynamoDB item sustains about 1,000 write units a second and a
//! checkout's transactional decrement costs two, so one stock counter caps a
//! flash sale near 500 checkouts a second (docs/FLASH-SALE.md). A hot SKU's
//! stock is therefore kept in *bins*: the product item's own `stock`, and
//! shard items `0..span` beside it. The SKU's stock is their sum.
//!
//! - Checkout takes from one shard chosen at random; when that shard is
//!   short it reads every bin and takes across them ([`Bins::take`]).
//! - Units that come back (a cancel, an expiry, a restock, an admin's
//!   increment) land in the product item: one plain ADD, no plan needed.
//! - The rebalancer ([`Bins::rebalance`]) moves units so each of the first
//!   `shards` bins holds an even share and everything else holds none.
//!
//! Every move and take is conditional on the units being there, so the
//! sum never changes except by a sale or a return: nothing is oversold
//! and nothing is lost, whatever runs at the same time.

use serde::Deserialize;

/// The most shards one SKU may have.
pub const MAX_SHARDS: u8 = 32;

/// How many shards a SKU's stock is spread over: 1 (not sharded) to 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "u64")]
pub struct ShardCount(u8);

impl ShardCount {
    pub const ONE: Self = Self(1);

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn is_sharded(self) -> bool {
        self.0 > 1
    }
}

impl TryFrom<u64> for ShardCount {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        u8::try_from(value)
            .ok()
            .filter(|n| (1..=MAX_SHARDS).contains(n))
            .map(Self)
            .ok_or_else(|| format!("must be an integer from 1 to {MAX_SHARDS}"))
    }
}

/// Where units are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bin {
    /// The product item's own `stock`.
    Product,
    /// Shard item `i` (0-based).
    Shard(u8),
}

/// Units to take from one bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub bin: Bin,
    pub units: u32,
}

/// Units to move from one bin to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub from: Bin,
    pub to: Bin,
    pub units: u32,
}

/// What each bin of one SKU held when read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bins {
    pub product: u32,
    /// Shard `i` at index `i`; shards never written read as 0.
    pub shards: Vec<u32>,
}

impl Bins {
    pub fn total(&self) -> u64 {
        u64::from(self.product) + self.shards.iter().map(|s| u64::from(*s)).sum::<u64>()
    }

    fn each(&self) -> impl Iterator<Item = (Bin, u32)> + '_ {
        std::iter::once((Bin::Product, self.product)).chain(
            self.shards
                .iter()
                .enumerate()
                .map(|(i, units)| (Bin::Shard(shard_index(i)), *units)),
        )
    }

    /// `units` from one bin that holds them all, chosen by `random` among
    /// those that do (buyers retrying at once spread out instead of racing
    /// for the same one); failing that, from the richest bins first (the
    /// fewest writes), in at most `max_bins` bins. `None` when the bins
    /// hold fewer units, or `max_bins` of them cannot make up the quantity.
    pub fn take(&self, units: u32, max_bins: usize, random: u32) -> Option<Vec<Take>> {
        let whole: Vec<Bin> = self
            .each()
            .filter(|(_, held)| *held >= units && units > 0)
            .map(|(bin, _)| bin)
            .collect();
        if !whole.is_empty() && max_bins > 0 {
            let at = usize::try_from(random).unwrap_or(0) % whole.len();
            return Some(vec![Take {
                bin: whole[at],
                units,
            }]);
        }
        let mut bins: Vec<(Bin, u32)> = self.each().filter(|(_, u)| *u > 0).collect();
        bins.sort_by_key(|(_, held)| std::cmp::Reverse(*held));
        let mut left = units;
        let mut takes = Vec::new();
        for (bin, held) in bins.into_iter().take(max_bins) {
            if left == 0 {
                break;
            }
            let units = held.min(left);
            takes.push(Take { bin, units });
            left -= units;
        }
        (left == 0 && units > 0).then_some(takes)
    }

    /// The moves that leave shards `0..shards` an even share each (the
    /// first ones one unit more when it does not divide) and every other
    /// bin empty. With one shard, "sharded off", everything goes back to
    /// the product item.
    pub fn rebalance(&self, shards: ShardCount) -> Vec<Move> {
        let total = self.total();
        let n = shards.get();
        let target = |bin: Bin| -> u64 {
            match bin {
                Bin::Product if n == 1 => total,
                Bin::Shard(i) if n > 1 && i < n => {
                    let (share, rest) = (total / u64::from(n), total % u64::from(n));
                    share + u64::from(u64::from(i) < rest)
                }
                _ => 0,
            }
        };
        // Every target bin is listed, even one never written.
        let mut bins: Vec<(Bin, u32)> = self.each().collect();
        for i in shard_count(self.shards.len())..n {
            bins.push((Bin::Shard(i), 0));
        }
        let mut surplus: Vec<(Bin, u64)> = Vec::new();
        let mut deficit: Vec<(Bin, u64)> = Vec::new();
        for (bin, held) in bins {
            let (held, want) = (u64::from(held), target(bin));
            if held > want {
                surplus.push((bin, held - want));
            } else if want > held {
                deficit.push((bin, want - held));
            }
        }
        let mut moves = Vec::new();
        let (mut s, mut d) = (0, 0);
        while s < surplus.len() && d < deficit.len() {
            let units = surplus[s].1.min(deficit[d].1);
            moves.push(Move {
                from: surplus[s].0,
                to: deficit[d].0,
                // Never more than one bin holds, which is a u32.
                units: u32::try_from(units).unwrap_or(u32::MAX),
            });
            surplus[s].1 -= units;
            deficit[d].1 -= units;
            if surplus[s].1 == 0 {
                s += 1;
            }
            if deficit[d].1 == 0 {
                d += 1;
            }
        }
        moves
    }
}

fn shard_index(i: usize) -> u8 {
    // Bins hold at most MAX_SHARDS shards.
    u8::try_from(i).unwrap_or(u8::MAX)
}

fn shard_count(len: usize) -> u8 {
    shard_index(len)
}

/// The shard items a layout of `stock_shards` over `shard_span` may have
/// units in: `0..` the span, or N if more (N = 1 means none: the units
/// are on the product item).
pub fn shards_to_read(stock_shards: u8, shard_span: u8) -> u8 {
    shard_span.max(shards_in_use(stock_shards))
}

/// The shard items N spreads units over: N, or none for N = 1.
pub fn shards_in_use(stock_shards: u8) -> u8 {
    if stock_shards > 1 {
        stock_shards
    } else {
        0
    }
}

/// A uniformly random `u32` from the OS source (0 if it fails: the choice
/// is then merely not spread).
pub fn random() -> u32 {
    quiet_support::id::try_random_u32().unwrap_or(0)
}

/// The shard a checkout tries first: uniform over `0..shards`, from a
/// random `u32`.
pub fn pick(shards: ShardCount, random: u32) -> Bin {
    if shards.is_sharded() {
        // The remainder of a u32 by at most 32 fits in a u8.
        Bin::Shard(u8::try_from(random % u32::from(shards.get())).unwrap_or(0))
    } else {
        Bin::Product
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(n: u8) -> ShardCount {
        ShardCount::try_from(u64::from(n)).expect("valid")
    }

    fn slot(bins: &mut Bins, bin: Bin) -> &mut u32 {
        match bin {
            Bin::Product => &mut bins.product,
            Bin::Shard(i) => {
                let i = usize::from(i);
                if bins.shards.len() <= i {
                    bins.shards.resize(i + 1, 0);
                }
                &mut bins.shards[i]
            }
        }
    }

    fn apply(bins: &Bins, moves: &[Move]) -> Bins {
        let mut after = bins.clone();
        for m in moves {
            let from = slot(&mut after, m.from);
            assert!(*from >= m.units, "a move takes only what is there: {m:?}");
            *from -= m.units;
            *slot(&mut after, m.to) += m.units;
        }
        after
    }

    #[test]
    fn shard_count_is_one_to_thirty_two() {
        assert!(ShardCount::try_from(0).is_err());
        assert!(ShardCount::try_from(33).is_err());
        assert!(ShardCount::try_from(300).is_err());
        assert_eq!(count(32).get(), 32);
        assert!(!count(1).is_sharded());
    }

    #[test]
    fn sharding_spreads_the_product_items_units_evenly() {
        let bins = Bins {
            product: 10,
            shards: vec![],
        };
        let after = apply(&bins, &bins.rebalance(count(4)));
        assert_eq!(after.product, 0);
        assert_eq!(after.shards, vec![3, 3, 2, 2]);
    }

    #[test]
    fn sharding_off_brings_every_unit_home() {
        let bins = Bins {
            product: 1,
            shards: vec![4, 0, 7],
        };
        let after = apply(&bins, &bins.rebalance(ShardCount::ONE));
        assert_eq!(after.product, 12);
        assert!(after.shards.iter().all(|s| *s == 0));
    }

    #[test]
    fn a_take_spans_bins_richest_first_and_refuses_what_is_not_there() {
        let bins = Bins {
            product: 1,
            shards: vec![2, 5, 0],
        };
        let takes = bins.take(7, 10, 0).expect("7 of 8");
        assert_eq!(
            takes,
            vec![
                Take {
                    bin: Bin::Shard(1),
                    units: 5
                },
                Take {
                    bin: Bin::Shard(0),
                    units: 2
                }
            ]
        );
        assert_eq!(bins.take(9, 10, 0), None);
        assert_eq!(bins.take(8, 2, 0), None, "two bins hold only 7");
        assert_eq!(bins.take(0, 10, 0), None);
    }

    #[test]
    fn a_take_one_bin_can_cover_is_spread_over_the_bins_that_can() {
        let bins = Bins {
            product: 0,
            shards: vec![3, 1, 2, 5],
        };
        let chosen: Vec<Bin> = (0..6)
            .map(|r| bins.take(2, 10, r).expect("plenty")[0].bin)
            .collect();
        assert_eq!(
            chosen,
            [0, 2, 3, 0, 2, 3].map(Bin::Shard),
            "only shards holding 2 or more, in turn"
        );
    }

    #[test]
    fn the_first_try_is_a_shard_only_when_sharded() {
        assert_eq!(pick(ShardCount::ONE, 7), Bin::Product);
        assert_eq!(pick(count(4), 7), Bin::Shard(3));
        assert_eq!(pick(count(32), u32::MAX), Bin::Shard(31));
    }

    proptest! {
        // Any bins, any target: the moves take only what is there, keep
        // the sum, and leave exactly the even layout.
        #[test]
        fn rebalancing_conserves_units_and_reaches_the_even_layout(
            product in 0..=1_000_000u32,
            shards in proptest::collection::vec(0..=1_000_000u32, 0..=32),
            n in 1..=32u8,
        ) {
            let bins = Bins { product, shards };
            let after = apply(&bins, &bins.rebalance(count(n)));
            prop_assert_eq!(after.total(), bins.total());
            let total = bins.total();
            if n == 1 {
                prop_assert_eq!(u64::from(after.product), total);
            } else {
                prop_assert_eq!(after.product, 0);
                let share = total / u64::from(n);
                for (i, held) in after.shards.iter().enumerate() {
                    let held = u64::from(*held);
                    if i < usize::from(n) {
                        prop_assert!(held == share || held == share + 1, "shard {i}: {held}");
                    } else {
                        prop_assert_eq!(held, 0);
                    }
                }
            }
        }

        // A take is exactly the quantity, from bins that hold it.
        #[test]
        fn a_take_is_exact_or_refused(
            product in 0..=100u32,
            shards in proptest::collection::vec(0..=100u32, 0..=32),
            units in 1..=500u32,
            max_bins in 1..=33usize,
            random in any::<u32>(),
        ) {
            let bins = Bins { product, shards };
            match bins.take(units, max_bins, random) {
                Some(takes) => {
                    prop_assert!(takes.len() <= max_bins);
                    prop_assert_eq!(takes.iter().map(|t| t.units).sum::<u32>(), units);
                    let moves: Vec<Move> = takes
                        .iter()
                        .map(|t| Move { from: t.bin, to: Bin::Shard(40), units: t.units })
                        .collect();
                    apply(&bins, &moves);
                }
                None => {
                    let mut held: Vec<u64> = std::iter::once(bins.product)
                        .chain(bins.shards.iter().copied())
                        .map(u64::from)
                        .collect();
                    held.sort_unstable_by(|a, b| b.cmp(a));
                    prop_assert!(held.iter().take(max_bins).sum::<u64>() < u64::from(units));
                }
            }
        }
    }
}
