//! The OpenAPI description's shared parts. Each function documents its own
//! route next to its handler (`#[utoipa::path]`); this module supplies what
//! they have in common:
//!
//! - schemas of the domain's primitive types, written from the constants
//!   that parse them, so the document cannot promise a rule the parser does
//!   not keep (every bound here is one the parser enforces on the raw value;
//!   rules applied after trimming are stated in prose instead);
//! - the problem+json error schema;
//! - [`Edge`], which adds to every operation the responses the shared HTTP
//!   edge gives before or around a handler (bad JSON, wrong content type,
//!   missing or forged token, wrong role, body too large, internal error).

use std::borrow::Cow;

use utoipa::{
    openapi::{
        path::Operation,
        request_body::RequestBody,
        schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder,
    },
    Modify, PartialSchema, ToSchema,
};

use crate::{
    auth::{Email, Password, UserId},
    domain::{
        money::{Amount, MAX_AMOUNT},
        order::Country,
        product::MAX_STOCK,
        tax::Bps,
        text::Text,
        Category, Currency, OrderId, PageLimit, Quantity, Sku,
    },
    events::{EventId, JobId},
    http::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URI_BYTES},
    store::products::{InitialStock, StockDelta},
};

pub use crate::error::PROBLEM_JSON;
/// The security scheme name every signed-in route refers to.
pub const BEARER: &str = "bearer";

macro_rules! leaf_schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
}

fn random_id(prefix: &str, what: &str) -> ObjectBuilder {
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
leaf_schema!(UserId, "UserId", random_id("usr_", "User id"));
leaf_schema!(JobId, "JobId", random_id("rpt_", "Report job id"));
leaf_schema!(
    EventId,
    "EventId",
    random_id("evt_", "Event id (time-ordered)")
);
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
leaf_schema!(
    InitialStock,
    "InitialStock",
    integer(0, i64::from(MAX_STOCK)).description(Some("Units on hand at creation"))
);
leaf_schema!(
    StockDelta,
    "StockDelta",
    integer(-i64::from(MAX_STOCK), i64::from(MAX_STOCK)).description(Some(
        "Units received (positive) or written off (negative); not zero, and the \
         result must stay within 0..=1000000"
    ))
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

/// The problem schema, for `body = ...` in route annotations.
pub type ProblemDoc = crate::error::Problem<'static>;

/// A problem+json response with `description`.
pub fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build(),
        )
        .build()
}

/// Adds the shared edge's responses to every operation, the bearer
/// security scheme, and the Problem schema.
pub struct Edge;

impl Modify for Edge {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /v1/auth/login"))
                    .build(),
            ),
        );
        let mut schemas = vec![(ProblemDoc::name().into_owned(), ProblemDoc::schema())];
        ProblemDoc::schemas(&mut schemas);
        components.schemas.extend(schemas);

        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_edge_responses(op);
            }
        }
    }
}

fn add_edge_responses(op: &mut Operation) {
    let signed_in = op.security.as_ref().is_some_and(|reqs| !reqs.is_empty());
    let has_json_body = op
        .request_body
        .as_ref()
        .is_some_and(|body: &RequestBody| body.content.contains_key("application/json"));
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(problem(description)));
    };
    if has_json_body {
        add("400", "Malformed JSON or a body that is not UTF-8");
        add("415", "The body is not application/json");
        add("422", "Well-formed JSON that breaks a field rule");
    }
    if signed_in {
        add(
            "401",
            "Missing, malformed, expired or forged access token (always the same body)",
        );
    }
    add(
        "413",
        &format!("The body is larger than {MAX_BODY_BYTES} bytes"),
    );
    add(
        "414",
        &format!("The path and query are longer than {MAX_URI_BYTES} bytes"),
    );
    add(
        "431",
        &format!("The headers are larger than {MAX_HEADER_BYTES} bytes together"),
    );
    add(
        "500",
        "Something failed on our side; the body never carries internals",
    );
    // The routes the limiter leaves alone: the provider's signed webhook,
    // and the constants served from memory (`http::run_unlimited`).
    let unlimited = ["payment-webhook", "health", "jwks", "openapi"];
    if !unlimited.contains(&op.operation_id.as_deref().unwrap_or_default()) {
        add(
            "429",
            "This client spent its budget for the route's class; Retry-After and RateLimit say when it refills",
        );
    }
}
