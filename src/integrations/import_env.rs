//! `taskbridge import-env`: the replaced services' `.env` (TAIGA_*, JIRA_*, CONFLUENCE_*,
//! TWILIO_*, TELEGRAM_*, ZENDESK_*, EMAIL_*, OLLAMA_*, OPENAI_*) turned into a project's
//! integrations — created through [`Integrations::create`], so validated and sealed as the
//! API does — and the provider settings taskbridge reads from its environment. Nothing here
//! prints or returns a secret's value: reports name variables, never their content.

use serde_json::{Map, Value, json};

use super::{IntegrationError, Integrations};
use crate::domain::id::{ProjectId, TenantId};
use crate::domain::integration::{IntegrationType, NewIntegrationInput};

/// Where an old variable goes in an integration.
#[derive(Clone, Copy)]
enum Target {
    Setting(&'static str),
    Secret(&'static str),
}

/// One old variable (or its aliases, first set wins) and where it goes.
struct Field {
    names: &'static [&'static str],
    target: Target,
}

const fn setting(names: &'static [&'static str], name: &'static str) -> Field {
    Field { names, target: Target::Setting(name) }
}

const fn secret(names: &'static [&'static str], name: &'static str) -> Field {
    Field { names, target: Target::Secret(name) }
}

/// Per integration type: its fields, and which of them it cannot be made without.
struct Group {
    kind: IntegrationType,
    fields: &'static [Field],
    required: &'static [&'static str],
}

const GROUPS: &[Group] = &[
    Group {
        kind: IntegrationType::Taiga,
        fields: &[
            setting(&["TAIGA_API_URL", "TAIGA_URL", "TAIGA_HOST", "TAIGA_BASE_URL"], "api_base_url"),
            setting(&["TAIGA_USERNAME", "TAIGA_USER"], "username"),
            secret(&["TAIGA_PASSWORD"], "password"),
            secret(&["TAIGA_TOKEN", "TAIGA_AUTH_TOKEN", "TAIGA_API_TOKEN"], "token"),
            setting(&["TAIGA_PROJECT_SLUG", "TAIGA_PROJECT"], "project_slug"),
            setting(&["TAIGA_ITEM_TYPE"], "item_type"),
            secret(&["TAIGA_WEBHOOK_KEY", "TAIGA_WEBHOOK_SECRET"], "webhook_key"),
        ],
        required: &["password|token"],
    },
    Group {
        kind: IntegrationType::Jira,
        fields: &[
            setting(&["JIRA_URL", "JIRA_BASE_URL", "JIRA_SITE_URL", "JIRA_SERVER"], "site_url"),
            setting(&["JIRA_EMAIL", "JIRA_USER", "JIRA_USERNAME", "JIRA_USER_EMAIL"], "email"),
            secret(&["JIRA_API_TOKEN", "JIRA_TOKEN"], "api_token"),
            setting(&["JIRA_PROJECT_KEY", "JIRA_PROJECT"], "project_key"),
            setting(&["JIRA_ISSUE_TYPE"], "issue_type"),
            secret(&["JIRA_WEBHOOK_SECRET"], "webhook_secret"),
        ],
        required: &["site_url", "api_token"],
    },
    Group {
        kind: IntegrationType::Confluence,
        fields: &[
            setting(&["CONFLUENCE_URL", "CONFLUENCE_BASE_URL", "CONFLUENCE_SITE_URL"], "site_url"),
            // Atlassian accounts and API tokens serve Jira and Confluence alike.
            setting(
                &[
                    "CONFLUENCE_EMAIL",
                    "CONFLUENCE_USER",
                    "CONFLUENCE_USERNAME",
                    "JIRA_EMAIL",
                    "JIRA_USER",
                    "JIRA_USERNAME",
                ],
                "email",
            ),
            secret(&["CONFLUENCE_API_TOKEN", "CONFLUENCE_TOKEN", "JIRA_API_TOKEN"], "api_token"),
        ],
        required: &["site_url", "api_token"],
    },
    Group {
        kind: IntegrationType::Whatsapp,
        fields: &[
            setting(&["TWILIO_ACCOUNT_SID"], "account_sid"),
            secret(&["TWILIO_AUTH_TOKEN"], "auth_token"),
            setting(
                &["TWILIO_WHATSAPP_NUMBER", "TWILIO_WHATSAPP_FROM", "TWILIO_FROM_NUMBER", "TWILIO_PHONE_NUMBER"],
                "from_number",
            ),
        ],
        required: &["account_sid", "auth_token"],
    },
    Group {
        kind: IntegrationType::Telegram,
        fields: &[
            secret(&["TELEGRAM_BOT_TOKEN", "TELEGRAM_TOKEN"], "bot_token"),
            secret(&["TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_SECRET_TOKEN"], "secret_token"),
        ],
        required: &["bot_token"],
    },
    Group {
        kind: IntegrationType::Zendesk,
        fields: &[
            setting(&["ZENDESK_SUBDOMAIN", "ZENDESK_URL", "ZENDESK_DOMAIN"], "subdomain"),
            setting(&["ZENDESK_EMAIL", "ZENDESK_USER", "ZENDESK_USERNAME"], "email"),
            secret(&["ZENDESK_API_TOKEN", "ZENDESK_TOKEN"], "api_token"),
        ],
        required: &["subdomain", "api_token"],
    },
    Group {
        kind: IntegrationType::Email,
        fields: &[
            setting(&["EMAIL_SMTP_HOST", "EMAIL_HOST", "EMAIL_SMTP_SERVER", "EMAIL_SERVER"], "smtp_host"),
            setting(&["EMAIL_SMTP_PORT", "EMAIL_PORT"], "smtp_port"),
            setting(&["EMAIL_USER", "EMAIL_USERNAME", "EMAIL_HOST_USER", "EMAIL_ADDRESS"], "smtp_user"),
            secret(&["EMAIL_PASSWORD", "EMAIL_HOST_PASSWORD", "EMAIL_SMTP_PASSWORD"], "smtp_password"),
            setting(&["EMAIL_FROM", "EMAIL_FROM_ADDRESS", "EMAIL_SENDER", "EMAIL_ADDRESS"], "from_address"),
            setting(&["EMAIL_USE_SSL"], "tls"),
            setting(&["EMAIL_USE_TLS"], "tls"),
        ],
        required: &["smtp_host"],
    },
];

/// The prefixes of the replaced services' variables; others are not theirs.
const PREFIXES: &[&str] =
    &["TAIGA_", "JIRA_", "CONFLUENCE_", "TWILIO_", "TELEGRAM_", "ZENDESK_", "EMAIL_", "OLLAMA_", "OPENAI_"];

/// An integration to create, and the old variables it is made of.
#[derive(Debug)]
pub struct PlannedIntegration {
    pub input: NewIntegrationInput,
    pub from: Vec<String>,
}

/// A provider setting for taskbridge's environment.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSetting {
    pub name: &'static str,
    pub value: String,
    pub secret: bool,
    pub from: &'static str,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub integrations: Vec<PlannedIntegration>,
    pub provider: Vec<EnvSetting>,
    /// (variable, why it is not used)
    pub ignored: Vec<(String, String)>,
}

/// What the old `.env` becomes. `vars` as read from the file, in order.
pub fn plan(vars: &[(String, String)]) -> Plan {
    let get = |name: &str| vars.iter().rev().find(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.trim());
    let mut used: Vec<String> = Vec::new();
    let mut plan = Plan::default();
    for group in GROUPS {
        let (mut settings, mut secrets, mut from) = (Map::new(), Map::new(), Vec::new());
        for field in group.fields {
            let Some((name, raw)) = field.names.iter().find_map(|n| get(n).map(|v| (*n, v))) else { continue };
            let (map, key) = match field.target {
                Target::Setting(k) => (&mut settings, k),
                Target::Secret(k) => (&mut secrets, k),
            };
            if map.contains_key(key) {
                // EMAIL_USE_SSL wins over EMAIL_USE_TLS.
                plan.ignored.push((name.to_string(), format!("{key} is set from an earlier variable")));
                continue;
            }
            let Some(value) = convert(group.kind, key, name, raw) else { continue };
            map.insert(key.to_string(), value);
            from.push(name.to_string());
        }
        let has = |key: &str| settings.contains_key(key) || secrets.contains_key(key);
        let complete = group.required.iter().all(|r| r.split('|').any(has));
        let own: Vec<String> = from.iter().filter(|n| n.starts_with(prefix_of(group.kind))).cloned().collect();
        if complete {
            used.extend(from.iter().cloned());
            let input = NewIntegrationInput { kind: group.kind, name: None, settings, secrets };
            plan.integrations.push(PlannedIntegration { input, from });
        } else if !own.is_empty() {
            let missing: Vec<&str> = group.required.iter().copied().filter(|r| !r.split('|').any(has)).collect();
            for name in own {
                let missing = missing.join(" and ").replace('|', " or ");
                let why = format!("a {} integration needs {missing} as well", group.kind.as_str());
                plan.ignored.push((name, why));
            }
        }
    }
    plan.provider = provider(&get);
    used.extend(plan.provider.iter().map(|s| s.from.to_string()));
    let mut seen = std::collections::HashSet::new();
    for (name, value) in vars {
        if !seen.insert(name.as_str()) || used.contains(name) || plan.ignored.iter().any(|(n, _)| n == name) {
            continue;
        }
        let why = if value.trim().is_empty() {
            "empty".to_string()
        } else if PREFIXES.iter().any(|p| name.starts_with(p)) {
            "no taskbridge equivalent".to_string()
        } else {
            "not a variable of the replaced services".to_string()
        };
        plan.ignored.push((name.clone(), why));
    }
    plan
}

fn prefix_of(kind: IntegrationType) -> &'static str {
    match kind {
        IntegrationType::Taiga => "TAIGA_",
        IntegrationType::Jira => "JIRA_",
        IntegrationType::Confluence => "CONFLUENCE_",
        IntegrationType::Whatsapp => "TWILIO_",
        IntegrationType::Telegram => "TELEGRAM_",
        IntegrationType::Zendesk => "ZENDESK_",
        IntegrationType::Email => "EMAIL_",
        _ => "\0",
    }
}

/// An old value as taskbridge spells it; `None` when it cannot be used (a false
/// `EMAIL_USE_SSL` says nothing).
fn convert(kind: IntegrationType, key: &str, name: &str, raw: &str) -> Option<Value> {
    let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
    Some(match (kind, key) {
        // Taiga's API lives under /api/v1; the old services often gave the site.
        (IntegrationType::Taiga, "api_base_url") => {
            let base = raw.trim_end_matches('/');
            json!(if base.ends_with("/api/v1") { base.to_string() } else { format!("{base}/api/v1") })
        }
        (IntegrationType::Confluence, "site_url") => json!(raw.trim_end_matches('/').trim_end_matches("/wiki")),
        (IntegrationType::Jira, "site_url") => json!(raw.trim_end_matches('/')),
        // `acme`, `acme.zendesk.com` or `https://acme.zendesk.com/...`: the account name.
        (IntegrationType::Zendesk, "subdomain") => {
            let host = raw.split("://").last().unwrap_or(raw).split('/').next().unwrap_or_default();
            json!(host.split('.').next().unwrap_or(host))
        }
        (IntegrationType::Whatsapp, "from_number") => json!(raw.trim_start_matches("whatsapp:")),
        (IntegrationType::Email, "smtp_port") => json!(raw.parse::<u16>().ok()?),
        (IntegrationType::Email, "tls") => match (name, truthy(raw)) {
            ("EMAIL_USE_SSL", true) => json!("tls"),
            ("EMAIL_USE_TLS", true) => json!("starttls"),
            ("EMAIL_USE_TLS", false) => json!("none"),
            _ => return None,
        },
        (IntegrationType::Email, "from_address" | "smtp_user") if name == "EMAIL_ADDRESS" && !raw.contains('@') => {
            return None;
        }
        _ => json!(raw),
    })
}

/// The language model and speech-to-text: Ollama when the old services used it, else
/// OpenAI; an OpenAI key also transcribes voice, as the replaced backend's Whisper did.
fn provider<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Vec<EnvSetting> {
    let mut out = Vec::new();
    let first = |names: &[&'static str]| names.iter().find_map(|n| get(n).map(|v| (*n, v)));
    let ollama = first(&["OLLAMA_API_URL", "OLLAMA_URL", "OLLAMA_BASE_URL", "OLLAMA_HOST"]);
    let openai = get("OPENAI_API_KEY");
    let plain = |name, value: &str, from| EnvSetting { name, value: value.to_string(), secret: false, from };
    if let Some((from, url)) = ollama {
        // taskbridge adds the API paths itself.
        let base = ["/api/generate", "/api/chat", "/api", "/v1"]
            .iter()
            .fold(url.trim_end_matches('/'), |u, suffix| u.strip_suffix(suffix).unwrap_or(u));
        out.push(plain("TASKBRIDGE_LLM", "ollama", from));
        out.push(plain("TASKBRIDGE_LLM_BASE_URL", base, from));
        if let Some(model) = get("OLLAMA_MODEL") {
            out.push(plain("TASKBRIDGE_LLM_MODEL", model, "OLLAMA_MODEL"));
        }
    } else if let Some(key) = openai {
        out.push(plain("TASKBRIDGE_LLM", "openai", "OPENAI_API_KEY"));
        out.push(EnvSetting { secret: true, ..plain("TASKBRIDGE_LLM_API_KEY", key, "OPENAI_API_KEY") });
        if let Some(model) = get("OPENAI_MODEL") {
            out.push(plain("TASKBRIDGE_LLM_MODEL", model, "OPENAI_MODEL"));
        }
    }
    if let Some(key) = openai {
        out.push(plain("TASKBRIDGE_TRANSCRIBE_BASE_URL", "https://api.openai.com", "OPENAI_API_KEY"));
        out.push(EnvSetting { secret: true, ..plain("TASKBRIDGE_TRANSCRIBE_API_KEY", key, "OPENAI_API_KEY") });
    }
    out
}

/// What happened to one planned integration.
#[derive(Debug)]
pub enum Outcome {
    Created {
        id: String,
        name: String,
    },
    /// The project has an integration of that type already: kept, nothing imported.
    Kept {
        id: String,
    },
    Refused(String),
}

/// Creates the planned integrations in `project_id`, through the API's own service.
pub async fn apply(
    integrations: &Integrations,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    planned: Vec<PlannedIntegration>,
) -> Result<Vec<(IntegrationType, Vec<String>, Outcome)>, IntegrationError> {
    let existing = integrations.list(tenant_id, project_id).await?;
    let mut out = Vec::new();
    for PlannedIntegration { input, from } in planned {
        let kind = input.kind;
        let outcome = if let Some(there) = existing.iter().find(|i| i.kind == kind) {
            Outcome::Kept { id: there.id.to_string() }
        } else {
            match integrations.create(tenant_id, project_id, input).await {
                Ok(made) => Outcome::Created { id: made.id.to_string(), name: made.name },
                Err(IntegrationError::Invalid(e)) => Outcome::Refused(e.to_string()),
                Err(e) => return Err(e),
            }
        };
        out.push((kind, from, outcome));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_service_becomes_its_integration_with_secrets_apart() {
        let plan = plan(&vars(&[
            ("TAIGA_URL", "https://taiga.acme.example/"),
            ("TAIGA_USERNAME", "bot"),
            ("TAIGA_PASSWORD", "taiga-pass"),
            ("TAIGA_PROJECT_SLUG", "acme-ops"),
            ("JIRA_URL", "https://acme.atlassian.net/"),
            ("JIRA_EMAIL", "ops@acme.example"),
            ("JIRA_API_TOKEN", "jira-token"),
            ("CONFLUENCE_URL", "https://acme.atlassian.net/wiki"),
            ("ZENDESK_URL", "https://acme.zendesk.com/api/v2"),
            ("ZENDESK_API_TOKEN", "zd"),
            ("EMAIL_HOST", "smtp.acme.example"),
            ("EMAIL_PORT", "465"),
            ("EMAIL_USE_SSL", "true"),
            ("EMAIL_USE_TLS", "false"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN", "tw"),
            ("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155238886"),
        ]));
        let get = |kind| plan.integrations.iter().find(|p| p.input.kind == kind).expect("planned");
        let taiga = &get(IntegrationType::Taiga).input;
        assert_eq!(taiga.settings["api_base_url"], "https://taiga.acme.example/api/v1");
        assert_eq!(taiga.secrets["password"], "taiga-pass");
        assert!(!taiga.settings.values().any(|v| v == "taiga-pass"));
        let confluence = &get(IntegrationType::Confluence);
        assert_eq!(confluence.input.settings["site_url"], "https://acme.atlassian.net");
        assert_eq!(confluence.input.secrets["api_token"], "jira-token", "the Atlassian token serves both");
        assert!(confluence.from.contains(&"JIRA_API_TOKEN".to_string()));
        assert_eq!(get(IntegrationType::Zendesk).input.settings["subdomain"], "acme");
        let email = &get(IntegrationType::Email).input.settings;
        assert_eq!((email["smtp_port"].clone(), email["tls"].clone()), (json!(465), json!("tls")));
        assert_eq!(get(IntegrationType::Whatsapp).input.settings["from_number"], "+14155238886");
        let ignored: Vec<&str> = plan.ignored.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(ignored, ["EMAIL_USE_TLS"], "EMAIL_USE_SSL decides");
    }

    #[test]
    fn incomplete_groups_and_strangers_are_ignored_with_a_reason() {
        let plan = plan(&vars(&[
            ("TAIGA_USERNAME", "bot"),
            ("TAIGA_PROJECT_ID", "42"),
            ("DATABASE_URL", "postgres://x"),
            ("TELEGRAM_BOT_TOKEN", ""),
        ]));
        assert!(plan.integrations.is_empty());
        let why = |n: &str| plan.ignored.iter().find(|(k, _)| k == n).map(|(_, w)| w.clone()).unwrap_or_default();
        assert!(why("TAIGA_USERNAME").contains("needs password or token"), "{:?}", plan.ignored);
        assert_eq!(why("TAIGA_PROJECT_ID"), "no taskbridge equivalent");
        assert_eq!(why("DATABASE_URL"), "not a variable of the replaced services");
        assert_eq!(why("TELEGRAM_BOT_TOKEN"), "empty");
    }

    #[test]
    fn ollama_is_the_model_and_an_openai_key_transcribes() {
        let plan = plan(&vars(&[
            ("OLLAMA_API_URL", "http://ollama:11434/api/generate"),
            ("OLLAMA_MODEL", "llama3"),
            ("OPENAI_API_KEY", "sk-old"),
        ]));
        let names: Vec<(&str, &str, bool)> =
            plan.provider.iter().map(|s| (s.name, s.value.as_str(), s.secret)).collect();
        assert_eq!(
            names,
            [
                ("TASKBRIDGE_LLM", "ollama", false),
                ("TASKBRIDGE_LLM_BASE_URL", "http://ollama:11434", false),
                ("TASKBRIDGE_LLM_MODEL", "llama3", false),
                ("TASKBRIDGE_TRANSCRIBE_BASE_URL", "https://api.openai.com", false),
                ("TASKBRIDGE_TRANSCRIBE_API_KEY", "sk-old", true),
            ]
        );
        let openai = super::plan(&vars(&[("OPENAI_API_KEY", "sk-old")]));
        assert_eq!(openai.provider[0].value, "openai");
        assert!(openai.provider.iter().any(|s| s.name == "TASKBRIDGE_LLM_API_KEY" && s.secret));
    }
}
