//! `Idempotency-Key` for every mutating POST, checkout's rules from one
//! place: a key is claimed before the effect runs, the 2xx it produced is
//! stored, and the same key with the same request gets that response again
//! (`Idempotent-Replayed: true`) while the effect happens once. The same
//! key with another request is 422; while the first still runs, 409. An
//! error stores nothing and gives the key back, so a retry runs again.
//!
//! A handler parses its input first (bad input never spends a key), then
//! hands its effect, not yet started, to [`once`]:
//!
//! ```ignore
//! idempotent::once(store, &req, KeyScope::user(&admin.id), "products", &[], create(deps, &new)).await
//! ```
//!
//! which stores the response right after the effect: right for an effect
//! that its own condition makes happen once. An effect that could happen
//! twice (a stock delta, a new job) [`begin`]s, puts [`Ticket::completion`]
//! in its own transaction, and ends with [`release_on_error`].

use lambda_http::{
    http::{header, HeaderName, HeaderValue, StatusCode},
    Body, Request, Response,
};

use crate::domain::UserId;
use crate::http::{stored_json, IDEMPOTENCY_KEY};
use crate::store::{Claim, Completion, IdempotencyStore, KeyScope, StoredResponse};
use crate::ApiError;
use quiet_support::encoding::sha256_hex;

/// The headers a replay carries besides the body (the ones clients follow).
const KEPT_HEADERS: [HeaderName; 2] = [header::ETAG, header::LOCATION];

/// A claimed key: the right to run the effect and store its response.
#[derive(Debug)]
pub struct Ticket {
    scope: KeyScope,
    key_hash: String,
    lease: String,
}

impl Ticket {
    /// The completion to commit with the effect, for `response`.
    pub fn completion<'a>(&'a self, response: &'a StoredResponse) -> Completion<'a> {
        Completion {
            scope: &self.scope,
            key_hash: &self.key_hash,
            lease: &self.lease,
            response,
            about: None,
        }
    }

    /// [`Ticket::completion`] for a response about `customer`'s order, made
    /// by staff: their erasure scrubs it too.
    pub fn completion_about<'a>(
        &'a self,
        response: &'a StoredResponse,
        customer: &'a UserId,
    ) -> Completion<'a> {
        Completion {
            about: Some(customer),
            ..self.completion(response)
        }
    }
}

pub enum Begin<T> {
    /// Run the effect (with the ticket, if the request had a key).
    Run(T),
    /// This key already completed with this request: send this.
    Replay(Response<Body>),
}

/// The one parser of the `Idempotency-Key` header: `Ok(None)` without
/// one, `Err` when present but not 1 to 255 characters of text.
fn parse_key(req: &Request) -> Result<Option<&str>, ()> {
    match req.headers().get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .filter(|key| (1..=255).contains(&key.chars().count()))
            .map(Some)
            .ok_or(()),
    }
}

/// The request's `Idempotency-Key`: `None` without one; present but empty
/// or longer than 255 characters is 400.
pub fn optional_key(req: &Request) -> Result<Option<&str>, ApiError> {
    parse_key(req).map_err(|()| {
        ApiError::BadRequest("an Idempotency-Key header has 1 to 255 characters".into())
    })
}

/// The request's `Idempotency-Key` where one is required (checkout,
/// refunds): missing, empty or overlong is 400.
pub fn required_key(req: &Request) -> Result<&str, ApiError> {
    parse_key(req).ok().flatten().ok_or_else(|| {
        ApiError::BadRequest("an Idempotency-Key header of 1 to 255 characters is required".into())
    })
}

/// What makes two requests "the same": method, path and the JSON body as
/// parsed (so spacing and key order do not matter), less `omit`ted fields
/// that must not be kept (a password).
pub fn fingerprint(req: &Request, omit: &[&str]) -> String {
    let raw: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let body = match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(mut value) => {
            if let Some(object) = value.as_object_mut() {
                for field in omit {
                    object.remove(*field);
                }
            }
            value.to_string()
        }
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    };
    format!("{}\n{}\n{body}", req.method(), req.uri().path())
}

/// Runs `effect` (a future not yet polled) unless the request's key says
/// replay, and stores what it answered: [`begin`] then [`finish`], with
/// the request's [`fingerprint`] less the `omit`ted fields.
pub async fn once<I, F>(
    store: &I,
    req: &Request,
    scope: KeyScope,
    route: &str,
    omit: &[&str],
    effect: F,
) -> Result<Response<Body>, ApiError>
where
    I: IdempotencyStore,
    F: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    match begin(store, req, scope, route, &fingerprint(req, omit)).await? {
        Begin::Replay(response) => Ok(response),
        Begin::Run(ticket) => finish(store, ticket, effect.await).await,
    }
}

/// Claims the request's key, if it has one, for `route` (a key is scoped
/// to its route and its caller).
pub async fn begin<I: IdempotencyStore>(
    store: &I,
    req: &Request,
    scope: KeyScope,
    route: &str,
    fingerprint: &str,
) -> Result<Begin<Option<Ticket>>, ApiError> {
    match optional_key(req)? {
        None => Ok(Begin::Run(None)),
        Some(key) => Ok(
            match claim(store, scope, key_hash(route, key), fingerprint).await? {
                Begin::Run(ticket) => Begin::Run(Some(ticket)),
                Begin::Replay(response) => Begin::Replay(response),
            },
        ),
    }
}

/// [`begin`] where the key is required: 400 without one.
pub async fn begin_required<I: IdempotencyStore>(
    store: &I,
    req: &Request,
    scope: KeyScope,
    route: &str,
    fingerprint: &str,
) -> Result<Begin<Ticket>, ApiError> {
    let key = required_key(req)?;
    claim(store, scope, key_hash(route, key), fingerprint).await
}

/// Checkout's keys were hashed bare before keys had routes; its records
/// keep that shape so a retry across a deploy still finds its record.
fn key_hash(route: &str, key: &str) -> String {
    if route == "checkout" {
        sha256_hex(key.as_bytes())
    } else {
        sha256_hex(format!("{route}\n{key}").as_bytes())
    }
}

async fn claim<I: IdempotencyStore>(
    store: &I,
    scope: KeyScope,
    key_hash: String,
    fingerprint: &str,
) -> Result<Begin<Ticket>, ApiError> {
    let request_hash = sha256_hex(fingerprint.as_bytes());
    match store
        .claim(&scope, &key_hash, &request_hash, crate::clock::now())
        .await?
    {
        Claim::Claimed { lease } => Ok(Begin::Run(Ticket {
            scope,
            key_hash,
            lease,
        })),
        Claim::Replay(stored) => Ok(Begin::Replay(replay(stored))),
        Claim::InProgress => Err(in_progress()),
        Claim::Mismatch => Err(ApiError::validation(
            "Idempotency-Key",
            "this key was already used with a different request",
        )),
    }
}

/// The answer when the key's first request is still running, or lost its
/// claim to a retry that took it over.
pub fn in_progress() -> ApiError {
    ApiError::key_in_progress()
}

fn replay(stored: StoredResponse) -> Response<Body> {
    respond(stored, true)
}

/// The first answer of an effect that stored `stored` in its transaction:
/// the very response its replays will send.
pub fn sent(stored: StoredResponse) -> Response<Body> {
    respond(stored, false)
}

fn respond(stored: StoredResponse, replayed: bool) -> Response<Body> {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = stored_json(status, stored.body, replayed);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The response as stored: status, text body, kept headers.
pub fn stored(response: &Response<Body>) -> StoredResponse {
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect();
    StoredResponse {
        status: response.status().as_u16(),
        body,
        headers,
    }
}

/// Ends a request whose effect did not store its own response: a success
/// is stored for replays, an error gives the key back.
pub async fn finish<I: IdempotencyStore>(
    store: &I,
    ticket: Option<Ticket>,
    result: Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, ApiError> {
    finish_about(store, ticket, result, None).await
}

/// [`finish`] for a staff request whose answer is about `about`'s order
/// ([`Ticket::completion_about`]).
pub async fn finish_about<I: IdempotencyStore>(
    store: &I,
    ticket: Option<Ticket>,
    result: Result<Response<Body>, ApiError>,
    about: Option<&UserId>,
) -> Result<Response<Body>, ApiError> {
    let Some(ticket) = ticket else {
        return result;
    };
    match result {
        Ok(mut response) => {
            let stored = stored(&response);
            let completion = match about {
                Some(customer) => ticket.completion_about(&stored, customer),
                None => ticket.completion(&stored),
            };
            // The effect happened: losing the record costs a replay, not
            // the answer, so a failed store is logged, not returned.
            match store.complete(&completion).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!("idempotency claim taken over before completion"),
                Err(err) => tracing::error!(error = %err, "idempotent response not stored"),
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(err) => {
            release(store, &ticket).await;
            Err(err)
        }
    }
}

/// Ends a request whose effect stored its response in its own
/// transaction: only an error needs anything (the key back).
pub async fn release_on_error<I: IdempotencyStore>(
    store: &I,
    ticket: Option<&Ticket>,
    result: Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, ApiError> {
    if let (Err(_), Some(ticket)) = (&result, ticket) {
        release(store, ticket).await;
    }
    result
}

async fn release<I: IdempotencyStore>(store: &I, ticket: &Ticket) {
    if let Err(err) = store
        .release(&ticket.scope, &ticket.key_hash, &ticket.lease)
        .await
    {
        tracing::error!(error = %err, "idempotency claim not released");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, body: &str) -> Request {
        let mut req = Request::new(Body::Text(body.into()));
        *req.method_mut() = lambda_http::http::Method::POST;
        *req.uri_mut() = path.parse().expect("uri");
        req
    }

    #[test]
    fn the_same_request_however_it_is_spaced_has_one_fingerprint() {
        let a = fingerprint(&request("/v1/x", r#"{"a":1,"b":[2,3]}"#), &[]);
        let b = fingerprint(&request("/v1/x", "{ \"b\": [2, 3],\n \"a\": 1 }"), &[]);
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint(&request("/v1/y", r#"{"a":1,"b":[2,3]}"#), &[])
        );
        assert_ne!(
            a,
            fingerprint(&request("/v1/x", r#"{"a":2,"b":[2,3]}"#), &[])
        );
    }

    #[test]
    fn an_omitted_field_never_reaches_the_fingerprint() {
        let print = fingerprint(
            &request(
                "/v1/auth/register",
                r#"{"email":"a@b.c","password":"hunter22"}"#,
            ),
            &["password"],
        );
        assert!(!print.contains("hunter22"), "{print}");
        assert!(print.contains("a@b.c"));
    }

    #[test]
    fn a_stored_response_keeps_what_a_client_follows_and_replays_it() {
        let mut response = crate::http::json(StatusCode::CREATED, &serde_json::json!({"id": 1}));
        for (name, value) in [
            (header::ETAG, "\"1\""),
            (header::LOCATION, "/v1/x/1"),
            (header::SET_COOKIE, "no"),
        ] {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        let stored = stored(&response);
        assert_eq!(stored.status, 201);
        assert_eq!(stored.body, r#"{"id":1}"#);
        assert_eq!(stored.headers.len(), 2, "{:?}", stored.headers);
        let again = replay(stored);
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()[header::LOCATION], "/v1/x/1");
        assert_eq!(again.headers()[header::ETAG], "\"1\"");
        assert_eq!(again.headers()[crate::http::REPLAYED], "true");
        assert!(again.headers().get(header::SET_COOKIE).is_none());
    }

    #[test]
    fn keys_are_scoped_to_their_route_but_checkout_keeps_its_old_hash() {
        assert_ne!(key_hash("stock", "k"), key_hash("products", "k"));
        assert_eq!(key_hash("checkout", "k"), sha256_hex(b"k"));
    }
}
