//! `/requests`: the inbox. Every request received, newest first, with what became of it,
//! filtered and paged exactly as `GET /api/v1/messages` is (project, platform, outcome, day;
//! keyset pages). `/requests/feed` is the first page's rows alone: the page's script asks for
//! it every few seconds, so new requests and changed outcomes appear without a reload (and
//! without the script the page is the same, one reload behind).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use maud::{Markup, html};

use super::forms;
use super::layout::{self, Section, csrf_field};
use super::session::Polling;
use super::{PageResult, Session};
use crate::domain::message::{Message, MessageListParams, MessageStatus};
use crate::domain::task::Task;
use crate::http::AppState;
use crate::http::error::ApiError;

/// Every outcome, those that want a person first.
pub const OUTCOMES: &[(MessageStatus, &str)] = &[
    (MessageStatus::NeedsTriage, "Needs triage"),
    (MessageStatus::PossibleDuplicate, "Possible duplicate"),
    (MessageStatus::Failed, "Failed"),
    (MessageStatus::Created, "Created"),
    (MessageStatus::Duplicate, "Duplicate"),
    (MessageStatus::Declined, "Declined"),
    (MessageStatus::Queued, "Queued"),
    (MessageStatus::Processing, "Processing"),
];

/// The platforms requests come from (`source`), as people know them.
const PLATFORMS: &[(&str, &str)] = &[
    ("slack", "Slack"),
    ("teams", "Microsoft Teams"),
    ("discord", "Discord"),
    ("telegram", "Telegram"),
    ("whatsapp", "WhatsApp"),
    ("email", "E-mail"),
    ("zendesk", "Zendesk"),
    ("api", "API"),
];

/// How much of a request's text a row shows.
const EXCERPT: usize = 280;
/// How many candidates a row names.
const CANDIDATES_SHOWN: usize = 3;

pub fn outcome_label(status: MessageStatus) -> &'static str {
    OUTCOMES.iter().find(|(s, _)| *s == status).map(|(_, l)| *l).unwrap_or("Unknown")
}

pub fn platform_name(source: &str) -> &str {
    PLATFORMS.iter().find(|(s, _)| *s == source).map(|(_, n)| *n).unwrap_or(source)
}

/// The start of a request's text, on one line.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
        None => line,
    }
}

pub fn received(m: &Message) -> Markup {
    html! { time datetime=(m.received_at.to_rfc3339()) { (m.received_at.format("%Y-%m-%d %H:%M")) " UTC" } }
}

/// The tasks the requests name (made, merged into), by id, read in one query.
pub async fn named_tasks(
    s: &AppState,
    session: &Session,
    messages: &[Message],
) -> Result<HashMap<String, Task>, ApiError> {
    let mut ids: Vec<&str> = messages.iter().filter_map(|m| m.task_id.as_ref().map(|t| t.as_str())).collect();
    ids.sort_unstable();
    ids.dedup();
    let tasks = s.store.tasks_by_ids(&session.caller.tenant_id, &ids).await?;
    Ok(tasks.into_iter().map(|t| (t.id.to_string(), t)).collect())
}

/// A link to the request's task, by its title now (or a note that it was deleted).
pub fn task_link(m: &Message, tasks: &HashMap<String, Task>) -> Markup {
    let Some(id) = &m.task_id else { return html! {} };
    html! {
        @match tasks.get(id.as_str()) {
            Some(task) => a href=(format!("/tasks/{id}")) { (task.title) },
            None => span.muted { "a task since deleted" },
        }
    }
}

pub fn similarity(score: f64) -> Markup {
    html! { span.muted { "(similarity " (format!("{score:.2}")) ")" } }
}

/// The retry of a failed request; `back` is where to return after it.
pub fn retry_button(session: &Session, m: &Message, back: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/requests/{}/retry", m.id)) {
            (csrf_field(session))
            input type="hidden" name="back" value=(back);
            button.small type="submit" aria-label=(format!("Retry “{}”", excerpt(&m.text, 40))) { "Retry" }
        }
    }
}

/// What became of a request, with what a person can do about it from the list.
fn outcome(session: &Session, m: &Message, tasks: &HashMap<String, Task>, back: &str) -> Markup {
    let decide = format!("/requests/{}", m.id);
    html! {
        span class=(format!("pill {}", m.status.as_str())) { (outcome_label(m.status)) }
        " "
        @match m.status {
            MessageStatus::Created => { (task_link(m, tasks)) }
            MessageStatus::Duplicate => {
                "added to " (task_link(m, tasks))
                @if let Some(score) = m.score.filter(|_| m.decision.is_none()) { " " (similarity(score)) }
            }
            MessageStatus::PossibleDuplicate => {
                (task_link(m, tasks))
                @if !m.candidates.is_empty() {
                    br;
                    span.muted { "may repeat " }
                    @for (i, c) in m.candidates.iter().take(CANDIDATES_SHOWN).enumerate() {
                        @if i > 0 { ", " }
                        a href=(format!("/tasks/{}", c.task_id)) { (c.title) } " " (similarity(c.score))
                    }
                }
                br;
                a href=(decide) { "Compare and merge" }
            }
            MessageStatus::NeedsTriage => {
                a.button.small href=(decide) aria-label=(format!("Decide on “{}”", excerpt(&m.text, 40))) { "Decide" }
            }
            MessageStatus::Declined => {
                @if let Some(reason) = m.decision.as_ref().and_then(|d| d.reason.as_deref()) { span.muted { (reason) } }
            }
            MessageStatus::Failed => {
                @if let Some(error) = &m.error { span.error-message { (error) } " " }
                (retry_button(session, m, back))
            }
            MessageStatus::Queued | MessageStatus::Processing => { span.muted { "being read…" } }
        }
    }
}

/// One request of the list. `data-version` changes whenever the request does, so the page's
/// script replaces only the rows that changed.
fn row(session: &Session, m: &Message, tasks: &HashMap<String, Task>, back: &str) -> Markup {
    html! {
        tr data-id=(m.id) data-version=(m.updated_at.timestamp_micros()) {
            td.optional { (received(m)) }
            td {
                (m.author.as_deref().unwrap_or("—")) br;
                span.muted { (platform_name(&m.source)) @if let Some(channel) = &m.channel { " · " (channel) } }
            }
            td.request-text { a href=(format!("/requests/{}", m.id)) { (excerpt(&m.text, EXCERPT)) } }
            td { (outcome(session, m, tasks, back)) }
        }
    }
}

fn rows(session: &Session, messages: &[Message], tasks: &HashMap<String, Task>, back: &str) -> Markup {
    html! { @for m in messages { (row(session, m, tasks, back)) } }
}

/// The list's query, parsed exactly as `GET /api/v1/messages` parses it.
fn params(uri: &Uri) -> Result<MessageListParams, ApiError> {
    serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|e| ApiError::BadRequest { code: "invalid_query", message: e.to_string() })
}

/// The inbox page under the same filters, from its first page: where forms return to.
fn first_page(uri: &Uri) -> String {
    let query = serde_urlencoded::to_string(forms::without_cursor(uri.query())).unwrap_or_default();
    if query.is_empty() { "/requests".into() } else { format!("/requests?{query}") }
}

pub async fn list(State(s): State<AppState>, session: Session, uri: Uri) -> PageResult {
    let params = params(&uri)?;
    let projects = super::tasks::projects(&s, &session).await?;
    let (messages, next, query_error) = match crate::http::messages::page(&s.store, &session.caller, &params).await {
        Ok((messages, next)) => (messages, next, None),
        Err(err @ ApiError::BadRequest { .. }) => (Vec::new(), None, Some(err.to_string())),
        Err(other) => return Err(other.into()),
    };
    let tasks = named_tasks(&s, &session, &messages).await?;
    let back = first_page(&uri);
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut project_options = vec![("", "Any project")];
    project_options.extend(projects.iter().map(|p| (p.id.as_str(), p.name.as_str())));
    let mut platform_options = vec![("", "Any platform")];
    platform_options.extend_from_slice(PLATFORMS);
    let source = v(&params.source);
    if !source.is_empty() && !PLATFORMS.iter().any(|(p, _)| *p == source) {
        platform_options.push((source.as_str(), source.as_str()));
    }
    let mut outcome_options = vec![("", "Any outcome")];
    outcome_options.extend(OUTCOMES.iter().map(|(s, l)| (s.as_str(), *l)));
    // Only the first page follows new requests; later pages stay as they were cut.
    let feed = params.cursor.is_none().then(|| back.replacen("/requests", "/requests/feed", 1));
    let quick = |status: &str| {
        let mut pairs = vec![("status", status)];
        if let Some(p) = params.project_id.as_deref().filter(|p| !p.is_empty()) {
            pairs.push(("project_id", p));
        }
        format!("/requests?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    };
    let body = html! {
        h1 { "Requests" }
        p.muted {
            "Every request received from a chat, e-mail or the API, newest first, and what became of it. "
            "Requests that wait for a person: "
            a href=(quick("needs_triage")) { "needs triage" } ", "
            a href=(quick("possible_duplicate")) { "possible duplicates" } "; and those that "
            a href=(quick("failed")) { "failed" } "."
        }
        form.card method="get" action="/requests" role="search" aria-label="Filter requests" {
            div.filters {
                (forms::filter_select("project_id", "Project", &project_options, &v(&params.project_id)))
                (forms::filter_select("source", "Platform", &platform_options, &source))
                (forms::filter_select("status", "Outcome", &outcome_options, &v(&params.status)))
                (forms::filter_input("date", "received_since", "Received since", &v(&params.received_since)))
            }
            div.actions { button type="submit" { "Show" } a href="/requests" { "Clear filters" } }
        }
        @if let Some(error) = &query_error {
            p.error-message role="alert" { (error) }
        } @else {
            p.empty id="inbox-empty" hidden[!messages.is_empty()] {
                @if params.cursor.is_some() { "No more requests." }
                @else if params.status.is_some() || params.source.is_some() || params.project_id.is_some() || params.received_since.is_some() {
                    "No requests match."
                } @else {
                    "No requests yet. They arrive from the chats and mailboxes connected under a project's integrations, "
                    "or through " code { "POST /api/v1/messages" } "."
                }
            }
            div.table-wrap id="inbox-table" hidden[messages.is_empty()] {
                table {
                    caption.visually-hidden { "Requests, newest first" }
                    thead { tr { th.optional { "Received" } th { "From" } th { "Request" } th { "Outcome" } } }
                    tbody id="inbox-rows" data-feed=[feed.as_deref()] { (rows(&session, &messages, &tasks, &back)) }
                }
            }
            @if feed.is_some() {
                p.muted.live-note {
                    span id="inbox-live" role="status" aria-live="polite" {}
                    " New requests and changed outcomes appear here by themselves. "
                    noscript { "Reload the page to see them (scripts are off)." }
                }
            }
            @if let Some(next) = next {
                p { a href=(format!("/requests?{}", forms::with_cursor(uri.query(), &next))) { "Next page" } }
            }
        }
    };
    let status = if query_error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok((status, layout::page(&session, Section::Requests, "Requests", body)).into_response())
}

/// The first page's rows alone, under the page's filters: what the inbox's script polls.
/// Polling does not keep the session alive (see [`Polling`]).
pub async fn feed(State(s): State<AppState>, Polling(session): Polling, uri: Uri) -> PageResult {
    let mut params = params(&uri)?;
    params.cursor = None;
    let (messages, _) = crate::http::messages::page(&s.store, &session.caller, &params).await?;
    let tasks = named_tasks(&s, &session, &messages).await?;
    let back = first_page(&uri);
    let body = html! { table { tbody { (rows(&session, &messages, &tasks, &back)) } } };
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into_string()).into_response())
}
