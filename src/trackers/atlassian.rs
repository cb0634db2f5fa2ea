//! How Jira and Confluence are reached: the site itself with an e-mail and API token
//! (Basic), or, for an OAuth 2.0 (3LO) install, Atlassian's API gateway for the site's cloud
//! id (`{api_base_url}/ex/{product}/{cloud_id}`) with the install's bearer token.

use serde_json::{Map, Value};

use crate::domain::integration::{non_blank, routed, setting, typed};
use crate::jobs::JobError;

/// Where the REST API is served and people's links point.
pub struct Access {
    /// The site people open (`https://acme.atlassian.net`): links to issues and pages.
    pub site: String,
    /// The root the REST paths are appended to.
    pub api: String,
    auth: Auth,
}

enum Auth {
    Basic { email: String, token: String },
    Bearer(String),
}

/// Atlassian's API gateway, where OAuth calls go.
const GATEWAY: &str = "https://api.atlassian.com";

/// The settings a Jira or Confluence integration reaches Atlassian with, beside `site_url`
/// and `cloud_id` (which an OAuth install may keep in its sealed installation instead, see
/// [`routed`]) and its secrets (`access_token`, or `api_token` with `email`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct AtlassianSettings {
    /// The OAuth gateway (Atlassian's when not set; a local fake in tests).
    #[serde(deserialize_with = "non_blank")]
    api_base_url: Option<String>,
    /// The account an API token belongs to.
    #[serde(deserialize_with = "non_blank")]
    email: Option<String>,
}

impl Access {
    /// `product` is `jira` or `confluence` (as the gateway names them), `what` the
    /// integration's name in errors.
    pub fn new(
        product: &str,
        what: &str,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Self, JobError> {
        let missing = |field: &str| JobError::Permanent(format!("the {what} integration has no {field}"));
        let given: AtlassianSettings = typed(settings);
        let site = routed(settings, secrets, "site_url").ok_or_else(|| missing("site_url"))?;
        let site = site.trim_end_matches('/').to_string();
        match setting(secrets, "access_token") {
            Some(token) => {
                let cloud = routed(settings, secrets, "cloud_id").ok_or_else(|| missing("cloud_id"))?;
                let gateway = given.api_base_url.as_deref().unwrap_or(GATEWAY).trim_end_matches('/');
                Ok(Access { site, api: format!("{gateway}/ex/{product}/{cloud}"), auth: Auth::Bearer(token.into()) })
            }
            None => Ok(Access {
                api: site.clone(),
                site,
                auth: Auth::Basic {
                    email: given.email.ok_or_else(|| missing("email"))?,
                    token: setting(secrets, "api_token").ok_or_else(|| missing("api_token"))?.to_string(),
                },
            }),
        }
    }

    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Basic { email, token } => request.basic_auth(email, Some(token)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_api_token_reaches_the_site_and_an_oauth_token_the_gateway() {
        let settings =
            map(json!({"site_url": "https://acme.atlassian.net/", "email": "bot@acme.org", "cloud_id": "c-1"}));
        let basic = Access::new("jira", "Jira", &settings, &map(json!({"api_token": "t"}))).expect("basic");
        assert_eq!(
            (basic.site.as_str(), basic.api.as_str()),
            ("https://acme.atlassian.net", "https://acme.atlassian.net")
        );
        let oauth =
            Access::new("confluence", "Confluence", &settings, &map(json!({"access_token": "a"}))).expect("oauth");
        assert_eq!(oauth.api, "https://api.atlassian.com/ex/confluence/c-1");
        assert_eq!(oauth.site, "https://acme.atlassian.net");
        let no_cloud = map(json!({"site_url": "https://acme.atlassian.net"}));
        assert!(Access::new("jira", "Jira", &no_cloud, &map(json!({"access_token": "a"}))).is_err());
        assert!(Access::new("jira", "Jira", &no_cloud, &map(json!({"api_token": "t"}))).is_err(), "no e-mail");
    }
}
