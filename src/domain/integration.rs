//! Integration records: one project of one tenant connected to one external platform, with
//! its settings and (encrypted) secrets. The shape is a contract: other programs configure
//! taskbridge through it (`shared/contracts/integrations.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::id::{IntegrationId, ProjectId};
use super::validate::{self, DomainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    Slack,
    Discord,
    /// Microsoft Teams (a bot or an outgoing webhook); `teams` on the wire.
    #[serde(rename = "teams")]
    MsTeams,
    Telegram,
    Whatsapp,
    Email,
    Zendesk,
    Taiga,
    Jira,
    Confluence,
    /// An outgoing webhook other tools subscribe to for task events.
    Webhook,
}

/// Per type: the secrets it may hold, and its settings beyond `mode` and `api_base_url`.
const SHAPES: [(IntegrationType, &str, &[&str], &[&str]); 11] = [
    // OAuth installs add their tokens (`access_token`, `refresh_token`, a webhook URL).
    (IntegrationType::Slack, "slack", &["signing_secret", "bot_token", "refresh_token", "webhook_url"], &["reaction"]),
    (
        IntegrationType::Discord,
        "discord",
        &["public_key", "bot_token", "access_token", "refresh_token", "webhook_url"],
        &["application_id"],
    ),
    (IntegrationType::MsTeams, "teams", &["hmac_secret", "app_password", "access_token", "refresh_token"], &["app_id"]),
    (IntegrationType::Telegram, "telegram", &["secret_token", "bot_token"], &[]),
    (IntegrationType::Whatsapp, "whatsapp", &["auth_token"], &["account_sid", "from_number"]),
    (
        IntegrationType::Email,
        "email",
        &["inbound_secret", "smtp_password", "imap_password"],
        // `imap_*`: a mailbox polled for requests (`imap_tls`: tls, the default, or starttls;
        // `imap_folder`, INBOX by default; `imap_move_to`: where taken mail goes, else marked seen).
        &[
            "smtp_host",
            "smtp_port",
            "smtp_user",
            "from_address",
            "tls",
            "imap_host",
            "imap_port",
            "imap_user",
            "imap_tls",
            "imap_folder",
            "imap_move_to",
        ],
    ),
    (
        IntegrationType::Zendesk,
        "zendesk",
        &["signing_secret", "api_token", "access_token", "refresh_token"],
        &["subdomain", "email", "max_in_flight"],
    ),
    (
        IntegrationType::Taiga,
        "taiga",
        &["password", "token", "webhook_key"],
        &["username", "project_slug", "item_type", "max_in_flight"],
    ),
    (
        IntegrationType::Jira,
        "jira",
        &["api_token", "access_token", "refresh_token", "webhook_secret"],
        // `task_issue_type` and `undo_status` are the Confluence task sync's: the type of the
        // issues it creates (default Task) and the status its undo moves them to (Backlog).
        // `max_in_flight` (every tracker): how many calls a sync run keeps in flight against
        // the site, and how many task writes one instance makes to it at once (1–64, default 8).
        &[
            "site_url",
            "email",
            "cloud_id",
            "project_key",
            "issue_type",
            "parent_key",
            "task_issue_type",
            "undo_status",
            "max_in_flight",
        ],
    ),
    (
        IntegrationType::Confluence,
        "confluence",
        &["api_token", "access_token", "refresh_token"],
        &["site_url", "email", "cloud_id", "max_in_flight"],
    ),
    // `url` receives the events named in `events` (comma-separated; all when unset), each
    // signed with `signing_secret`.
    (IntegrationType::Webhook, "webhook", &["signing_secret"], &["url", "events"]),
];

impl IntegrationType {
    fn shape(self) -> (&'static str, &'static [&'static str], &'static [&'static str]) {
        SHAPES.iter().find(|(t, ..)| *t == self).map(|(_, n, s, o)| (*n, *s, *o)).unwrap_or(("", &[], &[]))
    }

    pub fn as_str(self) -> &'static str {
        self.shape().0
    }

    pub fn parse(s: &str) -> Option<Self> {
        SHAPES.iter().find(|(_, n, ..)| *n == s).map(|(t, ..)| *t)
    }

    pub fn secret_names(self) -> &'static [&'static str] {
        self.shape().1
    }

    pub fn setting_names(self) -> &'static [&'static str] {
        self.shape().2
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Active,
    Error,
    Revoked,
}

impl IntegrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Active => "active",
            IntegrationStatus::Error => "error",
            IntegrationStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "error" => Some(Self::Error),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// An integration as every answer shows it: which secrets are set, never their values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Integration {
    #[schema(value_type = String)]
    pub id: IntegrationId,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    pub status: IntegrationStatus,
    pub last_error: Option<String>,
    pub secrets_set: Vec<String>,
    /// Where the platform must send its webhooks.
    pub webhook_url: String,
    /// For an OAuth install, shown when one integration is read: the workspace, guild or
    /// site, bot and app ids, scopes, who installed it and when (sealed at rest).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub installation: Option<Value>,
    /// Why taskbridge cannot post into this platform on its own (`…/send`, news for
    /// requesters), naming exactly the settings or secrets missing; absent when it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_send: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewIntegrationInput {
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[serde(default)]
    pub secrets: Map<String, Value>,
}

/// `PATCH`: replaces the settings and secrets it names; `null` removes one.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IntegrationPatchInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: Map<String, Value>,
}

/// Why an integration of `kind` with these settings and secrets cannot post into its platform
/// on its own, naming exactly what is missing; `None` when it can (or the platform needs no
/// more than it was created with).
pub fn cannot_send(kind: IntegrationType, settings: &Map<String, Value>, secret_names: &[String]) -> Option<String> {
    let has = |secret: &str| secret_names.iter().any(|s| s == secret);
    let (platform, missing): (&str, Vec<&str>) = match kind {
        IntegrationType::MsTeams => (
            "Microsoft Teams",
            [
                (setting(settings, "app_id").is_none(), "settings.app_id (the bot's Microsoft App ID)"),
                (!has("app_password"), "secrets.app_password (the bot's client secret)"),
            ]
            .into_iter()
            .filter_map(|(missing, what)| missing.then_some(what))
            .collect(),
        ),
        IntegrationType::Slack if !has("bot_token") && !has("webhook_url") => {
            ("Slack", vec!["secrets.bot_token (the bot token, xoxb-…) or secrets.webhook_url (an incoming webhook)"])
        }
        IntegrationType::Discord if !has("bot_token") => ("Discord", vec!["secrets.bot_token (the bot's token)"]),
        _ => return None,
    };
    (!missing.is_empty()).then(|| format!("To post into {platform}, set {}.", missing.join(" and ")))
}

/// A non-empty string setting (or secret) by name, trimmed.
pub fn setting<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Deserializes a setting as [`setting`] reads it (a non-blank string, trimmed; anything
/// else is absent), for the typed settings structs adapters read their integration with.
pub fn non_blank<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(value.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string))
}

/// The range of an integration's `max_in_flight`: how many calls to its platform run at once.
pub const IN_FLIGHT: std::ops::RangeInclusive<u64> = 1..=64;

/// `max_in_flight` when an integration sets none: enough to hide a slow platform's latency,
/// few enough not to look like a flood to it.
pub const DEFAULT_IN_FLIGHT: usize = 8;

/// `max_in_flight` when it is a number in [`IN_FLIGHT`] (anything else reads as unset).
fn in_flight<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(value.as_u64().filter(|n| IN_FLIGHT.contains(n)).and_then(|n| usize::try_from(n).ok()))
}

/// An integration's `max_in_flight`, or the default.
pub fn max_in_flight(settings: &Map<String, Value>) -> usize {
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct InFlight {
        #[serde(deserialize_with = "in_flight")]
        max_in_flight: Option<usize>,
    }
    typed::<InFlight>(settings).max_in_flight.unwrap_or(DEFAULT_IN_FLIGHT)
}

/// An integration's settings as the typed struct `T` (whose fields read with [`non_blank`] and
/// default when absent, so reading never fails: what is missing is the adapter's to refuse).
pub fn typed<T: serde::de::DeserializeOwned + Default>(settings: &Map<String, Value>) -> T {
    T::deserialize(settings).unwrap_or_default()
}

/// What an OAuth install keeps in an integration's settings about its grant: `auth` is
/// `oauth` for an installed integration (not one made with a pasted token), and the access
/// token expires at `expires_at` (RFC 3339), which a refresh moves on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OAuthGrant {
    #[serde(deserialize_with = "non_blank")]
    pub auth: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    pub expires_at: Option<String>,
}

impl OAuthGrant {
    pub fn read(settings: &Map<String, Value>) -> Self {
        typed(settings)
    }

    /// Whether the integration was installed through OAuth.
    pub fn installed(&self) -> bool {
        self.auth.as_deref() == Some("oauth")
    }
}

/// A value requests are routed by: the setting, or else what an OAuth install sealed about
/// itself (`secrets.installation`: a cloud id, a site, an account, a tenant).
pub fn routed<'a>(settings: &'a Map<String, Value>, secrets: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    setting(settings, name)
        .or_else(|| secrets.get("installation")?.get(name)?.as_str().map(str::trim).filter(|s| !s.is_empty()))
}

/// A name that goes into a credentialed URL (a Zendesk account, a Microsoft tenant with
/// `dots`): letters, digits and dashes only, so no host, path or query can ride along.
pub fn plain_name(value: &str, dots: bool) -> bool {
    !value.is_empty()
        && value.len() <= 100
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || (dots && c == '.'))
}

/// Checks a settings change for `kind`; URLs pass `url_check` (the SSRF guard).
pub fn check_settings(
    kind: IntegrationType,
    settings: &Map<String, Value>,
    url_check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), DomainError> {
    for (key, value) in settings {
        match key.as_str() {
            "mode" => match value {
                Value::Null => {}
                Value::String(m) if m == "commands" || m == "all" => {}
                _ => return Err(DomainError::invalid("settings", "mode must be \"commands\" or \"all\"")),
            },
            "api_base_url" | "site_url" | "url" => match value {
                Value::Null => {}
                Value::String(url) => {
                    url_check(url).map_err(|why| DomainError::invalid("settings", format!("{key}: {why}")))?
                }
                _ => return Err(DomainError::invalid("settings", format!("{key} must be a URL"))),
            },
            // Both end up in a URL host or path that carries credentials: plain names only.
            "subdomain" | "ms_tenant" if kind.setting_names().contains(&key.as_str()) || key == "ms_tenant" => {
                match value {
                    Value::Null => {}
                    Value::String(name) if plain_name(name, key == "ms_tenant") => {}
                    _ => return Err(DomainError::invalid("settings", format!("{key} must be a plain name"))),
                }
            }
            // Names of an issue type or a workflow status, matched as Jira spells them.
            "issue_type" | "task_issue_type" | "undo_status" if kind == IntegrationType::Jira => match value {
                Value::Null => {}
                Value::String(name) => {
                    validate::required_line("settings", name, 255)
                        .map_err(|_| DomainError::invalid("settings", format!("{key} must be a non-empty name")))?;
                }
                _ => return Err(DomainError::invalid("settings", format!("{key} must be a name"))),
            },
            // Trackers' writes and chat deliveries wait for a turn (`in_flight`).
            "max_in_flight" if kind != IntegrationType::Webhook => match value {
                Value::Null => {}
                Value::Number(n) if n.as_u64().is_some_and(|n| IN_FLIGHT.contains(&n)) => {}
                _ => {
                    return Err(DomainError::invalid("settings", "max_in_flight must be a whole number from 1 to 64"));
                }
            },
            "tls" if kind == IntegrationType::Email => match value {
                Value::Null | Value::Bool(_) => {}
                Value::String(mode) if SmtpTls::parse(mode).is_some() => {}
                _ => return Err(DomainError::invalid("settings", "tls must be starttls, tls or none (or true/false)")),
            },
            "imap_tls" if kind == IntegrationType::Email => match value {
                Value::Null => {}
                Value::String(mode) if ImapTls::parse(mode).is_some() => {}
                _ => return Err(DomainError::invalid("settings", "imap_tls must be tls or starttls")),
            },
            "imap_folder" | "imap_move_to" if kind == IntegrationType::Email => match value {
                Value::Null => {}
                Value::String(name) if folder_name(name) => {}
                _ => {
                    return Err(DomainError::invalid(
                        "settings",
                        format!("{key} must be a folder name: printable ASCII, at most 200 characters"),
                    ));
                }
            },
            "smtp_port" | "imap_port" if kind == IntegrationType::Email => match value {
                Value::Null => {}
                _ if smtp_port(value).is_some() => {}
                _ => return Err(DomainError::invalid("settings", format!("{key} must be a port number (1-65535)"))),
            },
            "events" if kind == IntegrationType::Webhook => match value {
                Value::Null => {}
                Value::String(list) if super::event::unknown(list).is_empty() => {}
                Value::String(list) => {
                    let names = super::event::EVENTS.join(", ");
                    let unknown = super::event::unknown(list).join(", ");
                    return Err(DomainError::invalid(
                        "settings",
                        format!("events: {unknown} unknown; events are {names}"),
                    ));
                }
                _ => return Err(DomainError::invalid("settings", "events is a comma-separated list")),
            },
            other if kind.setting_names().contains(&other) => match value {
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
                Value::String(s) => {
                    validate::free_text("settings", s, 2000)?;
                }
                _ => {
                    return Err(DomainError::invalid(
                        "settings",
                        format!("{other} must be a string, number or boolean"),
                    ));
                }
            },
            other => {
                return Err(DomainError::invalid(
                    "settings",
                    format!("{other:?} is not a setting of a {} integration", kind.as_str()),
                ));
            }
        }
    }
    Ok(())
}

/// How an e-mail integration's SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on a trusted network; credentials are then refused.
    None,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" | "true" => Some(SmtpTls::StartTls),
            "tls" | "implicit" | "ssl" => Some(SmtpTls::Implicit),
            "none" | "false" | "plain" => Some(SmtpTls::None),
            _ => None,
        }
    }

    /// The mode an e-mail integration's `tls` setting names (STARTTLS when unset).
    pub fn of(settings: &Map<String, Value>) -> Option<Self> {
        match settings.get("tls") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => Some(SmtpTls::StartTls),
            Some(Value::Bool(false)) => Some(SmtpTls::None),
            Some(Value::String(s)) => SmtpTls::parse(s),
            Some(_) => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

/// How an e-mail integration's IMAP connection is secured: always with TLS (the password
/// goes over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapTls {
    /// TLS from the first byte (port 993), the default.
    Implicit,
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 143).
    StartTls,
}

impl ImapTls {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tls" | "implicit" | "ssl" => Some(ImapTls::Implicit),
            "starttls" => Some(ImapTls::StartTls),
            _ => None,
        }
    }

    /// The mode an e-mail integration's `imap_tls` setting names (TLS when unset).
    pub fn of(settings: &Map<String, Value>) -> Option<Self> {
        match settings.get("imap_tls") {
            None | Some(Value::Null) => Some(ImapTls::Implicit),
            Some(Value::String(s)) => ImapTls::parse(s),
            Some(_) => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            ImapTls::Implicit => 993,
            ImapTls::StartTls => 143,
        }
    }
}

/// A folder name taskbridge sends to an IMAP server: printable ASCII (names in other
/// scripts need IMAP's modified UTF-7), not empty, at most 200 characters.
pub fn folder_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && name.len() <= 200 && name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// An `smtp_port` setting as a port number (a number or a numeric string).
pub fn smtp_port(value: &Value) -> Option<u16> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|p| *p != 0)
}

/// Checks an integration as a whole, once a create or a change is merged: rules that tie
/// settings and secrets together. `secrets_set` names the secrets it holds.
pub fn check_record(
    kind: IntegrationType,
    settings: &Map<String, Value>,
    secrets_set: &[&str],
) -> Result<(), DomainError> {
    if kind == IntegrationType::Email {
        let user = setting(settings, "smtp_user").is_some();
        let password = secrets_set.contains(&"smtp_password");
        if user != password {
            return Err(DomainError::invalid(
                "settings.smtp_user",
                "settings.smtp_user and secrets.smtp_password go together",
            ));
        }
        let polled = setting(settings, "imap_host").is_some();
        let imap = [setting(settings, "imap_user").is_some(), secrets_set.contains(&"imap_password")];
        if polled && imap != [true, true] {
            return Err(DomainError::invalid(
                "settings.imap_host",
                "a polled mailbox needs settings.imap_user and secrets.imap_password",
            ));
        }
        if (user || password) && SmtpTls::of(settings) == Some(SmtpTls::None) {
            return Err(DomainError::invalid(
                "settings.tls",
                "settings.smtp_user and secrets.smtp_password are sent only over TLS: set settings.tls to \
                 starttls or tls, or remove the credentials",
            ));
        }
    }
    Ok(())
}

/// Checks secrets for `kind`: known names, non-empty string values (or `null` to remove).
pub fn check_secrets(kind: IntegrationType, secrets: &Map<String, Value>) -> Result<(), DomainError> {
    for (name, value) in secrets {
        if !kind.secret_names().contains(&name.as_str()) {
            return Err(DomainError::invalid(
                "secrets",
                format!(
                    "{name:?} is not a secret of a {} integration (expected {})",
                    kind.as_str(),
                    kind.secret_names().join(", ")
                ),
            ));
        }
        match value {
            Value::Null => {}
            Value::String(s) if !s.trim().is_empty() && s.len() <= 10_000 => {}
            _ => return Err(DomainError::invalid("secrets", format!("{name} must be a non-empty string"))),
        }
    }
    Ok(())
}

/// Applies a change to a map: `null` removes a key, anything else sets it.
pub fn merge(target: &mut Map<String, Value>, change: &Map<String, Value>) {
    for (key, value) in change {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

pub fn name_or_default(kind: IntegrationType, name: Option<&str>) -> Result<String, DomainError> {
    Ok(validate::optional_name("name", name, 200)?.unwrap_or_else(|| kind.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn each_type_accepts_only_its_secrets_and_settings() {
        let secrets = json!({"signing_secret": "s", "bot_token": "xoxb"});
        assert!(check_secrets(IntegrationType::Slack, secrets.as_object().expect("map")).is_ok());
        let wrong = json!({"auth_token": "x"});
        assert!(check_secrets(IntegrationType::Slack, wrong.as_object().expect("map")).is_err());
        let empty = json!({"bot_token": " "});
        assert!(check_secrets(IntegrationType::Slack, empty.as_object().expect("map")).is_err());
        let settings = json!({"mode": "all", "reaction": "ticket", "api_base_url": "https://slack.com/api"});
        assert!(check_settings(IntegrationType::Slack, settings.as_object().expect("map"), &ok).is_ok());
        let bad_mode = json!({"mode": "everything"});
        assert!(check_settings(IntegrationType::Slack, bad_mode.as_object().expect("map"), &ok).is_err());
        let foreign = json!({"smtp_host": "mail"});
        assert!(check_settings(IntegrationType::Slack, foreign.as_object().expect("map"), &ok).is_err());
    }

    #[test]
    fn smtp_credentials_need_tls() {
        let check = |settings: Value, secrets: &[&str]| {
            check_record(IntegrationType::Email, settings.as_object().expect("map"), secrets).map_err(|e| e.to_string())
        };
        let user = json!({"smtp_host": "mail", "smtp_user": "bot"});
        assert!(check(user.clone(), &["smtp_password"]).is_ok(), "STARTTLS by default");
        let plain = json!({"smtp_host": "mail", "smtp_user": "bot", "tls": "none"});
        let refused = check(plain.clone(), &["smtp_password"]).expect_err("credentials over plain SMTP");
        assert!(refused.contains("settings.tls") && refused.contains("secrets.smtp_password"), "{refused}");
        let plain = json!({"smtp_host": "mail", "smtp_user": "bot", "tls": false});
        assert!(check(plain, &["smtp_password"]).is_err());
        assert!(check(json!({"smtp_host": "relay", "tls": "none"}), &[]).is_ok(), "a trusted relay without login");
        assert!(check(user, &[]).is_err(), "a user without a password");
        assert!(check(json!({"tls": "implicit"}), &["smtp_password"]).is_err(), "a password without a user");
        let bad = |s: Value| check_settings(IntegrationType::Email, s.as_object().expect("map"), &ok).is_err();
        assert!(bad(json!({"tls": "maybe"})) && bad(json!({"smtp_port": 70000})) && bad(json!({"smtp_port": "x"})));
        assert!(!bad(json!({"tls": "STARTTLS", "smtp_port": "587"})));
    }

    #[test]
    fn jira_takes_the_sync_settings_as_names() {
        let check = |s: Value| check_settings(IntegrationType::Jira, s.as_object().expect("map"), &ok);
        assert!(check(json!({"task_issue_type": "Sub-task", "undo_status": "To Do"})).is_ok());
        assert!(check(json!({"undo_status": "  "})).is_err());
        assert!(check(json!({"task_issue_type": 3})).is_err());
        assert!(check(json!({"undo_status": null})).is_ok(), "null removes it");
    }

    #[test]
    fn trackers_and_chat_platforms_take_a_bounded_in_flight_limit() {
        for kind in [
            IntegrationType::Jira,
            IntegrationType::Confluence,
            IntegrationType::Taiga,
            IntegrationType::Zendesk,
            IntegrationType::Slack,
            IntegrationType::Telegram,
            IntegrationType::Email,
        ] {
            let check = |s: Value| check_settings(kind, s.as_object().expect("map"), &ok);
            assert!(check(json!({"max_in_flight": 1})).is_ok());
            assert!(check(json!({"max_in_flight": 64})).is_ok());
            assert!(check(json!({"max_in_flight": null})).is_ok());
            for bad in [json!(0), json!(65), json!(2.5), json!(-1), json!("8")] {
                assert!(check(json!({"max_in_flight": bad})).is_err(), "{bad} refused");
            }
        }
        let hook = check_settings(IntegrationType::Webhook, json!({"max_in_flight": 4}).as_object().expect("map"), &ok);
        assert!(hook.is_err(), "not an outgoing webhook's setting");
        let read = |s: Value| max_in_flight(s.as_object().expect("map"));
        assert_eq!(read(json!({"max_in_flight": 3})), 3);
        assert_eq!(read(json!({})), DEFAULT_IN_FLIGHT);
        assert_eq!(read(json!({"max_in_flight": 500})), DEFAULT_IN_FLIGHT, "out of range reads as unset");
    }

    #[test]
    fn types_round_trip() {
        for (t, name, ..) in SHAPES {
            assert_eq!(IntegrationType::parse(name), Some(t));
            assert_eq!(t.as_str(), name);
        }
    }
}
