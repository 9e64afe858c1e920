//! The HTTP edge every function shares: request/correlation ids, the body
//! size limit, JSON parsing, conditional-request helpers, and the one place
//! a handler's `Result` becomes a response and a log line.
//!
//! A handler is a plain `async fn(deps, Request) -> Result<Response, ApiError>`;
//! `main` hands it to [`run`]. Tests call the handler directly.

use std::{convert::Infallible, future::Future, time::Instant};

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    request::RequestContext,
    service_fn, Body, Request, RequestExt, Response,
};
use serde::{de::DeserializeOwned, Serialize};
use tracing::Instrument;

use crate::error::{ApiError, FieldError};
pub use crate::response::{empty, json};

/// Bodies above this are refused with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// All header names and values together: API Gateway's own HTTP API limit,
/// kept here too so the local stack and direct invocations answer alike.
pub const MAX_HEADER_BYTES: usize = 10 * 1024;
/// Path plus query. No route needs more than a few hundred bytes (a SKU is
/// at most 32, a cursor under 200); a longer target is a probe.
pub const MAX_URI_BYTES: usize = 2048;
/// The deepest JSON nesting a body may have. Our deepest request is three
/// levels (checkout → address → field); serde_json's recursion guard (128)
/// would stop worse, but this answers before parsing anything.
pub const MAX_JSON_DEPTH: usize = 16;
const MAX_CORRELATION_ID: usize = 128;

pub const REQUEST_ID: &str = "x-request-id";
pub const CORRELATION_ID: &str = "x-correlation-id";

/// Serves `handler` without rate limits: for the routes whose answer is a
/// constant in memory (health, JWKS, the OpenAPI document). Counting
/// their callers would cost a DynamoDB write to protect nothing, and would
/// link the SDK into binaries that otherwise do without it; the stage
/// throttle bounds them.
pub async fn run_unlimited<H, Fut>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| async move {
        respond(req, handler).await.map(AsMade)
    }))
    .await
}

/// Serves `handler`, a function that signs callers in, on the Lambda
/// runtime until the process ends: every request is counted against its
/// client's rate limit first, and a request with credentials first
/// refreshes the list of erased accounts if it is stale (`auth::revoked`).
pub async fn run<H, Fut>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let revocations = crate::auth::revoked::Revocations::from_env()?;
    serve(handler, Some(revocations)).await
}

/// [`run`] for a function whose handler reads no access token (the
/// catalog, sign-up and sign-in, the provider's webhook): it never reads
/// the list of erased accounts, and its role has no grant to. The limiter
/// may still key a read on a token it verifies; an erased account's token
/// is then one client among others, and reaches nothing.
pub async fn run_public<H, Fut>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    serve(handler, None).await
}

async fn serve<H, Fut>(
    handler: H,
    revocations: Option<crate::auth::revoked::Revocations>,
) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let limiter = crate::limits::Limiter::from_env()?;
    let limiter = limiter.as_ref();
    let revocations = revocations.as_ref();
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| async move {
        if let Some(revocations) = revocations {
            revocations.refresh_for(&req).await;
        }
        respond_limited(req, handler, limiter).await.map(AsMade)
    }))
    .await
}

/// A response sent as the handler made it. lambda_http's own
/// `IntoResponse` for `Response<Body>` decodes every text body again by
/// its content type's charset, which links encoding_rs with every
/// encoding's tables: 145-186 kB of each release binary (docs/PERFORMANCE-NOTES.md,
/// "Where that memory is now"). Ours are UTF-8 `Body::Text` or
/// deliberate `Body::Binary` already, and an empty body stays empty.
struct AsMade(Response<Body>);

impl lambda_http::IntoResponse for AsMade {
    fn into_response(self) -> std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// Runs one request through the shared edge. Never fails: every error is a
/// problem+json response, because a raw `Err` would be an invocation error
/// (a 502 from API Gateway) instead of a clean status.
pub async fn respond<H, Fut>(req: Request, handler: &H) -> Result<Response<Body>, Infallible>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    respond_limited(req, handler, None).await
}

/// [`respond`], counting the request against its client's rate limit
/// first (when limits are on): 429 once the budget is spent, and the
/// budget's headers on every answer.
pub async fn respond_limited<H, Fut>(
    mut req: Request,
    handler: &H,
    limiter: Option<&crate::limits::Limiter>,
) -> Result<Response<Body>, Infallible>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    let started = Instant::now();
    let request_id = req
        .lambda_context_ref()
        .map(|ctx| ctx.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "local".into());
    let correlation_id = req
        .headers()
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_correlation_id(v))
        .map_or_else(|| request_id.clone(), str::to_string);
    let route = route_of(&req);
    // Whatever answers a request that carries credentials is about that
    // caller: no shared cache may keep it, errors included.
    let credentialed = req.headers().contains_key(header::AUTHORIZATION);
    let span = tracing::info_span!("request", %request_id, %correlation_id);

    let edge = edge_limits(&req);
    let decision = match (limiter, &edge) {
        (Some(limiter), Ok(())) => limiter.check(&mut req).instrument(span.clone()).await,
        _ => crate::limits::Decision::Unlimited,
    };
    let response = async {
        let result = match (edge, &decision) {
            (Err(problem), _) => Err(problem),
            (Ok(()), crate::limits::Decision::Refused { reset_secs, .. }) => {
                Err(ApiError::TooManyRequests {
                    retry_after_secs: u64::from((*reset_secs).max(1)),
                })
            }
            (Ok(()), _) => handler(req).await,
        };
        result.unwrap_or_else(ApiError::into_response)
    }
    .instrument(span.clone());
    let mut response =
        crate::telemetry::with_correlation_id(correlation_id.clone(), response).await;

    let headers = response.headers_mut();
    for (name, value) in [(REQUEST_ID, &request_id), (CORRELATION_ID, &correlation_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    for (name, value) in decision.headers() {
        headers.insert(name, value);
    }
    if credentialed {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(route, status, latency_ms, "request"));
    crate::metrics::request(status, latency_ms);
    Ok(response)
}

/// Size limits every route shares, checked before any handler runs.
fn edge_limits(req: &Request) -> Result<(), ApiError> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        });
    }
    let uri = req.uri();
    let target = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if target > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    if body_bytes(req).len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(())
}

/// The deepest `[`/`{` nesting of a JSON text, counted outside strings. One
/// pass over bytes that are about to be parsed anyway.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// API Gateway's route key (`GET /v1/products/{sku}`), so log lines group by
/// endpoint; the local emulator sends `$default`, so fall back to the path.
fn route_of(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.route_key.clone().filter(|key| key != "$default")
        }
        _ => None,
    }
    .unwrap_or_else(|| format!("{} {}", req.method(), req.uri().path()))
}

/// Printable ASCII without spaces: safe to echo in a header and a log line.
fn is_valid_correlation_id(value: &str) -> bool {
    (1..=MAX_CORRELATION_ID).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Parses a JSON body into `T`, the shared rules for every endpoint:
/// not `application/json` → 415, invalid UTF-8 or malformed JSON → 400,
/// well-formed JSON of the wrong shape (unknown field, bad value) → 422
/// naming the field. `T` should `deny_unknown_fields`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(body_bytes(req))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("the request body is not valid UTF-8".into()))?;
    if json_depth(text) > MAX_JSON_DEPTH {
        return Err(ApiError::BadRequest(format!(
            "JSON nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let malformed = |err: serde_json::Error| ApiError::BadRequest(format!("malformed JSON: {err}"));
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            let field = if field == "." { "body".into() } else { field };
            ApiError::Validation(vec![FieldError::new(
                field,
                strip_position(&inner.to_string()),
            )])
        } else {
            malformed(inner)
        }
    })?;
    de.end().map_err(malformed)?;
    Ok(value)
}

/// serde appends " at line 1 column 42", which is noise in a field message.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The first value of a query parameter.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|params| params.first(name))
}

/// A path parameter from the route template (`{sku}`).
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
}

/// The `{sku}` of a product route. A segment that cannot be a SKU names
/// no product: 404, like an unknown one.
pub fn sku_param(req: &Request) -> Result<crate::domain::Sku, ApiError> {
    path_param(req, "sku")
        .and_then(|raw| crate::domain::Sku::try_from(raw.to_string()).ok())
        .ok_or_else(ApiError::product_not_found)
}

/// The `{id}` of an order route; anything that is not an order id names
/// no order (404).
pub fn order_id_param(req: &Request) -> Result<crate::domain::OrderId, ApiError> {
    path_param(req, "id")
        .and_then(|raw| crate::domain::OrderId::try_from(raw.to_string()).ok())
        .ok_or_else(ApiError::order_not_found)
}

/// The `{code}` of a promotion route (any case); anything that cannot be a
/// code names no promotion (404).
pub fn code_param(req: &Request) -> Result<crate::domain::promotion::PromoCode, ApiError> {
    path_param(req, "code")
        .and_then(|raw| crate::domain::promotion::PromoCode::try_from(raw.to_string()).ok())
        .ok_or_else(ApiError::promotion_not_found)
}

/// The `{id}` of a webhook endpoint route; anything that cannot be one is 404.
pub fn endpoint_id_param(req: &Request) -> Result<crate::events::EndpointId, ApiError> {
    path_param(req, "id")
        .and_then(|raw| crate::events::EndpointId::try_from(raw.to_string()).ok())
        .ok_or_else(ApiError::webhook_endpoint_not_found)
}

/// The `{delivery_id}` (an event id) of a webhook delivery route.
pub fn delivery_id_param(req: &Request) -> Result<crate::events::EventId, ApiError> {
    path_param(req, "delivery_id")
        .and_then(|raw| crate::events::EventId::try_from(raw.to_string()).ok())
        .ok_or_else(ApiError::delivery_not_found)
}

/// True when an `If-None-Match` header matches `etag` (weak comparison,
/// RFC 9110 §13.1.2), so the client's copy is current.
pub fn if_none_match(req: &Request, etag: &str) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = strip(etag);
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || strip(tag) == ours)
}

/// What a write's `If-Match` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// A strong ETag of ours, naming this version.
    Version(u64),
}

/// Reads the `If-Match` precondition of a write: absent → 428; a weak,
/// foreign or malformed tag can never match a current version → 412.
pub fn if_match(req: &Request, version_of: fn(&str) -> Option<u64>) -> Result<IfMatch, ApiError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed)?
        .trim();
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    version_of(value)
        .map(IfMatch::Version)
        .ok_or(ApiError::PreconditionFailed)
}

/// A JSON response carrying its resource's `ETag`.
pub fn json_with_etag<T: Serialize>(status: StatusCode, value: &T, etag: &str) -> Response<Body> {
    let mut response = json(status, value);
    if let Ok(etag) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Responses that depend on who asked must not be cached by anyone.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The `Idempotency-Key` header (1 to 255 characters) and its replay
/// marker, as checkout defined them for every mutating POST.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// A stored JSON response sent again (or for the first time), never cached,
/// marked `Idempotent-Replayed: true` on a replay.
pub fn stored_json(status: StatusCode, body: String, replayed: bool) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if replayed {
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body_ {
        quantity: u8,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    fn request(content_type: Option<&str>, body: Body) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(body).expect("request")
    }

    fn status_of(result: Result<Body_, ApiError>) -> u16 {
        result.expect_err("should fail").status().as_u16()
    }

    #[test]
    fn parses_a_valid_body() {
        let req = request(
            Some("application/json; charset=utf-8"),
            Body::Text(r#"{"quantity":3}"#.into()),
        );
        assert_eq!(json_body::<Body_>(&req).expect("valid").quantity, 3);
    }

    #[test]
    fn maps_each_kind_of_bad_body_to_its_status() {
        let json = Some("application/json");
        let cases: [(Option<&str>, Body, u16); 7] = [
            (None, Body::Text(r#"{"quantity":3}"#.into()), 415),
            (
                Some("text/plain"),
                Body::Text(r#"{"quantity":3}"#.into()),
                415,
            ),
            (json, Body::Text(r#"{"quantity":"#.into()), 400),
            (json, Body::Binary(vec![b'{', 0xff, b'}']), 400),
            (json, Body::Text(r#"{"quantity":3} trailing"#.into()), 400),
            (json, Body::Text(r#"{"quantity":300}"#.into()), 422),
            (json, Body::Text(r#"{"quantity":3,"price":1}"#.into()), 422),
        ];
        for (ct, body, status) in cases {
            assert_eq!(status_of(json_body(&request(ct, body))), status);
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_before_parsing() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(json_depth(&nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH);
        assert_eq!(json_depth(r#"{"a":"[[[[{{{{\"[[[","b":[{}]}"#), 3);
        let deep = format!(r#"{{"quantity":1,"inner":{}}}"#, nested(100_000));
        let err = json_body::<Body_>(&request(Some("application/json"), Body::Text(deep)))
            .expect_err("too deep");
        assert_eq!(err.status(), 400);
        assert!(
            matches!(err, ApiError::BadRequest(ref detail) if detail.contains("nested")),
            "{err:?}"
        );
        // Brackets inside strings are text, not nesting.
        let text = format!(
            r#"{{"quantity":1,"inner":{{"name":"{}"}}}}"#,
            "[".repeat(1000)
        );
        assert!(json_body::<Body_>(&request(Some("application/json"), Body::Text(text))).is_ok());
    }

    #[tokio::test]
    async fn oversized_headers_and_targets_are_refused_at_the_edge() {
        let reached = std::sync::atomic::AtomicBool::new(false);
        let handler = |_req: Request| {
            reached.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok(empty(StatusCode::NO_CONTENT)) }
        };
        let big_auth = lambda_http::http::Request::builder()
            .uri("/v1/me")
            .header(
                "authorization",
                format!("Bearer {}", "a".repeat(MAX_HEADER_BYTES)),
            )
            .body(Body::Empty)
            .expect("request");
        let response = respond(big_auth, &handler).await.expect("infallible");
        assert_eq!(response.status(), 431);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");

        let long = lambda_http::http::Request::builder()
            .uri(format!("/v1/products/{}", "A".repeat(MAX_URI_BYTES)))
            .body(Body::Empty)
            .expect("request");
        assert_eq!(
            respond(long, &handler).await.expect("infallible").status(),
            414
        );
        assert!(
            !reached.load(std::sync::atomic::Ordering::SeqCst),
            "no handler ran"
        );

        let fine = lambda_http::http::Request::builder()
            .uri("/v1/products/TEA-001?limit=5")
            .header("authorization", format!("Bearer {}", "a".repeat(4096)))
            .body(Body::Empty)
            .expect("request");
        assert_eq!(
            respond(fine, &handler).await.expect("infallible").status(),
            204
        );
    }

    #[test]
    fn validation_errors_name_the_nested_field() {
        let req = request(
            Some("application/json"),
            Body::Text(r#"{"quantity":1,"inner":{"name":"a","x":1}}"#.into()),
        );
        match json_body::<Body_>(&req) {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "inner.x");
                assert!(errors[0].message.contains("unknown field `x`"));
                assert!(!errors[0].message.contains("line"));
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let with = |value: &str| {
            lambda_http::http::Request::builder()
                .header("if-none-match", value)
                .body(Body::Empty)
                .expect("request")
        };
        assert!(if_none_match(&with("\"v1-s2\""), "\"v1-s2\""));
        assert!(if_none_match(&with("W/\"v1-s2\""), "\"v1-s2\""));
        assert!(if_none_match(&with("\"a\", \"v1-s2\""), "\"v1-s2\""));
        assert!(if_none_match(&with("*"), "\"v1-s2\""));
        assert!(!if_none_match(&with("\"v1-s3\""), "\"v1-s2\""));
    }

    #[test]
    fn correlation_ids_must_be_short_printable_ascii() {
        assert!(is_valid_correlation_id("order-7f3a:retry.2"));
        assert!(!is_valid_correlation_id(""));
        assert!(!is_valid_correlation_id("has space"));
        assert!(!is_valid_correlation_id("line\nbreak"));
        assert!(!is_valid_correlation_id(&"x".repeat(129)));
    }

    #[tokio::test]
    async fn respond_turns_errors_into_problems_and_tags_every_response() {
        let handler = |_req: Request| async { Err(ApiError::NotFound("no such thing".into())) };
        let req = lambda_http::http::Request::builder()
            .header(CORRELATION_ID, "abc-123")
            .body(Body::Empty)
            .expect("request");
        let response = respond(req, &handler).await.expect("infallible");
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()[CORRELATION_ID], "abc-123");
        assert!(response.headers().contains_key(REQUEST_ID));
    }

    #[tokio::test]
    async fn responses_to_credentialed_requests_are_never_cached() {
        let handler = |req: Request| async move {
            match req.uri().path() {
                "/public" => Ok(cached(json(StatusCode::OK, &"catalog"))),
                _ => Err(ApiError::NotFound("no such thing".into())),
            }
        };
        fn cached(mut response: Response<Body>) -> Response<Body> {
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=10"),
            );
            response
        }
        let request = |path: &str, token: bool| {
            let mut builder = lambda_http::http::Request::builder().uri(path);
            if token {
                builder = builder.header(header::AUTHORIZATION, "Bearer x");
            }
            builder.body(Body::Empty).expect("request")
        };
        let cache_control = |response: Response<Body>| {
            response
                .headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap_or_default().to_string())
        };
        let error = respond(request("/missing", true), &handler)
            .await
            .expect("infallible");
        assert_eq!(cache_control(error).as_deref(), Some("no-store"));
        let anonymous = respond(request("/missing", false), &handler)
            .await
            .expect("infallible");
        assert_eq!(cache_control(anonymous), None);
        // A handler's own caching decision stands (public catalog reads).
        let public = respond(request("/public", true), &handler)
            .await
            .expect("infallible");
        assert_eq!(cache_control(public).as_deref(), Some("public, max-age=10"));
    }

    #[tokio::test]
    async fn respond_refuses_oversized_bodies_before_the_handler() {
        let handler = |_req: Request| async { Ok(empty(StatusCode::OK)) };
        let req = lambda_http::http::Request::builder()
            .body(Body::Text("x".repeat(MAX_BODY_BYTES + 1)))
            .expect("request");
        let response = respond(req, &handler).await.expect("infallible");
        assert_eq!(response.status(), 413);
    }
}
