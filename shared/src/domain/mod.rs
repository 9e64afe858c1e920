//! Domain types. Each can only hold a valid value: constructing one is the
//! validation, so code past the edge never checks again. Serde goes through
//! the same constructors (`try_from`), so a bad request body fails with the
//! type's own message.

pub mod cursor;
pub mod money;
pub mod order;
pub mod product;
pub mod promotion;
pub mod refund;
pub mod stock;
pub mod tax;
pub mod text;

pub use cursor::{Cursor, CursorKey};
pub use money::{Currency, CurrencyCode, Money, Total};
pub use order::{Line, OrderId, OrderStatus, Quantity, ShippingAddress};
pub use product::{Category, PageLimit, Product, Sku};
pub use text::Text;
