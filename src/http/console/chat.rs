//! `/coordinator/conversations/{id}`: a chat with the coordinator, kept turn by turn (the
//! same conversation as `GET /api/v1/ai/conversations/{id}`): each answer with the tasks it
//! cites linked to their pages and the actions it proposed, each decided from here. A
//! message goes through the same call as `POST /api/v1/ai/chat`. Another tenant's
//! conversation is not found (404), and cannot be continued.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};

use super::actions::{Known, card};
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::coordinator::{Action, ChatInput, Conversation, Role};
use crate::domain::project::Project;
use crate::domain::task::Task;
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};

/// What the chat form shows again when a message was refused.
#[derive(Debug, Default)]
pub struct ChatValues {
    pub message: String,
    pub project_id: String,
}

/// The form that asks: a new conversation, or the next message of `conversation`.
pub fn chat_form(
    session: &Session,
    projects: &[Project],
    conversation: Option<&str>,
    values: &ChatValues,
    error: Option<&str>,
) -> Markup {
    html! {
        form.stack.chat method="post" action="/coordinator/chat" aria-label=(if conversation.is_some() { "Reply" } else { "Ask" }) {
            (csrf_field(session))
            @if let Some(id) = conversation { input type="hidden" name="conversation_id" value=(id); }
            div.field {
                label for="f-message" { @if conversation.is_some() { "Your next message" } @else { "Your question or request" } }
                textarea id="f-message" name="message" required aria-describedby="f-message-hint"
                    aria-invalid=[error.map(|_| "true")] { (values.message) }
                @if let Some(error) = error { p.error-message id="f-message-error" role="alert" { (error) } }
                p.hint id="f-message-hint" {
                    "Ask about the work (“what is overdue?”, “what does Ana have this week?”) or ask for a change "
                    "(“mark Fix login as done”, “assign Renew the certificate to cy”): a change is only proposed, "
                    "and waits for a person to approve it."
                }
            }
            div.field {
                label for="f-chat-project" { "Looking at" }
                select id="f-chat-project" name="project_id" {
                    option value="" selected[values.project_id.is_empty()] { "The whole workspace" }
                    @for p in projects { option value=(p.id.as_str()) selected[p.id.as_str() == values.project_id] { (p.name) } }
                }
            }
            div.actions { button type="submit" { @if conversation.is_some() { "Send" } @else { "Ask" } } }
        }
    }
}

/// Sends a message through the coordinator, then shows the conversation at its answer; a
/// message the service refuses is the form again with its words.
pub async fn send(State(s): State<AppState>, form: Form) -> PageResult {
    let values = ChatValues { message: form.text("message"), project_id: form.text("project_id") };
    let conversation = form.get("conversation_id").map(str::to_string).filter(|c| !c.trim().is_empty());
    let input = ChatInput {
        message: values.message.clone(),
        conversation_id: conversation.clone(),
        project_id: Some(values.project_id.clone()),
    };
    let answered = match input.validate() {
        Ok(chat) => s.coordinator.chat(&form.session.caller, chat).await.map_err(ApiError::from),
        Err(invalid) => Err(ApiError::from(invalid)),
    };
    match answered {
        Ok(answer) => {
            Ok(Redirect::to(&format!("/coordinator/conversations/{}#latest", answer.conversation_id)).into_response())
        }
        Err(err @ ApiError::Validation(_)) => {
            let refused = Some((err.status(), err.to_string()));
            match conversation {
                Some(id) => {
                    let found = s.store.get_conversation(&form.session.caller.tenant_id, &id).await;
                    conversation_page(&s, &form.session, &found.or_not_found("conversation")?, &values, refused).await
                }
                None => super::coordinator::coordinator_page(&s, &form.session, &values, refused).await,
            }
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn show(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PageResult {
    let conversation = s.store.get_conversation(&session.caller.tenant_id, &id).await.or_not_found("conversation")?;
    conversation_page(&s, &session, &conversation, &ChatValues::default(), None).await
}

async fn conversation_page(
    s: &AppState,
    session: &Session,
    conversation: &Conversation,
    values: &ChatValues,
    refused: Option<(StatusCode, String)>,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let mut cited: Vec<&str> =
        conversation.turns.iter().flat_map(|t| t.cited_task_ids.iter().map(String::as_str)).collect();
    cited.sort_unstable();
    cited.dedup();
    let action_ids: Vec<&String> = conversation.turns.iter().flat_map(|t| t.actions.iter()).collect();
    let (tasks, actions, projects) = tokio::try_join!(
        async { Ok::<_, ApiError>(s.store.tasks_by_ids(tenant, &cited).await?) },
        async {
            let reads = action_ids.iter().map(|id| s.store.get_action(tenant, id));
            Ok::<_, ApiError>(futures_util::future::try_join_all(reads).await?)
        },
        super::tasks::projects(s, session),
    )?;
    let tasks: HashMap<String, Task> = tasks.into_iter().map(|t| (t.id.to_string(), t)).collect();
    let actions: HashMap<&str, &Action> = actions.iter().map(|a| (a.id.as_str(), a)).collect();
    let all: Vec<&Action> = actions.values().copied().collect();
    let known = Known::of(s, session, &all).await?;
    let last = conversation.turns.len().saturating_sub(1);
    let title = "A conversation with the coordinator";
    let body = html! {
        p { a href="/coordinator" { "← The coordinator" } }
        h1 { (title) }
        p.muted { "Started " (conversation.created_at.format("%Y-%m-%d %H:%M UTC")) "." }
        ol.turns aria-label="The conversation, oldest first" {
            @for (i, turn) in conversation.turns.iter().enumerate() {
                li class=(format!("turn {}", turn.role.as_str())) id=[(i == last).then_some("latest")] {
                    p.who { strong { @if turn.role == Role::User { "You" } @else { "Coordinator" } } " "
                        span.muted { time datetime=(turn.created_at.to_rfc3339()) { (turn.created_at.format("%H:%M:%S")) } } }
                    p.said { (turn.content) }
                    @if !turn.cited_task_ids.is_empty() {
                        div.cited {
                            p.muted { "Based on:" }
                            ul { @for id in &turn.cited_task_ids { li { (cited_link(id, &tasks)) } } }
                        }
                    }
                    @if !turn.actions.is_empty() {
                        div.proposed {
                            p.muted { "Proposed (nothing changes until a person approves):" }
                            @for id in &turn.actions {
                                @if let Some(action) = actions.get(id.as_str()) { (card(session, action, &known, true)) }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="reply-h" {
            h2 id="reply-h" { "Go on" }
            (chat_form(session, &projects, Some(&conversation.id), values, refused.as_ref().map(|(_, why)| why.as_str())))
        }
    };
    let status = refused.map_or(StatusCode::OK, |(status, _)| status);
    Ok((status, layout::page(session, Section::Coordinator, title, body)).into_response())
}

fn cited_link(id: &str, tasks: &HashMap<String, Task>) -> Markup {
    html! {
        @match tasks.get(id) {
            Some(t) => { a href=(format!("/tasks/{id}")) { (t.title) } " " span.muted { (t.status.as_str()) } },
            None => { code { (id) } " " span.muted { "(no such task now)" } },
        }
    }
}
