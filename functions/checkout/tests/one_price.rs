//! The cart's total is the order's: for the same catalog, code and tax
//! rates, what `GET /v1/cart` shows (`Cart::repriced` then `view_at`, as
//! functions/get-cart calls them) and what checkout charges (`quote`, as
//! `place` calls it) agree line by line and in every sum. Where the cart
//! shows the code as not applying, checkout refuses it with the same words.
//! Pure: no emulator, so it runs many cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use checkout::quote;
use proptest::prelude::*;
use quiet_core::{
    domain::{
        promotion::Rules,
        tax::{AppliedTax, CountryRates},
        Product, Quantity, ShippingAddress, Sku,
    },
    store::{Cart, CartLine, Promotion},
    ApiError,
};
use serde_json::json;

const NOW: i64 = 1_790_000_000;
const CATEGORIES: [&str; 3] = ["tea", "pots", "gifts"];

#[derive(Debug, Clone)]
struct Case {
    /// Per SKU: catalog price, category, quantity in the cart, the price
    /// the cart line last saw.
    lines: Vec<(u64, usize, u64, u64)>,
    code: Option<(Reward, Option<u64>, u8)>,
    rate_bps: u64,
    inclusive: bool,
}

#[derive(Debug, Clone)]
enum Reward {
    Percent(u64),
    Fixed(u64),
}

fn case() -> impl Strategy<Value = Case> {
    let line = (1u64..=100_000, 0usize..3, 1u64..=99, 1u64..=100_000);
    let reward = prop_oneof![
        (1u64..=100).prop_map(Reward::Percent),
        (1u64..=300_000).prop_map(Reward::Fixed),
    ];
    let code = proptest::option::of((reward, proptest::option::of(0u64..=2_000_000), 0u8..3));
    (
        proptest::collection::vec(line, 1..=6),
        code,
        0u64..=10_000,
        any::<bool>(),
    )
        .prop_map(|(lines, code, rate_bps, inclusive)| Case {
            lines,
            code,
            rate_bps,
            inclusive,
        })
}

fn sku(i: usize) -> Sku {
    Sku::try_from(format!("SKU-{i}")).expect("valid sku")
}

fn money(amount: u64) -> serde_json::Value {
    json!({"amount": amount, "currency": "USD"})
}

fn product(i: usize, price: u64, category: usize) -> Product {
    Product {
        sku: sku(i),
        name: serde_json::from_value(json!(format!("Product {i}"))).expect("valid name"),
        description: serde_json::from_value(json!("")).expect("valid description"),
        category: serde_json::from_value(json!(CATEGORIES[category])).expect("valid category"),
        price: serde_json::from_value(money(price)).expect("valid price"),
        stock: 1_000,
        stock_shards: 1,
        shard_span: 0,
        version: 1,
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn rules(reward: &Reward, min_subtotal: Option<u64>, scope: u8) -> Rules {
    let mut rules = json!({
        "code": "SAME-PRICE",
        "discount": match reward {
            Reward::Percent(percent) => json!({"kind": "percent", "percent": percent}),
            Reward::Fixed(amount) => json!({"kind": "fixed", "amount": money(*amount)}),
        },
    });
    if let Some(min) = min_subtotal {
        rules["min_subtotal"] = money(min);
    }
    match scope {
        1 => rules["scope"] = json!({"skus": ["SKU-0"]}),
        2 => rules["scope"] = json!({"categories": ["tea"]}),
        _ => {}
    }
    serde_json::from_value(rules).expect("valid rules")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_cart_shows_what_checkout_charges(case in case()) {
        let catalog: HashMap<Sku, Product> = case
            .lines
            .iter()
            .enumerate()
            .map(|(i, &(price, category, _, _))| (sku(i), product(i, price, category)))
            .collect();
        let code = case.code.as_ref().map(|(reward, min, scope)| rules(reward, *min, *scope));
        let cart = Cart {
            lines: case
                .lines
                .iter()
                .enumerate()
                .map(|(i, &(_, _, quantity, seen))| CartLine {
                    sku: sku(i),
                    quantity: Quantity::try_from(quantity).expect("valid quantity"),
                    name: "as last seen".into(),
                    unit_price: serde_json::from_value(money(seen)).expect("valid price"),
                    category: None,
                })
                .collect(),
            promotion: code.clone(),
            version: 1,
        };
        let live = code.map(|rules| Promotion {
            rules,
            redemptions: 0,
            version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        });
        let rates: CountryRates =
            serde_json::from_value(json!({"rate_bps": case.rate_bps})).expect("valid rates");
        let address: ShippingAddress = serde_json::from_value(json!({
            "name": "Ada", "line1": "1 Main St", "city": "Berlin",
            "postal_code": "10115", "country": "DE"
        }))
        .expect("valid address");
        let tax = AppliedTax {
            country: address.country.clone(),
            region: None,
            rate_bps: rates.rate_for(None).expect("no regions"),
            prices_include_tax: case.inclusive,
        };

        let view = cart.repriced(&catalog).view_at(NOW, Some(tax.clone())).expect("no overflow");
        let quoted = quote(&cart, &catalog, live.as_ref(), &rates, &address, case.inclusive, NOW);
        match (&view.promotion, quoted) {
            (Some(shown), Err(ApiError::PromotionUnavailable { reason, .. })) if !shown.applies => {
                prop_assert_eq!(Some(reason), shown.message.clone());
            }
            (shown, Ok(order)) if shown.as_ref().is_none_or(|p| p.applies) => {
                prop_assert_eq!(&order.items, &view.items);
                prop_assert_eq!(order.totals.subtotal, view.subtotal);
                prop_assert_eq!(order.totals.discount, view.discount);
                prop_assert_eq!(order.totals.tax, view.tax);
                prop_assert_eq!(order.totals.total, view.total);
                prop_assert_eq!(Some(order.tax), view.tax_rate);
            }
            (shown, quoted) => {
                prop_assert!(false, "the cart showed {shown:?}, checkout said {quoted:?}");
            }
        }
    }
}
