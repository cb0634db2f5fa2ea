//! Chat platforms: one adapter per platform — verify a webhook as the platform signs it,
//! parse it into a request (or a handshake to answer), and post the answer back. Adapters
//! decide nothing about tasks. Adding a platform is one file and one line in [`adapter`].

pub mod botframework;
mod clients;
pub mod discord;
pub mod email;
pub mod msteams;
mod notify;
mod reply;
mod settings;
pub mod slack;
pub mod telegram;
pub mod voice;
pub mod whatsapp;

use std::future::Future;
use std::pin::Pin;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::integration::IntegrationType;
use crate::domain::message::{NewMessage, Origin, ThreadReply};
use crate::jobs::JobError;

pub use clients::{ChannelClients, SLACK_RESPONSE_HOSTS};
pub use notify::news_text;
pub use reply::{
    AnswerMessage, Ask, SendDelivery, decision_job, decision_text, outcome_job, reply_text, send_job, store_failure,
    with_secrets,
};
pub use settings::ChannelSettings;

/// Registers the channels' jobs: answers, news for requesters, and sends.
pub fn register(
    registry: &mut crate::jobs::Registry,
    integrations: crate::integrations::Integrations,
    clients: ChannelClients,
) {
    let shared = std::sync::Arc::new((integrations, clients));
    notify::register(registry, shared.clone());
    reply::register(registry, shared);
}

/// A webhook as received: raw bytes, because signatures cover them exactly.
pub struct WebhookRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The URL the platform called, as it sees it (the public URL, path and query): Twilio
    /// signs it.
    pub url: &'a str,
    /// For a Teams bot: the Bot Connector's keys and the bot's app id.
    pub bot: Option<BotCheck<'a>>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Copy)]
pub struct BotCheck<'a> {
    pub keys: &'a [botframework::Key],
    pub app_id: &'a str,
}

/// An immediate HTTP answer to the platform, in the format it reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Json(Value),
    /// Twilio reads TwiML.
    Xml(String),
}

impl From<Value> for Answer {
    fn from(v: Value) -> Self {
        Answer::Json(v)
    }
}

impl axum::response::IntoResponse for Answer {
    fn into_response(self) -> axum::response::Response {
        match self {
            Answer::Json(v) => axum::Json(v).into_response(),
            Answer::Xml(x) => ([(axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8")], x).into_response(),
        }
    }
}

/// A request someone made in a conversation.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    pub text: String,
    pub author: Option<String>,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    /// The platform's id of the event, to recognise redeliveries.
    pub external_id: String,
    /// Where the answer goes, in the adapter's own terms.
    pub reply_to: Value,
    /// The immediate HTTP answer the platform expects, if any.
    pub ack: Option<Answer>,
    /// The platform's only way back is the webhook's own answer (Teams outgoing webhooks):
    /// wait briefly for the outcome and answer with it, through [`Channel::inline_answer`].
    pub answer_inline: bool,
}

impl InboundRequest {
    /// The message this request becomes in `project_id`, remembering where it came from.
    pub fn into_message(
        self,
        kind: IntegrationType,
        integration_id: &IntegrationId,
        project_id: &ProjectId,
    ) -> NewMessage {
        NewMessage {
            text: self.text.chars().take(crate::domain::message::TEXT_MAX).collect(),
            project_id: project_id.clone(),
            author: self.author,
            source: kind.as_str().to_string(),
            channel: self.channel,
            thread_ref: self.thread_ref,
            received_at: None,
            origin: Some(Origin {
                integration_id: integration_id.clone(),
                external_id: self.external_id,
                reply_to: self.reply_to,
            }),
        }
    }
}

#[derive(Debug)]
pub enum Inbound {
    /// Answer the platform directly (URL verification, pings).
    Respond {
        status: StatusCode,
        body: Answer,
    },
    /// Nothing to act on (bot messages, edits, chatter in `commands` mode).
    Ignore,
    Request(InboundRequest),
    /// A request whose text must first be read from the platform (a Slack reaction names
    /// only the message): queued for [`Channel::fetch`], acknowledged at once.
    Fetch {
        /// The platform's id of the event, to recognise redeliveries.
        external_id: String,
        /// What `fetch` needs, in the adapter's terms.
        data: Value,
    },
    /// A voice note: with speech-to-text configured, queued like [`Inbound::Fetch`] (its
    /// `fetch` downloads and transcribes it) and answered with `ack`; without, handled as
    /// `unheard`.
    Voice {
        external_id: String,
        /// A [`voice::VoiceNote`].
        data: Value,
        ack: Option<Answer>,
        unheard: Box<Inbound>,
    },
    /// A plain reply in a conversation requests came from: perhaps the requester's answer to
    /// the question asked there (intake decides); if not, handled as `otherwise`.
    Reply {
        reply: ThreadReply,
        /// The webhook's answer when it was the answer.
        ack: Option<Answer>,
        otherwise: Box<Inbound>,
    },
}

pub use crate::domain::webhook::WebhookError;

/// What an adapter needs to reach its platform with an integration's credentials.
pub struct Check<'a> {
    pub client: &'a reqwest::Client,
    pub settings: &'a Map<String, Value>,
    pub secrets: &'a Map<String, Value>,
    /// Bot Framework tokens (Teams bots).
    pub bot: &'a botframework::BotFramework,
}

/// What the platform answered, in words, or why it could not be reached.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

pub use crate::outbound::{check_call, check_secret};

pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<InboundRequest>, JobError>> + Send + 'a>>;

/// What an adapter needs to read a deferred request from its platform.
pub struct Fetch<'a> {
    pub client: &'a reqwest::Client,
    pub settings: &'a Map<String, Value>,
    pub secrets: &'a Map<String, Value>,
    pub external_id: &'a str,
    pub data: &'a Value,
    /// Speech-to-text, for voice notes.
    pub transcriber: Option<&'a crate::voice::Transcriber>,
}

/// What an adapter needs to answer in a conversation.
pub struct Reply<'a> {
    pub client: &'a reqwest::Client,
    /// TLS for protocols other than HTTP (SMTP).
    pub tls: &'a std::sync::Arc<rustls::ClientConfig>,
    /// The SSRF guard, for connections made without `client` (SMTP).
    pub guard: crate::integrations::ssrf::Guard,
    /// The hosts a Slack `response_url` may point at.
    pub slack_response_hosts: &'a [String],
    /// Bot Framework tokens (Teams bots).
    pub bot: &'a botframework::BotFramework,
    pub settings: &'a Map<String, Value>,
    pub secrets: &'a Map<String, Value>,
    pub reply_to: &'a Value,
    pub text: &'a str,
}

pub trait Channel: Send + Sync {
    /// Checks the request exactly as the platform signs it.
    fn verify(&self, request: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError>;

    /// Turns a verified request into what to do.
    fn parse(&self, request: &WebhookRequest<'_>, settings: &Map<String, Value>) -> Result<Inbound, WebhookError>;

    /// Posts the answer back into the conversation.
    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a>;

    /// Reads a request that [`Inbound::Fetch`] deferred; `None` when there is nothing to do
    /// (the message is gone, empty, or a bot's).
    fn fetch<'a>(&'a self, _fetch: Fetch<'a>) -> FetchFuture<'a> {
        Box::pin(async { Err(JobError::Permanent("this platform defers no requests".into())) })
    }

    /// Whether `reply` sends anything to `reply_to` (Teams outgoing webhooks are answered
    /// inline only).
    fn sends_reply(&self, _reply_to: &Value) -> bool {
        true
    }

    /// Whether a reply written where `reply_to` points comes back through the webhook as
    /// [`Inbound::Reply`], so a question asked there can be answered.
    fn hears_replies(&self, _reply_to: &Value) -> bool {
        false
    }

    /// Whether an answer sent to `reply_to` can carry the *same* button, and a press of it
    /// comes back through the webhook as [`Inbound::Reply`], where plain replies never do
    /// (Discord: interactions reach the webhook, channel messages do not).
    fn hears_only_buttons(&self, _reply_to: &Value) -> bool {
        false
    }

    /// Where news about a request goes after its first answer: `reply_to`, unless that only
    /// works for a short while after the request; `None` when there is no way back later.
    fn later(&self, reply_to: &Value) -> Option<Value> {
        Some(reply_to.clone())
    }

    /// The webhook answer carrying `text`, for platforms that read the answer inline.
    fn inline_answer(&self, text: &str) -> Value {
        serde_json::json!({ "text": text })
    }

    /// How to turn `inbound` away while its integration is over its rate limit. `None` (the
    /// default) answers 429 with `Retry-After`: the platform sends it again later. Where the
    /// platform would not (a slash command, an interaction, an SMS webhook), the person is
    /// told `text` instead, with a success status, so the platform never counts it as a
    /// failing endpoint. Nothing is accepted either way.
    fn over_limit(&self, _inbound: &Inbound, _text: &str) -> Option<Answer> {
        None
    }

    /// Reaches the platform with the integration's credentials (`taskbridge doctor`),
    /// reading who it is there; platforms only ever calling taskbridge have nothing to reach.
    fn check<'a>(&'a self, _check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async { Ok("nothing to call: the platform calls taskbridge".to_string()) })
    }
}

/// What a person reads when their request is turned away over the rate limit.
pub fn over_limit_text(retry_after_secs: u64) -> String {
    format!(
        "Too many requests are arriving here right now, so this one was not taken. \
         Please send it again in {retry_after_secs} s."
    )
}

impl Inbound {
    /// Whether accepting this would store or queue work (what the rate limit counts);
    /// handshakes and ignored events cost nothing.
    pub fn makes_work(&self) -> bool {
        matches!(self, Inbound::Request(_) | Inbound::Fetch { .. } | Inbound::Voice { .. })
    }
}

/// Set in an answer's `reply_to` when the answer asks the question about a possible
/// duplicate (the request's id): adapters with buttons offer the answer *same* as one.
pub const OFFER_SAME: &str = "offer_same";

/// The adapter of each platform that has one.
pub fn adapter(kind: IntegrationType) -> Option<&'static dyn Channel> {
    match kind {
        IntegrationType::Slack => Some(&slack::Slack),
        IntegrationType::Discord => Some(&discord::Discord),
        IntegrationType::MsTeams => Some(&msteams::MsTeams),
        IntegrationType::Telegram => Some(&telegram::Telegram),
        IntegrationType::Whatsapp => Some(&whatsapp::WhatsApp),
        IntegrationType::Email => Some(&email::Email),
        _ => None,
    }
}

/// `settings.mode`: whether every message is a request (`all`) or only commands and
/// mentions (`commands`, the default).
pub fn every_message_is_a_request(settings: &Map<String, Value>) -> bool {
    ChannelSettings::read(settings).every_message_is_a_request()
}
