//! The checks, one function a thing configured.

use std::time::Duration;

use super::{Level, Report};
use crate::config::Config;
use crate::store::inspect::{Schema, inspect};
use crate::store::{Backend, Store, StoreOptions};

/// How long a reachability check waits.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What needs no network: values that would stop the start, or surprise later.
pub fn configuration(config: &Config, report: &mut Report) {
    let subject = "configuration";
    let before = report.problems();
    if let Err(e) = config.duplicate_bands() {
        report.add(Level::Problem, subject, format!("TASKBRIDGE_DEDUP_THRESHOLD / TASKBRIDGE_DEDUP_SUGGEST_AT: {e}"));
    }
    if let Err(e) = crate::http::cors::Cors::new(&config.cors_origins) {
        report.add(Level::Problem, subject, format!("TASKBRIDGE_CORS_ORIGINS: {e}"));
    }
    if let Some(url) = &config.redis_url
        && let Err(e) = crate::redis::Redis::parse(url.expose())
    {
        report.add(Level::Problem, subject, format!("TASKBRIDGE_REDIS_URL: {e}"));
    }
    encryption_key(config, report);
    match &config.public_url {
        None => report.add(
            Level::Note,
            subject,
            format!(
                "TASKBRIDGE_PUBLIC_URL is unset: webhook URLs and OAuth redirects use http://{}, which platforms \
                 outside this machine cannot call",
                config.addr
            ),
        ),
        Some(url) => match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => report.add(Level::Problem, subject, "TASKBRIDGE_PUBLIC_URL is not an http(s) URL"),
        },
    }
    if let Err(e) = crate::outbound::Outbound::new(config.extra_ca_file.as_deref(), config.allow_private_urls, TIMEOUT)
    {
        report.add(Level::Problem, subject, format!("TASKBRIDGE_EXTRA_CA_FILE: {e}"));
    }
    let llm = config.llm_provider();
    if llm.provider == crate::llm::Provider::Openai && llm.base_url.is_none() && llm.api_key.is_none() {
        report.add(
            Level::Problem,
            subject,
            "TASKBRIDGE_LLM=openai calls api.openai.com, which needs TASKBRIDGE_LLM_API_KEY",
        );
    }
    report.add(
        Level::Note,
        "rate limits",
        format!(
            "API keys {}/s, burst {}; webhooks {}/s, burst {} per integration; kept {}",
            config.rate_limit,
            config.rate_burst,
            config.webhook_rate_limit,
            config.webhook_rate_burst,
            if config.redis_url.is_some() { "in Redis, shared by every instance" } else { "in each instance's memory" }
        ),
    );
    if report.problems() == before {
        report.add(Level::Ok, subject, "the settings are valid");
    }
}

fn encryption_key(config: &Config, report: &mut Report) {
    let subject = "configuration";
    if config.encryption_key.is_some() {
        if let Err(e) = config.cipher() {
            report.add(Level::Problem, subject, format!("TASKBRIDGE_ENCRYPTION_KEY: {e}"));
        }
        return;
    }
    let file = &config.encryption_key_file;
    if !file.exists() {
        report.add(
            Level::Note,
            subject,
            format!(
                "the key file {} does not exist yet; it is generated at the first start (back it up: it opens the \
                 integrations' secrets)",
                file.display()
            ),
        );
        return;
    }
    if let Err(e) = config.cipher() {
        report.add(Level::Problem, subject, format!("the key file {}: {e}", file.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            report.add(
                Level::Problem,
                subject,
                format!("the key file {} can be read by others: chmod 600 it", file.display()),
            );
        }
    }
}

/// Whether the database answers, and whether its schema is this binary's; true when it is
/// (then the project's integrations can be read).
pub async fn database(config: &Config, report: &mut Report) -> bool {
    let url = &config.database_url;
    let place = if url.starts_with("sqlite:") { url.clone() } else { crate::outbound::shown_url(url) };
    match inspect(url, TIMEOUT).await {
        // Not a matter of reaching it: this version does not run on it.
        Err(e @ crate::store::StoreError::MysqlIncomplete(_)) => {
            report.add(Level::Problem, "database", format!("{place}: {e}"));
            false
        }
        Err(e) => {
            report.add(Level::Problem, "database", format!("{place} cannot be reached: {e}"));
            false
        }
        Ok((_, Schema::Missing)) => {
            report.add(
                Level::Note,
                "database",
                format!("{place} does not exist yet; it is created at the first start"),
            );
            false
        }
        Ok((backend, Schema::Present { applied, pending, unknown })) => {
            let name = match backend {
                Backend::Postgres => "PostgreSQL",
                Backend::Sqlite => "SQLite",
                Backend::Mysql => "MySQL/MariaDB",
            };
            if unknown > 0 {
                report.add(
                    Level::Problem,
                    "database",
                    format!(
                        "{name} at {place} was migrated by a newer taskbridge ({unknown} migrations this binary does \
                         not know): run the newer version"
                    ),
                );
                false
            } else if pending > 0 {
                report.add(
                    Level::Note,
                    "database",
                    format!(
                        "{name} at {place} answers; {pending} migrations are applied at the next start (or by \
                         `taskbridge migrate`)"
                    ),
                );
                false
            } else {
                report.add(
                    Level::Ok,
                    "database",
                    format!("{name} at {place} answers; all {applied} migrations applied"),
                );
                true
            }
        }
    }
}

pub async fn redis(config: &Config, report: &mut Report) {
    let Some(url) = &config.redis_url else {
        report.add(Level::Note, "redis", "not configured: OAuth states in the database, rate limits per instance");
        return;
    };
    let Ok(redis) = crate::redis::Redis::parse(url.expose()) else { return };
    match redis.with_timeout(TIMEOUT).ping().await {
        Ok(()) => report.add(Level::Ok, "redis", format!("Redis at {} answers", redis.address())),
        Err(e) => report.add(Level::Problem, "redis", format!("Redis at {} cannot be reached: {e}", redis.address())),
    }
}

pub async fn language_model(config: &Config, report: &mut Report) {
    let mut provider = config.llm_provider();
    provider.timeout = provider.timeout.min(TIMEOUT);
    match provider.build().check().await {
        Ok(words) => report.add(Level::Ok, "language model", words),
        Err(e) => report.add(
            Level::Problem,
            "language model",
            format!("{e} (drafts fall back to the builtin rules while it fails)"),
        ),
    }
}

/// The embeddings server, when one is configured: it embeds a probe text.
pub async fn embeddings(config: &Config, report: &mut Report) {
    let Some(embedder) = crate::llm::embed::Embedder::new(
        config.embeddings,
        config.embeddings_base_url.as_deref(),
        config.embeddings_model.as_deref(),
        config.embeddings_api_key.clone(),
        TIMEOUT,
    ) else {
        return;
    };
    match embedder.embed(&["taskbridge doctor".to_string()]).await {
        Ok(vectors) => report.add(
            Level::Ok,
            "embeddings",
            format!(
                "the server at {} embeds with {:?} ({} dimensions)",
                embedder.place(),
                embedder.model(),
                vectors.first().map_or(0, Vec::len)
            ),
        ),
        Err(e) => report.add(
            Level::Problem,
            "embeddings",
            format!("{e} (duplicates are found by their words alone while it fails)"),
        ),
    }
}

pub async fn transcription(config: &Config, report: &mut Report) {
    let Some(base) = config.transcribe_base_url.as_deref().filter(|u| !u.trim().is_empty()) else { return };
    let place = crate::outbound::shown_url(base);
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
    let mut request = client.get(format!("{}/v1/models", base.trim_end_matches('/')));
    if let Some(key) = &config.transcribe_api_key {
        request = request.bearer_auth(key.expose());
    }
    let subject = "speech to text";
    match request.send().await {
        Ok(r) if r.status().is_success() => report.add(Level::Ok, subject, format!("the server at {place} answers")),
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => report.add(
            Level::Problem,
            subject,
            format!("the server at {place} refuses the key (TASKBRIDGE_TRANSCRIBE_API_KEY): HTTP {}", r.status()),
        ),
        Ok(r) => report.add(Level::Note, subject, format!("the server at {place} answers HTTP {}", r.status())),
        Err(e) => report.add(
            Level::Problem,
            subject,
            format!("the server at {place} cannot be reached: {}", crate::outbound::describe(e)),
        ),
    }
}

/// Each integration of `project` (an id or a name) of the default tenant, reached with its
/// own credentials.
pub async fn integrations(config: &Config, project: &str, report: &mut Report) {
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let subject = format!("project {project:?}");
    let store = match Store::connect(&config.database_url, &options).await {
        Ok(store) => store,
        Err(e) => return report.add(Level::Problem, subject, format!("the database: {e}")),
    };
    let tenant = crate::domain::tenant::default_tenant();
    let found = match store.find_project(&tenant, project).await {
        Ok(found) => found,
        Err(crate::store::StoreError::NotFound) => {
            return report.add(Level::Problem, subject, "no project of the default tenant has this id or name");
        }
        Err(e) => return report.add(Level::Problem, subject, e.to_string()),
    };
    let cipher = match config.cipher() {
        Ok(cipher) => cipher,
        Err(e) => return report.add(Level::Problem, subject, format!("the encryption key: {e}")),
    };
    let integrations =
        crate::integrations::Integrations::new(store.clone(), cipher, &config.public_url(), config.allow_private_urls);
    let Ok(outbound) =
        crate::outbound::Outbound::new(config.extra_ca_file.as_deref(), config.allow_private_urls, TIMEOUT)
    else {
        return; // said under configuration
    };
    let records = match store.list_integrations(&tenant, &found.id).await {
        Ok(records) => records,
        Err(e) => return report.add(Level::Problem, subject, format!("its integrations cannot be read: {e}")),
    };
    if records.is_empty() {
        report.add(Level::Note, subject, "has no integrations");
    }
    let bot = crate::channels::ChannelClients::new(outbound.clone())
        .with_bot_framework(crate::channels::botframework::BotUrls {
            openid: config.botframework_openid_url.as_deref(),
            token: config.botframework_token_url.as_deref(),
            service: config.botframework_service_url.as_deref(),
        })
        .bot;
    for record in records {
        let subject = format!("integration {} {:?} ({})", record.kind.as_str(), record.name, record.id);
        let secrets = match integrations.with_secrets(&tenant, &record.id).await {
            Ok((_, secrets)) => secrets,
            Err(e) => {
                report.add(Level::Problem, subject, format!("its secrets cannot be opened: {e}"));
                continue;
            }
        };
        let check =
            crate::channels::Check { client: &outbound.http, settings: &record.settings, secrets: &secrets, bot: &bot };
        let outcome = match crate::channels::adapter(record.kind) {
            Some(channel) => channel.check(check).await,
            None => crate::trackers::check(&integrations, &outbound.http, &record, &secrets).await,
        };
        match outcome {
            Ok(words) => report.add(Level::Ok, subject, words),
            Err(words) => report.add(Level::Problem, subject, words),
        }
    }
    store.close().await;
}
