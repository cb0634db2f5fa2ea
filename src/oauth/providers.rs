//! The OAuth 2.0 providers an admin installs taskbridge into, each configured from the
//! environment (`TASKBRIDGE_OAUTH_{PROVIDER}_{CLIENT_ID|CLIENT_SECRET|AUTHORIZE_URL|TOKEN_URL|SCOPES}`)
//! with the provider's real endpoints and sensible scopes by default.

use std::collections::HashMap;

use crate::domain::integration::IntegrationType;
use crate::domain::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Slack,
    Discord,
    /// Microsoft identity platform, for Teams.
    Teams,
    /// Jira and Confluence Cloud (3LO).
    Atlassian,
    Zendesk,
}

pub const ALL: [Provider; 5] =
    [Provider::Slack, Provider::Discord, Provider::Teams, Provider::Atlassian, Provider::Zendesk];

/// Discord bot permissions: view channels, send messages, send messages in threads, read
/// message history.
const DISCORD_PERMISSIONS: &str = "274877975552";

impl Provider {
    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Slack => "slack",
            Provider::Discord => "discord",
            Provider::Teams => "teams",
            Provider::Atlassian => "atlassian",
            Provider::Zendesk => "zendesk",
        }
    }

    /// The provider's name for people.
    fn display_name(self) -> &'static str {
        match self {
            Provider::Slack => "Slack",
            Provider::Discord => "Discord",
            Provider::Teams => "Microsoft (Teams)",
            Provider::Atlassian => "Atlassian (Jira and Confluence Cloud)",
            Provider::Zendesk => "Zendesk",
        }
    }

    /// What the placeholders of the provider's URLs stand for.
    fn placeholder_note(self) -> &'static str {
        match self {
            Provider::Teams => " `{tenant}` is the Microsoft tenant.",
            Provider::Zendesk => " `{subdomain}` is the Zendesk account's.",
            _ => "",
        }
    }

    /// The provider's part of its `TASKBRIDGE_OAUTH_*` variables.
    pub fn env_name(self) -> &'static str {
        match self {
            Provider::Slack => "SLACK",
            Provider::Discord => "DISCORD",
            Provider::Teams => "TEAMS",
            Provider::Atlassian => "ATLASSIAN",
            Provider::Zendesk => "ZENDESK",
        }
    }

    /// The integration records an install writes (Atlassian: both Jira and Confluence).
    pub fn integrations(self) -> &'static [IntegrationType] {
        match self {
            Provider::Slack => &[IntegrationType::Slack],
            Provider::Discord => &[IntegrationType::Discord],
            Provider::Teams => &[IntegrationType::MsTeams],
            Provider::Atlassian => &[IntegrationType::Jira, IntegrationType::Confluence],
            Provider::Zendesk => &[IntegrationType::Zendesk],
        }
    }

    /// Whether the provider takes a PKCE (S256) challenge.
    pub fn pkce(self) -> bool {
        matches!(self, Provider::Teams | Provider::Zendesk)
    }

    /// How the provider separates scopes in the authorize URL.
    fn scope_separator(self) -> &'static str {
        if self == Provider::Slack { "," } else { " " }
    }

    /// Real endpoints; `{tenant}` is the Microsoft tenant, `{subdomain}` the Zendesk account.
    fn default_urls(self) -> (&'static str, &'static str) {
        match self {
            Provider::Slack => ("https://slack.com/oauth/v2/authorize", "https://slack.com/api/oauth.v2.access"),
            Provider::Discord => ("https://discord.com/oauth2/authorize", "https://discord.com/api/v10/oauth2/token"),
            Provider::Teams => (
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            ),
            Provider::Atlassian => ("https://auth.atlassian.com/authorize", "https://auth.atlassian.com/oauth/token"),
            Provider::Zendesk => (
                "https://{subdomain}.zendesk.com/oauth/authorizations/new",
                "https://{subdomain}.zendesk.com/oauth/tokens",
            ),
        }
    }

    fn default_revoke_url(self) -> Option<&'static str> {
        match self {
            Provider::Slack => Some("https://slack.com/api/auth.revoke"),
            Provider::Discord => Some("https://discord.com/api/v10/oauth2/token/revoke"),
            Provider::Zendesk => Some("https://{subdomain}.zendesk.com/api/v2/oauth/tokens/current.json"),
            Provider::Teams | Provider::Atlassian => None,
        }
    }

    fn default_scopes(self) -> &'static [&'static str] {
        match self {
            // The bot reads channels and their history, posts, answers commands and mentions.
            Provider::Slack => &[
                "channels:read",
                "channels:history",
                "groups:history",
                "im:history",
                "chat:write",
                "commands",
                "app_mentions:read",
                "users:read",
            ],
            Provider::Discord => &["bot", "applications.commands", "identify", "guilds"],
            Provider::Teams => &["offline_access", "User.Read", "Team.ReadBasic.All", "ChannelMessage.Send"],
            Provider::Atlassian => &[
                "read:jira-work",
                "write:jira-work",
                "read:jira-user",
                "read:confluence-content.all",
                "write:confluence-content",
                "read:confluence-space.summary",
                "offline_access",
            ],
            Provider::Zendesk => &["read", "write"],
        }
    }
}

/// One provider's client registration.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub authorize_url: String,
    pub token_url: String,
    /// Where a token is revoked on disconnect (none for Teams and Atlassian, whose tokens
    /// the admin revokes in the provider's own settings).
    pub revoke_url: Option<String>,
    pub scopes: Vec<String>,
}

impl ProviderSettings {
    /// The scopes as the authorize URL carries them.
    pub fn scope(&self, provider: Provider) -> String {
        self.scopes.join(provider.scope_separator())
    }
}

/// `url` with its `{subdomain}` and `{tenant}` filled from an install's `subdomain` and
/// `ms_tenant` (`value` looks them up).
pub fn endpoint<'a>(url: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut url = url.to_string();
    for (placeholder, field) in [("{subdomain}", "subdomain"), ("{tenant}", "ms_tenant")] {
        if let Some(v) = value(field) {
            url = url.replace(placeholder, v);
        }
    }
    url
}

/// Everything OAuth installs are configured with.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub providers: HashMap<Provider, ProviderSettings>,
    /// The Microsoft tenant sign-ins go to (`common`, `organizations`, a tenant id).
    pub teams_tenant: String,
    /// The Teams bot's Microsoft App ID when the bot is registered apart from the OAuth app
    /// (`TASKBRIDGE_OAUTH_TEAMS_BOT_APP_ID`, with `…_BOT_APP_PASSWORD`); by default the
    /// OAuth app is the bot, and its client id and secret are the bot's credentials.
    pub teams_bot_app_id: Option<String>,
    pub discord_permissions: String,
    /// Where Atlassian lists the sites a token reaches.
    pub atlassian_resources_url: String,
    /// Written into the records an install makes, so inbound events verify and the bot can
    /// post: Slack's signing secret, Discord's bot token and public key belong to the app,
    /// not to one install.
    pub app_secrets: HashMap<Provider, Vec<(&'static str, Secret)>>,
}

impl OAuthSettings {
    /// Reads the settings through `var` (the environment, or a map in tests). A provider
    /// is configured when both its client id and secret are set.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut settings = OAuthSettings {
            teams_tenant: get(TEAMS_TENANT).unwrap_or_else(|| DEFAULT_TEAMS_TENANT.into()),
            teams_bot_app_id: get(TEAMS_BOT_APP_ID),
            discord_permissions: get(DISCORD_PERMISSIONS_VAR).unwrap_or_else(|| DISCORD_PERMISSIONS.into()),
            atlassian_resources_url: get(ATLASSIAN_RESOURCES_URL)
                .unwrap_or_else(|| DEFAULT_ATLASSIAN_RESOURCES_URL.into()),
            ..OAuthSettings::default()
        };
        for provider in ALL {
            let name = |what: &str| variable(provider, what);
            let (Some(client_id), Some(secret)) = (get(&name("CLIENT_ID")), get(&name("CLIENT_SECRET"))) else {
                continue;
            };
            let (authorize, token) = provider.default_urls();
            let scopes = match get(&name("SCOPES")) {
                Some(list) => list.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect(),
                None => provider.default_scopes().iter().map(|s| s.to_string()).collect(),
            };
            settings.providers.insert(
                provider,
                ProviderSettings {
                    client_id,
                    client_secret: Secret::new(secret),
                    authorize_url: get(&name("AUTHORIZE_URL")).unwrap_or_else(|| authorize.into()),
                    token_url: get(&name("TOKEN_URL")).unwrap_or_else(|| token.into()),
                    revoke_url: get(&name("REVOKE_URL")).or_else(|| provider.default_revoke_url().map(str::to_string)),
                    scopes,
                },
            );
        }
        for app_secret in APP_SECRETS {
            if let Some(value) = get(app_secret.env) {
                settings
                    .app_secrets
                    .entry(app_secret.provider)
                    .or_default()
                    .push((app_secret.secret, Secret::new(value)));
            }
        }
        settings
    }
}

/// `TASKBRIDGE_OAUTH_{PROVIDER}_{what}`.
fn variable(provider: Provider, what: &str) -> String {
    format!("TASKBRIDGE_OAUTH_{}_{what}", provider.env_name())
}

const TEAMS_TENANT: &str = "TASKBRIDGE_OAUTH_TEAMS_TENANT";
const DEFAULT_TEAMS_TENANT: &str = "common";
const TEAMS_BOT_APP_ID: &str = "TASKBRIDGE_OAUTH_TEAMS_BOT_APP_ID";
const DISCORD_PERMISSIONS_VAR: &str = "TASKBRIDGE_OAUTH_DISCORD_PERMISSIONS";
const ATLASSIAN_RESOURCES_URL: &str = "TASKBRIDGE_OAUTH_ATLASSIAN_RESOURCES_URL";
const DEFAULT_ATLASSIAN_RESOURCES_URL: &str = "https://api.atlassian.com/oauth/token/accessible-resources";

/// A secret of the app itself (not of one install), written into every install it makes.
struct AppSecret {
    provider: Provider,
    env: &'static str,
    /// The name of the integration's secret it becomes.
    secret: &'static str,
    help: &'static str,
}

const APP_SECRETS: [AppSecret; 4] = [
    AppSecret {
        provider: Provider::Slack,
        env: "TASKBRIDGE_OAUTH_SLACK_SIGNING_SECRET",
        secret: "signing_secret",
        help: "The Slack app's signing secret, written into each install (`secrets.signing_secret`) so its events verify.",
    },
    AppSecret {
        provider: Provider::Discord,
        env: "TASKBRIDGE_OAUTH_DISCORD_BOT_TOKEN",
        secret: "bot_token",
        help: "The Discord application's bot token, written into each install (`secrets.bot_token`) so the bot can post.",
    },
    AppSecret {
        provider: Provider::Discord,
        env: "TASKBRIDGE_OAUTH_DISCORD_PUBLIC_KEY",
        secret: "public_key",
        help: "The Discord application's public key, written into each install (`secrets.public_key`) so its interactions verify.",
    },
    AppSecret {
        provider: Provider::Teams,
        env: "TASKBRIDGE_OAUTH_TEAMS_BOT_APP_PASSWORD",
        secret: "app_password",
        help: "The Teams bot's client secret when the bot is registered apart from the OAuth app (with \
               `TASKBRIDGE_OAUTH_TEAMS_BOT_APP_ID`), written into each install as `secrets.app_password`; by default \
               the OAuth app's client secret.",
    },
];

/// One `TASKBRIDGE_OAUTH_*` variable, as [`OAuthSettings::from_env`] reads it: for the
/// configuration reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    /// What applies while it is unset; `None` when nothing does.
    pub default: Option<String>,
    /// Its value is a secret, never shown.
    pub secret: bool,
    pub help: String,
}

/// Every variable [`OAuthSettings::from_env`] reads, with its default.
pub fn variables() -> Vec<Variable> {
    let plain = |name: String, default: Option<&str>, help: String| Variable {
        name,
        default: default.map(str::to_string),
        secret: false,
        help,
    };
    let mut out = Vec::new();
    for provider in ALL {
        let who = provider.display_name();
        let (authorize, token) = provider.default_urls();
        out.push(plain(
            variable(provider, "CLIENT_ID"),
            None,
            format!("The client id of the app registered with {who}. The provider can be installed only when both it and `{}` are set.", variable(provider, "CLIENT_SECRET")),
        ));
        out.push(Variable {
            secret: true,
            ..plain(
                variable(provider, "CLIENT_SECRET"),
                None,
                format!("The client secret of the app registered with {who}."),
            )
        });
        out.push(plain(
            variable(provider, "AUTHORIZE_URL"),
            Some(authorize),
            format!("{who}'s authorization endpoint.{}", provider.placeholder_note()),
        ));
        out.push(plain(
            variable(provider, "TOKEN_URL"),
            Some(token),
            format!("{who}'s token endpoint.{}", provider.placeholder_note()),
        ));
        out.push(plain(
            variable(provider, "REVOKE_URL"),
            provider.default_revoke_url(),
            match provider.default_revoke_url() {
                Some(_) => format!("Where a token is revoked when an integration is disconnected or deleted.{}", provider.placeholder_note()),
                None => format!("Where a token is revoked when an integration is disconnected or deleted; by default none: {who}'s tokens are revoked by the admin in {who}'s own settings."),
            },
        ));
        out.push(plain(
            variable(provider, "SCOPES"),
            Some(provider.default_scopes().join(" ").as_str()),
            "The scopes asked for, separated by commas or spaces.".to_string(),
        ));
    }
    out.push(plain(
        TEAMS_TENANT.into(),
        Some(DEFAULT_TEAMS_TENANT),
        "The Microsoft tenant Teams sign-ins go to (`common`, `organizations` or a tenant id), filled into `{tenant}` \
         unless the install names one (`?ms_tenant=`)."
            .into(),
    ));
    out.push(plain(
        TEAMS_BOT_APP_ID.into(),
        None,
        "The Teams bot's Microsoft App ID when the bot is registered apart from the OAuth app, written into each \
         install as `settings.app_id`; by default the OAuth app is the bot, and its client id is used."
            .into(),
    ));
    out.push(plain(
        DISCORD_PERMISSIONS_VAR.into(),
        Some(DISCORD_PERMISSIONS),
        "The bot permissions a Discord install asks for (default: view channels, send messages, send messages in \
         threads, read message history)."
            .into(),
    ));
    out.push(plain(
        ATLASSIAN_RESOURCES_URL.into(),
        Some(DEFAULT_ATLASSIAN_RESOURCES_URL),
        "Where Atlassian lists the sites a token reaches (their cloud ids and URLs).".into(),
    ));
    for app_secret in APP_SECRETS {
        out.push(Variable { name: app_secret.env.into(), default: None, secret: true, help: app_secret.help.into() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_configured_from_the_environment_with_real_defaults() {
        let env: HashMap<&str, &str> = [
            ("TASKBRIDGE_OAUTH_SLACK_CLIENT_ID", "123.456"),
            ("TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET", "s3cret"),
            ("TASKBRIDGE_OAUTH_ZENDESK_CLIENT_ID", "zd"),
            ("TASKBRIDGE_OAUTH_ZENDESK_CLIENT_SECRET", "zs"),
            ("TASKBRIDGE_OAUTH_ZENDESK_SCOPES", "read, tickets:write"),
            ("TASKBRIDGE_OAUTH_ZENDESK_TOKEN_URL", "http://127.0.0.1:9/oauth/tokens"),
            ("TASKBRIDGE_OAUTH_DISCORD_CLIENT_ID", "only-an-id"),
        ]
        .into_iter()
        .collect();
        let settings = OAuthSettings::from_env(|k| env.get(k).map(|v| v.to_string()));
        let slack = &settings.providers[&Provider::Slack];
        assert_eq!(slack.authorize_url, "https://slack.com/oauth/v2/authorize");
        assert!(slack.scope(Provider::Slack).starts_with("channels:read,channels:history,"));
        let zendesk = &settings.providers[&Provider::Zendesk];
        assert_eq!(zendesk.scope(Provider::Zendesk), "read tickets:write");
        assert_eq!(zendesk.token_url, "http://127.0.0.1:9/oauth/tokens");
        assert_eq!(zendesk.authorize_url, "https://{subdomain}.zendesk.com/oauth/authorizations/new");
        assert!(!settings.providers.contains_key(&Provider::Discord), "no secret, not configured");
        assert_eq!(settings.teams_tenant, "common");
        assert_eq!(format!("{:?}", slack.client_secret), "[redacted]");
    }
}
