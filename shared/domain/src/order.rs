//! Orders: the order id, the order itself, and what a payment does to it.

use serde::Serialize;

use super::{
    address::ShippingAddress, line::Line, money::Total, order_status::OrderStatus,
    promotion::PromoCode, refund::Refund, tax::AppliedTax, user::UserId,
};

quiet_support::id_type!(
    /// An order id: `ord_` and 32 lowercase hex digits.
    OrderId,
    "ord_",
    random_id,
    "not an order id"
);

/// An order as the API shows it. `user_id` and `created_ms` are kept for
/// authorization and ordering, never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub items: Vec<Line>,
    /// The lines at catalog price, before the discount.
    pub subtotal: Total,
    pub discount: Total,
    /// The sum of the lines' tax.
    pub tax: Total,
    /// What the customer pays: `subtotal - discount + tax` (without
    /// `+ tax` where prices include it).
    pub total: Total,
    /// The rate the order was taxed at, kept so a later rate change never
    /// rewrites it. Absent on orders placed before tax existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<AppliedTax>,
    /// The discount code redeemed by this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<PromoCode>,
    /// Whether the redemption wrote a once-per-customer item (given back
    /// with the counter on cancel or expiry).
    #[serde(skip)]
    pub promotion_once: bool,
    pub shipping_address: ShippingAddress,
    /// What the payment provider captured for the order: zero until it is
    /// paid; more than `total` if it was paid twice (the excess is
    /// refundable), or money that arrived after a cancel or expiry.
    pub captured: Total,
    /// What refunds have given back or are giving back (every refund not
    /// `failed`). Never more than `captured`.
    pub refunded: Total,
    /// Oldest first.
    pub refunds: Vec<Refund>,
    /// Bumped by every refund change: the condition that serialises them.
    #[serde(skip)]
    pub refund_version: u64,
    /// The status before the first refund, returned to if every refund
    /// fails.
    #[serde(skip)]
    pub status_before_refund: Option<OrderStatus>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[serde(skip)]
    pub user_id: UserId,
    #[serde(skip)]
    pub created_ms: u64,
}

/// What a payment event does to an order, by the order's status: the rule
/// the payment webhook applies (the store makes it so, atomically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEffect {
    /// A successful payment of an order awaiting it: the order is paid.
    Pay,
    /// A failed payment: recorded, the order unchanged.
    Record,
    /// Money for an order no longer awaiting it (cancelled, expired, paid
    /// already, refunded): it joins the order's capture, so staff refund it,
    /// never silently kept.
    Capture,
}

/// The rule: [`PaymentEffect`] of a payment that `succeeded` (or failed) on
/// an order in `status`.
pub fn payment_effect(succeeded: bool, status: OrderStatus) -> PaymentEffect {
    match (succeeded, status) {
        (false, _) => PaymentEffect::Record,
        (true, OrderStatus::PendingPayment) => PaymentEffect::Pay,
        (true, _) => PaymentEffect::Capture,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_pays_only_an_order_awaiting_it_and_money_is_never_dropped() {
        use OrderStatus::*;
        assert_eq!(payment_effect(true, PendingPayment), PaymentEffect::Pay);
        for status in [
            Paid,
            Shipped,
            Cancelled,
            Expired,
            PartiallyRefunded,
            Refunded,
        ] {
            assert_eq!(
                payment_effect(true, status),
                PaymentEffect::Capture,
                "{status:?}"
            );
        }
        for status in [PendingPayment, Paid, Cancelled] {
            assert_eq!(
                payment_effect(false, status),
                PaymentEffect::Record,
                "{status:?}"
            );
        }
    }
}
