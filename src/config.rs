//! Configuration from the environment (and an optional `.env` file).

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::domain::secret::Secret;

pub mod reference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything `serve` needs; tests build it directly.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "TASKBRIDGE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// `sqlite://path` (embedded) or `postgres://user:pass@host/db` (`?sslmode=require` for TLS).
    #[arg(long, env = "TASKBRIDGE_DATABASE_URL", default_value = "sqlite://taskbridge.db")]
    pub database_url: String,
    /// Seeds the default tenant's admin key on first start (16 characters or more);
    /// generated and printed once if unset.
    #[arg(long, env = "TASKBRIDGE_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub api_key: Option<Secret>,
    /// Connections in the database pool (SQLite: readers; writes use one connection).
    #[arg(long, env = "TASKBRIDGE_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Largest request body accepted, in bytes; larger ones are answered 413.
    #[arg(long, env = "TASKBRIDGE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Log filter, as in `RUST_LOG` (`info`, `taskbridge=debug,sqlx=warn`, …).
    #[arg(long, env = "TASKBRIDGE_LOG", default_value = "info")]
    pub log: String,
    /// `text` or `json` (one JSON object per line).
    #[arg(long, env = "TASKBRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Also append logs to this file (unset: standard error only).
    #[arg(long, env = "TASKBRIDGE_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, env = "TASKBRIDGE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Client connections open at once; more are answered 503 and closed. Keep it below the
    /// open-files limit (`ulimit -n`).
    #[arg(long, env = "TASKBRIDGE_MAX_CONNECTIONS", default_value_t = 1000)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's head (request line and headers), counted
    /// from its first byte, or from the connection for its first request.
    #[arg(long, env = "TASKBRIDGE_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit between requests before it is closed.
    #[arg(long, env = "TASKBRIDGE_IDLE_TIMEOUT_SECS", default_value_t = 75)]
    pub idle_timeout_secs: u64,
    /// Largest request head (request line and headers) in bytes; larger ones get 431. Also
    /// the most a connection's read buffer grows to (at least 8192).
    #[arg(long, env = "TASKBRIDGE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Job workers in this instance for tracker pushes, syncs, deliveries and the rest (the
    /// work lane); 0 runs the HTTP API only (no workers of either lane).
    #[arg(long, env = "TASKBRIDGE_WORKERS", default_value_t = 16)]
    pub workers: usize,
    /// Job workers in this instance that turn requests into outcomes and answer them, apart
    /// from the others so that a slow tracker never delays a request. Each mostly waits
    /// on the language model, so many are cheap. One idle worker per lane polls; the others
    /// wait to be woken.
    #[arg(long, env = "TASKBRIDGE_INTAKE_WORKERS", default_value_t = 16)]
    pub intake_workers: usize,
    /// Seconds a worker's claim on a job lasts unless renewed (every third of it, while the
    /// job runs); a crashed worker's job runs again after it.
    #[arg(long, env = "TASKBRIDGE_JOB_LEASE_SECS", default_value_t = 30)]
    pub job_lease_secs: u64,
    /// Milliseconds between idle workers' looks for work queued by other instances.
    #[arg(long, env = "TASKBRIDGE_JOB_POLL_MS", default_value_t = 500)]
    pub job_poll_ms: u64,
    /// The longest `POST /api/v1/messages?wait=true` waits for an outcome, in seconds.
    #[arg(long, env = "TASKBRIDGE_MESSAGE_WAIT_SECS", default_value_t = 10)]
    pub message_wait_secs: u64,
    /// The longest a call to another service (a tracker, a chat platform) may take before
    /// it counts as failed and its job is retried.
    #[arg(long, env = "TASKBRIDGE_OUTBOUND_TIMEOUT_SECS", default_value_t = 20)]
    pub outbound_timeout_secs: u64,
    /// How often trackers are polled for changes (status of linked items, new items to
    /// import); 0 turns polling off.
    #[arg(long, env = "TASKBRIDGE_TRACKER_POLL_SECS", default_value_t = 300)]
    pub tracker_poll_secs: u64,
    /// How often e-mail integrations with a mailbox (`imap_host`) are polled; 0 turns it off.
    #[arg(long, env = "TASKBRIDGE_MAILBOX_POLL_SECS", default_value_t = 60)]
    pub mailbox_poll_secs: u64,
    /// Where a mailbox's server offers IDLE, a connection stays open and mail is taken as
    /// it arrives; IDLE is entered again at least this often (RFC 2177: under 29 minutes).
    /// 0 turns IDLE off (polling only).
    #[arg(long, env = "TASKBRIDGE_MAILBOX_IDLE_SECS", default_value_t = 1740)]
    pub mailbox_idle_secs: u64,
    /// How often the coordinator looks for overdue and stale tasks to follow up on (a
    /// reminder proposed, or sent where a project opted in); 0 turns it off.
    #[arg(long, env = "TASKBRIDGE_FOLLOW_UP_SECS", default_value_t = 3600)]
    pub follow_up_secs: u64,
    /// The longest a sync request (Confluence tasks, undo) waits for its run to finish
    /// before answering 202 with the run id.
    #[arg(long, env = "TASKBRIDGE_SYNC_WAIT_SECS", default_value_t = 300)]
    pub sync_wait_secs: u64,
    /// Language model that drafts tasks: `builtin` (offline rules), `ollama` or `openai`
    /// (any OpenAI-compatible server). Failures of the latter two fall back to `builtin`.
    #[arg(long, env = "TASKBRIDGE_LLM", value_enum, default_value_t = crate::llm::Provider::Builtin)]
    pub llm: crate::llm::Provider,
    /// Base URL of the model server (default: http://localhost:11434 for Ollama,
    /// https://api.openai.com for OpenAI).
    #[arg(long, env = "TASKBRIDGE_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// Model name (default: llama3.2 for Ollama, gpt-4o-mini for OpenAI).
    #[arg(long, env = "TASKBRIDGE_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// API key of an OpenAI-compatible server.
    #[arg(long, env = "TASKBRIDGE_LLM_API_KEY", hide_env_values = true, value_parser = parse_any_secret)]
    pub llm_api_key: Option<Secret>,
    /// Seconds a model call may take before the builtin draft is used instead (a slower
    /// duplicate judgement or embedding leaves the offline decision).
    #[arg(long, env = "TASKBRIDGE_LLM_TIMEOUT_SECS", default_value_t = 30)]
    pub llm_timeout_secs: u64,
    /// 32-byte key (64 hex digits or base64) that seals integration secrets at rest.
    #[arg(long, env = "TASKBRIDGE_ENCRYPTION_KEY", hide_env_values = true, value_parser = parse_any_secret)]
    pub encryption_key: Option<Secret>,
    /// The key before the last rotation, still accepted for opening secrets (with
    /// `TASKBRIDGE_ENCRYPTION_KEY`; the key file's is `<file>.old`).
    #[arg(long, env = "TASKBRIDGE_ENCRYPTION_KEY_PREVIOUS", hide_env_values = true, value_parser = parse_any_secret)]
    pub encryption_key_previous: Option<Secret>,
    /// Where the key is kept when `TASKBRIDGE_ENCRYPTION_KEY` is unset; generated (mode 0600)
    /// on first start. Back it up with the database: without it the secrets cannot be opened.
    #[arg(long, env = "TASKBRIDGE_ENCRYPTION_KEY_FILE", default_value = "taskbridge.key")]
    pub encryption_key_file: PathBuf,
    /// The service's external base URL (webhook URLs, OAuth redirects); default
    /// `http://{TASKBRIDGE_ADDR}`.
    #[arg(long, env = "TASKBRIDGE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The front end the OAuth callback sends admins back to (`/dashboard?integration=…`);
    /// default the public URL, where the web console's overview is that page.
    #[arg(long, env = "TASKBRIDGE_FRONTEND_URL")]
    pub frontend_url: Option<String>,
    /// A web console session ends after this many minutes without a request.
    #[arg(long, env = "TASKBRIDGE_CONSOLE_IDLE_MINUTES", default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..))]
    pub console_idle_minutes: u64,
    /// Redis (`redis://[:password@]host[:port][/db]`) for OAuth states and rate limits
    /// shared by every instance; when unset the database keeps the states and each instance
    /// its own limits.
    #[arg(long, env = "TASKBRIDGE_REDIS_URL", hide_env_values = true, value_parser = parse_any_secret)]
    pub redis_url: Option<Secret>,
    /// Requests per second each API key may make on average (fractions allowed); `0` or
    /// `off` removes the limit. Over it, requests are answered 429 with `Retry-After`.
    #[arg(long, env = "TASKBRIDGE_RATE_LIMIT", default_value = "50", value_parser = crate::limits::parse_rate)]
    pub rate_limit: crate::limits::Setting,
    /// Requests an API key may make at once above its rate (the bucket's size); `0` or `off`
    /// removes the limit.
    #[arg(long, env = "TASKBRIDGE_RATE_BURST", default_value = "200", value_parser = crate::limits::parse_burst)]
    pub rate_burst: crate::limits::Setting,
    /// Webhook deliveries per second each integration may receive on average; `0` or `off`
    /// removes the limit. Over it, platforms that retry get 429 with `Retry-After`, the
    /// others an answer the person reads.
    #[arg(long, env = "TASKBRIDGE_WEBHOOK_RATE_LIMIT", default_value = "20", value_parser = crate::limits::parse_rate)]
    pub webhook_rate_limit: crate::limits::Setting,
    /// Webhook deliveries an integration may receive at once above its rate; `0` or `off`
    /// removes the limit.
    #[arg(long, env = "TASKBRIDGE_WEBHOOK_RATE_BURST", default_value = "200", value_parser = crate::limits::parse_burst)]
    pub webhook_rate_burst: crate::limits::Setting,
    /// Origins whose front ends may call the API from a browser, exactly as the browser
    /// sends them (`https://app.example.com,http://localhost:5173`); none by default. They may
    /// send credentials; `*` allows every origin without credentials.
    #[arg(long, env = "TASKBRIDGE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// OAuth providers, read from `TASKBRIDGE_OAUTH_*` by [`Config::with_oauth_from_env`].
    #[arg(skip)]
    pub oauth: crate::oauth::OAuthSettings,
    /// Allow tenant-configured URLs on loopback and private networks (a Jira on the LAN, tests).
    #[arg(long, env = "TASKBRIDGE_ALLOW_PRIVATE_URLS", default_value_t = false)]
    pub allow_private_urls: bool,
    /// The hosts a Slack slash command's `response_url` may point at (comma-separated);
    /// others are never called, whatever the command says.
    #[arg(long, env = "TASKBRIDGE_SLACK_RESPONSE_URL_HOSTS", value_delimiter = ',', default_value = "hooks.slack.com")]
    pub slack_response_url_hosts: Vec<String>,
    /// A PEM bundle of CA certificates trusted besides the public roots, for outbound TLS
    /// (an internal mail relay, a tracker behind a company CA).
    #[arg(long, env = "TASKBRIDGE_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Bot Framework OpenID metadata, whose keys sign the activities sent to Teams bots
    /// (default: https://login.botframework.com/v1/.well-known/openidconfiguration).
    #[arg(long, env = "TASKBRIDGE_BOTFRAMEWORK_OPENID_URL")]
    pub botframework_openid_url: Option<String>,
    /// Where Teams bots get their tokens (client credentials; default:
    /// https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token; a single-tenant
    /// bot: https://login.microsoftonline.com/{its tenant}/oauth2/v2.0/token).
    #[arg(long, env = "TASKBRIDGE_BOTFRAMEWORK_TOKEN_URL")]
    pub botframework_token_url: Option<String>,
    /// The Bot Connector proactive Teams messages go to (`…/send` to a conversation; default:
    /// https://smba.trafficmanager.net/teams/). Answers to a request use the `serviceUrl` its
    /// activity came with.
    #[arg(long, env = "TASKBRIDGE_BOTFRAMEWORK_SERVICE_URL")]
    pub botframework_service_url: Option<String>,
    /// Speech to text: base URL (without `/v1`) of an OpenAI-compatible server with
    /// `/v1/audio/transcriptions`; voice uploads answer 503 while unset.
    #[arg(long, env = "TASKBRIDGE_TRANSCRIBE_BASE_URL")]
    pub transcribe_base_url: Option<String>,
    /// Speech to text: the model asked for.
    #[arg(long, env = "TASKBRIDGE_TRANSCRIBE_MODEL", default_value = "whisper-1")]
    pub transcribe_model: String,
    /// Speech to text: the server's API key (sent as a bearer token).
    #[arg(long, env = "TASKBRIDGE_TRANSCRIBE_API_KEY", hide_env_values = true, value_parser = parse_any_secret)]
    pub transcribe_api_key: Option<Secret>,
    /// Seconds a transcription may take.
    #[arg(long, env = "TASKBRIDGE_TRANSCRIBE_TIMEOUT_SECS", default_value_t = 120)]
    pub transcribe_timeout_secs: u64,
    /// Largest upload accepted (voice recordings), in bytes.
    #[arg(long, env = "TASKBRIDGE_MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Duplicate decisions scoring this (0–1) or more are merged on their own, unless a key
    /// detail differs: higher merges less often. A project may set its own bands.
    #[arg(long, env = "TASKBRIDGE_DEDUP_THRESHOLD", default_value_t = crate::dedup::DEFAULT_MERGE_AT)]
    pub dedup_threshold: f64,
    /// Decisions scoring this (0–1) or more, below the threshold, make a task that names its
    /// likely duplicates for a person to merge.
    #[arg(long, env = "TASKBRIDGE_DEDUP_SUGGEST_AT", default_value_t = crate::dedup::DEFAULT_SUGGEST_AT)]
    pub dedup_suggest_at: f64,
    /// Embeddings server that finds likely duplicates by meaning too: `none`, `ollama`
    /// (`/api/embed`) or `openai` (any OpenAI-compatible `/v1/embeddings`).
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS", value_enum, default_value_t = crate::llm::embed::EmbeddingsProvider::None)]
    pub embeddings: crate::llm::embed::EmbeddingsProvider,
    /// Base URL of the embeddings server (default: the provider's usual address).
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS_BASE_URL")]
    pub embeddings_base_url: Option<String>,
    /// Embeddings model (default: all-minilm for Ollama, text-embedding-3-small for OpenAI).
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS_MODEL")]
    pub embeddings_model: Option<String>,
    /// API key of an OpenAI-compatible embeddings server.
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS_API_KEY", hide_env_values = true, value_parser = parse_any_secret)]
    pub embeddings_api_key: Option<Secret>,
    /// Cosine (0–1) from which a task near a request in meaning is suggested as its likely
    /// duplicate (never merged on that alone).
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS_SUGGEST_AT", default_value_t = crate::dedup::semantic::DEFAULT_SUGGEST_AT)]
    pub embeddings_suggest_at: f64,
    /// Seconds an embeddings call may take before the words alone decide (a request waits
    /// on it, so it is short: an embeddings model answers in milliseconds).
    #[arg(long, env = "TASKBRIDGE_EMBEDDINGS_TIMEOUT_SECS", default_value_t = 10)]
    pub embeddings_timeout_secs: u64,
}

fn parse_any_secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret::new(raw.trim()))
}

fn parse_secret(raw: &str) -> Result<Secret, String> {
    if raw.trim().len() < 16 {
        return Err("must be at least 16 characters".into());
    }
    Ok(Secret::new(raw.trim()))
}

impl Config {
    pub fn transcriber(&self) -> Option<crate::voice::Transcriber> {
        let base_url = self.transcribe_base_url.clone().filter(|u| !u.trim().is_empty())?;
        Some(crate::voice::Transcriber::new(crate::voice::TranscriberConfig {
            base_url,
            model: self.transcribe_model.clone(),
            api_key: self.transcribe_api_key.clone(),
            timeout: std::time::Duration::from_secs(self.transcribe_timeout_secs.max(1)),
        }))
    }

    /// The limits on client connections.
    pub fn connection_limits(&self) -> crate::serve::Limits {
        crate::serve::Limits {
            max_connections: self.max_connections.max(1),
            timeouts: crate::serve::Timeouts {
                header_read: std::time::Duration::from_secs(self.header_read_timeout_secs.max(1)),
                idle: std::time::Duration::from_secs(self.idle_timeout_secs.max(1)),
            },
            max_header_bytes: self.max_header_bytes,
        }
    }

    /// The mailbox polling interval, when polling is on.
    pub fn mailbox_poll(&self) -> Option<std::time::Duration> {
        (self.mailbox_poll_secs > 0).then(|| std::time::Duration::from_secs(self.mailbox_poll_secs))
    }

    /// How IDLE watches mailboxes, when mailboxes are read and IDLE is on.
    pub fn mailbox_idle(&self) -> Option<crate::intake::mailbox::idle::IdleOptions> {
        (self.mailbox_poll_secs > 0 && self.mailbox_idle_secs > 0).then(|| crate::intake::mailbox::idle::IdleOptions {
            renew: std::time::Duration::from_secs(self.mailbox_idle_secs),
            lease: std::time::Duration::from_secs(self.job_lease_secs.max(3)),
        })
    }

    /// The tracker polling interval, when polling is on.
    pub fn tracker_poll(&self) -> Option<std::time::Duration> {
        (self.tracker_poll_secs > 0).then(|| std::time::Duration::from_secs(self.tracker_poll_secs))
    }

    /// The service's duplicate bands, checked as a project's are.
    pub fn duplicate_bands(&self) -> Result<crate::dedup::Settings, crate::domain::DomainError> {
        let bands = crate::domain::project::DuplicateBands {
            merge_at: self.dedup_threshold,
            suggest_at: self.dedup_suggest_at,
        }
        .validate()?;
        Ok(bands.into())
    }

    /// The follow-up check interval, when the check is on.
    pub fn follow_ups(&self) -> Option<std::time::Duration> {
        (self.follow_up_secs > 0).then(|| std::time::Duration::from_secs(self.follow_up_secs))
    }

    /// The rate limits: in Redis when it is configured, else in this instance's memory.
    pub fn limiter(&self, redis: Option<&crate::redis::Redis>) -> crate::limits::Limiter {
        let api_key = crate::limits::Rate::from_settings(self.rate_limit, self.rate_burst);
        let webhook = crate::limits::Rate::from_settings(self.webhook_rate_limit, self.webhook_rate_burst);
        match redis {
            Some(redis) => crate::limits::Limiter::shared(api_key, webhook, redis),
            None => crate::limits::Limiter::in_memory(api_key, webhook),
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.addr))
    }

    /// How the web console's sessions behave: `Secure` cookies when the public URL is https.
    pub fn console(&self) -> crate::http::console::Settings {
        crate::http::console::Settings {
            idle: std::time::Duration::from_secs(self.console_idle_minutes.saturating_mul(60)),
            ..crate::http::console::Settings::for_public_url(&self.public_url())
        }
    }

    pub fn frontend_url(&self) -> String {
        self.frontend_url.clone().unwrap_or_else(|| self.public_url())
    }

    /// Reads the OAuth providers from the process environment.
    pub fn with_oauth_from_env(mut self) -> Self {
        self.oauth = crate::oauth::OAuthSettings::from_env(|name| std::env::var(name).ok());
        self
    }

    /// The cipher for secrets at rest: the configured key, or the key file.
    pub fn cipher(&self) -> Result<crate::integrations::Cipher, crate::integrations::CryptoError> {
        match &self.encryption_key {
            Some(key) => {
                let cipher = crate::integrations::Cipher::from_key(key.expose())?;
                match &self.encryption_key_previous {
                    Some(previous) => cipher.with_previous(previous.expose()),
                    None => Ok(cipher),
                }
            }
            None => crate::integrations::Cipher::from_key_file(&self.encryption_key_file)?
                .with_previous_file(&self.encryption_key_file.with_extension("key.old")),
        }
    }

    /// The semantic candidate source, when an embeddings server is configured (its calls
    /// take `TASKBRIDGE_EMBEDDINGS_TIMEOUT_SECS`).
    pub fn semantic(&self) -> Option<crate::dedup::Semantic> {
        let embedder = crate::llm::embed::Embedder::new(
            self.embeddings,
            self.embeddings_base_url.as_deref(),
            self.embeddings_model.as_deref(),
            self.embeddings_api_key.clone(),
            std::time::Duration::from_secs(self.embeddings_timeout_secs.max(1)),
        )?;
        Some(crate::dedup::Semantic { embedder, suggest_at: self.embeddings_suggest_at })
    }

    pub fn llm_provider(&self) -> crate::llm::ProviderConfig {
        crate::llm::ProviderConfig {
            provider: self.llm,
            base_url: self.llm_base_url.clone(),
            model: self.llm_model.clone(),
            api_key: self.llm_api_key.clone(),
            timeout: std::time::Duration::from_secs(self.llm_timeout_secs.max(1)),
        }
    }

    /// A configuration for tests and benchmarks: a given database, port 0, a known key.
    pub fn for_tests(database_url: &str, api_key: &str) -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_string(),
            api_key: Some(Secret::new(api_key)),
            db_max_connections: 5,
            max_body_bytes: 1024 * 1024,
            log: "warn".into(),
            log_format: LogFormat::Text,
            log_file: None,
            shutdown_grace_secs: 5,
            max_connections: 1000,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 75,
            max_header_bytes: 16 * 1024,
            workers: 2,
            intake_workers: 2,
            job_lease_secs: 30,
            job_poll_ms: 50,
            message_wait_secs: 10,
            sync_wait_secs: 300,
            tracker_poll_secs: 0,
            mailbox_poll_secs: 0,
            mailbox_idle_secs: 1740,
            follow_up_secs: 0,
            outbound_timeout_secs: 20,
            dedup_threshold: crate::dedup::DEFAULT_MERGE_AT,
            dedup_suggest_at: crate::dedup::DEFAULT_SUGGEST_AT,
            embeddings: crate::llm::embed::EmbeddingsProvider::None,
            embeddings_base_url: None,
            embeddings_model: None,
            embeddings_api_key: None,
            embeddings_suggest_at: crate::dedup::semantic::DEFAULT_SUGGEST_AT,
            embeddings_timeout_secs: 5,
            llm: crate::llm::Provider::Builtin,
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_secs: 5,
            encryption_key: Some(Secret::new("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")),
            encryption_key_previous: None,
            encryption_key_file: PathBuf::from("taskbridge.key"),
            public_url: Some("https://taskbridge.example".into()),
            frontend_url: Some("https://app.taskbridge.example".into()),
            console_idle_minutes: 480,
            redis_url: None,
            // Tests and benchmarks hammer one key; the limits' own tests turn them on.
            rate_limit: crate::limits::Setting(None),
            rate_burst: crate::limits::Setting(None),
            webhook_rate_limit: crate::limits::Setting(None),
            webhook_rate_burst: crate::limits::Setting(None),
            cors_origins: Vec::new(),
            oauth: crate::oauth::OAuthSettings::from_env(|_| None),
            allow_private_urls: false,
            slack_response_url_hosts: vec!["hooks.slack.com".into()],
            extra_ca_file: None,
            botframework_openid_url: None,
            botframework_token_url: None,
            botframework_service_url: None,
            transcribe_base_url: None,
            transcribe_model: "whisper-1".into(),
            transcribe_api_key: None,
            transcribe_timeout_secs: 10,
            max_upload_bytes: 25 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-hunter2-hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        let cfg = Config::for_tests("sqlite://x.db", "hunter2-hunter2-hunter2");
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(parse_secret("short").is_err());
        assert!(parse_secret("a-long-enough-key-1234").is_ok());
    }
}
