//! Quiet Engine's common crate. Every Lambda links it; it owns everything two
//! functions would otherwise each get slightly wrong:
//!
//! - [`auth`]: accounts, access tokens, roles.
//! - [`config`]: settings read once from the environment at init.
//! - [`domain`]: types that can only hold valid values (parse, don't validate).
//! - [`error`]: the one API error enum and its one mapping to problem+json.
//! - [`http`]: the edge every HTTP function shares (body limits, JSON parsing,
//!   request/correlation ids, the per-request log line).
//! - [`idempotent`]: `Idempotency-Key` for every mutating POST.
//! - [`openapi`]: the shared parts of the OpenAPI document (schemas of the
//!   domain's primitive types, the edge's responses).
//! - [`metrics`]: CloudWatch metrics as Embedded Metric Format lines.
//! - [`limits`]: per-client rate limits, shared across instances.
//! - [`keys`]: the DynamoDB key schema, the only place key shapes are spelled.
//! - [`events`]: domain events, written to the outbox with their change.
//! - [`store`]: repositories over DynamoDB, one trait per capability, and
//!   the outbox relay to SQS.
//! - [`webhooks`]: outgoing webhooks: subscriptions, signatures, the SSRF guard.
//! - [`worker`]: the edge every SQS and scheduled worker shares.

pub mod auth;
pub mod config;
pub mod deps;
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
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod worker;

pub use quiet_domain as domain;
pub use quiet_support::clock;

pub use config::Config;
pub use error::ApiError;
