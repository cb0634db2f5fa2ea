//! What channel adapters reach their platforms with: the shared outbound clients, the Bot
//! Framework's keys and tokens (Microsoft Teams), and the hosts a Slack `response_url` may
//! lead to.

use std::sync::Arc;

use super::botframework::{BotFramework, BotUrls};
use crate::outbound::Outbound;

/// Where a Slack `response_url` may lead unless configured otherwise (Slack's own host).
pub const SLACK_RESPONSE_HOSTS: &[&str] = &["hooks.slack.com"];

#[derive(Clone)]
pub struct ChannelClients {
    pub out: Outbound,
    pub bot: Arc<BotFramework>,
    /// The hosts a Slack `response_url` may point at (`TASKBRIDGE_SLACK_RESPONSE_URL_HOSTS`).
    pub slack_response_hosts: Arc<[String]>,
    /// Speech-to-text for voice notes (`TASKBRIDGE_TRANSCRIBE_BASE_URL`).
    pub transcriber: Option<crate::voice::Transcriber>,
    /// Each integration's turns to post into its platform (`max_in_flight`).
    pub in_flight: Arc<crate::integrations::in_flight::InFlight>,
}

impl ChannelClients {
    pub fn new(out: Outbound) -> Self {
        let bot = Arc::new(BotFramework::new(BotUrls::default(), out.operator.clone()));
        let slack_response_hosts = SLACK_RESPONSE_HOSTS.iter().map(|h| h.to_string()).collect();
        ChannelClients { out, bot, slack_response_hosts, transcriber: None, in_flight: Arc::default() }
    }

    pub fn with_transcriber(mut self, transcriber: Option<crate::voice::Transcriber>) -> Self {
        self.transcriber = transcriber;
        self
    }

    /// The hosts a Slack `response_url` may point at (tests add their fake's address).
    pub fn with_slack_response_hosts(mut self, hosts: &[String]) -> Self {
        self.slack_response_hosts = hosts.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect();
        self
    }

    /// Where the Bot Framework's OpenID metadata, token endpoint and proactive Bot Connector
    /// are (tests use fakes).
    pub fn with_bot_framework(mut self, urls: BotUrls<'_>) -> Self {
        self.bot = Arc::new(BotFramework::new(urls, self.out.operator.clone()));
        self
    }
}
