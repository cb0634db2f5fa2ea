//! `/requests/{id}`: one request beside the tasks it may repeat and, while it waits for a
//! person, the three decisions: **accept** (the draft's fields editable first), **merge into**
//! (a candidate, or any task of the project found by searching), **decline** (with a reason).
//! Each is the same service call as `POST /api/v1/messages/{id}/accept|merge|decline`, so the
//! rules, the journal and the answer in the requester's thread are the API's; a second
//! decision is refused (409) with the API's words. A failed request is retried from here and
//! from the inbox. The keys A, M and D move to a decision's form (see `console.js`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::forms::{self, Errors};
use super::layout::{self, Section, csrf_field};
use super::requests::{excerpt, outcome_label, platform_name, received, retry_button, similarity, task_link};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::DomainError;
use crate::domain::list::{Page, TaskListParams};
use crate::domain::message::{AcceptInput, DeclineInput, MergeInput, Message, MessageFilter, MessageStatus, TaskDraft};
use crate::domain::task::{Priority, Task};
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};
use crate::intake::triage::{self, DecisionError};
use crate::store::StoreError;

const PRIORITIES: &[(&str, &str)] = &[("low", "Low"), ("medium", "Medium"), ("high", "High")];
const ACCEPT_FIELDS: &[&str] = &["title", "description", "priority", "assigned_to", "due_date", "labels"];
/// How many tasks a search for a merge target shows.
const FOUND: u32 = 10;

/// The accept form's values: the draft, or what was last entered.
struct Draft {
    title: String,
    description: String,
    priority: String,
    assigned_to: String,
    due_date: String,
    labels: String,
}

impl Draft {
    fn of(draft: Option<&TaskDraft>) -> Self {
        Draft {
            title: draft.map(|d| d.title.clone()).unwrap_or_default(),
            description: draft.map(|d| d.description.clone()).unwrap_or_default(),
            priority: draft.map_or(Priority::default(), |d| d.priority).as_str().into(),
            assigned_to: draft.and_then(|d| d.assigned_to.clone()).unwrap_or_default(),
            due_date: draft.and_then(|d| d.due_date).map(|d| d.to_string()).unwrap_or_default(),
            labels: draft.map(|d| d.labels.join(", ")).unwrap_or_default(),
        }
    }

    fn posted(form: &Form) -> Self {
        Draft {
            title: form.text("title"),
            description: form.text("description"),
            priority: form.text("priority"),
            assigned_to: form.text("assigned_to"),
            due_date: form.text("due_date"),
            labels: form.text("labels"),
        }
    }

    /// The edits the API's accept takes; every field is sent, as the form shows them all.
    fn input(&self) -> Result<AcceptInput, DomainError> {
        let priority = Priority::parse(&self.priority)
            .ok_or_else(|| DomainError::invalid("priority", "must be one of low, medium, high"))?;
        let blank_is_none = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        Ok(AcceptInput {
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            priority: Some(priority),
            assigned_to: Some(blank_is_none(&self.assigned_to)),
            due_date: Some(blank_is_none(&self.due_date)),
            labels: Some(self.labels.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()),
        })
    }
}

/// A decision the service refused, shown again on the request's page.
enum Refused {
    /// Invalid edits: the form again with what was entered and the API's words.
    Accept(Draft, Errors),
    Merge(Errors),
    Decline(String, Errors),
    /// Decided already, or not in a state for it (409): the page as the request is now.
    Conflict(String),
}

impl Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// A search for a task to merge into.
    q: Option<String>,
    /// Set by the redirect after a decision: say what was done.
    decided: Option<String>,
}

pub async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> PageResult {
    let message = s.store.get_message(&session.caller.tenant_id, &id).await.or_not_found("message")?;
    request_page(&s, &session, &message, &query, None).await
}

/// Whether a person may still decide, and which decisions.
fn can_accept(m: &Message) -> bool {
    m.status == MessageStatus::NeedsTriage
}

fn can_merge(m: &Message) -> bool {
    matches!(m.status, MessageStatus::NeedsTriage | MessageStatus::PossibleDuplicate)
}

async fn request_page(
    s: &AppState,
    session: &Session,
    m: &Message,
    query: &ShowQuery,
    refused: Option<&Refused>,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let mut ids: Vec<&str> = m.candidates.iter().map(|c| c.task_id.as_str()).collect();
    ids.extend(m.task_id.as_ref().map(|t| t.as_str()));
    let (project, tasks, journal) = tokio::try_join!(
        s.store.get_project(tenant, &m.project_id),
        s.store.tasks_by_ids(tenant, &ids),
        s.store.decisions_of(tenant, &m.id),
    )?;
    let tasks: std::collections::HashMap<String, Task> = tasks.into_iter().map(|t| (t.id.to_string(), t)).collect();
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty() && can_merge(m));
    let (found, search_error) = match search {
        Some(q) => {
            let params = TaskListParams {
                project_id: Some(m.project_id.to_string()),
                q: Some(q.to_string()),
                limit: Some(FOUND),
                ..TaskListParams::default()
            };
            match params.validate() {
                Ok(query) => (crate::http::tasks::page(&s.store, &session.caller, &query).await?.0, None),
                Err(err) => (Vec::new(), Some(ApiError::invalid_query(err).to_string())),
            }
        }
        None => (Vec::new(), None),
    };
    // After a decision on a request that waited: the next one waiting in the project.
    let next_waiting = match (&query.decided, refused) {
        (Some(_), None) => next_waiting(s, session, m).await?,
        _ => None,
    };
    let own_task = m.task_id.as_ref().filter(|_| m.status == MessageStatus::PossibleDuplicate);
    // What a merge can choose: the candidates, then what the search found, never the
    // request's own task.
    let mut options: Vec<(String, String, Markup)> = Vec::new();
    for c in &m.candidates {
        let title = tasks.get(c.task_id.as_str()).map_or(c.title.clone(), |t| t.title.clone());
        options.push((c.task_id.to_string(), title, similarity(c.score)));
    }
    for t in &found {
        if !options.iter().any(|(id, ..)| *id == t.id.as_str()) {
            options.push((t.id.to_string(), t.title.clone(), html! { span.muted { "(found by search)" } }));
        }
    }
    options.retain(|(id, ..)| own_task.is_none_or(|own| own.as_str() != id));

    let author = m.author.as_deref().unwrap_or("someone");
    let title = format!("Request from {author}");
    let accept_values = match refused {
        Some(Refused::Accept(values, _)) => values,
        _ => &Draft::of(m.draft.as_ref()),
    };
    let none = Errors::none();
    let body = html! {
        p { a href=(format!("/requests?project_id={}", project.id)) { "← Requests of " (project.name) } }
        h1 { (title) " " span.muted { "via " (platform_name(&m.source)) } }
        @if let Some(Refused::Conflict(why)) = refused {
            div.banner.bad role="alert" {
                p { strong { "Nothing was changed." } " " (why) }
                p { "The request as it is now is shown below." }
            }
        }
        @if let (Some(_), Some(decision), None) = (&query.decided, &m.decision, refused) {
            div.banner.ok role="status" {
                p {
                    strong { (decided_words(m, decision.action)) }
                    @if m.integration_id.is_some() { " The requester is told in their thread." }
                }
                @if let Some(next) = &next_waiting {
                    p { a href=(format!("/requests/{}", next.id)) { "Next request waiting for a decision →" } }
                }
            }
        }
        div.side-by-side {
            section.card aria-labelledby="the-request" {
                h2 id="the-request" { "The request" }
                blockquote.request-text { (m.text) }
                dl.facts {
                    dt { "From" } dd { (author) }
                    dt { "Platform" } dd { (platform_name(&m.source)) @if let Some(channel) = &m.channel { " · " (channel) } }
                    dt { "Received" } dd { (received(m)) }
                    dt { "Project" } dd { a href=(format!("/projects/{}", project.id)) { (project.name) } }
                    dt { "Outcome" } dd {
                        span class=(format!("pill {}", m.status.as_str())) { (outcome_label(m.status)) }
                        @if m.task_id.is_some() { " " (task_link(m, &tasks)) }
                    }
                    @if let Some(d) = &m.decision {
                        dt { "Decided" } dd {
                            (d.action.as_str()) " by " (d.decided_by) " at " (d.decided_at.format("%Y-%m-%d %H:%M")) " UTC"
                            @if let Some(reason) = &d.reason { br; "Reason: " (reason) }
                        }
                    }
                    @if let Some(error) = &m.error { dt { "Error" } dd.error-message { (error) } }
                }
                @if m.status == MessageStatus::Failed {
                    div.actions { (retry_button(session, m, &format!("/requests/{}", m.id))) }
                }
            }
            section.card aria-labelledby="similar" {
                h2 id="similar" { "Tasks it may repeat" }
                @if m.candidates.is_empty() {
                    p.empty { "No similar task was found in the project." }
                } @else {
                    ol.candidates {
                        @for c in &m.candidates {
                            li {
                                @match tasks.get(c.task_id.as_str()) {
                                    Some(t) => {
                                        a href=(format!("/tasks/{}", t.id)) { (t.title) } " " (similarity(c.score))
                                        div.muted { (t.status.as_str()) " · " (t.priority.as_str())
                                            @if let Some(a) = &t.assigned_to { " · " (a) } }
                                        @if !t.description.is_empty() { p.task-text { (excerpt(&t.description, 400)) } }
                                    }
                                    None => { (c.title) " " (similarity(c.score)) div.muted { "since deleted" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if can_merge(m) {
            h2 id="decide" { "Decide" }
            p.muted.shortcuts {
                "Keyboard: " kbd { "A" } " accept, " kbd { "M" } " merge, " kbd { "D" } " decline: the key moves to that "
                "decision's form, Enter (or its button) makes it. A decision is made once"
                @if m.integration_id.is_some() { ", and the requester is told in their thread" } "."
            }
            @if own_task.is_some() {
                p {
                    "This request already became its own task, " (task_link(m, &tasks)) ", which may repeat another. "
                    "Merging adds the request to the chosen task and closes its own task with a note."
                }
            }
            div.decisions {
                @if can_accept(m) {
                    section.card aria-labelledby="accept-h" {
                        h3 id="accept-h" { "Accept " kbd { "A" } }
                        p.muted { "Creates the task from the draft; change anything first." }
                        @let errors = match refused { Some(Refused::Accept(_, e)) => e, _ => &none };
                        form.stack method="post" action=(format!("/requests/{}/accept", m.id)) aria-labelledby="accept-h"
                            data-shortcut="a" aria-keyshortcuts="A" {
                            (csrf_field(session))
                            @if let Some(other) = errors.other(ACCEPT_FIELDS) { p.error-message role="alert" { (other) } }
                            (forms::input("text", "title", "Title", &accept_values.title, errors, None, true))
                            (forms::textarea("description", "Description", &accept_values.description, errors))
                            div.filters {
                                (forms::select("priority", "Priority", PRIORITIES, &accept_values.priority, errors))
                                (forms::input("text", "assigned_to", "Assignee", &accept_values.assigned_to, errors, None, false))
                                (forms::input("date", "due_date", "Due date", &accept_values.due_date, errors, None, false))
                            }
                            (forms::input("text", "labels", "Labels (separated by commas)", &accept_values.labels, errors, None, false))
                            div.actions { button type="submit" { "Accept and create the task" } }
                        }
                    }
                }
                section.card id="merge" aria-labelledby="merge-h" {
                    h3 id="merge-h" { "Merge into a task " kbd { "M" } }
                    p.muted { "Adds the request to the chosen task as a comment." }
                    form.search method="get" action=(format!("/requests/{}#merge", m.id)) role="search" aria-label="Find a task of the project" {
                        (forms::filter_input("search", "q", "Find a task of the project", search.unwrap_or_default()))
                        div.actions { button.secondary type="submit" { "Search" } }
                    }
                    @if let Some(error) = &search_error { p.error-message role="alert" { (error) } }
                    @if search.is_some() && found.is_empty() && search_error.is_none() { p.empty { "No task of the project matches." } }
                    @let errors = match refused { Some(Refused::Merge(e)) => e, _ => &none };
                    form.stack method="post" action=(format!("/requests/{}/merge", m.id)) aria-labelledby="merge-h"
                        data-shortcut="m" aria-keyshortcuts="M" {
                        (csrf_field(session))
                        fieldset aria-describedby=[errors.of("task_id").map(|_| "merge-error")] {
                            legend { "The task to add the request to" }
                            @if options.is_empty() {
                                p.empty { "No similar task: search the project's tasks above." }
                            }
                            @for (i, (id, title, note)) in options.iter().enumerate() {
                                div.check {
                                    input type="radio" name="task_id" id=(format!("merge-{id}")) value=(id) checked[i == 0];
                                    label for=(format!("merge-{id}")) { (title) " " (note) }
                                }
                            }
                        }
                        @if let Some(error) = errors.of("task_id").or(errors.other(&["task_id"])) {
                            p.error-message id="merge-error" role="alert" { (error) }
                        }
                        div.actions { button type="submit" disabled[options.is_empty()] { "Merge into the chosen task" } }
                    }
                }
                @if can_accept(m) {
                    section.card aria-labelledby="decline-h" {
                        h3 id="decline-h" { "Decline " kbd { "D" } }
                        @let (reason, errors) = match refused { Some(Refused::Decline(r, e)) => (r.as_str(), e), _ => ("", &none) };
                        form.stack method="post" action=(format!("/requests/{}/decline", m.id)) aria-labelledby="decline-h"
                            data-shortcut="d" aria-keyshortcuts="D" {
                            (csrf_field(session))
                            (forms::input("text", "reason", "Reason", reason, errors,
                                Some("Told to the requester: “Not taken: …”."), true))
                            div.actions { button.danger type="submit" { "Decline" } }
                        }
                    }
                }
            }
        }
        @if !journal.is_empty() {
            h2 { "Decisions" }
            div.table-wrap { table {
                thead { tr { th { "Decision" } th { "By" } th { "When" } th.optional { "Task or reason" } } }
                tbody { @for d in &journal { tr {
                    td { (d.action.as_str()) }
                    td { (d.decided_by) }
                    td { (d.decided_at.format("%Y-%m-%d %H:%M")) " UTC" }
                    td.optional {
                        @if let Some(task) = &d.task_id { a href=(format!("/tasks/{task}")) { (task) } }
                        @if let Some(reason) = &d.reason { (reason) }
                    }
                } } }
            } }
        }
    };
    let status = refused.map_or(StatusCode::OK, Refused::status);
    Ok((status, layout::page(session, Section::Requests, &title, body)).into_response())
}

/// What a decision did, in words.
fn decided_words(m: &Message, action: crate::domain::message::DecisionAction) -> String {
    use crate::domain::message::DecisionAction;
    match action {
        DecisionAction::Accept => "Accepted: the task was created.".into(),
        DecisionAction::Merge => "Merged: the request was added to the task.".into(),
        DecisionAction::Decline => "Declined.".into(),
        DecisionAction::Unmerge => format!("Unmerged: the request is {} again.", outcome_label(m.status)),
    }
}

/// The newest other request of the project still waiting for triage.
async fn next_waiting(s: &AppState, session: &Session, m: &Message) -> Result<Option<Message>, StoreError> {
    let filter = MessageFilter {
        status: Some(MessageStatus::NeedsTriage),
        project_id: Some(m.project_id.clone()),
        ..MessageFilter::default()
    };
    let waiting = s.store.list_messages(&session.caller.tenant_id, &filter, &Page::first(2)).await?;
    Ok(waiting.into_iter().find(|w| w.id != m.id))
}

/// The answer to a decision: the request's page saying so, or the page again with why not.
async fn decided(
    s: &AppState,
    form: &Form,
    id: &str,
    result: Result<Message, DecisionError>,
    refused: impl FnOnce(Errors) -> Refused,
) -> PageResult {
    let refused = match result {
        Ok(m) => {
            s.wake_workers.wake_all(); // the task's pushes and the answer in the thread
            return Ok(Redirect::to(&format!("/requests/{}?decided=1", m.id)).into_response());
        }
        Err(DecisionError::Invalid(err)) => refused(Errors::from(err)),
        Err(DecisionError::Conflict(why)) => Refused::Conflict(why),
        Err(other) => return Err(ApiError::from(other).into()),
    };
    let message = s.store.get_message(&form.session.caller.tenant_id, id).await.or_not_found("message")?;
    request_page(s, &form.session, &message, &ShowQuery::default(), Some(&refused)).await
}

pub async fn accept(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let draft = Draft::posted(&form);
    let result = match draft.input() {
        Ok(edits) => triage::accept(&s.store, &form.session.caller, &id, edits).await,
        Err(err) => Err(err.into()),
    };
    decided(&s, &form, &id, result, |errors| Refused::Accept(draft, errors)).await
}

pub async fn merge(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let result = match (MergeInput { task_id: form.text("task_id") }).validate() {
        Ok(task_id) => triage::merge(&s.store, &form.session.caller, &id, &task_id).await,
        Err(err) => Err(err.into()),
    };
    decided(&s, &form, &id, result, Refused::Merge).await
}

pub async fn decline(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let reason = form.text("reason");
    let result = match (DeclineInput { reason: reason.clone() }).validate() {
        Ok(reason) => triage::decline(&s.store, &form.session.caller, &id, reason).await,
        Err(err) => Err(err.into()),
    };
    decided(&s, &form, &id, result, |errors| Refused::Decline(reason, errors)).await
}

/// Retries a failed request, then goes back to the inbox (or the request's page) it was
/// asked from.
pub async fn retry(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let tenant = &form.session.caller.tenant_id;
    match crate::intake::retry_failed(&s.store, tenant, &id).await {
        Ok(_) => {
            s.wake_workers.wake_all();
            let back = match form.get("back") {
                Some(b) if b.starts_with("/requests") && !b.contains("//") && !b.contains('\\') => b.to_string(),
                _ => format!("/requests/{id}"),
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(StoreError::Conflict(why)) => {
            let message = s.store.get_message(tenant, &id).await.or_not_found("message")?;
            request_page(&s, &form.session, &message, &ShowQuery::default(), Some(&Refused::Conflict(why))).await
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found("message").into()),
        Err(other) => Err(other.into()),
    }
}
