//! Deliveries: what taskbridge sends into conversations (answers to requests, and messages
//! sent on request), and the history of a tenant's conversations both ways.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::id::{IntegrationId, ProjectId, TaskId};
use super::integration::IntegrationType;
use super::validate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    /// Handed to the platform; a run that finds it so was interrupted mid-send.
    Sending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    pub platform: String,
    /// The request this answers, for answers.
    pub message_id: Option<String>,
    pub recipient: String,
    pub subject: Option<String>,
    pub text: String,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery about to be written.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub project_id: ProjectId,
    pub integration_id: IntegrationId,
    pub platform: IntegrationType,
    pub message_id: Option<String>,
    pub recipient: String,
    pub subject: Option<String>,
    pub text: String,
    /// Where it goes, in the adapter's terms (its `reply_to`).
    pub target: Value,
}

impl NewDelivery {
    /// `text` for the person who sent `message`, in its conversation (`target`).
    pub fn to_requester(
        message: &super::message::Message,
        integration_id: IntegrationId,
        platform: IntegrationType,
        text: String,
        target: Value,
    ) -> Self {
        NewDelivery {
            project_id: message.project_id.clone(),
            integration_id,
            platform,
            message_id: Some(message.id.clone()),
            recipient: message.author.clone().or(message.channel.clone()).unwrap_or_else(|| "-".into()),
            subject: None,
            text,
            target,
        }
    }
}

/// `POST …/send`: a message to someone on the integration's platform.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SendInput {
    /// WhatsApp: a phone number (`+34600111222`); Telegram: a chat id or `@channel`;
    /// e-mail: an address; Slack: a channel id (`C0123ABCD`, with the bot token, or through
    /// the install's incoming webhook when it is that webhook's channel and there is no bot
    /// token), or left out for the incoming webhook's own channel; Discord:
    /// a channel id (as the bot); Teams: a conversation id the bot is in (`19:…@thread.tacv2`
    /// for a channel, `a:…` for a personal chat). (`chat_id` is accepted for Telegram.)
    #[serde(default, alias = "chat_id")]
    #[schema(value_type = Option<String>)]
    pub to: Option<Value>,
    /// The message (`message` and `body` are accepted too).
    #[serde(default, alias = "message", alias = "body")]
    pub text: Option<String>,
    /// E-mail only.
    #[serde(default)]
    pub subject: Option<String>,
    /// For the `/integrations/{platform}/send` aliases: the project whose integration sends;
    /// the default project when left out.
    #[serde(default)]
    pub project_id: Option<String>,
}

pub const TEXT_MAX: usize = 4000;

impl SendInput {
    /// The recipient and the adapter's target for `platform`.
    pub fn target(&self, platform: IntegrationType) -> Result<(String, Value, Option<String>), DomainError> {
        let text = self.text.as_deref().map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Err(DomainError::invalid("text", "is required"));
        }
        if text.chars().count() > TEXT_MAX {
            return Err(DomainError::invalid("text", format!("must be at most {TEXT_MAX} characters")));
        }
        let to = match &self.to {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            // Slack without a channel: the install's incoming webhook, whose channel is fixed.
            None | Some(Value::Null) if platform == IntegrationType::Slack => {
                return Ok(("incoming webhook".into(), json!({"webhook": true}), None));
            }
            _ => return Err(DomainError::invalid("to", "is required")),
        };
        let clean = |s: &str| !s.chars().any(|c| c.is_control() || c.is_whitespace());
        match platform {
            IntegrationType::Whatsapp => {
                let number = to.strip_prefix("whatsapp:").unwrap_or(&to);
                let digits = number.strip_prefix('+').unwrap_or(number);
                if digits.len() < 6 || digits.len() > 16 || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(DomainError::invalid("to", "must be a phone number in E.164 form, e.g. +34600111222"));
                }
                Ok((to.clone(), json!({"to": to}), None))
            }
            IntegrationType::Telegram => {
                let chat_id = match to.parse::<i64>() {
                    Ok(id) => json!(id),
                    Err(_) if to.starts_with('@') && to.len() > 1 && clean(&to) => json!(to),
                    Err(_) => return Err(DomainError::invalid("to", "must be a chat id or an @channel username")),
                };
                Ok((to, json!({"chat_id": chat_id}), None))
            }
            IntegrationType::Email => {
                let (local, domain) = to.split_once('@').unwrap_or_default();
                if local.is_empty() || !domain.contains('.') || !clean(&to) || to.contains(['<', '>', ',']) {
                    return Err(DomainError::invalid("to", "must be an e-mail address"));
                }
                let subject = self
                    .subject
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("Message from taskbridge");
                if subject.chars().count() > 250 {
                    return Err(DomainError::invalid("subject", "must be at most 250 characters"));
                }
                let target = json!({"to": to, "subject": subject, "message_id": null, "references": []});
                Ok((to, target, Some(subject.to_string())))
            }
            // A channel's id (`C0123ABCD`), posted to with the installed bot token.
            IntegrationType::Slack => {
                let id = to.strip_prefix('#').unwrap_or(&to);
                if id.is_empty() || id.len() > 80 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    return Err(DomainError::invalid("to", "must be a Slack channel id, e.g. C0123ABCD"));
                }
                Ok((to.clone(), json!({"channel": id}), None))
            }
            // A channel's snowflake id, posted to as the bot.
            IntegrationType::Discord => {
                if to.len() < 5 || to.len() > 25 || !to.chars().all(|c| c.is_ascii_digit()) {
                    return Err(DomainError::invalid("to", "must be a Discord channel id (digits)"));
                }
                Ok((to.clone(), json!({"channel_id": to}), None))
            }
            // A conversation the bot is in, posted to through the Bot Connector.
            IntegrationType::MsTeams => {
                let (prefix, rest) = to.split_once(':').unwrap_or_default();
                if prefix.is_empty() || rest.is_empty() || to.len() > 512 || !clean(&to) {
                    return Err(DomainError::invalid(
                        "to",
                        "must be a Teams conversation id, e.g. 19:…@thread.tacv2 for a channel",
                    ));
                }
                Ok((to.clone(), json!({"conversation": to, "proactive": true}), None))
            }
            other => Err(DomainError::invalid(
                "platform",
                format!(
                    "sending to {} is not supported (whatsapp, telegram, email, slack, discord and teams are)",
                    other.as_str()
                ),
            )),
        }
    }
}

/// Refuses a target the integration cannot reach: Slack's incoming webhook when the install
/// provided none.
pub fn check_reachable(target: &Value, secrets_set: &[String]) -> Result<(), DomainError> {
    if target["webhook"] == true && !secrets_set.iter().any(|s| s == "webhook_url") {
        return Err(DomainError::invalid(
            "to",
            "is required: the integration has no incoming webhook (secrets.webhook_url) to post to",
        ));
    }
    Ok(())
}

/// One entry of the conversation history: a request received or a message sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryItem {
    pub id: String,
    /// `in` (a request received) or `out` (a message sent).
    pub direction: String,
    /// The platform (`slack`, `email`…), or the request's source (`api`, `voice`).
    pub platform: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    #[schema(value_type = Option<String>)]
    pub integration_id: Option<IntegrationId>,
    /// Who wrote it (in) or who it went to (out).
    pub counterpart: Option<String>,
    pub channel: Option<String>,
    pub text: String,
    /// The request's status (`queued` … `created`, `duplicate`) or the delivery's.
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub task_id: Option<TaskId>,
    /// For answers: the request answered.
    pub message_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(to: Value, text: &str) -> SendInput {
        SendInput { to: Some(to), text: Some(text.into()), subject: None, project_id: None }
    }

    #[test]
    fn recipients_are_checked_per_platform() {
        assert!(input(json!("+34600111222"), "hi").target(IntegrationType::Whatsapp).is_ok());
        assert!(input(json!("whatsapp:+34600111222"), "hi").target(IntegrationType::Whatsapp).is_ok());
        assert!(input(json!("call me"), "hi").target(IntegrationType::Whatsapp).is_err());
        let (_, target, _) = input(json!(-1001234), "hi").target(IntegrationType::Telegram).expect("chat id");
        assert_eq!(target, json!({"chat_id": -1001234}));
        assert!(input(json!("@ops_news"), "hi").target(IntegrationType::Telegram).is_ok());
        assert!(input(json!("ana@example.org"), "hi").target(IntegrationType::Email).is_ok());
        assert!(input(json!("ana@example.org\r\nBcc: x@y.z"), "hi").target(IntegrationType::Email).is_err());
        assert!(input(json!("ana@example.org"), " ").target(IntegrationType::Email).is_err());
        let (_, target, _) = input(json!("C0123ABCD"), "hi").target(IntegrationType::Slack).expect("channel");
        assert_eq!(target, json!({"channel": "C0123ABCD"}));
        assert!(input(json!("general chat"), "hi").target(IntegrationType::Slack).is_err());
        let (_, target, _) = input(Value::Null, "hi").target(IntegrationType::Slack).expect("webhook");
        assert_eq!(target, json!({"webhook": true}));
        assert!(input(Value::Null, "hi").target(IntegrationType::Discord).is_err());
        let (_, target, _) = input(json!("1234567890123456789"), "hi").target(IntegrationType::Discord).expect("id");
        assert_eq!(target, json!({"channel_id": "1234567890123456789"}));
        assert!(input(json!("#general"), "hi").target(IntegrationType::Discord).is_err());
        let (_, target, _) = input(json!("19:abc@thread.v2"), "hi").target(IntegrationType::MsTeams).expect("id");
        assert_eq!(target, json!({"conversation": "19:abc@thread.v2", "proactive": true}));
        assert!(input(json!("general"), "hi").target(IntegrationType::MsTeams).is_err());
        assert!(input(json!("19:a b"), "hi").target(IntegrationType::MsTeams).is_err());
        assert!(input(json!("x"), "hi").target(IntegrationType::Jira).is_err());
    }
}
