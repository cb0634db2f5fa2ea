//! The configuration reference, `docs/configuration.md`, written from the code itself: every
//! `TASKBRIDGE_*` variable of [`Config`](super::Config) (its flag, default and doc comment, as
//! clap knows them) and every `TASKBRIDGE_OAUTH_*` variable
//! [`with_oauth_from_env`](super::Config::with_oauth_from_env) reads. A test keeps the
//! committed file equal to it; `taskbridge config-reference` prints it.

use std::fmt::Write as _;

use clap::Args as _;

/// One variable as the reference shows it.
struct Entry {
    env: String,
    flag: Option<String>,
    default: Option<String>,
    /// The values it takes, when they are a fixed list.
    choices: Vec<String>,
    secret: bool,
    list: bool,
    help: String,
}

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    let service = service_entries();
    let oauth = oauth_entries();
    section(&mut out, "The service", SERVICE_INTRO, &service);
    section(&mut out, "OAuth installs", OAUTH_INTRO, &oauth);
    out
}

const HEADER: &str = "<!-- Written by `taskbridge config-reference` from src/config.rs and src/oauth/providers.rs: \
do not edit by hand. After changing a setting, run\n     cargo run -- config-reference > docs/configuration.md\n-->\n\
# Configuration reference\n\n\
taskbridge reads its settings from the environment. An optional `.env` file in the working directory is read \
first (the environment wins over it); the service's own settings can also be given as command-line flags \
(`taskbridge --help`). Nothing is required: with no settings at all the service runs on an embedded SQLite \
file with the builtin (offline) language model.\n\n\
Values marked **secret** are never printed by taskbridge (not in logs, `--help`, `taskbridge doctor` or API \
answers); keep them out of files others can read.\n\n";

const SERVICE_INTRO: &str = "Read by every subcommand (`serve`, `migrate`, `doctor`, `admin`, `import-env`, …).";

const OAUTH_INTRO: &str = "The apps an admin installs taskbridge through (*Connect with …* on a project's \
integrations page, or `GET /api/v1/projects/{id}/integrations/{type}/install`). A provider can be installed \
only when both its client id and its client secret are set; the other variables override the provider's \
real endpoints and scopes (tests point them at a fake). The redirect URI to register with each provider \
is `{TASKBRIDGE_PUBLIC_URL}/api/public/integrations/{type}/callback`, `{type}` being `slack`, `discord`, \
`teams`, `atlassian` or `zendesk`.";

fn section(out: &mut String, title: &str, intro: &str, entries: &[Entry]) {
    let _ = write!(out, "## {title}\n\n{intro}\n\n");
    out.push_str("| variable | default |\n| --- | --- |\n");
    for e in entries {
        let default = match (&e.default, e.secret) {
            (Some(d), _) => format!("`{}`", table_cell(d)),
            (None, true) => "unset (secret)".into(),
            // Unset, but something applies: the description says what.
            (None, false) if e.help.to_lowercase().contains("default") => "unset (see below)".into(),
            (None, false) => "unset".into(),
        };
        let _ = writeln!(out, "| [`{}`](#{}) | {default} |", e.env, e.env.to_lowercase());
    }
    out.push('\n');
    for e in entries {
        let _ = write!(out, "### {}\n\n", e.env);
        out.push_str(&sentence(&e.help));
        out.push_str("\n\n");
        let mut facts = Vec::new();
        if let Some(flag) = &e.flag {
            facts.push(format!("Flag: `{flag}`"));
        }
        facts.push(match &e.default {
            Some(d) => format!("Default: `{d}`"),
            None => "Default: unset".into(),
        });
        if !e.choices.is_empty() {
            let choices: Vec<String> = e.choices.iter().map(|c| format!("`{c}`")).collect();
            facts.push(format!("One of {}", choices.join(", ")));
        }
        if e.list {
            facts.push("A comma-separated list".into());
        }
        if e.secret {
            facts.push("**Secret**: its value is never shown".into());
        }
        out.push_str(&facts.join(" · "));
        out.push_str("\n\n");
    }
}

/// A description as a sentence: clap drops the final period of a one-paragraph doc comment.
fn sentence(help: &str) -> String {
    let help = help.trim();
    match help.chars().last() {
        Some('.' | '!' | '?' | ':') | None => help.to_string(),
        Some(_) => format!("{help}."),
    }
}

/// A table cell's text: a `|` would end the cell, even inside a code span.
fn table_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The service's settings, in the order `Config` declares them.
fn service_entries() -> Vec<Entry> {
    let command = super::Config::augment_args(clap::Command::new("taskbridge"));
    command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            let help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
            let defaults: Vec<String> =
                arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            let list = arg.get_value_delimiter().is_some();
            let default = (!defaults.is_empty()).then(|| defaults.join(","));
            let choices = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            Some(Entry {
                env,
                flag: arg.get_long().map(|l| format!("--{l}")),
                default,
                choices,
                secret: arg.is_hide_env_values_set(),
                list,
                help,
            })
        })
        .collect()
}

fn oauth_entries() -> Vec<Entry> {
    crate::oauth::providers::variables()
        .into_iter()
        .map(|v| Entry {
            env: v.name,
            flag: None,
            default: v.default,
            choices: Vec::new(),
            secret: v.secret,
            list: false,
            help: v.help,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");

    /// The committed reference is the generated one: a setting added, renamed or given
    /// another default or description shows there, or this test fails.
    #[test]
    fn docs_configuration_md_is_generated_from_the_code() {
        let generated = markdown();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(COMMITTED, &generated).expect("docs/configuration.md written");
            return;
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        if committed != generated {
            let first = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
            panic!(
                "docs/configuration.md is not what the code says (first difference at line {}: committed {:?}, \
                 generated {:?}). Regenerate it with\n    cargo run -- config-reference > docs/configuration.md\n\
                 (or UPDATE_SNAPSHOTS=1 cargo test --lib config::reference) and review the diff.",
                first + 1,
                committed.lines().nth(first).unwrap_or("<end of file>"),
                generated.lines().nth(first).unwrap_or("<end of file>"),
            );
        }
    }

    #[test]
    fn every_variable_is_listed_once_and_secrets_are_marked() {
        let text = markdown();
        let service = service_entries();
        assert!(service.len() > 40, "the service's settings are read from clap");
        for e in service.iter().chain(oauth_entries().iter()) {
            assert_eq!(text.matches(&format!("### {}\n", e.env)).count(), 1, "{}", e.env);
        }
        let secret = |name: &str| service.iter().chain(oauth_entries().iter()).any(|e| e.env == name && e.secret);
        for name in [
            "TASKBRIDGE_API_KEY",
            "TASKBRIDGE_ENCRYPTION_KEY",
            "TASKBRIDGE_ENCRYPTION_KEY_PREVIOUS",
            "TASKBRIDGE_REDIS_URL",
            "TASKBRIDGE_LLM_API_KEY",
            "TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET",
            "TASKBRIDGE_OAUTH_SLACK_SIGNING_SECRET",
            "TASKBRIDGE_OAUTH_TEAMS_BOT_APP_PASSWORD",
        ] {
            assert!(secret(name), "{name} is a secret");
        }
        assert!(!secret("TASKBRIDGE_DATABASE_URL") && !secret("TASKBRIDGE_OAUTH_SLACK_CLIENT_ID"));
        assert!(text.contains("### TASKBRIDGE_ADDR\n") && text.contains("Default: `127.0.0.1:8080`"));
        assert!(text.contains("Default: `https://slack.com/oauth/v2/authorize`"));
    }
}
