//! The cart item: how a [`Cart`] is stored (its lines and code as JSON, and
//! a version every write bumps), and read back. Pure: no I/O, so its round
//! trip is a unit test.

use super::attr::{get_n, get_s, n, s};
use super::StoreError;
use crate::domain::{cart::Cart, UserId};
use crate::keys::{self, Item};

/// The item that saves `cart` for `user`, at the next version.
pub(crate) fn encode_cart(user: &UserId, cart: &Cart) -> Result<Item, StoreError> {
    let lines =
        serde_json::to_string(&cart.lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = keys::cart::cart(user);
    item.extend([
        ("lines".into(), s(lines)),
        ("version".into(), n(cart.version + 1)),
    ]);
    if let Some(applied) = &cart.promotion {
        let applied =
            serde_json::to_string(applied).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        item.insert("promotion".into(), s(applied));
    }
    Ok(item)
}

pub(crate) fn decode_cart(item: Option<&Item>) -> Result<Cart, StoreError> {
    let Some(item) = item else {
        return Ok(Cart::default());
    };
    let lines = serde_json::from_str(get_s(item, "lines")?)
        .map_err(|_| StoreError::Corrupt("cart lines do not parse".into()))?;
    let promotion = match item.get("promotion") {
        Some(_) => Some(
            serde_json::from_str(get_s(item, "promotion")?)
                .map_err(|_| StoreError::Corrupt("cart promotion does not parse".into()))?,
        ),
        None => None,
    };
    Ok(Cart {
        lines,
        promotion,
        version: get_n(item, "version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::CartLine;
    use serde_json::json;

    fn cart(with_code: bool) -> Cart {
        let line: CartLine = serde_json::from_value(json!({
            "sku": "TEA-001", "quantity": 2, "name": "Sencha",
            "unit_price": {"amount": 1250, "currency": "USD"}, "category": "tea"
        }))
        .expect("valid line");
        Cart {
            lines: vec![line],
            promotion: with_code.then(|| {
                serde_json::from_value(json!({
                    "code": "TEN-OFF", "discount": {"kind": "percent", "percent": 10},
                    "scope": {"categories": ["tea"]}
                }))
                .expect("valid rules")
            }),
            version: 4,
        }
    }

    #[test]
    fn a_cart_round_trips_at_the_next_version() {
        let user = UserId::generate();
        for with_code in [false, true] {
            let original = cart(with_code);
            let item = encode_cart(&user, &original).expect("encodes");
            let back = decode_cart(Some(&item)).expect("decodes");
            assert_eq!(
                back,
                Cart {
                    version: 5,
                    ..original
                }
            );
        }
    }

    #[test]
    fn no_item_is_an_empty_cart_and_a_corrupt_one_an_error() {
        assert_eq!(decode_cart(None).expect("empty"), Cart::default());
        let mut item = encode_cart(&UserId::generate(), &cart(false)).expect("encodes");
        item.insert("lines".into(), s("not json"));
        assert!(matches!(
            decode_cart(Some(&item)),
            Err(StoreError::Corrupt(_))
        ));
    }
}
