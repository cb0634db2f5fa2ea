//! How adapters reach platforms: one HTTP client and one TLS configuration (for SMTP), both
//! trusting the public web roots plus the PEM bundle in `TASKBRIDGE_EXTRA_CA_FILE` (an
//! internal CA of a self-hosted mail relay or tracker). The client carries the SSRF guard
//! (`integrations::ssrf`): every connection it makes is checked, whoever asked for it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::integrations::ssrf::{self, Guard};

/// Where a Slack `response_url` may lead unless configured otherwise (Slack's own host).
pub const SLACK_RESPONSE_HOSTS: &[&str] = &["hooks.slack.com"];

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
    pub bot: Arc<super::botframework::BotFramework>,
    /// The hosts a Slack `response_url` may point at (`TASKBRIDGE_SLACK_RESPONSE_URL_HOSTS`).
    pub slack_response_hosts: Arc<[String]>,
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
        let bot = Arc::new(super::botframework::BotFramework::new(None, None, operator.clone()));
        let slack_response_hosts = SLACK_RESPONSE_HOSTS.iter().map(|h| h.to_string()).collect();
        Ok(Outbound { http, operator, tls: Arc::new(tls), guard, bot, slack_response_hosts })
    }

    /// The hosts a Slack `response_url` may point at (tests add their fake's address).
    pub fn with_slack_response_hosts(mut self, hosts: &[String]) -> Self {
        self.slack_response_hosts = hosts.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect();
        self
    }

    /// Where the Bot Framework's OpenID metadata and token endpoint are (tests use fakes).
    pub fn with_bot_framework(mut self, openid_url: Option<&str>, token_url: Option<&str>) -> Self {
        self.bot = Arc::new(super::botframework::BotFramework::new(openid_url, token_url, self.operator.clone()));
        self
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
