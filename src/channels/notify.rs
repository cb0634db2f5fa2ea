//! The `requester.notify` job: tells the person who asked for a task, in the request's own
//! thread on its platform, of a change they care about (the task service decided which, and
//! queued this in the change's transaction). Each requester is told each change once: the
//! answer is recorded under the change's name before it is sent.

use std::sync::Arc;

use super::reply::{deliver, store_failure, with_secrets};
use super::{ChannelClients, adapter};
use crate::domain::comment::Comment;
use crate::domain::delivery::{DeliveryStatus, NewDelivery};
use crate::domain::notify::{NotifyRequester, RequesterEvent, RequesterNews};
use crate::integrations::Integrations;
use crate::jobs::{JobContext, JobError, Registry};
use crate::store::StoreError;

/// At most this much of a comment is quoted (chat platforms cap a message's length).
const QUOTE_MAX: usize = 1500;

pub(super) fn register(registry: &mut Registry, shared: Arc<(Integrations, ChannelClients)>) {
    registry.handle(move |ctx: JobContext, job: NotifyRequester| {
        let shared = shared.clone();
        async move { notify(&shared.0, &shared.1, ctx, &job).await }
    });
}

async fn notify(
    integrations: &Integrations,
    out: &ChannelClients,
    ctx: JobContext,
    job: &NotifyRequester,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let message = match ctx.store.get_message(tenant, &job.message_id).await {
        Ok(message) => message,
        Err(StoreError::NotFound) => return Ok(()), // the request is gone: nobody to tell
        Err(e) => return Err(store_failure(e)),
    };
    let Some((integration_id, reply_to)) =
        ctx.store.message_origin(tenant, &message.id).await.map_err(store_failure)?
    else {
        return Ok(());
    };
    let (record, secrets) = with_secrets(integrations, tenant, &integration_id).await?;
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    let Some(reply_to) = channel.later(&reply_to).filter(|to| channel.sends_reply(to)) else {
        return Ok(()); // the platform offers no way back into this conversation later
    };
    let comment = match &job.news.comment_id {
        Some(id) => match ctx.store.get_comment(tenant, id).await {
            Ok(comment) => Some(comment),
            Err(StoreError::NotFound) => return Ok(()), // deleted before it was told
            Err(e) => return Err(store_failure(e)),
        },
        None => None,
    };
    let new = NewDelivery::to_requester(
        &message,
        integration_id,
        record.kind,
        news_text(&job.news, comment.as_ref(), integrations.public_url()),
        reply_to,
    );
    // Recorded once under the change's name, before sending: a run after a crash finds it
    // and does not tell the same change twice.
    let answer = format!("notify:{}", job.news.change_id);
    let delivery = ctx.store.delivery_for_answer(tenant, &new, &answer).await.map_err(store_failure)?;
    if delivery.status == DeliveryStatus::Sent {
        return Ok(());
    }
    deliver(&ctx, out, channel, &record, &secrets, &delivery, &new.target).await
}

/// What the requester is told of a change: the task by its title, what happened, and the
/// task's link (the same as in the first answer) while the task exists.
pub fn news_text(news: &RequesterNews, comment: Option<&Comment>, public_url: &str) -> String {
    let title = &news.title;
    let link = format!("{public_url}/api/v1/tasks/{}", news.task_id);
    if news.events.contains(&RequesterEvent::Deleted) {
        return format!("Your request “{title}” was closed without being done: the task was removed.");
    }
    if let Some(comment) = comment {
        let who = comment.author.as_deref().unwrap_or("Someone");
        let mut quote: String = comment.content.chars().take(QUOTE_MAX).collect();
        if quote.len() < comment.content.len() {
            quote.push('…');
        }
        return format!("{who} commented on “{title}”: {quote}\n{link}");
    }
    let said: Vec<String> = news
        .events
        .iter()
        .filter_map(|event| match event {
            RequesterEvent::Done => Some("it is done".to_string()),
            RequesterEvent::DueDate => Some(match news.due_date {
                Some(date) => format!("it is now due {date}"),
                None => "it no longer has a due date".to_string(),
            }),
            RequesterEvent::Assigned => news.assigned_to.as_ref().map(|who| format!("{who} is on it")),
            RequesterEvent::Deleted | RequesterEvent::Comment => None,
        })
        .collect();
    format!("Update on “{title}”: {}. {link}", said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::integration::IntegrationType;
    use serde_json::json;

    #[test]
    fn later_news_avoids_answers_that_expire() {
        let later = |kind, to: serde_json::Value| adapter(kind).and_then(|c| c.later(&to));
        let slash = json!({"response_url": "https://hooks.slack.com/commands/T1/1/x", "channel": "C1"});
        assert_eq!(later(IntegrationType::Slack, slash), Some(json!({"channel": "C1"})));
        let thread = json!({"channel": "C1", "thread_ts": "1.2"});
        assert_eq!(later(IntegrationType::Slack, thread.clone()), Some(thread));
        let interaction = json!({"application_id": "1", "token": "t", "channel_id": "42"});
        assert_eq!(later(IntegrationType::Discord, interaction), Some(json!({"channel_id": "42"})));
        assert_eq!(later(IntegrationType::Discord, json!({"application_id": "1", "token": "t"})), None);
        let chat = json!({"chat_id": 1, "message_id": 2});
        assert_eq!(later(IntegrationType::Telegram, chat.clone()), Some(chat));
    }

    fn news(events: Vec<RequesterEvent>) -> RequesterNews {
        RequesterNews {
            change_id: "c".into(),
            task_id: "t1".into(),
            title: "Fix the printer".into(),
            events,
            due_date: "2026-12-24".parse().ok(),
            assigned_to: Some("ana".into()),
            comment_id: None,
        }
    }

    #[test]
    fn the_text_names_the_task_what_happened_and_links_it() {
        let url = "https://tb.example";
        assert_eq!(
            news_text(&news(vec![RequesterEvent::Done, RequesterEvent::DueDate]), None, url),
            "Update on “Fix the printer”: it is done; it is now due 2026-12-24. https://tb.example/api/v1/tasks/t1"
        );
        let removed = news_text(&news(vec![RequesterEvent::Deleted]), None, url);
        assert!(removed.contains("“Fix the printer” was closed without being done"), "{removed}");
        let now = chrono::Utc::now();
        let comment = Comment {
            id: "c1".into(),
            task_id: "t1".into(),
            content: "Parts ordered, back on Monday".into(),
            author: Some("Bo".into()),
            created_at: now,
            updated_at: now,
        };
        assert_eq!(
            news_text(&news(vec![RequesterEvent::Comment]), Some(&comment), url),
            "Bo commented on “Fix the printer”: Parts ordered, back on Monday\nhttps://tb.example/api/v1/tasks/t1"
        );
    }
}
