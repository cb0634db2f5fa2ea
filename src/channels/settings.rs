//! The settings a chat integration holds, typed: read once from the record's JSON (a blank or
//! non-string value counts as absent), so adapters never index JSON by name. Which of them a
//! platform takes is checked when the integration is saved (`domain::integration`).

use serde_json::{Map, Value};

use crate::domain::integration::{non_blank, typed};

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ChannelSettings {
    /// The platform API's root (the platform's own when not set; tests point it at fakes).
    #[serde(deserialize_with = "non_blank")]
    pub api_base_url: Option<String>,
    /// `all`: every message is a request; `commands` (the default): only commands and mentions.
    #[serde(deserialize_with = "non_blank")]
    pub mode: Option<String>,
    /// Slack: the reaction that turns a message into a request (`ticket` when not set).
    #[serde(deserialize_with = "non_blank")]
    pub reaction: Option<String>,
    /// Microsoft Teams: the bot's app id.
    #[serde(deserialize_with = "non_blank")]
    pub app_id: Option<String>,
    /// WhatsApp (Twilio): the account and the sender number.
    #[serde(deserialize_with = "non_blank")]
    pub account_sid: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    pub from_number: Option<String>,
    /// E-mail: the SMTP relay, the login and the address answers come from (`tls` and
    /// `smtp_port` are read by their own checks, `smtp::Tls::of` and `smtp_port`).
    #[serde(deserialize_with = "non_blank")]
    pub smtp_host: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    pub smtp_user: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    pub from_address: Option<String>,
}

impl ChannelSettings {
    pub fn read(settings: &Map<String, Value>) -> Self {
        typed(settings)
    }

    /// The API root, or the platform's own.
    pub fn api<'a>(&'a self, default: &'a str) -> &'a str {
        self.api_base_url.as_deref().unwrap_or(default)
    }

    /// Whether every message is a request (`mode: all`), not only commands and mentions.
    pub fn every_message_is_a_request(&self) -> bool {
        self.mode.as_deref() == Some("all")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_trimmed_and_blank_or_odd_values_are_absent() {
        let raw = serde_json::json!({"api_base_url": " http://127.0.0.1:9/ ", "mode": "all", "reaction": "",
                                     "app_id": 7, "unknown": "kept out"});
        let settings = ChannelSettings::read(raw.as_object().expect("object"));
        assert_eq!(settings.api("https://slack.com/api"), "http://127.0.0.1:9/");
        assert!(settings.every_message_is_a_request());
        assert_eq!((settings.reaction, settings.app_id), (None, None));
        assert_eq!(ChannelSettings::default().api("https://slack.com/api"), "https://slack.com/api");
    }
}
