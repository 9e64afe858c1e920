//! Discount codes: what a promotion is, whether it applies to a cart, and
//! how its discount is split over the cart's lines.
//!
//! Money stays integer minor units throughout. A percent discount is
//! `floor(eligible * percent / 100)`, so a 15% code never takes more than
//! 15%; a fixed discount is capped at the eligible subtotal. Either is then
//! allocated over the eligible lines in proportion to their totals by the
//! largest-remainder method, so the lines always sum to the discount
//! exactly and no line is discounted below zero.

use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    line::Line,
    money::{Currency, Money, Total},
    product::{Category, Sku},
};

/// A discount code: `[A-Z0-9-]{3,32}`, case-insensitive (stored and shown
/// in capitals, so `summer-10` and `SUMMER-10` are one code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Za-z0-9-]{3,32}$")]
pub struct PromoCode(String);

impl PromoCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PromoCode {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let upper = value.to_ascii_uppercase();
        if (3..=32).contains(&upper.len())
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            Ok(Self(upper))
        } else {
            Err("must be 3 to 32 characters of A-Z, 0-9 and -".into())
        }
    }
}

impl From<PromoCode> for String {
    fn from(value: PromoCode) -> Self {
        value.0
    }
}

impl std::fmt::Display for PromoCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole percentage, 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u8")]
pub struct Percent(u8);

impl Percent {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u64> for Percent {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match u8::try_from(value) {
            Ok(p) if (1..=100).contains(&p) => Ok(Self(p)),
            _ => Err("must be an integer from 1 to 100".into()),
        }
    }
}

impl From<Percent> for u8 {
    fn from(value: Percent) -> Self {
        value.0
    }
}

/// What the code takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reward {
    /// `percent` off the eligible lines.
    Percent {
        #[schema(value_type = u8, minimum = 1, maximum = 100)]
        percent: Percent,
    },
    /// A fixed amount off the eligible lines, at most their subtotal.
    Fixed { amount: Money },
}

/// Which lines a code applies to: all of them when both lists are empty,
/// else the lines whose SKU or category is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(
        default,
        deserialize_with = "bounded",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schema(value_type = Vec<String>, max_items = 100)]
    pub skus: Vec<Sku>,
    #[serde(
        default,
        deserialize_with = "bounded",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schema(value_type = Vec<String>, max_items = 100)]
    pub categories: Vec<Category>,
}

impl Scope {
    pub const MAX_ENTRIES: usize = 100;

    pub fn is_everything(&self) -> bool {
        self.skus.is_empty() && self.categories.is_empty()
    }

    /// A line whose category is unknown (`None`) is matched by SKU only.
    pub fn covers(&self, sku: &Sku, category: Option<&Category>) -> bool {
        self.is_everything()
            || self.skus.contains(sku)
            || category.is_some_and(|c| self.categories.contains(c))
    }
}

/// How many times a code may be redeemed in all: 1..=1,000,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u32")]
pub struct RedemptionLimit(u32);

impl RedemptionLimit {
    pub const MAX: u32 = 1_000_000_000;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u64> for RedemptionLimit {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match u32::try_from(value) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!("must be an integer from 1 to {}", Self::MAX)),
        }
    }
}

impl From<RedemptionLimit> for u32 {
    fn from(value: RedemptionLimit) -> Self {
        value.0
    }
}

/// At most [`Scope::MAX_ENTRIES`] entries, refused while parsing.
fn bounded<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Vec<T>, D::Error> {
    let entries = Vec::<T>::deserialize(de)?;
    if entries.len() > Scope::MAX_ENTRIES {
        return Err(serde::de::Error::custom(format!(
            "at most {} entries",
            Scope::MAX_ENTRIES
        )));
    }
    Ok(entries)
}

/// An instant, written RFC 3339 and kept as epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Instant(i64);

impl Instant {
    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub fn unix(self) -> i64 {
        self.0
    }
}

impl TryFrom<String> for Instant {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        OffsetDateTime::parse(&value, &Rfc3339)
            .map(|at| Self(at.unix_timestamp()))
            .map_err(|_| "must be an RFC 3339 date-time, like 2026-12-24T00:00:00Z".into())
    }
}

impl From<Instant> for String {
    fn from(value: Instant) -> Self {
        OffsetDateTime::from_unix_timestamp(value.0)
            .ok()
            .and_then(|at| at.format(&Rfc3339).ok())
            .unwrap_or_else(|| value.0.to_string())
    }
}

/// A promotion as staff write it: the code and its rules. Redemptions,
/// version and timestamps are the server's: sending one is a 422.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub code: PromoCode,
    pub discount: Reward,
    /// The eligible lines must add up to at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_subtotal: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Instant>,
    /// Total redemptions allowed, across all customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000000)]
    pub max_redemptions: Option<RedemptionLimit>,
    #[serde(default)]
    pub once_per_customer: bool,
    #[serde(default, skip_serializing_if = "Scope::is_everything")]
    pub scope: Scope,
}

/// Why a code does not apply. Each reads as a sentence a shopper can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this code is not valid")]
    Unknown,
    #[error("this code is not active yet")]
    NotStarted,
    #[error("this code has expired")]
    Expired,
    #[error("this code has been fully redeemed")]
    Exhausted,
    /// Checkout's condition failed: the counter reached its limit or the
    /// rules were edited after they were read.
    #[error("this code ran out or changed while you were checking out")]
    RanOut,
    #[error("you have already used this code")]
    AlreadyUsed,
    /// Staff edited the code after it went on the cart.
    #[error(
        "this code changed after it was added to your cart; add it again to see its new terms"
    )]
    Changed,
    #[error("this code does not apply to anything in your cart")]
    OutOfScope,
    #[error("this code needs a subtotal of at least {0} (minor units) on the items it applies to")]
    BelowMinimum(u64),
    #[error("this code is in another currency than your cart")]
    OtherCurrency,
}

impl Rules {
    /// Checks the rules as an admin writes them: they must be satisfiable.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at) {
            if end <= start {
                return Err(("ends_at", "must be after starts_at".into()));
            }
        }
        Ok(())
    }

    /// Whether the code is usable at `now` (epoch seconds).
    pub fn active_at(&self, now: i64) -> Result<(), Refusal> {
        if self.starts_at.is_some_and(|start| now < start.unix()) {
            return Err(Refusal::NotStarted);
        }
        if self.ends_at.is_some_and(|end| now >= end.unix()) {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// Sets each line's `discount` to its share of this promotion's, at
    /// `now`; or says why the code does not apply, leaving the lines as
    /// they were. `categories` are the lines' categories, in order.
    pub fn apply(
        &self,
        lines: &mut [Line],
        categories: &[Option<&Category>],
        now: i64,
    ) -> Result<(), Refusal> {
        self.active_at(now)?;
        let currency = lines
            .first()
            .map_or(Currency::Usd, |line| line.line_total.currency);
        let input: Vec<(Total, &Sku, Option<&Category>)> = lines
            .iter()
            .zip(categories.iter().chain(std::iter::repeat(&None)))
            .map(|(line, category)| (line.line_total, &line.sku, *category))
            .collect();
        let shares = self.discount(&input, currency)?;
        for (line, share) in lines.iter_mut().zip(shares) {
            line.discount = Total {
                amount: share,
                currency,
            };
        }
        Ok(())
    }

    /// The discount on `lines` (line total, SKU, category), allocated per
    /// line in the same order; or why the code does not apply.
    pub fn discount(
        &self,
        lines: &[(Total, &Sku, Option<&Category>)],
        currency: Currency,
    ) -> Result<Vec<u64>, Refusal> {
        let eligible: Vec<u64> = lines
            .iter()
            .map(|(total, sku, category)| {
                if self.scope.covers(sku, *category) {
                    total.amount
                } else {
                    0
                }
            })
            .collect();
        if !lines
            .iter()
            .any(|(_, sku, category)| self.scope.covers(sku, *category))
        {
            return Err(Refusal::OutOfScope);
        }
        let base: u64 = eligible.iter().sum();
        if let Some(min) = self.min_subtotal {
            if min.currency != currency {
                return Err(Refusal::OtherCurrency);
            }
            if base < min.amount.get() {
                return Err(Refusal::BelowMinimum(min.amount.get()));
            }
        }
        let discount = match self.discount {
            Reward::Percent { percent } => percent_of(base, percent),
            Reward::Fixed { amount } => {
                if amount.currency != currency {
                    return Err(Refusal::OtherCurrency);
                }
                amount.amount.get().min(base)
            }
        };
        Ok(allocate(discount, &eligible))
    }
}

/// `floor(base * percent / 100)`, in 128 bits so no cart can overflow it.
pub fn percent_of(base: u64, percent: Percent) -> u64 {
    let exact = u128::from(base) * u128::from(percent.get()) / 100;
    // Never more than `base`, which is a u64.
    u64::try_from(exact).unwrap_or(base)
}

/// Splits `amount` over `weights` in proportion, by largest remainder: each
/// share is the floor of its exact proportion, and the units left over go
/// one each to the largest fractional parts (earlier lines first on a tie).
/// The shares sum to `amount` exactly when `amount <= sum(weights)`, and no
/// share exceeds its weight. A zero weight gets nothing.
pub fn allocate(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if total == 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let amount = u128::from(amount).min(total);
    let mut shares: Vec<u128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, weight) in weights.iter().enumerate() {
        let exact = amount * u128::from(*weight);
        shares.push(exact / total);
        remainders.push((exact % total, i));
    }
    let handed_out: u128 = shares.iter().sum();
    let mut left = amount - handed_out;
    // Largest remainder first; the stable sort keeps earlier lines first.
    remainders.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (remainder, i) in remainders {
        if left == 0 {
            break;
        }
        if remainder > 0 {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
        .into_iter()
        .map(|share| u64::try_from(share).unwrap_or(u64::MAX))
        .collect()
}

/// A promotion as the admin API shows it: what staff wrote, and the
/// server's counter, version and timestamps, in one flat object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    #[serde(flatten)]
    pub rules: Rules,
    pub redemptions: u32,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// The fields [`Promotion`] adds to [`Rules`], for its schema only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ServerFields {
    /// Orders placed with this code and not cancelled or expired.
    redemptions: u32,
    /// Counts edits of the rules; the ETag is `"v<version>"`.
    version: u64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

// utoipa documents a flattened struct as `allOf`, which with Rules'
// `additionalProperties: false` would forbid the server's own fields; the
// schema is Rules' object with those fields added instead.
impl utoipa::PartialSchema for Promotion {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{schema::Schema, RefOr};
        let (RefOr::T(Schema::Object(mut object)), RefOr::T(Schema::Object(server))) = (
            <Rules as utoipa::PartialSchema>::schema(),
            <ServerFields as utoipa::PartialSchema>::schema(),
        ) else {
            unreachable!("both derive object schemas")
        };
        object.properties.extend(server.properties);
        object.required.extend(server.required);
        object.description = Some(
            "A promotion as the admin API shows it: the rules staff wrote, and the \
             server's counter, version and timestamps."
                .into(),
        );
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for Promotion {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Rules as utoipa::ToSchema>::schemas(schemas);
    }
}

impl Promotion {
    pub fn code(&self) -> &PromoCode {
        &self.rules.code
    }

    /// A strong ETag naming the rules' version (`"v3"`); redemptions do
    /// not change it, so a rush on the code never fails an admin's If-Match.
    pub fn etag(&self) -> String {
        format!("\"v{}\"", self.version)
    }

    pub fn version_in_etag(etag: &str) -> Option<u64> {
        etag.strip_prefix("\"v")?.strip_suffix('"')?.parse().ok()
    }

    /// Whether the total limit is reached (as read; checkout's condition is
    /// what enforces it).
    pub fn exhausted(&self) -> bool {
        self.rules
            .max_redemptions
            .is_some_and(|max| self.redemptions >= max.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sku(s: &str) -> Sku {
        Sku::try_from(s.to_string()).expect("sku")
    }

    fn category(s: &str) -> Category {
        Category::try_from(s.to_string()).expect("category")
    }

    fn usd(amount: u64) -> Total {
        Total {
            amount,
            currency: Currency::Usd,
        }
    }

    fn rules(value: serde_json::Value) -> Rules {
        serde_json::from_value(value).expect("valid rules")
    }

    #[test]
    fn codes_are_case_insensitive_and_bounded() {
        let code = PromoCode::try_from("summer-10".to_string()).expect("valid");
        assert_eq!(code.as_str(), "SUMMER-10");
        for bad in ["AB", &"A".repeat(33), "SUMMER 10", "SOMMER_10", "ÉTÉ10"] {
            assert!(PromoCode::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocation_example_sums_exactly() {
        // 10% of 3 lines of 333 = 99.9 -> 99, split 33/33/33.
        assert_eq!(allocate(99, &[333, 333, 333]), [33, 33, 33]);
        // 100 over 1:1:1 -> 34/33/33, the first line takes the tie.
        assert_eq!(allocate(100, &[100, 100, 100]), [34, 33, 33]);
        // Never more than the weights hold.
        assert_eq!(allocate(100, &[1, 1, 1]), [1, 1, 1]);
        assert_eq!(allocate(5, &[0, 10, 0]), [0, 5, 0]);
        assert_eq!(allocate(0, &[5, 5]), [0, 0]);
        assert_eq!(allocate(50, &[10, 20]), [10, 20]);
    }

    #[test]
    fn percent_discounts_round_down_and_respect_scope() {
        let r = rules(
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 15}, "scope": {"categories": ["coffee"]}}),
        );
        let (a, b) = (sku("BEANS"), sku("MUG"));
        let (coffee, kitchen) = (category("coffee"), category("kitchen"));
        let lines = [
            (usd(999), &a, Some(&coffee)),
            (usd(1500), &b, Some(&kitchen)),
        ];
        // 15% of 999 = 149.85 -> 149, all on the coffee line.
        assert_eq!(r.discount(&lines, Currency::Usd), Ok(vec![149, 0]));
        let only_mugs = [(usd(1500), &b, Some(&kitchen))];
        assert_eq!(
            r.discount(&only_mugs, Currency::Usd),
            Err(Refusal::OutOfScope)
        );
    }

    #[test]
    fn fixed_discounts_cap_at_the_subtotal_and_minimums_hold() {
        let r = rules(
            json!({"code": "TEST", "discount": {"kind": "fixed", "amount": {"amount": 5000, "currency": "USD"}},
                             "min_subtotal": {"amount": 1000, "currency": "USD"}}),
        );
        let a = sku("AAA");
        let c = category("x");
        assert_eq!(
            r.discount(&[(usd(1200), &a, Some(&c))], Currency::Usd),
            Ok(vec![1200])
        );
        assert_eq!(
            r.discount(&[(usd(999), &a, Some(&c))], Currency::Usd),
            Err(Refusal::BelowMinimum(1000))
        );
    }

    #[test]
    fn windows_and_limits_are_checked() {
        let r = rules(
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10},
                             "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-02T00:00:00Z"}),
        );
        let start = r.starts_at.expect("set").unix();
        assert_eq!(r.active_at(start - 1), Err(Refusal::NotStarted));
        assert_eq!(r.active_at(start), Ok(()));
        assert_eq!(r.active_at(start + 86_400), Err(Refusal::Expired));
        let backwards = rules(
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10},
                             "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"}),
        );
        assert!(backwards.check().is_err());
        for limit in [
            json!(0),
            json!(1_000_000_001),
            json!(4_294_967_296u64),
            json!(-1),
        ] {
            let body = json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10},
                              "max_redemptions": limit});
            assert!(serde_json::from_value::<Rules>(body).is_err(), "{limit}");
        }
        let many: Vec<String> = (0..101).map(|i| format!("SKU-{i:03}")).collect();
        let body = json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10},
                          "scope": {"skus": many}});
        assert!(serde_json::from_value::<Rules>(body).is_err());
        for bad in [
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 0}}),
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 101}}),
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10.5}}),
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10, "amount": 5}}),
            json!({"code": "TEST", "discount": {"kind": "fixed", "amount": {"amount": 1, "currency": "EUR"}}}),
            json!({"code": "TEST", "discount": {"kind": "bogo"}}),
            json!({"code": "TEST", "discount": {"kind": "percent", "percent": 10}, "redemptions": 5}),
            json!({"discount": {"kind": "percent", "percent": 10}}),
            json!({"code": "TEST"}),
        ] {
            assert!(
                serde_json::from_value::<Rules>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            // Any cart, any amount up to its eligible subtotal: the shares sum
            // to the amount exactly, no share exceeds its line, and a share
            // differs from its exact proportion by less than one unit.
            #[test]
            fn allocation_is_exact_and_fair(
                weights in proptest::collection::vec(0..=9_900_000_000u64, 1..=50),
                fraction in 0.0..=1.0f64,
            ) {
                let total: u64 = weights.iter().sum();
                let amount = (total as f64 * fraction) as u64;
                let amount = amount.min(total);
                let shares = allocate(amount, &weights);
                prop_assert_eq!(shares.len(), weights.len());
                if total > 0 {
                    prop_assert_eq!(shares.iter().sum::<u64>(), amount);
                }
                for (share, weight) in shares.iter().zip(&weights) {
                    prop_assert!(share <= weight);
                    let exact = u128::from(amount) * u128::from(*weight);
                    let floor = exact / u128::from(total.max(1));
                    prop_assert!(u128::from(*share) == floor || u128::from(*share) == floor + 1);
                }
            }

            // A percent code over any cart takes floor(percent of the
            // eligible subtotal), split exactly, never more than any line.
            #[test]
            fn percent_discount_is_exact_for_any_cart(
                lines in proptest::collection::vec((1..=99u64, 0..=100_000_000u64, any::<bool>()), 1..=50),
                percent in 1..=100u64,
            ) {
                let in_scope = category("sale");
                let out_of_scope = category("full-price");
                let skus: Vec<Sku> = (0..lines.len()).map(|i| sku(&format!("SKU-{i:03}"))).collect();
                let cart: Vec<(Total, &Sku, Option<&Category>)> = lines
                    .iter()
                    .zip(&skus)
                    .map(|((qty, price, sale), sku)| {
                        (usd(qty * price), sku, Some(if *sale { &in_scope } else { &out_of_scope }))
                    })
                    .collect();
                let r = rules(json!({"code": "TEST", "discount": {"kind": "percent", "percent": percent}, "scope": {"categories": ["sale"]}}));
                let eligible: u128 = cart
                    .iter()
                    .filter(|(_, _, c)| *c == Some(&in_scope))
                    .map(|(t, _, _)| u128::from(t.amount))
                    .sum();
                match r.discount(&cart, Currency::Usd) {
                    Ok(shares) => {
                        let expected = eligible * u128::from(percent) / 100;
                        prop_assert_eq!(u128::from(shares.iter().sum::<u64>()), expected);
                        for (share, (total, _, c)) in shares.iter().zip(&cart) {
                            prop_assert!(*share <= total.amount);
                            if *c != Some(&in_scope) {
                                prop_assert_eq!(*share, 0);
                            }
                        }
                    }
                    Err(refusal) => {
                        prop_assert_eq!(refusal, Refusal::OutOfScope);
                        prop_assert!(cart.iter().all(|(_, _, c)| *c != Some(&in_scope)));
                    }
                }
            }
        }
    }
}
