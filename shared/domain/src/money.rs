//! Money is an integer count of minor units plus a currency, never a float.

use serde::{Deserialize, Serialize};

/// The largest price the catalog accepts, in minor units (1,000,000.00).
pub const MAX_AMOUNT: u64 = 100_000_000;

/// ISO 4217 currency. Only USD until multi-currency lands; the enum makes an
/// unsupported currency unrepresentable rather than checked at each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Currency {
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Self::Usd => "USD",
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "USD" => Ok(Self::Usd),
            code if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => {
                Err(format!("currency {code} is not supported (only USD)"))
            }
            _ => Err("must be an ISO 4217 code of three capital letters".into()),
        }
    }
}

impl From<Currency> for &'static str {
    fn from(value: Currency) -> Self {
        value.code()
    }
}

/// Any well-formed ISO 4217 code (three capital letters), whether or not the
/// shop sells in it. What another party (the payment provider) reports is
/// parsed into this, not [`Currency`]: a provider may send any code, and one
/// we do not sell in is a disagreement about the money (409), not a
/// malformed body (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    pub fn as_str(&self) -> &str {
        // Three ASCII capitals by construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// True when this is exactly `currency`.
    pub fn is(&self, currency: Currency) -> bool {
        self.as_str() == currency.code()
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match <[u8; 3]>::try_from(value.as_bytes()) {
            Ok(code) if code.iter().all(u8::is_ascii_uppercase) => Ok(Self(code)),
            _ => Err("must be an ISO 4217 code of three capital letters".into()),
        }
    }
}

/// An amount within `0..=MAX_AMOUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Amount(u64);

impl Amount {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Amount {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        if value > MAX_AMOUNT {
            return Err(format!("must be between 0 and {MAX_AMOUNT}"));
        }
        Ok(Self(value))
    }
}

impl From<Amount> for u64 {
    fn from(value: Amount) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount: Amount,
    pub currency: Currency,
}

impl Money {
    /// The price of `quantity` units. Cannot overflow (a price is at most
    /// 10^8 minor units), but stays checked so a future cap change cannot
    /// silently wrap.
    pub fn times(self, quantity: u32) -> Option<Total> {
        self.amount
            .get()
            .checked_mul(u64::from(quantity))
            .map(|amount| Total {
                amount,
                currency: self.currency,
            })
    }
}

/// A sum of prices (line totals, subtotals, order totals): the shape of
/// `Money` without the single-price cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Total {
    /// Minor units.
    pub amount: u64,
    pub currency: Currency,
}

impl Total {
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    /// Zero in the one currency sold so far (serde defaults).
    pub fn zero_usd() -> Self {
        Self::zero(Currency::Usd)
    }

    /// `None` when `other` is larger or in another currency.
    pub fn checked_sub(self, other: Total) -> Option<Total> {
        (self.currency == other.currency)
            .then(|| self.amount.checked_sub(other.amount))
            .flatten()
            .map(|amount| Total {
                amount,
                currency: self.currency,
            })
    }

    /// `None` on overflow or mixed currencies.
    pub fn checked_add(self, other: Total) -> Option<Total> {
        (self.currency == other.currency)
            .then(|| self.amount.checked_add(other.amount))
            .flatten()
            .map(|amount| Total {
                amount,
                currency: self.currency,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_as_minor_units() {
        let money: Money =
            serde_json::from_value(json!({"amount":1999,"currency":"USD"})).expect("valid money");
        assert_eq!(money.amount.get(), 1999);
        assert_eq!(
            serde_json::to_value(money).expect("serialises"),
            json!({"amount":1999,"currency":"USD"})
        );
    }

    #[test]
    fn totals_are_checked() {
        let price = Money {
            amount: Amount::try_from(MAX_AMOUNT).expect("valid"),
            currency: Currency::Usd,
        };
        let line = price.times(99).expect("fits");
        assert_eq!(line.amount, MAX_AMOUNT * 99);
        let big = Total {
            amount: u64::MAX,
            currency: Currency::Usd,
        };
        assert_eq!(big.checked_add(line), None);
        assert_eq!(Total::zero(Currency::Usd).checked_add(line), Some(line));
    }

    #[test]
    fn a_currency_code_is_any_three_capitals() {
        let eur: CurrencyCode = serde_json::from_value(json!("EUR")).expect("well-formed");
        assert_eq!(eur.as_str(), "EUR");
        assert!(!eur.is(Currency::Usd));
        let usd: CurrencyCode = serde_json::from_value(json!("USD")).expect("well-formed");
        assert!(usd.is(Currency::Usd));
        for bad in [
            json!("usd"),
            json!("US"),
            json!("USDX"),
            json!("U$D"),
            json!(840),
            json!("ÉUR"),
        ] {
            assert!(
                serde_json::from_value::<CurrencyCode>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_floats_negatives_overflow_and_other_currencies() {
        for bad in [
            json!({"amount":19.99,"currency":"USD"}),
            json!({"amount":-1,"currency":"USD"}),
            json!({"amount":100_000_001,"currency":"USD"}),
            json!({"amount":1,"currency":"EUR"}),
            json!({"amount":1,"currency":"usd"}),
        ] {
            assert!(
                serde_json::from_value::<Money>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
