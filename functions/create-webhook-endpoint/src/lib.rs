//! POST /v1/admin/webhook-endpoints (admin): subscribes a merchant system
//! to order, payment and refund events. 201 with the endpoint and its
//! signing secret, which is shown in this answer only.
//!
//! The URL must be https and its host must resolve to public addresses
//! only: loopback, link-local (the cloud metadata service), private and
//! other special ranges are refused here, and again by the webhooks worker
//! at each delivery (`quiet_core::webhooks`). With an `Idempotency-Key`, a
//! retry gets the same endpoint (and secret) instead of a second one.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    events::EndpointId,
    http::{json, json_body},
    idempotent::{self, Begin, Ticket},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{
        webhooks::{CreatedEndpoint, Endpoint},
        KeyScope, StoreError, WebhookStore,
    },
    webhooks::{EventTypes, Secret},
    ApiError,
};
use serde::Deserialize;

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<W> {
    pub webhooks: W,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
    /// Checks an endpoint's URL, as the webhooks worker does again at delivery.
    pub guard: quiet_core::webhooks::Guard,
}

/// The body of a registration.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://` and a host that resolves to public addresses only.
    #[schema(example = "https://erp.example.com/hooks/quiet-engine")]
    pub url: String,
    /// At least one of: order.placed, order.paid, order.shipped,
    /// order.cancelled, order.expired, refund.requested, refund.succeeded,
    /// refund.failed.
    #[schema(example = json!(["order.paid", "refund.succeeded"]))]
    pub event_types: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/webhook-endpoints",
    tag = "admin",
    operation_id = "create-webhook-endpoint",
    request_body(content = NewEndpoint, content_type = "application/json"),
    params(
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key and body gets the first answer (and secret) again")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Subscribed; the secret is shown this once. A replay carries Idempotent-Replayed: true", body = CreatedEndpoint, headers(("location" = String), ("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "A request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Not https, a host that does not resolve or resolves to a loopback, link-local, private or other non-public address, an unknown event type, or the Idempotency-Key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<W: WebhookStore>(
    deps: &Deps<W>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let new: NewEndpoint = json_body(&req)?;
    let event_types =
        EventTypes::parse(&new.event_types).map_err(|m| ApiError::validation("event_types", m))?;
    let destination = deps
        .guard
        .destination(new.url.trim())
        .map_err(|m| ApiError::validation("url", format!("the URL {m}")))?;
    deps.guard
        .resolve(&destination.host, destination.port)
        .await
        .map_err(|m| ApiError::validation("url", m))?;
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url: destination.url,
        event_types,
        created_at: now_rfc3339(),
        secret: Secret::generate(),
    };
    let ticket = match idempotent::begin(
        &deps.idempotency,
        &req,
        KeyScope::user(&admin.id),
        "webhook-endpoints",
        &idempotent::fingerprint(&req, &[]),
    )
    .await?
    {
        Begin::Run(ticket) => ticket,
        Begin::Replay(response) => return Ok(response),
    };
    // The endpoint and its key's record are one write (a new endpoint has
    // a new id and secret, so nothing else would make it happen once); an
    // error wrote nothing and gives the key back.
    let result = create(deps, endpoint, ticket.as_ref()).await;
    idempotent::release_on_error(&deps.idempotency, ticket.as_ref(), result).await
}

async fn create<W: WebhookStore>(
    deps: &Deps<W>,
    endpoint: Endpoint,
    ticket: Option<&Ticket>,
) -> Result<Response<Body>, ApiError> {
    let response = created(&endpoint);
    let stored = idempotent::stored(&response);
    match deps
        .webhooks
        .create_endpoint(&endpoint, ticket.map(|t| t.completion(&stored)).as_ref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(idempotent::in_progress()),
        Err(err) => return Err(err.into()),
    }
    tracing::info!(endpoint_id = %endpoint.id, url = endpoint.url, "webhook endpoint created");
    Ok(response)
}

/// The 201 for `endpoint`: the secret is shown this once (and to a replay).
fn created(endpoint: &Endpoint) -> Response<Body> {
    let location = format!("/v1/admin/webhook-endpoints/{}", endpoint.id);
    let created = CreatedEndpoint {
        secret: endpoint.secret.as_str().to_string(),
        endpoint: endpoint.clone(),
    };
    let mut response = json(StatusCode::CREATED, &created);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
