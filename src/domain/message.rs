//! Messages: requests that arrived from a conversation, and what intake made of them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::id::{IntegrationId, ProjectId, TaskId};
use super::list::{Page, PageParams};
use super::task::{NewTask, NewTaskInput, Priority};
use super::validate::{self, DomainError};

pub const TEXT_MAX: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Processing,
    /// A new task was created: `task_id`.
    Created,
    /// The same work was already tracked: `task_id` is the existing task.
    Duplicate,
    /// A new task was created (`task_id`), though it may be the same work as one of its
    /// `candidates`: a person can merge it.
    PossibleDuplicate,
    /// The project triages its requests: no task yet; `draft` and `candidates` wait for a
    /// person to accept, merge or decline it.
    NeedsTriage,
    /// A person declined it (`decision.reason` says why).
    Declined,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Processing => "processing",
            MessageStatus::Created => "created",
            MessageStatus::Duplicate => "duplicate",
            MessageStatus::PossibleDuplicate => "possible_duplicate",
            MessageStatus::NeedsTriage => "needs_triage",
            MessageStatus::Declined => "declined",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "processing" => Some(Self::Processing),
            "created" => Some(Self::Created),
            "duplicate" => Some(Self::Duplicate),
            "possible_duplicate" => Some(Self::PossibleDuplicate),
            "needs_triage" => Some(Self::NeedsTriage),
            "declined" => Some(Self::Declined),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// Whether intake is done with it (a message waiting for triage is: a person decides now).
    pub fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Queued | MessageStatus::Processing)
    }

    pub const ALL: &'static str =
        "queued, processing, created, duplicate, possible_duplicate, needs_triage, declined, failed";

    /// Whether the message made a task of its own.
    pub fn made_task(self) -> bool {
        matches!(self, MessageStatus::Created | MessageStatus::PossibleDuplicate)
    }
}

/// The task a language model wrote from a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskDraft {
    pub title: String,
    pub description: String,
    pub priority: Priority,
    /// `YYYY-MM-DD`
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
    pub assigned_to: Option<String>,
}

/// An existing task that may describe the same work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    #[schema(value_type = String)]
    pub task_id: TaskId,
    pub title: String,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub text: String,
    pub author: Option<String>,
    pub source: String,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    /// The integration it came through, if it came through a webhook.
    #[schema(value_type = Option<String>)]
    pub integration_id: Option<IntegrationId>,
    pub received_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// The created task, or the existing one for a duplicate.
    #[schema(value_type = Option<String>)]
    pub task_id: Option<TaskId>,
    /// Similarity of the best candidate.
    pub score: Option<f64>,
    pub error: Option<String>,
    pub draft: Option<TaskDraft>,
    pub candidates: Vec<Candidate>,
    /// For a duplicate: the request's comment on the task it was merged into.
    pub comment_id: Option<String>,
    /// The person's decision on it, if one was made (triage, or a later merge).
    pub decision: Option<Decision>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a person decided about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// Made a task of it (`task_id`).
    Accept,
    /// Added it to an existing task (`task_id`) as a comment.
    Merge,
    /// Did not take it (`reason`).
    Decline,
    /// Undid a merge (by intake or a person): the comment removed (`comment_id`), the request
    /// its own task again (`task_id`).
    Unmerge,
}

impl DecisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Accept => "accept",
            DecisionAction::Merge => "merge",
            DecisionAction::Decline => "decline",
            DecisionAction::Unmerge => "unmerge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accept" => Some(Self::Accept),
            "merge" => Some(Self::Merge),
            "decline" => Some(Self::Decline),
            "unmerge" => Some(Self::Unmerge),
            _ => None,
        }
    }
}

/// A decision on a request, journaled with who made it and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Decision {
    pub id: String,
    pub action: DecisionAction,
    /// The task made (accept), merged into (merge), or the request's own again (unmerge).
    #[schema(value_type = Option<String>)]
    pub task_id: Option<TaskId>,
    /// A possible duplicate merged later: the task that had been made for it, now closed.
    #[schema(value_type = Option<String>)]
    pub closed_task_id: Option<TaskId>,
    /// The request's comment on the task merged into (merge), or the one removed (unmerge).
    pub comment_id: Option<String>,
    pub reason: Option<String>,
    /// The API key that decided; `requester` when the requester decided by answering the
    /// question asked in their thread (a possible duplicate's "reply *same*").
    pub decided_by_key_id: String,
    /// That key's name when it decided (or who the requester is).
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

pub const REASON_MAX: usize = 2_000;

/// Body of `POST /api/v1/messages/{id}/accept`: changes to the draft before it becomes a
/// task (absent fields keep the draft's; `null` clears `assigned_to` or `due_date`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Option<Option<String>>,
    /// `YYYY-MM-DD`, or `null` for none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub due_date: Option<Option<String>>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

impl AcceptInput {
    /// The task the draft becomes with these edits, validated as a task creation is.
    pub fn apply(self, project_id: &ProjectId, draft: &TaskDraft) -> Result<NewTask, DomainError> {
        NewTaskInput {
            project_id: project_id.to_string(),
            title: self.title.unwrap_or_else(|| draft.title.clone()),
            description: Some(self.description.unwrap_or_else(|| draft.description.clone())),
            status: None,
            priority: Some(self.priority.unwrap_or(draft.priority)),
            assigned_to: self.assigned_to.unwrap_or_else(|| draft.assigned_to.clone()),
            time_estimate: None,
            time_spent: None,
            due_date: self.due_date.unwrap_or_else(|| draft.due_date.map(|d| d.format("%Y-%m-%d").to_string())),
            labels: Some(self.labels.unwrap_or_else(|| draft.labels.clone())),
        }
        .validate()
    }
}

/// Body of `POST /api/v1/messages/{id}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// Any task of the message's project.
    pub task_id: String,
}

impl MergeInput {
    pub fn validate(self) -> Result<TaskId, DomainError> {
        Ok(validate::required_text("task_id", &self.task_id, 64)?.into())
    }
}

/// Body of `POST /api/v1/messages/{id}/decline`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineInput {
    /// Why it is not taken; told to the requester.
    pub reason: String,
}

impl DeclineInput {
    pub fn validate(self) -> Result<String, DomainError> {
        validate::required_text("reason", &self.reason, REASON_MAX)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessageInput {
    pub text: String,
    pub project_id: String,
    #[serde(default)]
    pub author: Option<String>,
    /// Where it came from: `api` (default), `slack`, `teams`, `email`, …
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    /// The platform's reference to the thread or message, for replies and links.
    #[serde(default)]
    pub thread_ref: Option<String>,
    /// When it was said (RFC 3339); now when left out. Due dates like "Friday" count from it.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub text: String,
    pub project_id: ProjectId,
    pub author: Option<String>,
    pub source: String,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    /// Set for messages that arrived through a platform's webhook.
    pub origin: Option<Origin>,
}

/// What makes two requests' texts the same one said again: the words, whatever their case
/// and spacing. A digest, so that it can be indexed however long the text.
pub fn text_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    Sha256::digest(words.join(" ").as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Where a webhook message came from, and where its answer goes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub integration_id: IntegrationId,
    /// The platform's id of the event; a redelivery with the same id is the same message.
    pub external_id: String,
    /// Platform-specific reply address (channel and thread, response URL, chat id, …).
    pub reply_to: serde_json::Value,
}

impl NewMessageInput {
    pub fn validate(self) -> Result<NewMessage, DomainError> {
        Ok(NewMessage {
            text: validate::required_text("text", &self.text, TEXT_MAX)?,
            project_id: validate::required_text("project_id", &self.project_id, 64)?.into(),
            author: validate::optional_name("author", self.author.as_deref(), 200)?,
            source: validate::optional_name("source", self.source.as_deref(), 50)?.unwrap_or_else(|| "api".into()),
            channel: validate::optional_name("channel", self.channel.as_deref(), 200)?,
            thread_ref: validate::optional_name("thread_ref", self.thread_ref.as_deref(), 500)?,
            received_at: self.received_at,
            origin: None,
        })
    }
}

/// Query string of the message list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListParams {
    /// One status: `needs_triage` lists the triage queue.
    pub status: Option<String>,
    pub project_id: Option<String>,
    /// Where they came from (`slack`, `teams`, `email`, `api`, …).
    pub source: Option<String>,
    /// Received on or after this day (`YYYY-MM-DD`, from midnight UTC).
    pub received_since: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of the message list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub project_id: Option<ProjectId>,
    pub source: Option<String>,
    pub received_since: Option<DateTime<Utc>>,
}

impl MessageListParams {
    /// The filter and page asked for; newest first, so pages are cut by id like other lists.
    pub fn validate(&self) -> Result<(MessageFilter, Page), DomainError> {
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let status = blank(&self.status)
            .map(|s| {
                MessageStatus::parse(&s).ok_or_else(|| {
                    DomainError::invalid("status", format!("{s:?} is not one of {}", MessageStatus::ALL))
                })
            })
            .transpose()?;
        let source = validate::optional_name("source", blank(&self.source).as_deref(), 50)?;
        let received_since = blank(&self.received_since)
            .map(|d| validate::date("received_since", &d))
            .transpose()?
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
        let page = PageParams { limit: self.limit, cursor: self.cursor.clone() }.validate()?;
        let project_id = blank(&self.project_id).map(Into::into);
        Ok((MessageFilter { status, project_id, source, received_since }, page))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_words_make_the_same_key() {
        let key = super::text_key("Fix the  login page\n");
        assert_eq!(key, super::text_key("fix the login PAGE"));
        assert_ne!(key, super::text_key("fix the logout page"));
        assert_eq!(key.len(), 32);
    }

    use super::*;

    fn draft() -> TaskDraft {
        TaskDraft {
            title: "Fix the login page".into(),
            description: "It fails on mobile.".into(),
            priority: Priority::High,
            due_date: NaiveDate::from_ymd_opt(2030, 1, 31),
            labels: vec!["web".into()],
            assigned_to: Some("ana".into()),
        }
    }

    fn edits(json: &str) -> AcceptInput {
        serde_json::from_str(json).expect("json")
    }

    #[test]
    fn accepting_keeps_the_draft_where_nothing_is_edited() {
        let project = ProjectId::from("p1");
        let task = edits("{}").apply(&project, &draft()).expect("valid");
        assert_eq!(
            (task.title.as_str(), task.priority, task.assigned_to.as_deref()),
            ("Fix the login page", Priority::High, Some("ana"))
        );
        assert_eq!(
            (task.due_date, task.labels.clone()),
            (NaiveDate::from_ymd_opt(2030, 1, 31), vec!["web".to_string()])
        );

        let task = edits(r#"{"title": "Login on mobile", "assigned_to": null, "due_date": null, "labels": []}"#)
            .apply(&project, &draft())
            .expect("valid");
        assert_eq!((task.title.as_str(), task.assigned_to, task.due_date), ("Login on mobile", None, None));
        assert!(task.labels.is_empty());
    }

    #[test]
    fn accepting_validates_edits_as_a_task_creation() {
        let project = ProjectId::from("p1");
        let long_name = format!(r#"{{"assigned_to": "{}"}}"#, "a".repeat(201));
        for bad in [r#"{"title": " "}"#, r#"{"due_date": "friday"}"#, long_name.as_str()] {
            assert!(edits(bad).apply(&project, &draft()).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<AcceptInput>(r#"{"assignee": "ana"}"#).is_err(), "unknown fields are refused");
    }

    #[test]
    fn the_message_list_takes_one_known_status() {
        let params = MessageListParams { status: Some("needs_triage".into()), ..Default::default() };
        assert_eq!(params.validate().expect("valid").0.status, Some(MessageStatus::NeedsTriage));
        let params = MessageListParams { status: Some("waiting".into()), ..Default::default() };
        assert!(params.validate().is_err());
        let params = MessageListParams { limit: Some(0), ..Default::default() };
        assert!(params.validate().is_err());
        let params = MessageListParams {
            source: Some(" slack ".into()),
            received_since: Some("2026-12-07".into()),
            ..Default::default()
        };
        let filter = params.validate().expect("valid").0;
        assert_eq!(filter.source.as_deref(), Some("slack"));
        assert_eq!(filter.received_since.map(|t| t.to_rfc3339()).as_deref(), Some("2026-12-07T00:00:00+00:00"));
        let params = MessageListParams { received_since: Some("today".into()), ..Default::default() };
        assert!(params.validate().is_err());
        for status in MessageStatus::ALL.split(", ") {
            assert_eq!(MessageStatus::parse(status).map(MessageStatus::as_str), Some(status));
        }
    }
}

/// Where a reply was written in a conversation, to find the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// The request's own thread: any of these `thread_ref`s (one, or an e-mail's references).
    Threads(Vec<String>),
    /// Anywhere in a chat whose requests' `thread_ref`s read `{chat}/…` (Telegram): the
    /// latest request there is the one answered.
    Chat(String),
    /// The request itself, by its id: a button under its question names it (Discord).
    Request(String),
}

/// A plain reply someone wrote in a conversation a request came from: perhaps the answer to
/// the question asked there ("reply *same* to add your request there").
#[derive(Debug, Clone)]
pub struct ThreadReply {
    /// The platform's id of the reply (a redelivery carries the same).
    pub external_id: String,
    pub text: String,
    /// Who wrote it, as the requests of the platform name their author; only the requester
    /// answers for a request.
    pub author: Option<String>,
    pub conversation: Conversation,
}
