//! The files that install and run the service name its real settings: the Debian package's
//! configuration file (`packaging/deb/taskbridge.env`) documents every variable the service
//! reads and no other, each commented default is the service's own, the values it sets
//! parse, and its data paths are the ones the systemd unit lets the service write. The
//! container files set only variables the service reads. (scripts/package_check.sh installs
//! and starts the package; scripts/container_check.py checks the container files further.)

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Args, Command, FromArgMatches};
use taskbridge::config::Config;
use taskbridge::oauth::providers::ALL;

const ENV_FILE: &str = "packaging/deb/taskbridge.env";
const UNIT: &str = "packaging/deb/taskbridge.service";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("file readable")
}

/// The settings `serve` takes from the environment: variable name → clap argument.
fn settings() -> BTreeMap<String, clap::Arg> {
    Config::augment_args(Command::new("taskbridge"))
        .get_arguments()
        .filter_map(|arg| Some((arg.get_env()?.to_str()?.to_string(), arg.clone())))
        .collect()
}

/// The OAuth variables, read apart from clap (`OAuthSettings::from_env`).
fn oauth_variables() -> Vec<String> {
    let mut names: Vec<String> = ALL
        .iter()
        .flat_map(|p| {
            ["CLIENT_ID", "CLIENT_SECRET", "AUTHORIZE_URL", "TOKEN_URL", "REVOKE_URL", "SCOPES"]
                .map(|what| format!("TASKBRIDGE_OAUTH_{}_{what}", p.env_name()))
        })
        .collect();
    names.extend(
        [
            "TEAMS_TENANT",
            "TEAMS_BOT_APP_ID",
            "TEAMS_BOT_APP_PASSWORD",
            "DISCORD_PERMISSIONS",
            "DISCORD_BOT_TOKEN",
            "DISCORD_PUBLIC_KEY",
            "SLACK_SIGNING_SECRET",
            "ATLASSIAN_RESOURCES_URL",
        ]
        .map(|rest| format!("TASKBRIDGE_OAUTH_{rest}")),
    );
    names
}

struct Line {
    name: String,
    value: String,
    set: bool,
}

/// `NAME=value` lines, set or commented out (`#NAME=value`); other comments skipped.
fn env_file() -> Vec<Line> {
    read(ENV_FILE)
        .lines()
        .filter_map(|line| {
            let (set, rest) = match line.strip_prefix('#') {
                Some(rest) => (false, rest),
                None => (true, line),
            };
            let (name, value) = rest.split_once('=')?;
            let is_name = name.starts_with("TASKBRIDGE_")
                && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if set {
                assert!(is_name, "{ENV_FILE}: {line:?} is neither a setting nor a comment");
            }
            is_name.then(|| Line { name: name.into(), value: value.into(), set })
        })
        .collect()
}

#[test]
fn the_package_configuration_documents_every_setting() {
    let documented: Vec<String> = env_file().into_iter().map(|l| l.name).collect();
    let missing: Vec<String> =
        settings().into_keys().chain(oauth_variables()).filter(|name| !documented.contains(name)).collect();
    // Per-provider endpoints and scopes are described once, not listed for every provider.
    let missing: Vec<&String> = missing
        .iter()
        .filter(|n| !["_AUTHORIZE_URL", "_TOKEN_URL", "_REVOKE_URL", "_SCOPES"].iter().any(|s| n.ends_with(s)))
        .collect();
    assert!(missing.is_empty(), "{ENV_FILE} does not mention {missing:?}");
}

#[test]
fn the_package_configuration_names_no_unknown_setting() {
    let known = settings();
    let oauth = oauth_variables();
    for line in env_file() {
        assert!(
            known.contains_key(&line.name) || oauth.contains(&line.name),
            "{ENV_FILE} names {}, which the service does not read",
            line.name
        );
    }
}

#[test]
fn commented_settings_show_the_services_defaults() {
    let known = settings();
    let oauth = taskbridge::oauth::OAuthSettings::from_env(|_| None);
    for line in env_file().into_iter().filter(|l| !l.set && !l.value.is_empty()) {
        let default = match known.get(&line.name) {
            Some(arg) => {
                let values: Vec<String> =
                    arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
                // A setting without a default shows an example value.
                if values.is_empty() {
                    continue;
                }
                values.join(",")
            }
            None => match line.name.as_str() {
                "TASKBRIDGE_OAUTH_TEAMS_TENANT" => oauth.teams_tenant.clone(),
                "TASKBRIDGE_OAUTH_DISCORD_PERMISSIONS" => oauth.discord_permissions.clone(),
                "TASKBRIDGE_OAUTH_ATLASSIAN_RESOURCES_URL" => oauth.atlassian_resources_url.clone(),
                other => panic!("{ENV_FILE} shows a value for {other}, which has no default"),
            },
        };
        assert_eq!(line.value, default, "{ENV_FILE}: the default of {}", line.name);
    }
}

#[test]
fn the_package_configuration_parses_and_keeps_data_where_the_unit_lets_it_write() {
    let known = settings();
    let mut argv = vec!["taskbridge".to_string()];
    for line in env_file().into_iter().filter(|l| l.set) {
        let long = known[&line.name].get_long().expect("every setting has a long option");
        argv.push(format!("--{long}={}", line.value));
    }
    let matches = Config::augment_args(Command::new("taskbridge")).try_get_matches_from(argv).expect("values parse");
    let config = Config::from_arg_matches(&matches).expect("a configuration");

    let unit = read(UNIT);
    let directive = |key: &str| -> Vec<String> {
        unit.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(str::to_string).collect()
    };
    let writable = directive("ReadWritePaths");
    assert_eq!(writable, ["/var/lib/taskbridge"], "the unit's only writable place");
    assert_eq!(directive("WorkingDirectory"), writable);
    assert_eq!(directive("StateDirectory"), ["taskbridge"], "systemd keeps /var/lib/taskbridge the service's");
    let database = config.database_url.strip_prefix("sqlite://").expect("SQLite by default");
    for path in [Path::new(database), config.encryption_key_file.as_path()] {
        assert!(path.is_absolute(), "{} is not absolute", path.display());
        assert!(path.starts_with(&writable[0]), "{} is outside {}", path.display(), writable[0]);
    }
    assert!(config.addr.ip().is_loopback(), "the package listens on loopback until told otherwise");
    let sources = directive("EnvironmentFile");
    assert_eq!(sources.last().map(String::as_str), Some("/etc/taskbridge/taskbridge.env"), "the operator's file wins");
}

#[test]
fn the_container_files_set_only_settings_the_service_reads() {
    let known = settings();
    let oauth = oauth_variables();
    for file in ["compose.yaml", "Dockerfile"] {
        let text = read(file);
        let mut seen = 0;
        for (at, _) in text.match_indices("TASKBRIDGE_") {
            let name: String =
                text[at..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            assert!(known.contains_key(&name) || oauth.contains(&name), "{file} names {name}, which is not a setting");
            seen += 1;
        }
        assert!(seen > 0, "{file} configures the service");
    }
}

/// `taskbridge health`, the container's health check (its image has no shell or curl).
fn health_command(addr: &str, ready: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_taskbridge"));
    cmd.arg("health").env("TASKBRIDGE_ADDR", addr);
    if ready {
        cmd.arg("--ready");
    }
    cmd.output().expect("the binary runs")
}

#[tokio::test]
async fn the_health_command_succeeds_only_while_the_service_answers() {
    let dir = std::env::temp_dir().join(format!("taskbridge-health-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut running = super::binary::start(&dir, &[]);
    running.wait_healthy().await;
    let port = running.base.rsplit(':').next().expect("a port").to_string();

    // Listening on every address, it asks on loopback, as inside a container.
    for addr in [format!("127.0.0.1:{port}"), format!("0.0.0.0:{port}")] {
        for ready in [false, true] {
            let out = health_command(&addr, ready);
            assert!(out.status.success(), "{addr} ready={ready}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    assert!(running.terminate().success());

    let out = health_command(&format!("127.0.0.1:{port}"), false);
    assert!(!out.status.success(), "no service, no health");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("http://127.0.0.1:{port}/health")));
    let _ = std::fs::remove_dir_all(&dir);
}
