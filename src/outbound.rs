//! How adapters reach platforms: one HTTP client and one TLS configuration (for SMTP), both
//! trusting the public web roots plus the PEM bundle in `TASKBRIDGE_EXTRA_CA_FILE` (an
//! internal CA of a self-hosted mail relay or tracker). The client carries the SSRF guard
//! (`integrations::ssrf`): every connection it makes is checked, whoever asked for it.
//! Channels, trackers and webhooks alike map what a platform answered to the queue's retry
//! rules here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::integrations::ssrf::{self, Guard};
use crate::jobs::JobError;

/// The split: `http` is guarded and takes every URL a tenant stored, a webhook carried or
/// a provider answered; `operator` is not, and takes only endpoints from the operator's
/// configuration (`TASKBRIDGE_OAUTH_*` URLs, whose `{subdomain}`/`{tenant}` a tenant fills
/// with a plain name only, and `TASKBRIDGE_BOTFRAMEWORK_*`), so those may be anywhere.
#[derive(Clone)]
pub struct Outbound {
    pub http: reqwest::Client,
    pub operator: reqwest::Client,
    pub tls: Arc<rustls::ClientConfig>,
    /// The guard's policy, for connections made without `http` (SMTP).
    pub guard: Guard,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("reading the extra CA file {path}: {message}")]
    ExtraCa { path: String, message: String },
    #[error("building the HTTP client: {0}")]
    Client(String),
}

impl Outbound {
    /// `timeout` bounds every request: a platform slower than that counts as failed (and
    /// the job is retried).
    pub fn new(extra_ca: Option<&Path>, allow_private: bool, timeout: Duration) -> Result<Self, OutboundError> {
        let extra: Vec<CertificateDer<'static>> = match extra_ca {
            None => Vec::new(),
            Some(path) => {
                let failed = |message: String| OutboundError::ExtraCa { path: path.display().to_string(), message };
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| failed(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| failed(e.to_string()))?;
                if certs.is_empty() {
                    return Err(failed("no PEM certificate in it".into()));
                }
                certs
            }
        };
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let builder = || {
            reqwest::Client::builder()
                // A redirect could lead anywhere, a literal internal address included.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .timeout(timeout)
                .user_agent(concat!("taskbridge/", env!("CARGO_PKG_VERSION")))
        };
        let (mut http, mut operator) = (builder(), builder());
        for cert in extra {
            let reqwest_cert =
                reqwest::Certificate::from_der(cert.as_ref()).map_err(|e| OutboundError::Client(e.to_string()))?;
            operator = operator.add_root_certificate(reqwest_cert.clone());
            http = http.add_root_certificate(reqwest_cert);
            roots.add(cert).map_err(|e| OutboundError::ExtraCa {
                path: extra_ca.map(|p| p.display().to_string()).unwrap_or_default(),
                message: e.to_string(),
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let guard = Guard::new(allow_private);
        let http = ssrf::connect::install(http, guard).build().map_err(|e| OutboundError::Client(e.to_string()))?;
        let operator = operator.build().map_err(|e| OutboundError::Client(e.to_string()))?;
        Ok(Outbound { http, operator, tls: Arc::new(tls), guard })
    }
}

/// Maps a request that got no answer to the queue's retry rules: the SSRF guard's refusal
/// fails for good, with its reason; anything else (unreachable, timed out) is retried. The
/// URL is left out of the message: it may carry a token.
pub fn transport_failure(what: &str, e: reqwest::Error) -> JobError {
    match ssrf::refusal(&e) {
        Some(refused) => JobError::Permanent(format!("{what}: refused: {refused}")),
        None => JobError::Retry(format!("{what}: {}", e.without_url())),
    }
}

/// Maps an HTTP answer of a platform API to the queue's retry rules.
pub fn http_failure(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap, what: &str) -> JobError {
    let message = format!("{what} answered HTTP {}", status.as_u16());
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        let after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite())
            .map(|s| Duration::from_secs_f64(s.clamp(0.0, 3600.0)))
            .unwrap_or(Duration::from_secs(30));
        JobError::RetryAfter { after, message }
    } else if status.is_server_error() {
        JobError::Retry(message)
    } else {
        JobError::Permanent(message)
    }
}

/// Sends a check's `request` and reads its JSON answer; the error says what went wrong in
/// words, never with the URL (it may hold a token).
pub async fn check_call(platform: &str, request: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
    let res = request.send().await.map_err(|e| format!("{platform} cannot be reached: {}", describe(e)))?;
    let status = res.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(format!("{platform} refuses the integration's credentials (HTTP {})", status.as_u16()));
    }
    if !status.is_success() {
        return Err(format!("{platform} answers HTTP {}", status.as_u16()));
    }
    res.json().await.map_err(|e| format!("{platform} answers something that is not JSON: {}", e.without_url()))
}

/// A secret the check needs, or the words for its absence.
pub fn check_secret<'a>(
    secrets: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, String> {
    secrets.get(name).and_then(serde_json::Value::as_str).ok_or_else(|| format!("the integration has no {name}"))
}

/// A failed call in words, with its causes (`connection refused`) but without the URL,
/// which may carry a token.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut words = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        words.push_str(": ");
        words.push_str(&c.to_string());
        cause = c.source();
    }
    words
}

/// `url` fit to print: without its user, password and query string, which may hold secrets.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_shared_client_carries_the_guard() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let guarded = Outbound::new(None, false, Duration::from_secs(20)).expect("outbound");
        for url in [format!("http://localhost:{port}/"), format!("http://127.0.0.1:{port}/")] {
            let error = guarded.http.get(&url).send().await.expect_err("refused");
            assert!(ssrf::refusal(&error).is_some(), "{url}: {error:?}");
        }
        let open = Outbound::new(None, true, Duration::from_secs(20)).expect("outbound");
        tokio::spawn(async move {
            let _ = listener.accept().await;
        });
        // Allowed: the connection is made (the server closes it, which is fine here).
        let reached = open.http.get(format!("http://localhost:{port}/")).send().await;
        assert!(reached.as_ref().err().is_none_or(|e| ssrf::refusal(e).is_none() && !e.is_connect()), "{reached:?}");
    }
}
