//! CloudWatch metrics as Embedded Metric Format log lines: one JSON object
//! on stdout that CloudWatch Logs turns into metrics, with no API call and
//! no agent (the shape Powertools writes: `_aws.CloudWatchMetrics`).
//!
//! Everything lands in one namespace. Dimensions stay low-cardinality on
//! purpose: a function, a status class, a currency, a reason from a short
//! list; never an id, a SKU or a user, which would make a metric per value.
//!
//! - The HTTP edge writes `Latency` (ms) and `Requests` per function and
//!   status class for every request ([`request`]).
//! - Business events write a count or an amount under `service` ([`count`],
//!   [`amount`]): `OrdersPlaced`, `CheckoutConflicts` by reason,
//!   `PaymentsSucceeded`/`PaymentsFailed`, `Revenue` (minor units, by
//!   currency, when a payment is captured), `RefundsRequested`,
//!   `RefundsSucceeded`/`RefundsFailed` and `Refunded` (minor units).

use std::io::Write;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "QuietEngine";
/// The `service` dimension of business metrics.
pub const SERVICE: &str = "quiet-engine";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    /// An amount of money in minor units (CloudWatch has no currency unit).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub value: f64,
}

/// One EMF document: `metrics`, each aggregated over every set of
/// `dimension_sets` (names from `dimensions`), at `timestamp_ms`.
pub fn document(
    dimension_sets: &[&[&str]],
    dimensions: &[(&str, &str)],
    metrics: &[Metric],
    timestamp_ms: u64,
) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets,
                "Metrics": definitions,
            }],
        }),
    );
    for (name, value) in dimensions {
        root.insert((*name).into(), Value::from(*value));
    }
    for metric in metrics {
        root.insert(metric.name.into(), json!(metric.value));
    }
    Value::Object(root)
}

fn write(document: &Value) {
    // One write of one line, so a line never interleaves with a log line.
    let mut line = document.to_string();
    line.push('\n');
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// The function's name for the `function` dimension, read once: Lambda's
/// `AWS_LAMBDA_FUNCTION_NAME` (`cargo lambda watch` sets it to the binary's
/// name locally).
fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".into())
    })
}

/// "2xx", "4xx", "5xx": the class of a status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What the HTTP edge records for one request.
pub fn request_document(function: &str, status: u16, latency_ms: f64, now_ms: u64) -> Value {
    document(
        &[&["function"], &["function", "status_class"]],
        &[
            ("function", function),
            ("status_class", status_class(status)),
        ],
        &[
            Metric {
                name: "Latency",
                unit: Unit::Milliseconds,
                value: latency_ms,
            },
            Metric {
                name: "Requests",
                unit: Unit::Count,
                value: 1.0,
            },
        ],
        now_ms,
    )
}

pub fn request(status: u16, latency_ms: f64) {
    write(&request_document(
        function_name(),
        status,
        latency_ms,
        crate::clock::now_ms(),
    ));
}

/// A business event: `name` once, under `service` and `dimensions`.
pub fn count(name: &'static str, dimensions: &[(&str, &str)]) {
    business(name, Unit::Count, 1.0, dimensions);
}

/// A sum of money in minor units, by currency.
pub fn amount(name: &'static str, minor_units: u64, currency: &str) {
    business(
        name,
        Unit::None,
        minor_units as f64,
        &[("currency", currency)],
    );
}

pub fn business_document(
    name: &'static str,
    unit: Unit,
    value: f64,
    dimensions: &[(&str, &str)],
    now_ms: u64,
) -> Value {
    let mut all = vec![("service", SERVICE)];
    all.extend_from_slice(dimensions);
    let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
    document(&[&names], &all, &[Metric { name, unit, value }], now_ms)
}

fn business(name: &'static str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
    write(&business_document(
        name,
        unit,
        value,
        dimensions,
        crate::clock::now_ms(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_latency_and_a_count_per_function_and_status_class() {
        let doc = request_document("checkout", 409, 12.5, 1_764_806_400_000);
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_764_806_400_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "QuietEngine",
                        "Dimensions": [["function"], ["function", "status_class"]],
                        "Metrics": [
                            {"Name": "Latency", "Unit": "Milliseconds"},
                            {"Name": "Requests", "Unit": "Count"}
                        ]
                    }]
                },
                "function": "checkout",
                "status_class": "4xx",
                "Latency": 12.5,
                "Requests": 1.0
            })
        );
    }

    #[test]
    fn every_dimension_and_metric_named_in_the_directive_is_a_top_level_member() {
        let doc = business_document("Revenue", Unit::None, 2999.0, &[("currency", "USD")], 1);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        for set in directive["Dimensions"].as_array().expect("sets") {
            for name in set.as_array().expect("set") {
                let name = name.as_str().expect("name");
                assert!(doc[name].is_string(), "dimension {name} is a string member");
            }
        }
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(doc[name].is_number(), "metric {name} is a number member");
        }
        assert_eq!(doc["service"], "quiet-engine");
        assert_eq!(doc["Revenue"], 2999.0);
        // CloudWatch allows at most 30 dimensions per set and 100 metrics.
        assert!(directive["Dimensions"][0].as_array().expect("set").len() <= 30);
    }

    #[test]
    fn statuses_fall_in_their_class() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
