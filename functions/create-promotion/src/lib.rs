//! POST /v1/admin/promotions (admin): a new discount code, 201 with its
//! ETag and Location. Codes are case-insensitive and never reused, even
//! after a delete, so an old order's code always names one promotion.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    auth::{authenticate, Role},
    clock::now_rfc3339,
    deps::PromotionAdmin,
    domain::promotion::Rules,
    http::{json_body, json_with_etag},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{PromotionStore, StoreError},
    ApiError,
};

#[utoipa::path(
    post,
    path = "/v1/admin/promotions",
    tag = "admin",
    operation_id = "create-promotion",
    request_body(content = quiet_core::domain::promotion::Rules, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = quiet_core::store::Promotion, headers(("etag" = String), ("location" = String))),
        (status = 403, description = "Not an admin", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 409, description = "The code exists (codes of deleted promotions are not reused)", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid code or rules", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<R: PromotionStore>(
    deps: &PromotionAdmin<R>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    authenticate(&req, &deps.verifier)?.require(Role::Admin)?;
    let new: Rules = json_body(&req)?;
    new.check()
        .map_err(|(field, message)| ApiError::validation(field, message))?;
    let promotion = match deps.promotions.create(&new, &now_rfc3339()).await {
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
