//! POST /v1/admin/promotions (admin): a new discount code, 201 with its
//! ETag and Location. Codes are case-insensitive and never reused, even
//! after a delete, so an old order's code always names one promotion.
//! With an `Idempotency-Key`, a retry gets that 201 again instead of the
//! 409 a second create of the code would be.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    domain::promotion::Rules,
    http::{json_body, json_with_etag},
    idempotent,
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{KeyScope, PromotionStore, StoreError},
    ApiError,
};

/// What this function needs; `main.rs` builds it once at init, tests
/// build it with their own stores.
pub struct Deps<R> {
    pub promotions: R,
    pub idempotency: quiet_core::store::DynamoIdempotency,
    pub verifier: quiet_core::auth::TokenVerifier,
}

#[utoipa::path(
    post,
    path = "/v1/admin/promotions",
    tag = "admin",
    operation_id = "create-promotion",
    request_body(content = quiet_core::domain::promotion::Rules, content_type = "application/json"),
    params(
        ("idempotency-key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a retry with the same key and body gets the first answer again")
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; a replay carries Idempotent-Replayed: true", body = quiet_core::store::Promotion, headers(("etag" = String), ("location" = String), ("idempotent-replayed" = Option<String>))),
        (status = 400, description = "An empty or overlong Idempotency-Key, or malformed JSON", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The code exists (codes of deleted promotions are not reused), or a request with this Idempotency-Key is still in progress", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid code or rules, or the Idempotency-Key was used with another body", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: PromotionStore>(
    deps: &Deps<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(&req, &deps.verifier)?;
    admin.require(Role::Admin)?;
    let new: Rules = json_body(&req)?;
    new.check()
        .map_err(|(field, message)| ApiError::validation(field, message))?;
    let scope = KeyScope::user(&admin.id);
    idempotent::once(
        &deps.idempotency,
        &req,
        scope,
        "promotions",
        &[],
        create(deps, &new),
    )
    .await
}

async fn create<R: PromotionStore>(
    deps: &Deps<R>,
    new: &Rules,
) -> Result<Response<Body>, ApiError> {
    let promotion = match deps.promotions.create(new, &now_rfc3339()).await {
        Ok(promotion) => promotion,
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::Conflict(format!(
                "code {} already exists (codes of deleted promotions are not reused)",
                new.code
            )))
        }
        Err(err) => return Err(err.into()),
    };
    let mut response = json_with_etag(StatusCode::CREATED, &promotion, &promotion.etag());
    if let Ok(location) =
        HeaderValue::from_str(&format!("/v1/admin/promotions/{}", promotion.code()))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
