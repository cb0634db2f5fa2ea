//! CORS for front ends on other origins (`TASKBRIDGE_CORS_ORIGINS`): exact origins only,
//! none by default. Listed origins may send credentials; `*` lets any origin read the API
//! with a key it holds, never with credentials (cookies).

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// The CORS rules, if any origin is allowed.
#[derive(Clone, Default)]
pub struct Cors(Option<CorsLayer>);

impl std::fmt::Debug for Cors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Cors(on)" } else { "Cors(off)" })
    }
}

impl Cors {
    /// Rules for `origins` (`https://app.example.com`, or `*`); an empty list allows none.
    pub fn new(origins: &[String]) -> Result<Self, String> {
        let origins: Vec<&str> = origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
        if origins.is_empty() {
            return Ok(Cors(None));
        }
        let layer = CorsLayer::new()
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(MAX_AGE);
        if origins.contains(&"*") {
            if origins.len() > 1 {
                return Err("`*` allows every origin: list it alone".into());
            }
            return Ok(Cors(Some(layer.allow_origin(AllowOrigin::any()))));
        }
        let exact = origins.iter().map(|o| exact_origin(o)).collect::<Result<Vec<_>, _>>()?;
        Ok(Cors(Some(layer.allow_origin(AllowOrigin::list(exact)).allow_credentials(true))))
    }

    pub fn layer(&self) -> Option<CorsLayer> {
        self.0.clone()
    }
}

/// `origin` as browsers send it (`scheme://host[:port]`, nothing after), or why not.
fn exact_origin(origin: &str) -> Result<HeaderValue, String> {
    let url = reqwest::Url::parse(origin).map_err(|e| format!("{origin:?} is not an origin: {e}"))?;
    let serialized = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || serialized == "null" {
        return Err(format!("{origin:?} is not an http or https origin"));
    }
    // A browser's Origin never has a path or a trailing slash: such an entry would never match.
    if serialized != origin {
        return Err(format!("{origin:?} is not an exact origin (scheme://host[:port], nothing after): {serialized}?"));
    }
    HeaderValue::from_str(&serialized).map_err(|e| format!("{origin:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_origins_or_a_lone_star() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(Cors::new(&[]).expect("none").layer().is_none());
        assert!(Cors::new(&list(&[" "])).expect("blank").layer().is_none());
        assert!(Cors::new(&list(&["https://app.example.com", "http://localhost:5173"])).is_ok());
        assert!(Cors::new(&list(&["*"])).is_ok());
        for wrong in [
            &["https://app.example.com/"][..],
            &["https://app.example.com/console"],
            &["HTTPS://App.example.com"],
            &["app.example.com"],
            &["ftp://files.example.com"],
            &["*", "https://app.example.com"],
        ] {
            assert!(Cors::new(&list(wrong)).is_err(), "{wrong:?}");
        }
    }
}
