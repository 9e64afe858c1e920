//! The order item: how an [`Order`] is stored, and read back. Pure: no
//! I/O, so its round trip is a unit test. Orders written before a field
//! existed read back with that field's old meaning (noted at each default).

use serde::Serialize;

use super::attr::{get_n, get_parsed, get_s, n, s};
use super::StoreError;
use crate::domain::{Order, OrderStatus, Total};
use crate::keys::{self, Item};

pub(crate) fn encode_order(order: &Order) -> Result<Item, StoreError> {
    let mut item = keys::order::indexed_key(
        &order.order_id,
        &order.user_id,
        order.status,
        order.created_ms,
    );
    item.extend([
        ("order_id".into(), s(order.order_id.as_str())),
        ("user_id".into(), s(order.user_id.as_str())),
        ("status".into(), s(order.status.as_str())),
        ("items".into(), s(to_json(&order.items)?)),
        ("subtotal_amount".into(), n(order.subtotal.amount)),
        ("discount_amount".into(), n(order.discount.amount)),
        ("tax_amount".into(), n(order.tax.amount)),
        ("total_amount".into(), n(order.total.amount)),
        ("currency".into(), s(order.total.currency.code())),
        (
            "shipping_address".into(),
            s(to_json(&order.shipping_address)?),
        ),
        ("created_at".into(), s(&order.created_at)),
        ("updated_at".into(), s(&order.updated_at)),
        ("created_ms".into(), n(order.created_ms)),
    ]);
    if let Some(tax) = &order.tax_rate {
        item.insert("tax_rate".into(), s(to_json(tax)?));
    }
    // A new order has captured and refunded nothing; the attributes appear
    // with the payment and the first refund.
    if order.captured.amount > 0 {
        item.insert("captured_amount".into(), n(order.captured.amount));
    }
    if let Some(code) = &order.promotion_code {
        item.insert("promotion_code".into(), s(code.as_str()));
        item.insert(
            "promotion_once".into(),
            aws_sdk_dynamodb::types::AttributeValue::Bool(order.promotion_once),
        );
    }
    Ok(item)
}

/// Serialising our own plain types cannot fail; the error path exists so
/// that nothing needs an `unwrap`.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, name)?)
        .map_err(|_| StoreError::Corrupt(format!("order attribute {name} does not decode")))
}

pub(crate) fn decode_order(item: &Item) -> Result<Order, StoreError> {
    let currency = get_parsed(item, "currency")?;
    let total = Total {
        amount: get_n(item, "total_amount")?,
        currency,
    };
    // Orders placed before promotions existed store only the total.
    let amount_or = |name: &str, default: u64| -> Result<Total, StoreError> {
        let amount = match item.get(name) {
            Some(_) => get_n(item, name)?,
            None => default,
        };
        Ok(Total { amount, currency })
    };
    let promotion_code = match item.get("promotion_code") {
        Some(_) => Some(get_parsed(item, "promotion_code")?),
        None => None,
    };
    let status: OrderStatus = get_parsed(item, "status")?;
    Ok(Order {
        order_id: get_parsed(item, "order_id")?,
        status,
        items: from_json(item, "items")?,
        subtotal: amount_or("subtotal_amount", total.amount)?,
        discount: amount_or("discount_amount", 0)?,
        tax: amount_or("tax_amount", 0)?,
        total,
        tax_rate: match item.get("tax_rate") {
            Some(_) => Some(from_json(item, "tax_rate")?),
            None => None,
        },
        promotion_code,
        promotion_once: matches!(
            item.get("promotion_once"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        ),
        shipping_address: from_json(item, "shipping_address")?,
        // Orders paid before refunds existed did not store the capture: it
        // was their total.
        captured: amount_or(
            "captured_amount",
            if matches!(status, OrderStatus::Paid | OrderStatus::Shipped) {
                total.amount
            } else {
                0
            },
        )?,
        refunded: amount_or("refunded_amount", 0)?,
        refunds: match item.get("refunds") {
            Some(_) => from_json(item, "refunds")?,
            None => Vec::new(),
        },
        refund_version: match item.get("refund_version") {
            Some(_) => get_n(item, "refund_version")?,
            None => 0,
        },
        status_before_refund: match item.get("status_before_refund") {
            Some(_) => Some(get_parsed(item, "status_before_refund")?),
            None => None,
        },
        created_at: get_s(item, "created_at")?.to_string(),
        updated_at: get_s(item, "updated_at")?.to_string(),
        user_id: get_parsed(item, "user_id")?,
        created_ms: get_n(item, "created_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(status: OrderStatus) -> Order {
        let line: crate::domain::Line = serde_json::from_value(json!({
            "sku": "TEA-001", "name": "Sencha", "quantity": 2,
            "unit_price": {"amount": 1250, "currency": "USD"},
            "line_total": {"amount": 2500, "currency": "USD"},
            "discount": {"amount": 250, "currency": "USD"},
            "tax": {"amount": 428, "currency": "USD"}
        }))
        .expect("valid line");
        let usd = |amount| Total {
            amount,
            currency: crate::domain::Currency::Usd,
        };
        Order {
            order_id: crate::domain::OrderId::generate(),
            status,
            items: vec![line],
            subtotal: usd(2500),
            discount: usd(250),
            tax: usd(428),
            total: usd(2678),
            tax_rate: Some(
                serde_json::from_value(json!({
                    "country": "US", "region": "CA", "rate_bps": 1900,
                    "prices_include_tax": false
                }))
                .expect("valid tax"),
            ),
            promotion_code: Some(serde_json::from_value(json!("TEN-OFF")).expect("valid code")),
            promotion_once: true,
            shipping_address: serde_json::from_value(json!({
                "name": "Ada", "line1": "1 Main St", "city": "Los Angeles",
                "postal_code": "90001", "country": "US", "region": "CA"
            }))
            .expect("valid address"),
            captured: usd(0),
            refunded: usd(0),
            refunds: Vec::new(),
            refund_version: 0,
            status_before_refund: None,
            created_at: "2026-12-01T00:00:00Z".into(),
            updated_at: "2026-12-01T00:00:00Z".into(),
            user_id: crate::domain::UserId::generate(),
            created_ms: 1_796_000_000_000,
        }
    }

    #[test]
    fn a_new_order_round_trips_exactly() {
        let original = order(OrderStatus::PendingPayment);
        let item = encode_order(&original).expect("encodes");
        assert_eq!(decode_order(&item).expect("decodes"), original);
    }

    #[test]
    fn a_paid_order_keeps_its_capture() {
        let mut original = order(OrderStatus::Paid);
        original.captured = original.total;
        let item = encode_order(&original).expect("encodes");
        assert_eq!(decode_order(&item).expect("decodes"), original);
    }

    #[test]
    fn an_order_from_before_promotions_and_tax_reads_with_their_old_meaning() {
        let mut item = encode_order(&order(OrderStatus::Paid)).expect("encodes");
        for gone in [
            "subtotal_amount",
            "discount_amount",
            "tax_amount",
            "tax_rate",
            "captured_amount",
            "promotion_code",
            "promotion_once",
        ] {
            item.remove(gone);
        }
        let old = decode_order(&item).expect("decodes");
        assert_eq!(old.subtotal, old.total, "the total was the subtotal");
        assert_eq!((old.discount.amount, old.tax.amount), (0, 0));
        assert_eq!(
            old.captured, old.total,
            "a paid order had captured its total"
        );
        assert_eq!((old.tax_rate, old.promotion_code), (None, None));
    }

    #[test]
    fn a_corrupt_item_is_an_error_not_a_panic() {
        let mut item = encode_order(&order(OrderStatus::Paid)).expect("encodes");
        item.insert("items".into(), s("not json"));
        assert!(matches!(decode_order(&item), Err(StoreError::Corrupt(_))));
    }
}
