//! Carts: lines a shopper means to buy, with the name and price seen when
//! each was last set, and the code they added. `GET /v1/cart` re-prices
//! from the catalog (`repriced`), and checkout always does; both price
//! through [`crate::pricing::price`].

use serde::{Deserialize, Serialize};

use crate::{
    line::MAX_CART_LINES,
    pricing::{self, Overflow, ToPrice},
    promotion::{PromoCode, Rules},
    tax::AppliedTax,
    Category, Line, Money, Product, Quantity, Sku, Total,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: Quantity,
    pub name: String,
    pub unit_price: Money,
    /// For a promotion's category scope; lines saved before promotions
    /// existed have none until the cart is re-priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// A code on the cart, with the rules it had when it was applied. The
    /// cart shows its discount from these; checkout re-reads the live
    /// promotion and charges by that.
    pub promotion: Option<Rules>,
    /// 0 for a cart never written.
    pub version: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a cart holds at most {MAX_CART_LINES} lines")]
pub struct CartFull;

/// A cart as the API shows it: `total = subtotal - discount + tax`
/// (without `+ tax` where prices include it). Tax is an estimate for the
/// destination asked for (`GET /v1/cart?country=`), zero without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CartView {
    pub items: Vec<Line>,
    pub subtotal: Total,
    pub discount: Total,
    pub tax: Total,
    pub total: Total,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<CartPromotion>,
    /// The rate the tax was estimated with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<AppliedTax>,
}

/// The code on the cart and whether it applies to the cart as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CartPromotion {
    pub code: PromoCode,
    pub applies: bool,
    /// Why it does not apply, for the shopper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Cart {
    /// Sets a line's quantity (adding the line if new).
    pub fn set(&mut self, line: CartLine) -> Result<(), CartFull> {
        if let Some(existing) = self.lines.iter_mut().find(|l| l.sku == line.sku) {
            *existing = line;
        } else if self.lines.len() >= MAX_CART_LINES {
            return Err(CartFull);
        } else {
            self.lines.push(line);
        }
        Ok(())
    }

    /// Removes a line; false when there was none.
    pub fn remove(&mut self, sku: &Sku) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| &l.sku != sku);
        self.lines.len() != before
    }

    pub fn skus(&self) -> Vec<Sku> {
        self.lines.iter().map(|l| l.sku.clone()).collect()
    }

    /// Re-prices every line from `current` (the live catalog), dropping
    /// lines whose product is gone.
    pub fn repriced(&self, current: &std::collections::HashMap<Sku, Product>) -> Cart {
        Cart {
            lines: self
                .lines
                .iter()
                .filter_map(|line| {
                    current.get(&line.sku).map(|product| CartLine {
                        sku: line.sku.clone(),
                        quantity: line.quantity,
                        name: product.name.as_str().to_string(),
                        unit_price: product.price,
                        category: Some(product.category.clone()),
                    })
                })
                .collect(),
            promotion: self.promotion.clone(),
            version: self.version,
        }
    }

    /// Priced lines, the code's discount and the totals, now, without tax.
    pub fn view(&self) -> Result<CartView, Overflow> {
        self.view_at(quiet_support::clock::now_secs(), None)
    }

    /// The view at `now` (epoch seconds), with tax at `tax` when a
    /// destination is known. Sums are checked; the caps (price, quantity,
    /// lines) make overflow impossible, so it would be corruption.
    pub fn view_at(&self, now: i64, tax: Option<AppliedTax>) -> Result<CartView, Overflow> {
        self.checked_view(now, tax).ok_or(Overflow)
    }

    fn checked_view(&self, now: i64, tax_rate: Option<AppliedTax>) -> Option<CartView> {
        let lines: Vec<ToPrice<'_>> = self
            .lines
            .iter()
            .map(|line| ToPrice {
                sku: &line.sku,
                name: &line.name,
                quantity: line.quantity,
                unit_price: line.unit_price,
                category: line.category.as_ref(),
            })
            .collect();
        let priced =
            pricing::price(&lines, self.promotion.as_ref(), now, tax_rate.as_ref()).ok()?;
        let promotion = self.promotion.as_ref().map(|rules| CartPromotion {
            code: rules.code.clone(),
            applies: matches!(priced.promotion, Some(Ok(()))),
            message: match &priced.promotion {
                Some(Err(refusal)) => Some(refusal.to_string()),
                _ => None,
            },
        });
        Some(CartView {
            items: priced.items,
            subtotal: priced.totals.subtotal,
            discount: priced.totals.discount,
            tax: priced.totals.tax,
            total: priced.totals.total,
            promotion,
            tax_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{money::Amount, Currency};

    fn line(sku: &str, quantity: u64, amount: u64) -> CartLine {
        CartLine {
            sku: Sku::try_from(sku.to_string()).expect("sku"),
            quantity: Quantity::try_from(quantity).expect("quantity"),
            name: sku.to_lowercase(),
            unit_price: Money {
                amount: Amount::try_from(amount).expect("amount"),
                currency: Currency::Usd,
            },
            category: None,
        }
    }

    #[test]
    fn set_replaces_or_appends_up_to_the_cap() {
        let mut cart = Cart::default();
        cart.set(line("AAA", 1, 100)).expect("room");
        cart.set(line("AAA", 3, 100)).expect("replace");
        assert_eq!(cart.lines.len(), 1);
        assert_eq!(cart.lines[0].quantity.get(), 3);
        for i in 1..MAX_CART_LINES {
            cart.set(line(&format!("S{i:03}"), 1, 1)).expect("room");
        }
        assert_eq!(cart.set(line("ONE-MORE", 1, 1)), Err(CartFull));
        cart.set(line("AAA", 5, 100))
            .expect("existing lines still change");
    }

    #[test]
    fn view_totals_lines() {
        let mut cart = Cart::default();
        cart.set(line("AAA", 3, 250)).expect("room");
        cart.set(line("BBB", 2, 1000)).expect("room");
        let view = cart.view().expect("sums fit");
        assert_eq!(view.items[0].line_total.amount, 750);
        assert_eq!(view.subtotal.amount, 2750);
    }

    mod properties {
        use super::*;
        use crate::money::MAX_AMOUNT;
        use proptest::prelude::*;

        proptest! {
            // Any full cart at any prices: the view's sums are exact (checked
            // against 128-bit arithmetic) and never overflow or wrap.
            #[test]
            fn cart_sums_are_exact_and_never_overflow(
                lines in proptest::collection::vec(
                    (1..=Quantity::MAX as u64, 0..=MAX_AMOUNT),
                    1..=MAX_CART_LINES,
                ),
            ) {
                let mut cart = Cart::default();
                let mut expected: u128 = 0;
                for (i, (quantity, amount)) in lines.iter().enumerate() {
                    cart.set(line(&format!("SKU-{i:03}"), *quantity, *amount)).expect("room");
                    expected += u128::from(*quantity) * u128::from(*amount);
                }
                let view = cart.view().expect("sums fit");
                prop_assert_eq!(u128::from(view.subtotal.amount), expected);
                for (item, (quantity, amount)) in view.items.iter().zip(&lines) {
                    prop_assert_eq!(item.line_total.amount, quantity * amount);
                }
            }

            // Totals beyond the caps: checked_add is exact or None, never a
            // wrapped number.
            #[test]
            fn totals_add_exactly_or_refuse(a in any::<u64>(), b in any::<u64>()) {
                let total = |amount| Total { amount, currency: Currency::Usd };
                match total(a).checked_add(total(b)) {
                    Some(sum) => prop_assert_eq!(u128::from(sum.amount), u128::from(a) + u128::from(b)),
                    None => prop_assert!(u128::from(a) + u128::from(b) > u128::from(u64::MAX)),
                }
            }
        }
    }
}
