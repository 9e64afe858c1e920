//! An order's states and the transitions between them.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
