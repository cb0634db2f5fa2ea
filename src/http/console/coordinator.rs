//! `/coordinator`: the AI coordinator in front of a person. Run an analysis of the
//! workspace or of one project (the same call as `POST /api/v1/ai/analyze`) and read its
//! findings with their evidence and recommendations at `/coordinator/analyses/{id}`; start
//! or go on with a chat (`chat.rs`); decide the actions waiting for a person (`actions.rs`).
//! Another tenant's analysis is not found (404).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde_json::Value;

use super::actions::{Known, card};
use super::chat::{ChatValues, chat_form};
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::coordinator::{Finding, Kind};
use crate::domain::coordinator::ActionStatus;
use crate::domain::id::ProjectId;
use crate::domain::list::Page;
use crate::domain::project::Project;
use crate::domain::task::Task;
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};

/// How many actions waiting for a decision the page lists (the rest: `GET /api/v1/ai/actions`).
const PENDING_SHOWN: u32 = 50;
/// How many decided actions, analyses and conversations the page lists.
const RECENT_SHOWN: u32 = 10;
/// How many tasks of an analysis are named by their titles (the rest by id).
const TITLES_READ: usize = 1000;

pub async fn show(State(s): State<AppState>, session: Session) -> PageResult {
    coordinator_page(&s, &session, &ChatValues::default(), None).await
}

/// The page; `refused` is a chat the service did not take, with its status and words.
pub(super) async fn coordinator_page(
    s: &AppState,
    session: &Session,
    chat: &ChatValues,
    refused: Option<(StatusCode, String)>,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let store = &s.store;
    let (pending, recent, analyses, conversations, projects) = tokio::try_join!(
        async {
            Ok::<_, ApiError>(
                store.list_actions(tenant, Some(ActionStatus::Pending), &Page::first(PENDING_SHOWN)).await?,
            )
        },
        async { Ok(store.list_actions(tenant, None, &Page::first(RECENT_SHOWN * 2)).await?) },
        async { Ok(store.recent_analyses(tenant, i64::from(RECENT_SHOWN)).await?) },
        async { Ok(store.recent_conversations(tenant, i64::from(RECENT_SHOWN)).await?) },
        super::tasks::projects(s, session),
    )?;
    let more_pending = pending.len() > PENDING_SHOWN as usize;
    let pending: Vec<_> = pending.iter().take(PENDING_SHOWN as usize).collect();
    let decided: Vec<_> =
        recent.iter().filter(|a| a.status != ActionStatus::Pending).take(RECENT_SHOWN as usize).collect();
    let shown: Vec<_> = pending.iter().chain(decided.iter()).copied().collect();
    let known = Known::of(s, session, &shown).await?;
    let scope = |id: &Option<ProjectId>| scope_name(id.as_ref(), &projects);
    let body = html! {
        h1 { "AI coordinator" }
        p.muted {
            "The coordinator looks across projects and tasks for what is stuck, answers questions about the work, "
            "and proposes changes. It changes nothing by itself: every change it proposes waits here for a person."
        }
        div.side-by-side {
            section.card aria-labelledby="analyze-h" {
                h2 id="analyze-h" { "Analyse" }
                p.muted { "Overdue and stale tasks, overloaded people, high-priority work nobody has, projects at risk "
                          "and tasks far over their estimate, each with the figures behind it and a recommendation." }
                (analyze_form(session, &projects, ""))
                @if !analyses.is_empty() {
                    h3 id="analyses-h" { "Earlier analyses" }
                    ul.plain aria-labelledby="analyses-h" { @for a in &analyses {
                        li { a href=(format!("/coordinator/analyses/{}", a.id)) { (scope(&a.project_id)) }
                             " · " span.muted { (a.created_at.format("%Y-%m-%d %H:%M UTC")) } }
                    } }
                }
            }
            section.card aria-labelledby="chat-h" {
                h2 id="chat-h" { "Ask the coordinator" }
                (chat_form(session, &projects, None, chat, refused.as_ref().map(|(_, why)| why.as_str())))
                @if !conversations.is_empty() {
                    h3 id="conversations-h" { "Conversations" }
                    ul.plain aria-labelledby="conversations-h" { @for c in &conversations {
                        li { a href=(format!("/coordinator/conversations/{}", c.id)) {
                                (excerpt(c.first_question.as_deref().unwrap_or("(no question)"))) }
                             " · " span.muted { (c.updated_at.format("%Y-%m-%d %H:%M UTC")) } }
                    } }
                }
            }
        }
        h2 id="actions-h" { "Waiting for a decision" }
        @if pending.is_empty() {
            p.empty { "No action waits for a decision." }
        } @else {
            div.action-list { @for a in &pending { (card(session, a, &known, true)) } }
            @if more_pending { p.muted { "Only the latest " (PENDING_SHOWN) " are shown; decide these first." } }
        }
        @if !decided.is_empty() {
            h2 id="decided-h" { "Decided lately" }
            div.action-list { @for a in &decided { (card(session, a, &known, true)) } }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(status, _)| status);
    Ok((status, layout::page(session, Section::Coordinator, "AI coordinator", body)).into_response())
}

/// The first line of a question, at most 80 characters.
fn excerpt(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

fn scope_name(project: Option<&ProjectId>, projects: &[Project]) -> String {
    match project {
        None => "The whole workspace".into(),
        Some(id) => projects.iter().find(|p| p.id == *id).map_or_else(|| id.to_string(), |p| p.name.clone()),
    }
}

fn analyze_form(session: &Session, projects: &[Project], selected: &str) -> Markup {
    html! {
        form.stack method="post" action="/coordinator/analyze" aria-labelledby="analyze-h" {
            (csrf_field(session))
            div.field {
                label for="f-analyze-project" { "What to analyse" }
                select id="f-analyze-project" name="project_id" {
                    option value="" selected[selected.is_empty()] { "The whole workspace" }
                    @for p in projects { option value=(p.id.as_str()) selected[p.id.as_str() == selected] { (p.name) } }
                }
            }
            div.actions { button type="submit" { "Run the analysis" } }
        }
    }
}

/// Runs an analysis through the coordinator, then shows it.
pub async fn analyze(State(s): State<AppState>, form: Form) -> PageResult {
    let project = form.text("project_id");
    let project = Some(project.trim()).filter(|p| !p.is_empty()).map(ProjectId::from);
    let analysis =
        s.coordinator.analyze(&form.session.caller.tenant_id, project.as_ref()).await.or_not_found("project")?;
    Ok(Redirect::to(&format!("/coordinator/analyses/{}", analysis.id)).into_response())
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Overdue => "Overdue",
        Kind::Stale => "Stale in progress",
        Kind::Overloaded => "Overloaded",
        Kind::UnassignedHighPriority => "High priority, nobody has it",
        Kind::ProjectAtRisk => "Project at risk",
        Kind::OverEstimate => "Far over its estimate",
    }
}

/// A figure of the evidence, in words: `days_overdue` reads "days overdue".
fn evidence(value: &Value) -> Markup {
    let shown = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    html! {
        @if let Some(map) = value.as_object() {
            dl.facts.evidence { @for (k, v) in map { dt { (k.replace('_', " ")) } dd { (shown(v)) } } }
        } @else {
            p { (shown(value)) }
        }
    }
}

pub async fn analysis(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let (analysis, project) = s.coordinator.analysis(tenant, &id).await.or_not_found("analysis")?;
    let projects = super::tasks::projects(&s, &session).await?;
    let mut ids: Vec<&str> = analysis.findings.iter().flat_map(|f| f.task_ids.iter().map(String::as_str)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(TITLES_READ);
    let tasks: HashMap<String, Task> =
        s.store.tasks_by_ids(tenant, &ids).await?.into_iter().map(|t| (t.id.to_string(), t)).collect();
    let scope = scope_name(project.as_ref(), &projects);
    let title = match project {
        Some(_) => format!("Analysis of {scope}"),
        None => "Analysis of the whole workspace".to_string(),
    };
    let body = html! {
        p { a href="/coordinator" { "← The coordinator" } }
        h1 { (title) }
        section.card aria-labelledby="summary-h" {
            h2 id="summary-h" { "Summary" }
            p.summary { (analysis.summary) }
            dl.facts {
                dt { "Made" } dd { time datetime=(analysis.generated_at.to_rfc3339()) { (analysis.generated_at.format("%Y-%m-%d %H:%M:%S")) " UTC" } }
                dt { "Open tasks looked at" } dd { (analysis.tasks_analyzed)
                    @if analysis.truncated { " " span.muted { "(there are more; one analysis reads at most " (crate::coordinator::MAX_TASKS) ")" } } }
                dt { "Findings" } dd { (analysis.findings.len()) }
            }
            form.inline method="post" action="/coordinator/analyze" {
                (csrf_field(&session))
                input type="hidden" name="project_id" value=(project.as_ref().map_or("", |p| p.as_str()));
                button.small.secondary type="submit" { "Analyse again" }
            }
        }
        h2 id="findings-h" { "Findings" }
        @if analysis.findings.is_empty() {
            p.empty { "Nothing needs attention." }
        } @else {
            ol.findings aria-labelledby="findings-h" { @for f in &analysis.findings { li { (finding(f, &tasks, &projects)) } } }
        }
    };
    Ok(layout::page(&session, Section::Coordinator, &title, body).into_response())
}

fn finding(f: &Finding, tasks: &HashMap<String, Task>, projects: &[Project]) -> Markup {
    html! {
        article.card.finding {
            p.meta { span class=(format!("pill {}", kind_class(f.kind))) { (kind_label(f.kind)) }
                @if let Some(who) = &f.assignee { " " span.muted { "· " (who) } }
                @if let Some(p) = &f.project_id { " " span.muted { "· " (scope_name(Some(p), projects)) } } }
            p.recommendation { strong { (f.recommendation) } }
            details open[f.task_ids.len() <= 5] {
                summary { "Evidence and " (f.task_ids.len()) " task" @if f.task_ids.len() != 1 { "s" } }
                (evidence(&f.evidence))
                ul.tasks { @for id in &f.task_ids {
                    li { @match tasks.get(id) {
                        Some(t) => { a href=(format!("/tasks/{id}")) { (t.title) } " " span.muted { (t.status.as_str()) } },
                        None => a href=(format!("/tasks/{id}")) { code { (id) } },
                    } }
                } }
            }
        }
    }
}

fn kind_class(kind: Kind) -> &'static str {
    match kind {
        Kind::Overdue | Kind::ProjectAtRisk => "high",
        Kind::UnassignedHighPriority | Kind::Overloaded => "needs_triage",
        Kind::Stale | Kind::OverEstimate => "queued",
    }
}
