//! The requester's answer to the question asked in their thread about a possible duplicate
//! ("Looks like “…” — reply *same* to add your request there"): a reply of *same* there, by
//! the requester, merges the request into the task it was likely a duplicate of, through the
//! same merge as a person's (journaled, undoable, answered "Added to …"). Anything else is
//! not an answer and is handled as any message of the conversation is.
//!
//! The webhook recognises the answer and queues its merge as a job keyed by the platform's
//! id of the reply, so a reply delivered twice merges once; the merge claims the request
//! only while it is still a possible duplicate, so an answer after a decision (or racing a
//! person's) changes nothing.

use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::message::{MessageStatus, ThreadReply};
use crate::jobs::{JobContext, JobError, JobKind};
use crate::store::{Store, StoreError};

use super::triage::{Decider, DecisionError, merge_by};

/// Words an answer may hold besides *same*, so that "Yes, same please." is one.
const FILLER: &[&str] = &[
    "yes", "yep", "yeah", "ok", "okay", "please", "pls", "the", "it", "is", "its", "thats", "that", "one", "task",
    "thing", "work", "thanks", "thank", "you", "indeed", "sure",
];

/// Whether `text` answers *same*: the word itself, perhaps in markup or with a few polite
/// words around it ("*same*", "Same!", "yes, same please"). "Same here, and also …" is not.
pub fn is_same(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.replace('\'', "").to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    words.len() <= 6
        && words.iter().any(|w| w == "same")
        && words.iter().all(|w| w == "same" || FILLER.contains(&w.as_str()))
}

/// What a reply in a conversation turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Not an answer to a question: handle it as any message.
    NotAnAnswer,
    /// The answer *same*: its merge is queued (or was, by an earlier delivery of it).
    Merging,
    /// *same* to a request decided already: nothing to do.
    Settled,
}

/// Recognises the requester's *same* answer among the replies of integration
/// `integration_id`, and queues its merge.
pub async fn hear(
    store: &Store,
    tenant_id: &TenantId,
    integration_id: &IntegrationId,
    reply: &ThreadReply,
) -> Result<Heard, StoreError> {
    let Some(author) = reply.author.as_deref().filter(|_| is_same(&reply.text)) else {
        return Ok(Heard::NotAnAnswer);
    };
    let Some(asked) = store.latest_request_in(tenant_id, integration_id, &reply.conversation, author).await? else {
        return Ok(Heard::NotAnAnswer);
    };
    match asked.status {
        MessageStatus::PossibleDuplicate if !asked.candidates.is_empty() => {
            let job = SameAnswer {
                message_id: asked.id.clone(),
                integration_id: integration_id.clone(),
                external_id: reply.external_id.clone(),
            };
            if !store.enqueue(tenant_id, &job.job()).await? {
                tracing::info!(message_id = %asked.id, "answer redelivered; merged once");
            }
            Ok(Heard::Merging)
        }
        // Merged already (by intake, a person or an earlier answer), or decided otherwise.
        MessageStatus::Duplicate => Ok(Heard::Settled),
        _ if asked.decision.is_some() => Ok(Heard::Settled),
        _ => Ok(Heard::NotAnAnswer),
    }
}

/// The `intake.same` job: the requester answered *same* about message `message_id`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SameAnswer {
    pub message_id: String,
    pub integration_id: IntegrationId,
    /// The platform's id of the reply.
    pub external_id: String,
}

impl JobKind for SameAnswer {
    const KIND: &'static str = "intake.same";

    fn idempotency_key(&self) -> String {
        format!("same:{}:{}", self.integration_id, self.external_id)
    }
}

/// Merges the request into its best candidate, as the requester asked; a request decided
/// meanwhile, or whose candidate is gone, is left as it is.
pub async fn run(ctx: JobContext, job: SameAnswer) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let message = match ctx.store.get_message(tenant, &job.message_id).await {
        Ok(m) => m,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(JobError::Retry(e.to_string())),
    };
    let Some(best) = message.candidates.first().filter(|_| message.status == MessageStatus::PossibleDuplicate) else {
        return Ok(());
    };
    let by = Decider::requester(tenant, &message);
    match merge_by(&ctx.store, &by, &message.id, &best.task_id).await {
        Ok(_) => {
            tracing::info!(message_id = %message.id, task_id = %best.task_id, "merged as the requester answered");
            Ok(())
        }
        Err(DecisionError::Conflict(why)) => {
            tracing::info!(message_id = %message.id, %why, "answer came after a decision; nothing changed");
            Ok(())
        }
        Err(DecisionError::NotFound(what)) => {
            tracing::info!(message_id = %message.id, what, "answer names a task no longer there; nothing changed");
            Ok(())
        }
        Err(DecisionError::Invalid(e)) => Err(JobError::Permanent(e.to_string())),
        Err(DecisionError::Store(e)) => Err(JobError::Retry(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::is_same;

    #[test]
    fn same_and_only_same_is_the_answer() {
        for yes in [
            "same",
            "*same*",
            "Same!",
            "SAME.",
            "yes, same please",
            "same one",
            "  same\n",
            "yep same 👍",
            "that's the same",
        ] {
            assert!(is_same(yes), "{yes}");
        }
        for no in [
            "",
            "not the same",
            "same here, and also fix the footer",
            "samething",
            "different",
            "no",
            "the same bug again on staging",
        ] {
            assert!(!is_same(no), "{no}");
        }
    }
}
