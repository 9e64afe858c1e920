//! GET /v1/products?category=&limit=&cursor=: one page of the live catalog in
//! SKU order, one DynamoDB Query per call.
//!
//! An empty query parameter counts as absent (`?category=` lists everything),
//! which is what front ends that template their query strings send.

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    domain::{cursor::InvalidCursor, Category, Cursor, CursorKey, PageLimit, Sku},
    error::FieldError,
    http::{json, query_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::ProductStore,
    ApiError,
};

pub struct Deps<S> {
    pub store: S,
    pub cursor_key: CursorKey,
}

fn param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    query_param(req, name).filter(|v| !v.is_empty())
}

#[utoipa::path(
    get,
    path = "/v1/products",
    tag = "catalog",
    operation_id = "list-products",
    params(
        ("category" = Option<String>, Query, pattern = "^[a-z0-9-]{0,50}$", description = "Only this category slug; empty means all"),
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    responses(
        (status = 200, description = "One page of live products in SKU order", body = quiet_core::pages::Page<quiet_core::domain::Product>),
        (status = 400, description = "The cursor was tampered with or belongs to another listing", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Invalid limit or category", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<S: ProductStore>(
    deps: &Deps<S>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let limit = PageLimit::parse(param(&req, "limit"));
    let category = param(&req, "category")
        .map(|c| Category::try_from(c.to_string()))
        .transpose();
    let (limit, category) = match (limit, category) {
        (Ok(limit), Ok(category)) => (limit, category),
        (limit, category) => {
            let errors = [("limit", limit.err()), ("category", category.err())]
                .into_iter()
                .filter_map(|(field, err)| err.map(|message| FieldError::new(field, message)))
                .collect();
            return Err(ApiError::Validation(errors));
        }
    };

    // A cursor is only valid for the listing that issued it.
    let scope = category.as_ref().map_or("", Category::as_str);
    let after = param(&req, "cursor")
        .map(|token| {
            Cursor::decode(token, &deps.cursor_key, scope)
                .ok()
                .and_then(|cursor| Sku::try_from(cursor.after).ok())
                .ok_or_else(|| ApiError::BadRequest(InvalidCursor.to_string()))
        })
        .transpose()?;

    let page = deps
        .store
        .list(category.as_ref(), limit, after.as_ref())
        .await?;
    let next_cursor = page.last.map(|after| {
        Cursor {
            scope: scope.to_string(),
            after: after.to_string(),
        }
        .encode(&deps.cursor_key)
    });
    Ok(json(
        StatusCode::OK,
        &quiet_core::pages::Page {
            items: page.items,
            next_cursor,
        },
    ))
}
