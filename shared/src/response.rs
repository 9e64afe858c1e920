//! Building a response: a JSON body with its content type, or none. The
//! HTTP edge and the error mapping both answer through these.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Response,
};
use serde::Serialize;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    json_with_type(status, value, "application/json")
}

/// A JSON body sent as `content_type` (problem+json for errors).
pub fn json_with_type<T: Serialize>(
    status: StatusCode,
    value: &T,
    content_type: &'static str,
) -> Response<Body> {
    // Serialising our own types cannot fail (no maps with non-string keys);
    // if it ever did, an empty 500 is still better than a panic.
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut response = Response::new(Body::Text(body));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}
