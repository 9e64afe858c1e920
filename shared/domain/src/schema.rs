//! OpenAPI schemas of the domain's primitive types, written from the
//! constants that parse them, so the document cannot promise a rule the
//! parser does not keep (every bound here is one the parser enforces on the
//! raw value; rules applied after trimming are stated in prose instead).

use std::borrow::Cow;

use utoipa::{
    openapi::{
        schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
        RefOr,
    },
    PartialSchema, ToSchema,
};

use crate::{
    address::Country,
    money::{Amount, MAX_AMOUNT},
    report::JobId,
    tax::Bps,
    text::Text,
    Category, Currency, Email, OrderId, PageLimit, Password, Quantity, Sku, UserId,
};

/// Implements `ToSchema` for `$ty` as the schema `$schema` named `$name`.
#[macro_export]
macro_rules! leaf_schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl ::utoipa::PartialSchema for $ty {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                $schema.into()
            }
        }
        impl ::utoipa::ToSchema for $ty {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

/// A string schema.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// An int64 schema bounded to `min..=max`.
pub fn integer(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
}

/// The schema of an id type (`quiet_support::id_type!`).
pub fn random_id(prefix: &str, what: &str) -> ObjectBuilder {
    string()
        .pattern(Some(format!("^{prefix}[0-9a-f]{{32}}$")))
        .description(Some(format!(
            "{what}: `{prefix}` and 32 lowercase hex digits"
        )))
}

leaf_schema!(
    Sku,
    "Sku",
    string()
        .pattern(Some("^[A-Z0-9-]{3,40}$"))
        .description(Some("Stock-keeping unit"))
        .examples(["TEE-BLK-M"])
);
leaf_schema!(
    Category,
    "Category",
    string()
        .pattern(Some("^[a-z0-9-]{1,50}$"))
        .description(Some("Category slug"))
        .examples(["apparel"])
);
leaf_schema!(
    Amount,
    "Amount",
    integer(0, MAX_AMOUNT as i64).description(Some("Minor units (cents)"))
);
leaf_schema!(
    Currency,
    "Currency",
    string()
        .enum_values(Some(["USD"]))
        .description(Some("ISO 4217 code; only USD is sold today"))
);
leaf_schema!(Quantity, "Quantity", integer(1, i64::from(Quantity::MAX)));
leaf_schema!(
    Bps,
    "Bps",
    integer(0, i64::from(Bps::MAX)).description(Some("A rate in basis points: 2000 is 20%"))
);
leaf_schema!(OrderId, "OrderId", random_id("ord_", "Order id"));
leaf_schema!(JobId, "JobId", random_id("rpt_", "Report job id"));
leaf_schema!(UserId, "UserId", random_id("usr_", "User id"));
leaf_schema!(
    Country,
    "Country",
    string()
        .pattern(Some(r"^\s*[A-Z]{2}\s*$"))
        .description(Some("ISO 3166-1 alpha-2 code"))
        .examples(["DE"])
);
// Emails are trimmed and lower-cased before they are checked, so the only
// rule that holds for the raw value is the `@`.
leaf_schema!(
    Email,
    "Email",
    string().pattern(Some("@")).description(Some(
        "An email address; surrounding spaces are ignored and it is stored lower-cased"
    ))
);
leaf_schema!(
    Password,
    "Password",
    string().min_length(Some(12)).max_length(Some(128))
);
// `?limit=` counts as absent (front ends template their query strings), so
// the empty string is part of the contract.
leaf_schema!(
    PageLimit,
    "PageLimit",
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(integer(1, i64::from(PageLimit::MAX)))
        .item(string().max_length(Some(0)))
        .description(Some(format!(
            "Page size, 1 to {}; absent or empty means {}",
            PageLimit::MAX,
            PageLimit::DEFAULT.get()
        )))
);

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> PartialSchema
    for Text<MIN, MAX, MULTILINE>
{
    fn schema() -> RefOr<Schema> {
        // Rust's `char::is_control` (Unicode Cc): C0, DEL and C1.
        let pattern = if MULTILINE {
            r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
        } else {
            r"^[^\u0000-\u001F\u007F-\u009F]*$"
        };
        string()
            .min_length(Some(MIN))
            .max_length(Some(MAX))
            .pattern(Some(pattern))
            .into()
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> ToSchema
    for Text<MIN, MAX, MULTILINE>
{
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Text{MIN}To{MAX}"))
    }
}
