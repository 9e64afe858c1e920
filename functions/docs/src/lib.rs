//! GET /docs: the interactive API reference, Swagger UI over
//! `/v1/openapi.json`.
//!
//! Everything the page loads comes from this one route: the HTML without
//! a query, and each asset as `/docs?file=<name>`. One route keeps the
//! template, the local router and the OpenAPI document one operation each,
//! and the page works offline: Swagger UI's files are compiled in from the
//! pinned `swagger-ui-redist` crate, our two small files from `assets/`.
//!
//! "Try it out" calls the page's own origin (the document names no
//! `servers`), so it needs no CORS locally or when deployed; the strict CSP
//! allows exactly that origin and nothing else.

use lambda_http::{
    http::{header, HeaderValue, StatusCode},
    Body, Request, Response,
};
use quiet_core::{
    http::query_param,
    openapi::{ProblemDoc, PROBLEM_JSON},
    ApiError,
};
use swagger_ui_redist::SwaggerUi;

const PAGE: &str = include_str!("../assets/index.html");
const INIT: &str = include_str!("../assets/init.js");

/// Scripts only from this origin (no inline script: ours is `init.js`);
/// Swagger UI sets inline styles and draws icons as data: URLs; try-it
/// calls go to this origin only.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page and our script change with a deployment; Swagger UI's files
/// only with the crate version.
const PAGE_CACHE: &str = "public, max-age=300";
const ASSET_CACHE: &str = "public, max-age=86400";

/// A file the page loads, found by name.
struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    cache: &'static str,
}

fn asset(name: &str) -> Option<Asset> {
    if name == "init.js" {
        return Some(Asset {
            bytes: INIT.as_bytes(),
            content_type: "text/javascript; charset=utf-8",
            cache: PAGE_CACHE,
        });
    }
    let (file, bytes) = SwaggerUi::static_files()
        .iter()
        .find(|(file, _)| file.file_name() == name)?;
    let content_type = match file.file_name().rsplit_once('.') {
        Some((_, "css")) => "text/css; charset=utf-8",
        Some((_, "js")) => "text/javascript; charset=utf-8",
        Some((_, "png")) => "image/png",
        _ => "application/octet-stream",
    };
    Some(Asset {
        bytes,
        content_type,
        cache: ASSET_CACHE,
    })
}

/// The names `?file=` accepts, for the OpenAPI document and the tests.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("init.js").chain(
        SwaggerUi::static_files()
            .iter()
            .map(|(file, _)| file.file_name()),
    )
}

#[utoipa::path(
    get,
    path = "/docs",
    tag = "ops",
    operation_id = "docs",
    params(
        ("file" = Option<String>, Query, pattern = "^[a-z0-9.-]{1,64}$", description = "One of the page's own files (swagger-ui-bundle.js, swagger-ui.css, init.js, ...); without it, the page")
    ),
    responses(
        (status = 200, description = "The API reference page (text/html), or the named file (text/javascript, text/css, image/png)", content_type = "text/html"),
        (status = 404, description = "No such file", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler(req: Request) -> Result<Response<Body>, ApiError> {
    let Some(name) = query_param(&req, "file") else {
        let mut response = respond(
            Body::Text(PAGE.to_string()),
            "text/html; charset=utf-8",
            PAGE_CACHE,
        );
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
        return Ok(response);
    };
    let asset =
        asset(name).ok_or_else(|| ApiError::NotFound("no such file of the docs page".into()))?;
    // Text stays text: API Gateway would otherwise base64 a 1.4 MB script.
    let body = match std::str::from_utf8(asset.bytes) {
        Ok(text) if !asset.content_type.starts_with("image/") => Body::Text(text.to_string()),
        _ => Body::Binary(asset.bytes.to_vec()),
    };
    Ok(respond(body, asset.content_type, asset.cache))
}

fn respond(body: Body, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;

    fn get(file: Option<&str>) -> Request {
        let query: HashMap<String, String> = file
            .map(|f| HashMap::from([("file".to_string(), f.to_string())]))
            .unwrap_or_default();
        Request::default().with_query_string_parameters(query)
    }

    fn header(response: &Response<Body>, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn the_page_loads_only_files_this_route_serves() {
        let page = handler(get(None)).await.expect("page");
        assert_eq!(page.status(), 200);
        assert!(header(&page, header::CONTENT_TYPE).starts_with("text/html"));
        assert!(header(&page, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
        let Body::Text(html) = page.body() else {
            panic!("the page is text")
        };
        let referenced: Vec<&str> = html
            .split("/docs?file=")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            referenced.contains(&"swagger-ui-bundle.js"),
            "{referenced:?}"
        );
        assert!(referenced.contains(&"init.js"), "{referenced:?}");
        for name in referenced {
            let response = handler(get(Some(name))).await.expect(name);
            assert_eq!(response.status(), 200, "{name}");
            assert!(!response.body().is_empty(), "{name}");
        }
        // No inline script: the CSP would block it.
        assert!(!html.contains("<script>"));
    }

    #[tokio::test]
    async fn scripts_are_served_as_text_and_images_as_bytes() {
        let js = handler(get(Some("swagger-ui-bundle.js")))
            .await
            .expect("js");
        assert!(header(&js, header::CONTENT_TYPE).starts_with("text/javascript"));
        assert!(matches!(js.body(), Body::Text(text) if text.len() > 1_000_000));
        let png = handler(get(Some("favicon-32x32.png"))).await.expect("png");
        assert_eq!(header(&png, header::CONTENT_TYPE), "image/png");
        assert!(matches!(png.body(), Body::Binary(bytes) if bytes.starts_with(b"\x89PNG")));
    }

    #[tokio::test]
    async fn an_unknown_or_traversing_file_is_404() {
        for name in [
            "",
            "../Cargo.toml",
            "index.html",
            "LICENSE",
            "swagger-ui.css/",
            "/etc/passwd",
        ] {
            let err = handler(get(Some(name))).await.expect_err(name);
            assert!(matches!(err, ApiError::NotFound(_)), "{name}: {err:?}");
        }
        assert_eq!(asset_names().count(), 7);
    }
}
