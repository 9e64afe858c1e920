//! Orders and carts: quantities, order ids, states and their transitions.

use serde::{Deserialize, Serialize};

use super::{
    money::{Currency, Money, Total},
    product::Sku,
    text::Text,
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

quiet_support::id_type!(
    /// An order id: `ord_` and 32 lowercase hex digits.
    OrderId,
    "ord_",
    random_id,
    "not an order id"
);

/// `pending_payment → paid → shipped`; `pending_payment → cancelled | expired`;
/// any order with captured money → `partially_refunded → refunded` as
/// refunds give it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Shipped,
    Cancelled,
    Expired,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_become(self, next: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (PendingPayment, Paid | Cancelled | Expired)
                | (Paid, Shipped)
                | (
                    Paid | Shipped | Cancelled | Expired | PartiallyRefunded,
                    PartiallyRefunded | Refunded
                )
        )
    }
}

impl TryFrom<String> for OrderStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(value))
            .map_err(|_| "must be one of pending_payment, paid, shipped, cancelled, expired, partially_refunded, refunded".into())
    }
}

/// The longest address field, in characters, before or after trimming.
pub const ADDRESS_FIELD_MAX: usize = 100;
pub type AddressField = Text<1, ADDRESS_FIELD_MAX>;

/// A shipping address. Every field is trimmed and must then be 1 to 100
/// characters with no control characters; the untrimmed value may not be
/// longer than 100 either, so the documented `maxLength` holds as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: AddressField,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub line1: AddressField,
    #[serde(
        default,
        deserialize_with = "trimmed_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub line2: Option<AddressField>,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub city: AddressField,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub postal_code: AddressField,
    pub country: Country,
    /// The state or province (the ISO 3166-2 code after the dash, like
    /// `CA` for US-CA) where the shop taxes by region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^\s*[A-Z0-9]{1,3}\s*$")]
    pub region: Option<super::tax::Region>,
}

fn address_field(raw: &str) -> Result<AddressField, String> {
    if raw.chars().count() > ADDRESS_FIELD_MAX {
        return Err(format!("must be 1 to {ADDRESS_FIELD_MAX} characters long"));
    }
    AddressField::try_from(raw.trim().to_string())
}

fn trimmed<'de, D: serde::Deserializer<'de>>(de: D) -> Result<AddressField, D::Error> {
    address_field(&String::deserialize(de)?).map_err(serde::de::Error::custom)
}

fn trimmed_opt<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<AddressField>, D::Error> {
    Option::<String>::deserialize(de)?
        .map(|raw| address_field(&raw).map_err(serde::de::Error::custom))
        .transpose()
}

/// ISO 3166-1 alpha-2 country code (two capital letters; the format, not
/// the registry, so a newly assigned code needs no release).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl TryFrom<String> for Country {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let code = value.trim();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_string()))
        } else {
            Err("must be an ISO 3166-1 alpha-2 code, like US or DE".into())
        }
    }
}

impl Country {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Country> for String {
    fn from(value: Country) -> Self {
        value.0
    }
}

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

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use OrderStatus::*;
        let all = [
            PendingPayment,
            Paid,
            Shipped,
            Cancelled,
            Expired,
            PartiallyRefunded,
            Refunded,
        ];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        let mut expected = vec![
            (PendingPayment, Paid),
            (PendingPayment, Cancelled),
            (PendingPayment, Expired),
            (Paid, Shipped),
        ];
        // Money captured can be given back from any state that holds it.
        for from in [Paid, Shipped, Cancelled, Expired, PartiallyRefunded] {
            expected.extend([(from, PartiallyRefunded), (from, Refunded)]);
        }
        expected.sort_by_key(|&(a, b)| {
            (
                all.iter().position(|s| *s == a),
                all.iter().position(|s| *s == b),
            )
        });
        assert_eq!(allowed, expected);
    }

    #[test]
    fn addresses_are_trimmed_and_bounded() {
        let address: ShippingAddress = serde_json::from_value(json!({
            "name": "  Ada Lovelace ", "line1": "12 St James's Sq", "city": "London",
            "postal_code": " SW1Y 4JH", "country": "GB"
        }))
        .expect("valid");
        assert_eq!(address.name.as_str(), "Ada Lovelace");
        assert_eq!(address.postal_code.as_str(), "SW1Y 4JH");
        for bad in [
            json!({"name": "   ", "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "gb"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "GBR"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "GB", "phone": "1"}),
            json!({"name": "x".repeat(101), "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
            // Over the documented maxLength before trimming, even if not after.
            json!({"name": format!(" {}", "x".repeat(100)), "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
        ] {
            assert!(
                serde_json::from_value::<ShippingAddress>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
