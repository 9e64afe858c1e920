//! The catalog's types: SKU, category, a page size, and the product itself.

use serde::{Deserialize, Serialize};

use super::{money::Money, stock::ShardCount, text::Text};

fn matches_charset(value: &str, len: std::ops::RangeInclusive<usize>, ok: fn(u8) -> bool) -> bool {
    len.contains(&value.len()) && value.bytes().all(ok)
}

/// A stock-keeping unit: `[A-Z0-9-]{3,40}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if matches_charset(&value, 3..=40, |b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'
        }) {
            Ok(Self(value))
        } else {
            Err("must be 3 to 40 characters of A-Z, 0-9 and -".into())
        }
    }
}

impl From<Sku> for String {
    fn from(value: Sku) -> Self {
        value.0
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A catalog category slug: `[a-z0-9-]{1,50}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Category {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if matches_charset(&value, 1..=50, |b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
        }) {
            Ok(Self(value))
        } else {
            Err("must be 1 to 50 characters of a-z, 0-9 and -".into())
        }
    }
}

impl From<Category> for String {
    fn from(value: Category) -> Self {
        value.0
    }
}

/// How many items a list page holds: 1..=100, 20 when not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u8);

impl PageLimit {
    pub const DEFAULT: Self = Self(20);
    pub const MAX: u8 = 100;
    pub const LARGEST: Self = Self(Self::MAX);

    pub fn get(self) -> usize {
        usize::from(self.0)
    }

    /// Parses the `limit` query parameter; `None` means the default.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else {
            return Ok(Self::DEFAULT);
        };
        match raw.parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!("must be an integer from 1 to {}", Self::MAX)),
        }
    }
}

pub type ProductName = Text<1, 200>;
pub type Description = Text<0, 2000, true>;

/// Stock on hand, in units. Creation caps it at a million; later increments
/// are bounded by the same cap so sums can never overflow.
pub const MAX_STOCK: u32 = 1_000_000;

/// A live catalog product as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Product {
    pub sku: Sku,
    #[schema(inline)]
    pub name: ProductName,
    #[schema(inline)]
    pub description: Description,
    pub category: Category,
    pub price: Money,
    /// Units available now; for a sharded SKU, the total over its shards.
    // (`ProductStore` reads add the shards; checkout's pricing read does
    // not, and leaves a sharded SKU's stock to its shards' conditions.)
    pub stock: u32,
    /// How many shards the stock is spread over (1: not sharded); an
    /// admin sets it for a flash sale (`PATCH` with `stock_shards`).
    #[schema(minimum = 1, maximum = 32)]
    pub stock_shards: u8,
    /// How many shard items may hold units (`0..span`), which can exceed
    /// `stock_shards` while a smaller count is being drained into the rest.
    #[serde(skip)]
    pub shard_span: u8,
    /// Counts catalog edits (name, description, category, price); stock
    /// moves do not bump it, so concurrent buyers never fail an admin edit.
    pub version: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Product {
    /// Whether any units may be in shard items: spread for a sale, or
    /// still being drained back after one.
    pub fn is_sharded(&self) -> bool {
        self.stock_shards > 1 || self.shard_span > 0
    }

    /// The shard count checkout spreads over (1 for a stored value out of
    /// range, which only a manual edit could write).
    pub fn shard_count(&self) -> ShardCount {
        ShardCount::try_from(u64::from(self.stock_shards)).unwrap_or(ShardCount::ONE)
    }

    /// How many shard items may hold units: the span, or N if more.
    pub fn shards_to_read(&self) -> u8 {
        super::stock::shards_to_read(self.stock_shards, self.shard_span)
    }

    /// A strong validator over everything the representation shows that can
    /// change: edits bump `version`, purchases move `stock`.
    pub fn etag(&self) -> String {
        format!("\"v{}-s{}\"", self.version, self.stock)
    }

    /// The catalog version an ETag of ours names. Only edits are guarded by
    /// it: a purchase since the client's read changes `stock`, not the
    /// fields an admin edits, so it must not fail their `If-Match`.
    pub fn version_in_etag(etag: &str) -> Option<u64> {
        let inner = etag.strip_prefix('"')?.strip_suffix('"')?;
        let (version, stock) = inner.strip_prefix('v')?.split_once("-s")?;
        stock.parse::<u32>().ok()?;
        version.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_accepts_only_its_charset_and_length() {
        for good in ["ABC", "TEA-001", &"A".repeat(40)] {
            assert!(Sku::try_from(good.to_string()).is_ok(), "{good}");
        }
        for bad in [
            "AB",
            "abc-1",
            "TEA 001",
            "TEA_001",
            "ÄBC",
            &"A".repeat(41),
            "",
        ] {
            assert!(Sku::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn category_accepts_only_its_charset_and_length() {
        assert!(Category::try_from("tea-ware".to_string()).is_ok());
        for bad in ["", "Tea", "tea ware", "tea/ware", &"a".repeat(51)] {
            assert!(Category::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn etag_version_round_trips_and_rejects_weak_or_foreign_tags() {
        assert_eq!(Product::version_in_etag("\"v12-s3\""), Some(12));
        for bad in [
            "W/\"v12-s3\"",
            "v12-s3",
            "\"v12\"",
            "\"x12-s3\"",
            "\"v-1-s3\"",
            "*",
        ] {
            assert_eq!(Product::version_in_etag(bad), None, "{bad}");
        }
    }

    #[test]
    fn page_limit_defaults_and_bounds() {
        assert_eq!(PageLimit::parse(None), Ok(PageLimit::DEFAULT));
        assert_eq!(PageLimit::parse(Some("1")).map(PageLimit::get), Ok(1));
        assert_eq!(PageLimit::parse(Some("100")).map(PageLimit::get), Ok(100));
        for bad in ["0", "101", "abc", "-1", "", "1.5", "1000"] {
            assert!(PageLimit::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
