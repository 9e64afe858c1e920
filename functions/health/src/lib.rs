//! GET /v1/health: liveness of the function itself. It deliberately touches
//! no dependency, so a DynamoDB incident shows up in the endpoints that need
//! DynamoDB (and their alarms), not as a flapping health check.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{http::json, ApiError};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "ops",
    operation_id = "health",
    responses(
        (status = 200, description = "The function answers", body = Health)
    )
)]
pub async fn handler(_req: Request) -> Result<Response<Body>, ApiError> {
    Ok(json(StatusCode::OK, &Health { status: "ok" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn says_ok() {
        let response = handler(Request::default()).await.expect("ok");
        assert_eq!(response.status(), 200);
        assert_eq!(response.body().as_ref(), br#"{"status":"ok"}"#);
    }
}
