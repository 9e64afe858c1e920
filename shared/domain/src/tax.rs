//! Sales tax: a rate per destination country (optionally per region), in
//! basis points, applied per line after the discount and rounded half to
//! even, so no rounding direction is favoured over many orders.
//!
//! Prices are tax-exclusive unless the shop says they include tax
//! (`PRICES_INCLUDE_TAX`): exclusive, a line's tax is `net × rate` and is
//! added to the total; inclusive, the tax is the part of the net that is
//! tax, `net − net / (1 + rate)`, and the total is what the prices say.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    address::{Country, Region},
    line::Line,
    money::Total,
};

/// A rate in basis points: 0..=10000 (0% to 100%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u16")]
pub struct Bps(u16);

impl Bps {
    pub const MAX: u16 = 10_000;

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u64> for Bps {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match u16::try_from(value) {
            Ok(bps) if bps <= Self::MAX => Ok(Self(bps)),
            _ => Err(format!(
                "must be an integer number of basis points from 0 to {}",
                Self::MAX
            )),
        }
    }
}

impl From<Bps> for u16 {
    fn from(value: Bps) -> Self {
        value.0
    }
}

/// A country's rates as staff set them: one rate, and optionally other
/// rates for some of its regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountryRates {
    pub rate_bps: Bps,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, u16>)]
    pub regions: BTreeMap<Region, Bps>,
}

impl CountryRates {
    pub const MAX_REGIONS: usize = 100;

    /// The rate for an address in `region` of this country: the region's
    /// own where the table lists it, else the country's. A country with
    /// regional rates cannot tax an address that names no region (left
    /// out, a Californian would pay no sales tax).
    pub fn rate_for(&self, region: Option<&Region>) -> Result<Bps, RegionRequired> {
        match region {
            Some(region) => Ok(self.regions.get(region).copied().unwrap_or(self.rate_bps)),
            None if self.regions.is_empty() => Ok(self.rate_bps),
            None => Err(RegionRequired),
        }
    }
}

/// The destination's country taxes by region, and the address gave none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this country taxes by region: give the address's region (ISO 3166-2, like CA)")]
pub struct RegionRequired;

/// The tax an order or cart was priced with, stored on the order so a later
/// rate change never rewrites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppliedTax {
    pub country: Country,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Region>,
    pub rate_bps: Bps,
    pub prices_include_tax: bool,
}

/// `num / den` rounded half to even (banker's rounding). `den > 0`.
pub fn div_half_even(num: u128, den: u128) -> u128 {
    let (quotient, remainder) = (num / den, num % den);
    match (remainder * 2).cmp(&den) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient % 2),
    }
}

/// The tax in `net` minor units at `rate`: on top of it (exclusive), or
/// the part of it that is tax (inclusive). Never more than `net` would
/// allow: at most `net` exclusive (rate ≤ 100%), at most half inclusive.
pub fn tax_of(net: u64, rate: Bps, prices_include_tax: bool) -> u64 {
    let (net, bps) = (u128::from(net), u128::from(rate.get()));
    let scale = u128::from(Bps::MAX);
    let tax = if prices_include_tax {
        net - div_half_even(net * scale, scale + bps)
    } else {
        div_half_even(net * bps, scale)
    };
    // Bounded by `net`, a u64, in both forms.
    u64::try_from(tax).unwrap_or(u64::MAX)
}

/// Sets each line's `tax` from its discounted total.
pub fn apply(lines: &mut [Line], rate: Bps, prices_include_tax: bool) -> Option<()> {
    for line in lines {
        let net = line.line_total.checked_sub(line.discount)?;
        line.tax = Total {
            amount: tax_of(net.amount, rate, prices_include_tax),
            currency: net.currency,
        };
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bps(value: u64) -> Bps {
        Bps::try_from(value).expect("bps")
    }

    #[test]
    fn half_even_rounds_ties_to_even() {
        assert_eq!(div_half_even(5, 2), 2); // 2.5 -> 2
        assert_eq!(div_half_even(7, 2), 4); // 3.5 -> 4
        assert_eq!(div_half_even(26, 10), 3); // 2.6 -> 3
        assert_eq!(div_half_even(24, 10), 2); // 2.4 -> 2
        assert_eq!(div_half_even(0, 7), 0);
    }

    #[test]
    fn exclusive_and_inclusive_tax() {
        // 20% of 1999 = 399.8 -> 400
        assert_eq!(tax_of(1999, bps(2000), false), 400);
        // 7.25% of 1000 = 72.5 -> 72 (even)
        assert_eq!(tax_of(1000, bps(725), false), 72);
        // 1200 including 20%: net 1000, tax 200
        assert_eq!(tax_of(1200, bps(2000), true), 200);
        assert_eq!(tax_of(1234, bps(0), false), 0);
        assert_eq!(tax_of(1234, bps(0), true), 0);
    }

    #[test]
    fn rates_are_bounded_and_regions_override() {
        for bad in [json!(10001), json!(-1), json!(7.5), json!("20")] {
            assert!(serde_json::from_value::<Bps>(bad.clone()).is_err(), "{bad}");
        }
        let rates: CountryRates =
            serde_json::from_value(json!({"rate_bps": 0, "regions": {"CA": 725, "NY": 400}}))
                .expect("valid");
        let ca = Region::try_from("CA".to_string()).expect("region");
        let tx = Region::try_from("TX".to_string()).expect("region");
        assert_eq!(rates.rate_for(Some(&ca)), Ok(bps(725)));
        assert_eq!(
            rates.rate_for(Some(&tx)),
            Ok(bps(0)),
            "unlisted: the country's"
        );
        assert_eq!(rates.rate_for(None), Err(RegionRequired));
        let flat: CountryRates = serde_json::from_value(json!({"rate_bps": 2000})).expect("valid");
        assert_eq!(flat.rate_for(None), Ok(bps(2000)));
        assert_eq!(flat.rate_for(Some(&ca)), Ok(bps(2000)));
        for bad in [
            json!({"rate_bps": 100, "regions": {"ca": 1}}),
            json!({"rate_bps": 100, "regions": {"CA": 10001}}),
            json!({"rate_bps": 100, "country": "GB"}),
            json!({}),
        ] {
            assert!(
                serde_json::from_value::<CountryRates>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    mod properties {
        use super::*;
        use crate::{
            line::{Quantity, Totals},
            money::{Amount, Currency, Money},
            promotion::Rules,
            Category, Sku,
        };
        use proptest::prelude::*;

        fn line(i: usize, quantity: u64, price: u64) -> Line {
            let unit_price = Money {
                amount: Amount::try_from(price).expect("price"),
                currency: Currency::Usd,
            };
            let quantity = Quantity::try_from(quantity).expect("quantity");
            Line {
                sku: Sku::try_from(format!("SKU-{i:03}")).expect("sku"),
                name: format!("line {i}"),
                quantity,
                unit_price,
                line_total: unit_price.times(quantity.get()).expect("fits"),
                discount: Total::zero(Currency::Usd),
                tax: Total::zero(Currency::Usd),
            }
        }

        proptest! {
            // Any cart, any percent code, any rate, either pricing mode: the
            // lines' discounts and taxes sum exactly to the order's, each
            // line's tax is its own net's, and total = subtotal - discount
            // + tax (or - discount alone where prices include tax).
            #[test]
            fn order_totals_are_exact_for_any_cart(
                lines in proptest::collection::vec((1..=99u64, 0..=100_000_000u64), 1..=50),
                percent in 1..=100u64,
                rate in 0..=10_000u64,
                inclusive in any::<bool>(),
            ) {
                let mut items: Vec<Line> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, (quantity, price))| line(i, *quantity, *price))
                    .collect();
                let rules: Rules = serde_json::from_value(json!({
                    "code": "PROP", "discount": {"kind": "percent", "percent": percent}
                }))
                .expect("rules");
                let category = Category::try_from("any".to_string()).expect("category");
                let categories = vec![Some(&category); items.len()];
                rules.apply(&mut items, &categories, 0).expect("applies to everything");
                apply(&mut items, bps(rate), inclusive).expect("fits");
                let totals = Totals::of(&items, inclusive).expect("fits");

                let sum = |f: fn(&Line) -> u64| items.iter().map(f).map(u128::from).sum::<u128>();
                prop_assert_eq!(sum(|l| l.line_total.amount), u128::from(totals.subtotal.amount));
                prop_assert_eq!(sum(|l| l.discount.amount), u128::from(totals.discount.amount));
                prop_assert_eq!(sum(|l| l.tax.amount), u128::from(totals.tax.amount));
                for item in &items {
                    let net = item.line_total.amount - item.discount.amount;
                    prop_assert_eq!(item.tax.amount, tax_of(net, bps(rate), inclusive));
                }
                let net = totals.subtotal.amount - totals.discount.amount;
                let expected = if inclusive { net } else { net + totals.tax.amount };
                prop_assert_eq!(totals.total.amount, expected);
            }

            // Exclusive tax is within half a unit of the exact product and
            // inclusive tax leaves a net within half a unit of the exact
            // quotient; neither exceeds what it is taken from.
            #[test]
            fn tax_is_the_exact_amount_rounded(net in 0..=9_900_000_000u64, rate in 0..=10_000u64) {
                let r = bps(rate);
                let exclusive = tax_of(net, r, false);
                let exact = u128::from(net) * u128::from(rate);
                prop_assert!((u128::from(exclusive) * 10_000).abs_diff(exact) <= 5_000);
                prop_assert!(exclusive <= net);
                let inclusive = tax_of(net, r, true);
                prop_assert!(inclusive <= net / 2 + 1);
                let before_tax = u128::from(net - inclusive);
                let exact_before = u128::from(net) * 10_000;
                let scale = 10_000 + u128::from(rate);
                prop_assert!((before_tax * scale).abs_diff(exact_before) * 2 <= scale);
            }
        }
    }
}
