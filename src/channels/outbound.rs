//! How adapters reach platforms: one HTTP client and one TLS configuration (for SMTP), both
//! trusting the public web roots plus the PEM bundle in `TASKBRIDGE_EXTRA_CA_FILE` (an
//! internal CA of a self-hosted mail relay or tracker).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

#[derive(Clone)]
pub struct Outbound {
    pub http: reqwest::Client,
    pub tls: Arc<rustls::ClientConfig>,
    pub allow_private: bool,
    pub bot: Arc<super::botframework::BotFramework>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("reading the extra CA file {path}: {message}")]
    ExtraCa { path: String, message: String },
    #[error("building the HTTP client: {0}")]
    Client(String),
}

impl Outbound {
    pub fn new(extra_ca: Option<&Path>, allow_private: bool) -> Result<Self, OutboundError> {
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
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("taskbridge/", env!("CARGO_PKG_VERSION")));
        for cert in extra {
            let reqwest_cert =
                reqwest::Certificate::from_der(cert.as_ref()).map_err(|e| OutboundError::Client(e.to_string()))?;
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
        let http = http.build().map_err(|e| OutboundError::Client(e.to_string()))?;
        let bot = Arc::new(super::botframework::BotFramework::new(None, None));
        Ok(Outbound { http, tls: Arc::new(tls), allow_private, bot })
    }

    /// Where the Bot Framework's OpenID metadata and token endpoint are (tests use fakes).
    pub fn with_bot_framework(mut self, openid_url: Option<&str>, token_url: Option<&str>) -> Self {
        self.bot = Arc::new(super::botframework::BotFramework::new(openid_url, token_url));
        self
    }
}
