//! Paged listings over HTTP: the `limit` and `cursor` query parameters and
//! the `next_cursor` of a response. Cursors are signed and bound to the
//! listing (`scope`) that issued them; an empty parameter counts as absent.

use lambda_http::Request;
use serde::Serialize;

use crate::{
    domain::{cursor::InvalidCursor, Cursor, CursorKey, PageLimit},
    error::{ApiError, FieldError},
    http::query_param,
};

/// A query parameter, with `?name=` treated as absent.
pub fn param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    query_param(req, name).filter(|v| !v.is_empty())
}

/// The page size, or a 422 naming `limit`.
pub fn limit(req: &Request) -> Result<PageLimit, FieldError> {
    PageLimit::parse(param(req, "limit")).map_err(|message| FieldError::new("limit", message))
}

/// The verified position a `cursor` resumes after, parsed by `position`;
/// a tampered, foreign or unparsable cursor is 400.
pub fn after<T>(
    req: &Request,
    key: &CursorKey,
    scope: &str,
    position: impl Fn(String) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    param(req, "cursor")
        .map(|token| {
            Cursor::decode(token, key, scope)
                .ok()
                .and_then(|cursor| position(cursor.after))
                .ok_or_else(|| ApiError::BadRequest(InvalidCursor.to_string()))
        })
        .transpose()
}

/// The cursor for the next page, if there is one.
pub fn next_cursor(key: &CursorKey, scope: &str, last: Option<String>) -> Option<String> {
    last.map(|after| {
        Cursor {
            scope: scope.to_string(),
            after,
        }
        .encode(key)
    })
}

/// The body of every list response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
