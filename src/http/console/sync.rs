//! `/sync`: start a Confluence task sync or a Jira project mirror for a project, with the
//! same inputs and the same calls as `POST /api/v1/projects/{id}/sync/confluence-tasks` and
//! `…/sync/jira-project`, and the tenant's runs, newest first, with their kind, status and
//! counts of results. Starting waits for the run as the API does (bounded), then shows the
//! run's page (`runs.rs`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::forms::{self, Errors};
use super::layout::{self, Section, csrf_field};
use super::run_words::{counts_text, kind_label, status_pill};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::id::ProjectId;
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::project::Project;
use crate::domain::sync_run::SyncRunKind;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::pages::paginate;
use crate::store::{RunFilter, SyncRun};
use crate::sync::confluence_tasks::{Request, RequestContext};
use crate::sync::jira_project::ProjectRequest;

/// The kinds a person filters by.
const KINDS: &[(&str, &str)] = &[
    ("", "Any kind"),
    ("confluence-tasks", "Confluence task sync"),
    ("jira-project", "Jira project mirror"),
    ("undo", "Undo"),
    ("tracker-push", "Pushed to a tracker"),
    ("tracker-transition", "Moved in a tracker"),
    ("tracker-update", "Updated in a tracker"),
    ("tracker-comment", "Commented in a tracker"),
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    project_id: Option<String>,
    kind: Option<String>,
    cursor: Option<String>,
}

/// What the start forms show: the values last entered, and why a start was refused.
#[derive(Default)]
struct Started {
    tasks: TaskValues,
    mirror: MirrorValues,
    /// The form that was refused, with the API's status and words.
    refused: Option<(Which, StatusCode, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Tasks,
    Mirror,
}

struct TaskValues {
    project_id: String,
    urls: String,
    request_user: String,
    days: String,
}

impl Default for TaskValues {
    fn default() -> Self {
        let context = RequestContext::default();
        TaskValues {
            project_id: String::new(),
            urls: String::new(),
            request_user: String::new(),
            days: context.days_to_due_date.to_string(),
        }
    }
}

#[derive(Default)]
struct MirrorValues {
    project_id: String,
    page_url: String,
    key: String,
    request_user: String,
}

pub async fn list(State(s): State<AppState>, session: Session, Query(query): Query<ListQuery>) -> PageResult {
    sync_page(&s, &session, &query, &Started::default()).await
}

async fn sync_page(s: &AppState, session: &Session, query: &ListQuery, started: &Started) -> PageResult {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let filter = RunFilter {
        project_id: given(&query.project_id).map(ProjectId::from),
        task_id: None,
        kind: given(&query.kind),
    };
    let (runs, next, error) = match runs_page(s, session, &filter, query.cursor.clone()).await {
        Ok((runs, next)) => (runs, next, None),
        Err(err @ ApiError::BadRequest { .. }) => (Vec::new(), None, Some(err.to_string())),
        Err(other) => return Err(other.into()),
    };
    let projects = super::tasks::projects(s, session).await?;
    let name = |id: &ProjectId| projects.iter().find(|p| p.id == *id).map_or(id.to_string(), |p| p.name.clone());
    let mut project_filter = vec![("", "Any project")];
    project_filter.extend(projects.iter().map(|p| (p.id.as_str(), p.name.as_str())));
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let next_link = next.map(|cursor| {
        let query = serde_urlencoded::to_string([
            ("project_id", v(&query.project_id)),
            ("kind", v(&query.kind)),
            ("cursor", cursor),
        ]);
        format!("/sync?{}", query.unwrap_or_default())
    });
    let body = html! {
        h1 { "Sync" }
        p.muted {
            "Sync runs change other systems on a project's behalf: Confluence tasks made into Jira issues, a Jira "
            "project mirrored into Confluence pages, and each task's pushes, moves, updates and comments to its trackers. "
            "Every run journals what it changed, so it can be undone from its page."
        }
        @if let Some((which, _, why)) = &started.refused {
            div.banner.bad role="alert" {
                p { strong { "The sync was not started." } " " (why) }
                p { a href=(match which { Which::Tasks => "#tasks-h", Which::Mirror => "#mirror-h" }) { "To the form" } }
            }
        }
        h2 id="runs" { "Runs" }
        form.card method="get" action="/sync" role="search" aria-label="Filter sync runs" {
            div.filters {
                (forms::filter_select("project_id", "Project", &project_filter, &v(&query.project_id)))
                (forms::filter_select("kind", "Kind", KINDS, &v(&query.kind)))
            }
            div.actions { button type="submit" { "Show" } }
        }
        @if let Some(error) = error {
            p.error-message role="alert" { (error) }
        } @else if runs.is_empty() {
            p.empty { "No sync runs here." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Started" } th scope="col" { "Kind" } th scope="col" { "Project" }
                    th scope="col" { "Status" } th scope="col" { "Results" } th.optional scope="col" { "By" }
                } }
                tbody { @for run in &runs { tr {
                    td { a href=(format!("/sync/runs/{}", run.id)) { (started_at(run)) } }
                    td { (kind_label(run.kind))
                        @if run.undone_by.is_some() { br; span.muted { "undone" } } }
                    td { (name(&run.project_id)) }
                    td { (status_pill(run.status)) }
                    td { (counts_text(run)) }
                    td.optional { (requested_by(run).unwrap_or("—")) }
                } } }
            } }
            @if let Some(link) = next_link { p { a href=(link) { "Next page" } } }
        }
        h2 id="start" { "Start a sync" }
        div.side-by-side {
            (tasks_form(session, &projects, started))
            (mirror_form(session, &projects, started))
        }
    };
    let status = started.refused.as_ref().map_or(StatusCode::OK, |(_, status, _)| *status);
    Ok((status, layout::page(session, Section::Sync, "Sync", body)).into_response())
}

/// One page of runs, newest first, as `GET /api/v1/sync-runs` pages them.
async fn runs_page(
    s: &AppState,
    session: &Session,
    filter: &RunFilter,
    cursor: Option<String>,
) -> Result<(Vec<SyncRun>, Option<String>), ApiError> {
    if let Some(kind) = &filter.kind
        && SyncRunKind::parse(kind).is_none()
    {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: format!("kind: {kind:?} is not a kind of run"),
        });
    }
    let page = PageParams { limit: Some(25), cursor }.validate().map_err(ApiError::invalid_query)?;
    let runs = s.store.list_sync_run_heads(&session.caller.tenant_id, filter, &page).await?;
    Ok(paginate(runs, page.limit, |r| id_cursor(&r.id)))
}

pub fn started_at(run: &SyncRun) -> Markup {
    html! { time datetime=(run.created_at.to_rfc3339()) { (run.created_at.format("%Y-%m-%d %H:%M:%S")) " UTC" } }
}

/// Who the run was started for, as its request names them.
pub fn requested_by(run: &SyncRun) -> Option<&str> {
    run.request["context"]["request_user"].as_str().or_else(|| run.request["request_user"].as_str())
}

fn project_choice(name: &str, projects: &[Project], selected: &str) -> Markup {
    let options: Vec<(&str, &str)> = projects.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    forms::select(name, "Project", &options, selected, &Errors::none())
}

fn refusal(started: &Started, which: Which) -> Markup {
    let why = started.refused.as_ref().filter(|(refused, ..)| *refused == which).map(|(.., why)| why);
    html! {
        @if let Some(why) = why { p.error-message { (why) } }
    }
}

fn tasks_form(session: &Session, projects: &[Project], started: &Started) -> Markup {
    let v = &started.tasks;
    let none = Errors::none();
    html! {
        section.card aria-labelledby="tasks-h" {
            h3 id="tasks-h" { "Confluence tasks to Jira" }
            p.muted { "The open tasks of each page's tree become Jira issues under the page's work package; the pages "
                      "then link to them." }
            form.stack method="post" action="/sync/confluence-tasks" aria-labelledby="tasks-h" {
                (csrf_field(session))
                (refusal(started, Which::Tasks))
                (project_choice("project_id", projects, &v.project_id))
                div.field {
                    label for="f-confluence_page_urls" { "Confluence page addresses" }
                    textarea id="f-confluence_page_urls" name="confluence_page_urls" required
                        aria-describedby="f-confluence_page_urls-hint" { (v.urls) }
                    p.hint id="f-confluence_page_urls-hint" { "One per line (at most 100); each page's tree is synced." }
                }
                div.filters {
                    (forms::input("text", "request_user", "Requested by", &v.request_user, &none,
                        Some("Named in each result; unknown_user when left empty."), false))
                    (forms::input("number", "days_to_due_date", "Days to the due date", &v.days, &none,
                        Some("For a task that names no date (0–3650)."), true))
                }
                div.actions { button type="submit" { "Start the task sync" } }
            }
        }
    }
}

fn mirror_form(session: &Session, projects: &[Project], started: &Started) -> Markup {
    let v = &started.mirror;
    let none = Errors::none();
    html! {
        section.card aria-labelledby="mirror-h" {
            h3 id="mirror-h" { "Mirror a Jira project" }
            p.muted { "A Jira project's epics (or an issue's children) become a tree of Confluence pages under a page." }
            form.stack method="post" action="/sync/jira-project" aria-labelledby="mirror-h" {
                (csrf_field(session))
                (refusal(started, Which::Mirror))
                (project_choice("mirror_project_id", projects, &v.project_id))
                (forms::input("url", "project_page_url", "Confluence page to build under", &v.page_url, &none, None, true))
                (forms::input("text", "project_key", "Jira project or issue key", &v.key, &none,
                    Some("OPS for the project's epics, OPS-12 for the issues below it."), true))
                (forms::input("text", "mirror_request_user", "Requested by", &v.request_user, &none, None, false))
                div.actions { button type="submit" { "Start the mirror" } }
            }
        }
    }
}

/// The person's name for the request, or the API's default when left empty.
fn user_or_default(value: &str) -> String {
    match value.trim() {
        "" => "unknown_user".into(),
        user => user.to_string(),
    }
}

/// Starts a Confluence task sync and shows its run once it ends (or the wait does).
pub async fn start_tasks(State(s): State<AppState>, form: Form) -> PageResult {
    let values = TaskValues {
        project_id: form.text("project_id"),
        urls: form.text("confluence_page_urls"),
        request_user: form.text("request_user"),
        days: form.text("days_to_due_date"),
    };
    let started = match values.days.trim().parse::<i64>() {
        Ok(days) => {
            let request = Request {
                confluence_page_urls: values.urls.split_whitespace().map(str::to_string).collect(),
                context: RequestContext { request_user: user_or_default(&values.request_user), days_to_due_date: days },
            };
            let project = ProjectId::from(values.project_id.as_str());
            crate::http::sync::start_tasks(&s, &form.session.caller, &project, &request).await
        }
        Err(_) => Err(ApiError::Validation("context.days_to_due_date must be a whole number of days".into())),
    };
    let refused = Started { tasks: values, ..Started::default() };
    show_started(&s, &form, started, refused, Which::Tasks).await
}

/// Starts mirroring a Jira project and shows its run once it ends (or the wait does).
pub async fn start_mirror(State(s): State<AppState>, form: Form) -> PageResult {
    let values = MirrorValues {
        project_id: form.text("mirror_project_id"),
        page_url: form.text("project_page_url"),
        key: form.text("project_key"),
        request_user: form.text("mirror_request_user"),
    };
    let request = ProjectRequest {
        project_page_url: values.page_url.trim().to_string(),
        project_key: values.key.trim().to_string(),
        request_user: user_or_default(&values.request_user),
    };
    let project = ProjectId::from(values.project_id.as_str());
    let started = crate::http::sync::start_project(&s, &form.session.caller, &project, &request).await;
    let refused = Started { mirror: values, ..Started::default() };
    show_started(&s, &form, started, refused, Which::Mirror).await
}

/// The run's page once it has ended or the API's wait is over; a start the service refused
/// (bad inputs, Jira or Confluence not connected) is the form again with its words.
async fn show_started(
    s: &AppState,
    form: &Form,
    started: Result<SyncRun, ApiError>,
    mut refused: Started,
    which: Which,
) -> PageResult {
    match started {
        Ok(run) => {
            let run = crate::http::sync::wait(s, &form.session.caller.tenant_id, run).await?;
            Ok(Redirect::to(&format!("/sync/runs/{}", run.id)).into_response())
        }
        Err(err @ (ApiError::Validation(_) | ApiError::BadRequest { .. })) => {
            refused.refused = Some((which, err.status(), err.to_string()));
            sync_page(s, &form.session, &ListQuery::default(), &refused).await
        }
        Err(other) => Err(other.into()),
    }
}
