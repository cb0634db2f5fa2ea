//! Where a message about a task goes: the conversation its request came from, or its
//! assignee's e-mail. Follow-ups choose it when they propose a reminder, and an approved
//! action chooses it again when it sends one.

use serde_json::json;

use crate::domain::delivery::{NewDelivery, SendInput};
use crate::domain::id::TenantId;
use crate::domain::integration::{IntegrationStatus, IntegrationType};
use crate::domain::task::Task;
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError};

/// Where a message about `task` goes, given its project's `integrations`: the conversation
/// its request came from when that platform can answer there, else its assignee's e-mail
/// through the project's e-mail integration; `None` when neither exists.
pub async fn route(
    store: &Store,
    tenant_id: &TenantId,
    task: &Task,
    integrations: &[IntegrationRecord],
    text: &str,
) -> Result<Option<NewDelivery>, StoreError> {
    let active = |i: &&IntegrationRecord| i.status == IntegrationStatus::Active;
    if let Some((integration_id, reply_to)) = store.task_origin(tenant_id, &task.id).await? {
        let origin = integrations.iter().filter(active).find(|i| i.id == integration_id);
        if let Some(record) =
            origin.filter(|r| crate::channels::adapter(r.kind).is_some_and(|c| c.sends_reply(&reply_to)))
        {
            return Ok(Some(NewDelivery {
                project_id: task.project_id.clone(),
                integration_id,
                platform: record.kind,
                message_id: None,
                recipient: task.assigned_to.clone().unwrap_or_else(|| "the conversation".into()),
                subject: None,
                text: text.to_string(),
                target: reply_to,
            }));
        }
    }
    let Some(assignee) = task.assigned_to.as_deref().filter(|a| a.contains('@') && !a.starts_with('@')) else {
        return Ok(None);
    };
    let Some(email) = integrations.iter().filter(active).find(|i| i.kind == IntegrationType::Email) else {
        return Ok(None);
    };
    let input = SendInput {
        to: Some(json!(assignee)),
        text: Some(text.to_string()),
        subject: Some(format!("Follow-up: {}", task.title.chars().take(200).collect::<String>())),
        project_id: None,
    };
    // An assignee that is not an address is simply not reachable this way.
    let Ok((recipient, target, subject)) = input.target(IntegrationType::Email) else { return Ok(None) };
    Ok(Some(NewDelivery {
        project_id: task.project_id.clone(),
        integration_id: email.id.clone(),
        platform: IntegrationType::Email,
        message_id: None,
        recipient,
        subject,
        text: text.to_string(),
        target,
    }))
}
