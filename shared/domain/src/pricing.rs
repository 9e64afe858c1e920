//! The one pricing path. What `GET /v1/cart` shows and what checkout
//! charges are both [`price`] of the same three things: the lines at their
//! unit prices, the code's rules and the destination's tax rate. So a
//! shopper is charged the total the cart showed for the same catalog, code
//! and rates (a property test in functions/checkout holds this).
//!
//! Order of work: line totals, then the code's discount split over the
//! lines, then tax per line on what is left after the discount, then the
//! sums. All in integer minor units, every sum checked.

use crate::{
    line::{Line, Totals},
    promotion::{Refusal, Rules},
    tax::{self, AppliedTax},
    Category, Money, Quantity, Sku, Total,
};

/// One line to price: the SKU, at what unit price, how many.
#[derive(Debug, Clone, Copy)]
pub struct ToPrice<'a> {
    pub sku: &'a Sku,
    pub name: &'a str,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// For a code scoped to categories; `None` is matched by SKU only.
    pub category: Option<&'a Category>,
}

/// Priced lines and their sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub items: Vec<Line>,
    pub totals: Totals,
    /// What became of the code: `None` without one, `Some(Err(why))` when it
    /// does not apply (and then no line is discounted).
    pub promotion: Option<Result<(), Refusal>>,
}

/// A sum left `u64` minor units. The caps on price, quantity and lines make
/// this impossible for valid input: seeing it means stored data is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a price sum overflowed")]
pub struct Overflow;

/// Prices `lines` at `now` (epoch seconds) with `promotion`'s rules and,
/// when the destination is known, `tax`.
pub fn price(
    lines: &[ToPrice<'_>],
    promotion: Option<&Rules>,
    now: i64,
    tax: Option<&AppliedTax>,
) -> Result<Priced, Overflow> {
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let line_total = line.unit_price.times(line.quantity.get()).ok_or(Overflow)?;
        items.push(Line {
            sku: line.sku.clone(),
            name: line.name.to_string(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            line_total,
            discount: Total::zero(line_total.currency),
            tax: Total::zero(line_total.currency),
        });
    }
    let promotion = promotion.map(|rules| {
        let categories: Vec<Option<&Category>> = lines.iter().map(|l| l.category).collect();
        rules.apply(&mut items, &categories, now)
    });
    if let Some(tax) = tax {
        tax::apply(&mut items, tax.rate_bps, tax.prices_include_tax).ok_or(Overflow)?;
    }
    let inclusive = tax.is_some_and(|t| t.prices_include_tax);
    let totals = Totals::of(&items, inclusive).ok_or(Overflow)?;
    Ok(Priced {
        items,
        totals,
        promotion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sku(text: &str) -> Sku {
        Sku::try_from(text.to_string()).expect("valid sku")
    }

    fn money(amount: u64) -> Money {
        serde_json::from_value(json!({"amount": amount, "currency": "USD"})).expect("valid money")
    }

    #[test]
    fn discount_then_tax_then_sums() {
        let (tea, pot) = (sku("TEA-1"), sku("POT-1"));
        let lines = [
            ToPrice {
                sku: &tea,
                name: "Tea",
                quantity: Quantity::try_from(2).expect("valid"),
                unit_price: money(500),
                category: None,
            },
            ToPrice {
                sku: &pot,
                name: "Pot",
                quantity: Quantity::try_from(1).expect("valid"),
                unit_price: money(1000),
                category: None,
            },
        ];
        let rules: Rules = serde_json::from_value(json!({
            "code": "TENOFF", "discount": {"kind": "percent", "percent": 10}
        }))
        .expect("valid rules");
        let tax: AppliedTax = serde_json::from_value(json!({
            "country": "DE", "rate_bps": 2000, "prices_include_tax": false
        }))
        .expect("valid tax");
        let priced = price(&lines, Some(&rules), 0, Some(&tax)).expect("no overflow");
        assert_eq!(priced.promotion, Some(Ok(())));
        assert_eq!(priced.totals.subtotal.amount, 2000);
        assert_eq!(priced.totals.discount.amount, 200);
        assert_eq!(priced.totals.tax.amount, 360);
        assert_eq!(priced.totals.total.amount, 2160);
        let without = price(&lines, None, 0, None).expect("no overflow");
        assert_eq!(
            (without.promotion, without.totals.total.amount),
            (None, 2000)
        );
    }

    #[test]
    fn a_code_that_does_not_apply_discounts_nothing() {
        let tea = sku("TEA-1");
        let lines = [ToPrice {
            sku: &tea,
            name: "Tea",
            quantity: Quantity::try_from(1).expect("valid"),
            unit_price: money(500),
            category: None,
        }];
        let rules: Rules = serde_json::from_value(json!({
            "code": "BIG", "discount": {"kind": "percent", "percent": 10},
            "min_subtotal": {"amount": 10000, "currency": "USD"}
        }))
        .expect("valid rules");
        let priced = price(&lines, Some(&rules), 0, None).expect("no overflow");
        assert_eq!(priced.promotion, Some(Err(Refusal::BelowMinimum(10000))));
        assert_eq!(priced.totals.discount.amount, 0);
        assert_eq!(priced.totals.total.amount, 500);
    }
}
