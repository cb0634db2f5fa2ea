//! The console's stylesheet and script, embedded in the binary. Their URLs carry a hash
//! of the content, so browsers may keep them for a year and still see every change.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset { name: "console.css", content_type: "text/css; charset=utf-8", body: include_str!("assets/console.css") },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/console.js"),
    },
];

/// The first 12 hex digits of the SHA-256 of every asset together.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update(asset.body.as_bytes());
        }
        hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// Where a page links an asset.
pub fn url(name: &str) -> String {
    format!("/assets/{}/{name}", version())
}

pub async fn serve(Path((v, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // An old version's URL still answers, but is not cached for long.
    let cache = if v == version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
