//! The API's one error type and its one mapping to RFC 9457 problem+json.
//!
//! Handlers return `Result<_, ApiError>`; [`crate::http`] turns the `Err` into
//! a response in exactly one place. Internal failures are logged with their
//! cause and answered with a generic body: no stack trace, DynamoDB message or
//! internal id ever reaches a client.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Response,
};
use serde::Serialize;

use crate::auth::AuthError;
use crate::store::StoreError;

/// One invalid input, named by its JSON path (`price.amount`) or parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Missing, malformed, expired or forged credentials: always the same body.
    #[error("unauthorized")]
    Unauthorized,
    /// Valid credentials, wrong role.
    #[error("forbidden")]
    Forbidden,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Checkout could not reserve these SKUs; nothing was written.
    #[error("insufficient stock")]
    InsufficientStock(Vec<String>),
    /// Checkout could not redeem the cart's code; nothing was written.
    #[error("promotion unavailable")]
    PromotionUnavailable { code: String, reason: String },
    /// `If-Match` names a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A write that needs `If-Match` came without it.
    #[error("precondition required")]
    PreconditionRequired,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("request body is too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request headers are too large")]
    HeadersTooLarge { limit: usize },
    #[error("request target is too long")]
    UriTooLong { limit: usize },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Any fault on our side: a store failure, a serialisation or overflow
    /// that valid data cannot cause, a broken hash. Logged with its cause,
    /// answered with a generic 500 (the cause never reaches the client).
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
    /// Something this function needs (today: the token signing key) could
    /// not be had; worth a retry, unlike `Internal`.
    #[error("unavailable: {0}")]
    Unavailable(crate::config::ConfigError),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthorized => Self::Unauthorized,
            AuthError::Forbidden => Self::Forbidden,
        }
    }
}

impl From<crate::domain::pricing::Overflow> for ApiError {
    fn from(err: crate::domain::pricing::Overflow) -> Self {
        Self::internal(err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            // Not a fault: a retry of the same Idempotency-Key took over.
            StoreError::LeaseLost => Self::key_in_progress(),
            err => Self::internal(err),
        }
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

// The OpenAPI document describes this very type (`openapi::ProblemDoc`),
// so the documented error body cannot drift from the one written.
/// An RFC 9457 problem (`application/problem+json`): every error the API returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct Problem<'a> {
    /// A stable URI reference to switch on, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    /// Present for validation problems: one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// Present for insufficient stock: the SKUs that could not be reserved.
    #[serde(skip_serializing_if = "Option::is_none")]
    skus: Option<&'a [String]>,
    /// Present for an unavailable promotion: the code checkout could not redeem.
    #[serde(skip_serializing_if = "Option::is_none")]
    promotion_code: Option<&'a str>,
}

impl ApiError {
    /// Also the answer for someone else's order: never 403, which would
    /// confirm that the id exists.
    pub fn order_not_found() -> Self {
        Self::NotFound("no order with that id".into())
    }

    pub fn promotion_not_found() -> Self {
        Self::NotFound("no promotion with that code".into())
    }

    pub fn webhook_endpoint_not_found() -> Self {
        Self::NotFound("no webhook endpoint with that id".into())
    }

    pub fn delivery_not_found() -> Self {
        Self::NotFound("no delivery with that id for this endpoint".into())
    }

    /// A fault on our side, of any error type: logged, never shown.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// The answer when an `Idempotency-Key`'s first request is still
    /// running, or lost its claim to a retry that took it over.
    pub fn key_in_progress() -> Self {
        Self::Conflict("a request with this Idempotency-Key is still in progress".into())
    }

    pub fn product_not_found() -> Self {
        Self::NotFound("no product with that SKU".into())
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::InsufficientStock(_) | Self::PromotionUnavailable { .. } => {
                StatusCode::CONFLICT
            }
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) => ("/problems/bad-request", "Bad request"),
            Self::Unauthorized => ("/problems/unauthorized", "Unauthorized"),
            Self::Forbidden => ("/problems/forbidden", "Forbidden"),
            Self::NotFound(_) => ("/problems/not-found", "Not found"),
            Self::Conflict(_) => ("/problems/conflict", "Conflict"),
            Self::InsufficientStock(_) => ("/problems/insufficient-stock", "Insufficient stock"),
            Self::PromotionUnavailable { .. } => {
                ("/problems/promotion-unavailable", "Promotion unavailable")
            }
            Self::PreconditionFailed => ("/problems/precondition-failed", "Precondition failed"),
            Self::PreconditionRequired => {
                ("/problems/precondition-required", "Precondition required")
            }
            Self::TooManyRequests { .. } => ("/problems/too-many-requests", "Too many requests"),
            Self::PayloadTooLarge { .. } => ("/problems/payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType => {
                ("/problems/unsupported-media-type", "Unsupported media type")
            }
            Self::HeadersTooLarge { .. } => (
                "/problems/headers-too-large",
                "Request header fields too large",
            ),
            Self::UriTooLong { .. } => ("/problems/uri-too-long", "URI too long"),
            Self::Validation(_) => ("/problems/validation", "Invalid request"),
            Self::Internal(_) => ("/problems/internal", "Internal server error"),
            Self::Unavailable(_) => ("/problems/unavailable", "Service unavailable"),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest(detail) | Self::NotFound(detail) | Self::Conflict(detail) => {
                detail.clone()
            }
            Self::Unauthorized => "valid credentials are required".into(),
            Self::InsufficientStock(skus) => format!(
                "not enough stock for {}; nothing was charged or reserved",
                skus.join(", ")
            ),
            Self::PromotionUnavailable { code, reason } => format!(
                "{code}: {reason}; nothing was charged or reserved (remove the code or try another)"
            ),
            Self::Forbidden => "your account may not do this".into(),
            Self::PreconditionFailed => {
                "the resource has changed since you read it; fetch it again".into()
            }
            Self::PreconditionRequired => {
                "send If-Match with the ETag of the version you are changing".into()
            }
            Self::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; try again in {retry_after_secs} seconds")
            }
            Self::PayloadTooLarge { limit } => {
                format!("the request body must be at most {limit} bytes")
            }
            Self::UnsupportedMediaType => "the request body must be application/json".into(),
            Self::HeadersTooLarge { limit } => {
                format!("the request headers must be at most {limit} bytes together")
            }
            Self::UriTooLong { limit } => {
                format!("the path and query must be at most {limit} bytes")
            }
            Self::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                many => format!("{} fields are invalid", many.len()),
            },
            // The cause is logged by `into_response`, never sent.
            Self::Internal(_) => "the server could not complete the request".into(),
            Self::Unavailable(_) => "the server cannot complete the request now; try again".into(),
        }
    }

    /// The single place an error becomes a response.
    pub fn into_response(self) -> Response<Body> {
        match &self {
            Self::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            Self::Unavailable(cause) => tracing::error!(error = %cause, "request failed"),
            _ => {}
        }
        let status = self.status();
        let (kind, title) = self.kind_and_title();
        let errors = match &self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let skus = match &self {
            Self::InsufficientStock(skus) => Some(skus.as_slice()),
            _ => None,
        };
        let promotion_code = match &self {
            Self::PromotionUnavailable { code, .. } => Some(code.as_str()),
            _ => None,
        };
        let problem = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: self.detail(),
            errors,
            skus,
            promotion_code,
        };
        let mut response = crate::response::json_with_type(status, &problem, PROBLEM_JSON);
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).expect("problem is JSON")
    }

    #[test]
    fn validation_problem_lists_every_field() {
        let response = ApiError::Validation(vec![
            FieldError::new("limit", "must be between 1 and 100"),
            FieldError::new("category", "must match [a-z0-9-]{1,50}"),
        ])
        .into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem = body(&response);
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["errors"][0]["field"], "limit");
        assert_eq!(problem["errors"][1]["field"], "category");
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let cause = StoreError::Corrupt("pk PRODUCT#SECRET-1 lacks price".into());
        let response = ApiError::internal(cause).into_response();
        assert_eq!(response.status(), 500);
        let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains("pk"), "{text}");
        assert!(body(&response).get("errors").is_none());
    }

    #[test]
    fn unavailable_is_503_and_keeps_its_cause_out_of_the_body() {
        let cause = crate::config::ConfigError::Invalid {
            name: "JWT_SIGNING_KEY_PARAMETER",
            reason: "cannot read /quiet/secret-key".into(),
        };
        let response = ApiError::Unavailable(cause).into_response();
        assert_eq!(response.status(), 503);
        let problem = body(&response);
        assert_eq!(problem["type"], "/problems/unavailable");
        let text = problem.to_string();
        assert!(!text.contains("secret-key"), "{text}");
    }
}
