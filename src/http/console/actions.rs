//! The coordinator's actions as a person decides them: what each would change (the task's
//! value now beside the proposed one), approve or reject through the same calls as
//! `POST /api/v1/ai/actions/{id}/approve|reject` (decided once: a second decision is the
//! action's page with 409 and who decided it), and what carrying it out produced.
//! `/coordinator/actions/{id}` is one action; the coordinator and conversation pages list
//! them with [`card`].

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::coordinator::{Action, ActionStatus, Proposal};
use crate::domain::list::Page;
use crate::domain::project::Project;
use crate::domain::task::Task;
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};

/// What the cards of some actions show besides the actions: the tasks they change, the
/// projects new tasks go to, and the names of the keys that decided them.
pub struct Known {
    tasks: HashMap<String, Task>,
    projects: Vec<Project>,
    keys: HashMap<String, String>,
}

impl Known {
    /// Reads what `actions` name, in three reads whatever their number.
    pub async fn of(s: &AppState, session: &Session, actions: &[&Action]) -> Result<Known, ApiError> {
        let tenant = &session.caller.tenant_id;
        let mut ids: Vec<String> = actions
            .iter()
            .filter_map(|a| Proposal::read(&a.kind, a.params.clone()).ok())
            .filter_map(|p| p.task_id().map(ToString::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (tasks, projects, keys) = tokio::try_join!(
            async { Ok::<_, ApiError>(s.store.tasks_by_ids(tenant, &ids).await?) },
            super::tasks::projects(s, session),
            async { s.store.list_api_keys(tenant, &Page::first(200)).await.map_err(ApiError::from) },
        )?;
        Ok(Known {
            tasks: tasks.into_iter().map(|t| (t.id.to_string(), t)).collect(),
            projects,
            keys: keys.into_iter().map(|k| (k.id, k.name)).collect(),
        })
    }

    fn project_name(&self, id: &str) -> String {
        self.projects.iter().find(|p| p.id.as_str() == id).map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    /// Who decided, in words: the key's name for a person's key, the policy otherwise.
    fn decider(&self, decided_by: &str) -> String {
        match decided_by.strip_prefix("key:") {
            Some(id) => match self.keys.get(id) {
                Some(name) => format!("the API key \u{201c}{name}\u{201d}"),
                None => format!("an API key since deleted ({id})"),
            },
            None => decided_by.to_string(),
        }
    }
}

pub fn status_pill(status: ActionStatus) -> Markup {
    let (class, label) = match status {
        ActionStatus::Pending => ("queued", "waiting for a decision"),
        ActionStatus::Approved => ("running", "approved, being carried out"),
        ActionStatus::Rejected => ("muted", "rejected"),
        ActionStatus::Executed => ("done", "carried out"),
        ActionStatus::Failed => ("failed", "failed"),
    };
    html! { span class=(format!("pill {class}")) { (label) } }
}

fn task_link(id: &str, known: &Known) -> Markup {
    html! {
        @match known.tasks.get(id) {
            Some(task) => a href=(format!("/tasks/{id}")) { (task.title) },
            None => { code { (id) } " " span.muted { "(no such task now)" } },
        }
    }
}

fn or_nobody(v: Option<&str>) -> &str {
    v.unwrap_or("nobody")
}

/// One field a proposal changes: its value now (while the action waits) and the proposed one.
fn field_change(label: &str, now: Option<String>, after: &str, pending: bool) -> Markup {
    html! {
        dt { (label) }
        dd {
            @if let (true, Some(now)) = (pending, now) { span.was { (now) } " → " }
            strong { (after) }
        }
    }
}

/// What approving `action` changes, field by field.
fn what_changes(action: &Action, known: &Known) -> Markup {
    let pending = action.status == ActionStatus::Pending;
    let Ok(proposal) = Proposal::read(&action.kind, action.params.clone()) else {
        return html! {
            p.error-message { "This action cannot be read as a change any more: " code { (action.kind) } }
            pre.params { (action.params.to_string()) }
        };
    };
    let task = |id: &crate::domain::id::TaskId| known.tasks.get(id.as_str());
    html! {
        @match &proposal {
            Proposal::CreateTask(p) => {
                p { "A new task in " strong { (known.project_name(p.project_id.as_str())) } ":" }
                dl.facts {
                    dt { "Title" } dd { strong { (p.title) } }
                    @if let Some(d) = &p.description { dt { "Description" } dd.task-text { (d) } }
                    @if let Some(v) = p.priority { dt { "Priority" } dd { (v.as_str()) } }
                    @if let Some(v) = &p.assigned_to { dt { "Assignee" } dd { (v) } }
                    @if let Some(v) = &p.due_date { dt { "Due" } dd { (v) } }
                    @if let Some(v) = &p.labels { dt { "Labels" } dd { (v.join(", ")) } }
                }
            },
            Proposal::Assign(p) => {
                p { "Task " (task_link(p.task_id.as_str(), known)) ":" }
                dl.facts { (field_change("Assignee", task(&p.task_id).map(|t| or_nobody(t.assigned_to.as_deref()).to_string()),
                    or_nobody(p.assigned_to.as_deref()), pending)) }
            },
            Proposal::SetStatus(p) => {
                p { "Task " (task_link(p.task_id.as_str(), known)) ":" }
                dl.facts { (field_change("Status", task(&p.task_id).map(|t| t.status.as_str().to_string()), p.status.as_str(), pending)) }
            },
            Proposal::SetPriority(p) => {
                p { "Task " (task_link(p.task_id.as_str(), known)) ":" }
                dl.facts { (field_change("Priority", task(&p.task_id).map(|t| t.priority.as_str().to_string()), p.priority.as_str(), pending)) }
            },
            Proposal::SetDueDate(p) => {
                p { "Task " (task_link(p.task_id.as_str(), known)) ":" }
                dl.facts { (field_change("Due", task(&p.task_id).map(|t| t.due_date.map_or("no date".into(), |d| d.to_string())),
                    p.due_date.as_deref().unwrap_or("no date"), pending)) }
            },
            Proposal::Comment(p) => {
                p { "A comment on " (task_link(p.task_id.as_str(), known)) ", by "
                    (crate::domain::coordinator::AUTHOR) ":" }
                blockquote.said { (p.content) }
            },
            Proposal::SendFollowUp(p) => {
                p { "A message about " (task_link(p.task_id.as_str(), known))
                    " in the conversation it came from (or by e-mail to its assignee):" }
                blockquote.said { (p.message) }
            },
        }
    }
}

/// What carrying the action out produced, or why it failed.
fn outcome(action: &Action) -> Markup {
    let result = action.result.as_ref().unwrap_or(&Value::Null);
    html! {
        @match action.status {
            ActionStatus::Executed => {
                @if let Some(id) = result["task"]["id"].as_str() {
                    p.result { "Done: " a href=(format!("/tasks/{id}")) { (result["task"]["title"].as_str().unwrap_or(id)) } }
                } @else if let Some(task) = result["comment"]["task_id"].as_str() {
                    p.result { "Done: the comment is on " a href=(format!("/tasks/{task}#comments")) { "the task's page" } "." }
                } @else if let Some(to) = result["delivery"]["recipient"].as_str() {
                    p.result { "Done: the message to " code { (to) } " on " (result["delivery"]["platform"].as_str().unwrap_or("its platform"))
                        " is " (result["delivery"]["status"].as_str().unwrap_or("queued")) "." }
                } @else {
                    p.result { "Done." }
                }
            },
            ActionStatus::Failed => p.error-message { "Not carried out: " (action.error.as_deref().unwrap_or("no reason was kept")) },
            ActionStatus::Approved => p.muted data-reload-after="3000" { "Being carried out; this page shows the result when it is done." },
            ActionStatus::Pending | ActionStatus::Rejected => {},
        }
    }
}

/// Who decided and when, or the two decisions while it waits.
fn decision(session: &Session, action: &Action, known: &Known) -> Markup {
    let said = headline(action, known);
    html! {
        @if action.status == ActionStatus::Pending {
            div.actions {
                form.inline method="post" action=(format!("/coordinator/actions/{}/approve", action.id)) {
                    (csrf_field(session))
                    button.small type="submit" aria-label=(format!("Approve: {said}")) { "Approve" }
                }
                form.inline method="post" action=(format!("/coordinator/actions/{}/reject", action.id)) {
                    (csrf_field(session))
                    button.small.secondary type="submit" aria-label=(format!("Reject: {said}")) { "Reject" }
                }
            }
        } @else if let (Some(by), Some(at)) = (&action.decided_by, action.decided_at) {
            p.decided {
                @if action.status == ActionStatus::Rejected { "Rejected" } @else { "Approved" }
                " by " (known.decider(by)) " at "
                time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S")) " UTC" } "."
            }
        }
    }
}

/// One action as a card: what it changes, its state, and its decision.
pub fn card(session: &Session, action: &Action, known: &Known, heading: bool) -> Markup {
    let said = headline(action, known);
    let label = format!("action-{}", action.id);
    html! {
        article.card.action aria-labelledby=(label) data-status=(action.status.as_str()) {
            @if heading {
                h3 id=(label) { a href=(format!("/coordinator/actions/{}", action.id)) { (capitalized(&said)) } }
            } @else {
                h2 id=(label) { (capitalized(&said)) }
            }
            p.meta { (status_pill(action.status)) " "
                span.muted { "proposed by " (proposer(&action.proposed_by)) " at " (action.created_at.format("%Y-%m-%d %H:%M UTC")) } }
            (what_changes(action, known))
            (decision(session, action, known))
            (outcome(action))
        }
    }
}

/// What the action does in a line, naming its task by title where the task is known.
fn headline(action: &Action, known: &Known) -> String {
    let Ok(proposal) = Proposal::read(&action.kind, action.params.clone()) else { return action.kind.clone() };
    let said = proposal.describe();
    match proposal.task_id().and_then(|id| known.tasks.get(id.as_str())) {
        Some(task) => said.replacen(&format!("task {}", task.id), &format!("\u{201c}{}\u{201d}", task.title), 1),
        None => said,
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Who proposed, in words.
fn proposer(by: &str) -> String {
    match by {
        "builtin" => "the coordinator's chat commands".into(),
        "follow-ups" => "the follow-up check".into(),
        other => match other.strip_prefix("ai:") {
            Some(provider) => format!("the language model ({provider})"),
            None => other.to_string(),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// Set by the redirect after a decision.
    decided: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> PageResult {
    let action = s.store.get_action(&session.caller.tenant_id, &id).await.or_not_found("action")?;
    action_page(&s, &session, &action, query.decided.is_some(), None).await
}

async fn action_page(
    s: &AppState,
    session: &Session,
    action: &Action,
    decided: bool,
    refused: Option<&str>,
) -> PageResult {
    let known = Known::of(s, session, &[action]).await?;
    let title = "An action of the coordinator";
    let body = html! {
        p { a href="/coordinator#actions-h" { "← The coordinator" } }
        @if let Some(why) = refused {
            div.banner.bad role="alert" {
                p { strong { "Nothing was changed." } " " (capitalized(why)) "." }
                p { "It was decided once, as shown below; an action is never decided twice." }
            }
        } @else if decided {
            div.banner.ok role="status" {
                p { strong { @match action.status {
                    ActionStatus::Rejected => "Rejected: nothing changes.",
                    ActionStatus::Executed => "Approved and carried out.",
                    ActionStatus::Failed => "Approved, but it could not be carried out.",
                    _ => "Approved.",
                } } }
            }
        }
        (card(session, action, &known, false))
        @if let Some(conversation) = &action.conversation_id {
            p { a href=(format!("/coordinator/conversations/{conversation}")) { "The conversation it was proposed in" } }
        }
    };
    let status = if refused.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok((status, layout::page(session, Section::Coordinator, title, body)).into_response())
}

pub async fn approve(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let decided = crate::http::coordinator::approve(&s, &form.session.caller, &id).await;
    after_decision(&s, &form.session, &id, decided).await
}

pub async fn reject(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let decided = s.coordinator.decide(&form.session.caller, &id, false).await.map_err(ApiError::from);
    after_decision(&s, &form.session, &id, decided).await
}

/// The action's page after a decision; a second decision is refused there (409) with who
/// made the first.
async fn after_decision(s: &AppState, session: &Session, id: &str, decided: Result<Action, ApiError>) -> PageResult {
    match decided {
        Ok(action) => Ok(Redirect::to(&format!("/coordinator/actions/{}?decided=1", action.id)).into_response()),
        Err(ApiError::Conflict(why)) => {
            let action = s.store.get_action(&session.caller.tenant_id, id).await.or_not_found("action")?;
            action_page(s, session, &action, false, Some(&why)).await
        }
        Err(other) => Err(other.into()),
    }
}
