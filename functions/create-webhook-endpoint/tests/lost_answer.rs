//! An endpoint written but its answer lost (a timeout, a crash after the
//! write), then the same request again with the same key: one endpoint,
//! one secret (issue 37, defect 9).

use create_webhook_endpoint::handler;
use create_webhook_endpoint::Deps;
use lambda_http::{http::Method, Body, Request};
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::PageLimit,
    events::{EndpointId, Event, EventId},
    store::{
        webhooks::{Attempt, Delivery, DeliveryPage, DeliveryStatus, Endpoint},
        Completion, DynamoIdempotency, DynamoWebhooks, StoreError, WebhookStore,
    },
    webhooks::Guard,
};

/// The real store, except that the first endpoint's write answers with an
/// error after it happened.
struct LosesFirstAnswer {
    inner: DynamoWebhooks,
    lost: std::sync::atomic::AtomicBool,
}

impl WebhookStore for LosesFirstAnswer {
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        completion: Option<&Completion<'_>>,
    ) -> Result<(), StoreError> {
        self.inner.create_endpoint(endpoint, completion).await?;
        if !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Dynamo(
                "connection reset after the write".into(),
            ));
        }
        Ok(())
    }
    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.inner.endpoints().await
    }
    async fn endpoint(&self, id: &EndpointId) -> Result<Option<Endpoint>, StoreError> {
        self.inner.endpoint(id).await
    }
    async fn delete_endpoint(&self, id: &EndpointId) -> Result<(), StoreError> {
        self.inner.delete_endpoint(id).await
    }
    async fn open_delivery(
        &self,
        endpoint: &EndpointId,
        event: &Event,
        payload: &str,
        now: &str,
    ) -> Result<Delivery, StoreError> {
        self.inner
            .open_delivery(endpoint, event, payload, now)
            .await
    }
    async fn delivery(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.inner.delivery(endpoint, event).await
    }
    async fn record_attempt(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        self.inner.record_attempt(endpoint, event, attempt).await
    }
    async fn deliveries(
        &self,
        endpoint: &EndpointId,
        status: Option<DeliveryStatus>,
        limit: PageLimit,
        after: Option<&EventId>,
    ) -> Result<DeliveryPage, StoreError> {
        self.inner.deliveries(endpoint, status, limit, after).await
    }
    async fn request_replay(
        &self,
        endpoint: &EndpointId,
        event: &EventId,
        now: &str,
    ) -> Result<Delivery, StoreError> {
        self.inner.request_replay(endpoint, event, now).await
    }
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_gets_the_same_endpoint() {
    let (signer, verifier) = testkit::token_keys();
    let admin = UserId::generate();
    let token = signer.sign(&admin, Role::Admin, clock::now());
    let deps = Deps {
        webhooks: LosesFirstAnswer {
            inner: DynamoWebhooks::new(testkit::dynamodb(), testkit::table()),
            lost: false.into(),
        },
        idempotency: DynamoIdempotency::new(testkit::dynamodb(), testkit::table()),
        verifier,
        guard: Guard::DEV_LOOPBACK,
    };
    let url = format!("https://127.0.0.1:9/{}", testkit::unique("hook"));
    let request = || {
        let body = serde_json::json!({"url": url, "event_types": ["order.paid"]});
        let mut req = Request::new(Body::Text(body.to_string()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = "/v1/admin/webhook-endpoints".parse().expect("uri");
        let headers = req.headers_mut();
        headers.insert("content-type", "application/json".parse().expect("header"));
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        headers.insert("idempotency-key", "create-once".parse().expect("header"));
        req
    };

    let first = handler(&deps, request()).await;
    assert!(first.is_err(), "the first answer is lost");
    let retry = handler(&deps, request()).await.expect("answers");
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "the retry replays the write that happened"
    );

    let mine: Vec<Endpoint> = deps
        .webhooks
        .endpoints()
        .await
        .expect("endpoints")
        .into_iter()
        .filter(|e| e.url == url)
        .collect();
    assert_eq!(mine.len(), 1, "one endpoint, so one secret");
    let body: serde_json::Value = match retry.body() {
        Body::Text(text) => serde_json::from_str(text).expect("json"),
        other => panic!("not text: {other:?}"),
    };
    assert_eq!(body["id"], mine[0].id.to_string());
}
