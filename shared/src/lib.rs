//! Quiet Engine's common crate. Every Lambda links it; it owns everything two
//! functions would otherwise each get slightly wrong.
//!
//! # Layout
//!
//! The code sits on levels, lowest first. **A module imports only from its
//! own level and the levels below it, and no files import each other in a
//! circle.** `tools/layers` checks both on every `make test` and
//! `make check`; the two lowest levels are crates of their own, so for them
//! the compiler holds the rule.
//!
//! 1. **support** (crate `quiet-support`, here as [`clock`]): the clock, the
//!    one random source and the one id type, hex and SHA-256.
//! 2. **domain** (crate `quiet-domain`, here as [`domain`]): entities and
//!    rules, pure: no AWS SDK, Lambda runtime or tokio.
//! 3. **storage and adapters**: what talks to the outside world.
//!    - [`config`]: settings read once from the environment at init.
//!    - [`keys`]: the DynamoDB key schema, the only place key shapes are spelled.
//!    - [`store`]: repositories over DynamoDB, one trait per capability, and
//!      the outbox relay to SQS.
//!    - [`events`]: domain events, written to the outbox with their change.
//!    - [`payments`]: the payment provider seam (signed webhooks).
//!    - [`webhooks`]: outgoing webhooks: subscriptions, signatures, the SSRF guard.
//!    - [`metrics`]: CloudWatch metrics as Embedded Metric Format lines.
//!    - [`telemetry`]: logging set-up and the correlation id.
//! 4. **auth**: who is calling.
//!    - [`auth`]: access tokens, password hashing, the RBAC check.
//!    - [`limits`]: per-client rate limits, shared across instances.
//! 5. **edges**: where a request or a message comes in.
//!    - [`error`]: the one API error enum and its one mapping to problem+json.
//!    - [`response`]: JSON and empty responses.
//!    - [`http`]: the edge every HTTP function shares (body limits, JSON
//!      parsing, request/correlation ids, the per-request log line).
//!    - [`idempotent`]: `Idempotency-Key` for every mutating POST.
//!    - [`pages`]: paged listings (`limit`, signed `cursor`).
//!    - [`openapi`]: the shared parts of the OpenAPI document.
//!    - [`worker`]: the edge every SQS and scheduled worker shares.
//!
//! The functions (`functions/*`) sit above all of it. Each declares the
//! `Deps` it needs in its `lib.rs`; its `main.rs` builds them once at init.

pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod idempotent;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod payments;
pub mod response;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod worker;

pub use quiet_domain as domain;
pub use quiet_support::clock;

pub use config::Config;
pub use error::ApiError;
