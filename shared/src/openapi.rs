//! The OpenAPI description's shared parts. Each function documents its own
//! route next to its handler (`#[utoipa::path]`); this module supplies what
//! they have in common:
//!
//! - schemas of the ids and stock amounts defined here (the domain's own
//!   primitive types have theirs in `quiet_domain::schema`);
//! - the problem+json error schema;
//! - [`Edge`], which adds to every operation the responses the shared HTTP
//!   edge gives before or around a handler (bad JSON, wrong content type,
//!   missing or forged token, wrong role, body too large, internal error).

use utoipa::{
    openapi::{
        path::Operation,
        request_body::RequestBody,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder,
    },
    Modify, PartialSchema, ToSchema,
};

use crate::{
    domain::product::MAX_STOCK,
    events::EventId,
    http::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URI_BYTES},
    store::products::{InitialStock, StockDelta},
};

pub use crate::error::PROBLEM_JSON;
/// The security scheme name every signed-in route refers to.
pub const BEARER: &str = "bearer";

use quiet_domain::leaf_schema;
use quiet_domain::schema::{integer, random_id};

leaf_schema!(
    EventId,
    "EventId",
    random_id("evt_", "Event id (time-ordered)")
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
