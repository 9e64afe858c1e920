//! Quiet Engine's domain: the shop's entities and rules, pure. Each type can
//! only hold a valid value: constructing one is the validation, so code past
//! the edge never checks again. Serde goes through the same constructors
//! (`try_from`), so a bad request body fails with the type's own message.
//!
//! Pure means no I/O: this crate depends on no AWS SDK, Lambda runtime or
//! tokio, and of the workspace only on `quiet-support`, so the compiler
//! keeps storage and transport out of it. Everything here is unit-tested
//! without the emulator (`make check` runs these tests).

pub mod address;
pub mod cart;
pub mod cursor;
pub mod erasure;
pub mod line;
pub mod money;
pub mod order;
pub mod order_status;
pub mod pricing;
pub mod product;
pub mod promotion;
pub mod refund;
pub mod report;
pub mod schema;
pub mod stock;
pub mod tax;
pub mod text;
pub mod user;

pub use address::ShippingAddress;
pub use cursor::{Cursor, CursorKey};
pub use line::{Line, Quantity};
pub use money::{Currency, CurrencyCode, Money, Total};
pub use order::{Order, OrderId};
pub use order_status::OrderStatus;
pub use product::{Category, PageLimit, Product, Sku};
pub use text::Text;
pub use user::{Email, Password, Role, UserId};
