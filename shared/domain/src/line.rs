//! Lines of a cart or an order: how many of a SKU, at what price, with its
//! share of a discount and its tax; and their sums.

use serde::{Deserialize, Serialize};

use super::{
    money::{Currency, Money, Total},
    product::Sku,
};

/// Units of one SKU in a cart or order line: 1..=99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 99;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u64> for Quantity {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match u32::try_from(value) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(format!("must be an integer from 1 to {}", Self::MAX)),
        }
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> Self {
        value.0
    }
}

/// A cart holds at most this many lines, which keeps a checkout within one
/// DynamoDB transaction (100 actions: a stock update per line, plus the
/// order, the cart, the idempotency record and the outbox items).
pub const MAX_CART_LINES: usize = 50;

/// One line of a cart or an order, priced. `line_total` is before any
/// discount; `discount` is this line's share of the promotion's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Line {
    pub sku: Sku,
    pub name: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub line_total: Total,
    /// Orders placed before promotions existed have none stored: zero.
    #[serde(default = "Total::zero_usd")]
    pub discount: Total,
    /// The tax on this line after its discount (zero until a destination
    /// is known, and in orders placed before tax existed).
    #[serde(default = "Total::zero_usd")]
    pub tax: Total,
}

/// The sums of priced lines: `total = subtotal - discount + tax` when
/// prices exclude tax, `subtotal - discount` when they include it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Total,
    pub discount: Total,
    pub tax: Total,
    pub total: Total,
}

impl Totals {
    /// `None` on overflow, mixed currencies, or a line discounted below
    /// zero (none of which valid input can produce).
    pub fn of(lines: &[Line], prices_include_tax: bool) -> Option<Self> {
        let currency = lines
            .first()
            .map_or(Currency::Usd, |line| line.line_total.currency);
        let mut subtotal = Total::zero(currency);
        let mut discount = Total::zero(currency);
        let mut tax = Total::zero(currency);
        for line in lines {
            line.line_total.checked_sub(line.discount)?;
            subtotal = subtotal.checked_add(line.line_total)?;
            discount = discount.checked_add(line.discount)?;
            tax = tax.checked_add(line.tax)?;
        }
        let net = subtotal.checked_sub(discount)?;
        Some(Self {
            subtotal,
            discount,
            tax,
            total: if prices_include_tax {
                net
            } else {
                net.checked_add(tax)?
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantity_bounds() {
        for ok in [1, 99] {
            assert!(Quantity::try_from(ok).is_ok());
        }
        for bad in [0, 100, u64::MAX] {
            assert!(Quantity::try_from(bad).is_err());
        }
        for bad in [json!(-1), json!("x"), json!(1.5), json!(null)] {
            assert!(serde_json::from_value::<Quantity>(bad).is_err());
        }
    }
}
