//! Test support for in-process integration tests.
//!
//! Each test binary gets one real emulator (moto, single-threaded), started
//! on first use by `tools/stack.py emulator` with the table `template.yaml`
//! declares. The emulator exits when its stdin closes, i.e. when the test
//! binary exits, so no test has to remember to stop it. Tests share the
//! table and stay independent by using their own SKUs and categories
//! ([`unique`]).

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use quiet_core::{domain::CursorKey, Config};

pub const REGION: &str = "us-east-1";
const TABLE: &str = "quiet-engine-test";

pub struct Emulator {
    pub endpoint: String,
    _process: Child,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared emulator of this test binary, started on first call.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(start)
}

fn start() -> Emulator {
    let root = repo_root();
    // Set by the Makefile to its venv's python (moto lives there).
    let python = std::env::var("QUIET_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut process = Command::new(&python)
        .arg(root.join("tools/stack.py"))
        .args(["emulator", "--port", "0", "--table", TABLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot start the emulator with {python}: {err}; run `make test`")
        });
    let stdout = process.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = loop {
        let line = lines
            .next()
            .expect("the emulator exited before it was ready (moto missing? run `make test`)")
            .expect("read emulator output");
        if let Some(url) = line.strip_prefix("emulator ready: ") {
            break url.trim().to_string();
        }
    };
    Emulator {
        endpoint,
        _process: process,
    }
}

/// A config pointing at this binary's emulator, as a function would read it.
pub fn config() -> Config {
    let endpoint = emulator().endpoint.clone();
    Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some(TABLE.into()),
        "AWS_REGION" => Some(REGION.into()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
        _ => None,
    })
    .expect("test config is complete")
}

pub fn cursor_key() -> CursorKey {
    CursorKey::from_secret("testkit-cursor-secret-0123456789abcdef").expect("valid key")
}

/// The functions' own HTTP client (the SDK's default one is not linked).
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    quiet_core::config::https_client(quiet_core::config::Trust::AwsRoots)
}

/// A DynamoDB client for the emulator with fixed dummy credentials, built
/// per test because SDK clients hold connections bound to one tokio runtime.
pub fn dynamodb() -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&emulator().endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "testkit"))
        .http_client(http_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub fn table() -> &'static str {
    TABLE
}

/// A name no other test in this run uses: `prefix` plus process id and a
/// counter, in the charset of SKUs when `prefix` is upper case and of
/// categories when it is lower case.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Makes `country` a destination the shop ships to, taxed at `rate_bps`.
pub async fn ships_to(country: &str, rate_bps: u16) {
    use quiet_core::store::TaxStore;
    let rates = serde_json::from_value(serde_json::json!({ "rate_bps": rate_bps }))
        .unwrap_or_else(|err| panic!("valid rates: {err}"));
    let country = country
        .to_string()
        .try_into()
        .unwrap_or_else(|err| panic!("a country code: {err}"));
    quiet_core::store::DynamoTaxes::new(dynamodb(), table())
        .put(&country, &rates, "2026-01-01T00:00:00Z")
        .await
        .unwrap_or_else(|err| panic!("tax rates stored: {err}"));
}

/// `POST /v1/checkout` as API Gateway hands it over: the caller's token,
/// an Idempotency-Key and a London address.
pub fn checkout_request(token: &str, key: &str) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(lambda_http::Body::Text(
            r#"{"shipping_address":{"name":"Ada","line1":"1 Way","city":"London","postal_code":"N1","country":"GB"}}"#
                .into(),
        ))
        .unwrap_or_else(|err| panic!("a valid request: {err}"))
}

/// A valid new product for tests, in `category` with `stock` units.
pub fn new_product(sku: &str, category: &str, stock: u64) -> quiet_core::store::NewProduct {
    serde_json::from_value(serde_json::json!({
        "sku": sku,
        "name": format!("Test product {sku} 🧪"),
        "description": "Made by a test.",
        "category": category,
        "price": {"amount": 1234, "currency": "USD"},
        "stock": stock,
    }))
    .expect("test product is valid")
}

/// Creates `count` products in a fresh category; returns (category, SKUs in
/// SKU order).
pub async fn seed_category(
    store: &quiet_core::store::DynamoProducts,
    count: usize,
) -> (String, Vec<String>) {
    use quiet_core::store::ProductStore;
    let category = unique("cat").to_lowercase();
    let mut skus = Vec::with_capacity(count);
    for i in 0..count {
        let sku = format!("{}-{i:03}", unique("T").to_uppercase());
        store
            .create(&new_product(&sku, &category, 5), "2026-01-01T00:00:00Z")
            .await
            .expect("create test product");
        skus.push(sku);
    }
    skus.sort();
    (category, skus)
}

pub fn products() -> quiet_core::store::DynamoProducts {
    quiet_core::store::DynamoProducts::new(dynamodb(), table())
}

/// Counts every DynamoDB operation a client sends (retries included).
#[derive(Debug, Clone, Default)]
pub struct CallCounter(std::sync::Arc<AtomicU32>);

impl CallCounter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "testkit::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A client for the emulator that counts the requests it sends.
pub fn counting_dynamodb() -> (aws_sdk_dynamodb::Client, CallCounter) {
    let counter = CallCounter::default();
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&emulator().endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "testkit"))
        .http_client(http_client())
        .interceptor(counter.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(conf), counter)
}

/// A token signer and its verifier over a fixed test key (tests only).
pub fn token_keys() -> (
    quiet_core::auth::TokenSigner,
    quiet_core::auth::TokenVerifier,
) {
    use quiet_core::auth::{TokenScope, TokenSigner, TokenVerifier};
    let scope = TokenScope {
        issuer: "testkit".into(),
        audience: "testkit-api".into(),
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let verifier = TokenVerifier::new(
        std::collections::HashMap::from([("test".to_string(), key.verifying_key())]),
        scope.clone(),
    );
    (TokenSigner::new("test".into(), key, scope), verifier)
}

/// An SQS client for the emulator (same endpoint as DynamoDB).
pub fn sqs() -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .endpoint_url(&emulator().endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "testkit",
        ))
        .http_client(http_client())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// A fresh queue with its own DLQ (`maxReceiveCount` as the template's) and
/// the given visibility timeout; returns (queue URL, DLQ URL).
pub async fn queue_with_dlq(visibility_secs: u32) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = sqs();
    let name = unique("q");
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("create dlq")
        .queue_url
        .expect("dlq url");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq attributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("dlq arn");
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": quiet_core::worker::MAX_RECEIVES,
    });
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    (queue, dlq)
}

/// A relay that sends every topic to `queue_url`, through `endpoint`
/// (pass a dead endpoint to simulate an SQS outage).
pub async fn relay(endpoint: &str, queue_url: &str) -> quiet_core::store::Relay {
    use quiet_core::events::Topic;
    let sdk = aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "testkit"),
        ))
        .http_client(http_client())
        .build();
    quiet_core::store::Relay::new(
        quiet_core::store::Relay::client(&sdk),
        Topic::ALL
            .iter()
            .map(|topic| (*topic, queue_url.to_string()))
            .collect(),
    )
}

/// Places a `pending_payment` order of `quantity` units of `sku` for a new
/// user, created at `created_ms`, through the real checkout transaction
/// (stock is reserved, `order.placed` written to the outbox).
pub async fn place_order(sku: &str, quantity: u32, created_ms: u64) -> quiet_core::store::Order {
    use quiet_core::{
        auth::UserId,
        domain::{Currency, Line, Money, OrderId, OrderStatus, Quantity, Total},
        store::{
            Cart, CartLine, CartStore, CheckoutStore, Claim, Commit, Completion, DynamoCarts,
            DynamoCheckout, IdempotencyStore, KeyScope, StoredResponse,
        },
    };
    let user = UserId::generate();
    let sku: quiet_core::domain::Sku = sku.to_string().try_into().expect("sku");
    let quantity = Quantity::try_from(u64::from(quantity)).expect("quantity");
    let unit_price: Money =
        serde_json::from_value(serde_json::json!({"amount": 1234, "currency": "USD"}))
            .expect("price");
    let carts = DynamoCarts::new(dynamodb(), table());
    let mut cart = Cart::default();
    cart.set(CartLine {
        sku: sku.clone(),
        quantity,
        name: "Test product".into(),
        unit_price,
        category: None,
    })
    .expect("room");
    carts.save(&user, &cart).await.expect("cart saved");
    let version = carts.get(&user).await.expect("cart").version;
    let order = quiet_core::store::Order {
        order_id: OrderId::generate(),
        status: OrderStatus::PendingPayment,
        items: vec![Line {
            sku,
            name: "Test product".into(),
            quantity,
            unit_price,
            line_total: Total {
                amount: 1234 * u64::from(quantity.get()),
                currency: Currency::Usd,
            },
            discount: Total::zero(Currency::Usd),
            tax: Total::zero(Currency::Usd),
        }],
        subtotal: Total {
            amount: 1234 * u64::from(quantity.get()),
            currency: Currency::Usd,
        },
        discount: Total::zero(Currency::Usd),
        tax: Total::zero(Currency::Usd),
        tax_rate: None,
        total: Total {
            amount: 1234 * u64::from(quantity.get()),
            currency: Currency::Usd,
        },
        promotion_code: None,
        promotion_once: false,
        shipping_address: serde_json::from_value(serde_json::json!({
            "name": "Ada", "line1": "1 Way", "city": "London", "postal_code": "N1", "country": "GB"
        }))
        .expect("address"),
        captured: Total::zero(Currency::Usd),
        refunded: Total::zero(Currency::Usd),
        refunds: Vec::new(),
        refund_version: 0,
        status_before_refund: None,
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        user_id: user.clone(),
        created_ms,
    };
    let checkout = DynamoCheckout::new(dynamodb(), table());
    let scope = KeyScope::user(&user);
    let Claim::Claimed { lease } = checkout
        .claim(&scope, "key", "request", quiet_core::clock::now())
        .await
        .expect("claim")
    else {
        panic!("a fresh key is claimed");
    };
    let response = StoredResponse::json(201, "{}".into());
    let completion = Completion {
        scope: &scope,
        key_hash: "key",
        lease: &lease,
        response: &response,
        about: None,
    };
    let takes = quiet_core::store::LineTake::whole_lines(&order);
    let placed = checkout
        .commit(&user, &order, &takes, version, None, &completion)
        .await
        .expect("commit");
    assert_eq!(placed, Commit::Placed, "order placed");
    order
}
