//! `/tasks`, `/board` and `/tasks/{id}`: the task list with the API's filters, sorts and
//! keyset pages, the board by status, and the task page with its comments, tracker items
//! and requests. Every change goes through the task service, as the API's does.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};

use super::forms::{self, Errors};
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::DomainError;
use crate::domain::comment::{CommentPatchInput, NewCommentInput};
use crate::domain::id::{ProjectId, TaskId};
use crate::domain::list::{Page, TaskListParams};
use crate::domain::project::Project;
use crate::domain::task::{NewTaskInput, Priority, Task, TaskPatch, TaskPatchInput, TaskStatus};
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};
use crate::store::StoreError;

const STATUSES: &[(&str, &str)] = &[("todo", "To do"), ("in_progress", "In progress"), ("done", "Done")];
const PRIORITIES: &[(&str, &str)] = &[("low", "Low"), ("medium", "Medium"), ("high", "High")];
/// Every sort `GET /api/v1/tasks` takes: each field both ways (a test checks the two agree).
const SORTS: &[(&str, &str)] = &[
    ("created_at", "Oldest first"),
    ("-created_at", "Newest first"),
    ("-updated_at", "Recently changed"),
    ("updated_at", "Longest unchanged"),
    ("due_date", "Due soonest (undated last)"),
    ("-due_date", "Due latest (undated first)"),
    ("-priority", "Highest priority"),
    ("priority", "Lowest priority"),
    ("title", "Title A–Z"),
    ("-title", "Title Z–A"),
];
const FIELDS: &[&str] = &[
    "project_id",
    "title",
    "description",
    "status",
    "priority",
    "assigned_to",
    "time_estimate",
    "time_spent",
    "due_date",
    "labels",
];
/// How many tasks of each status the board shows.
const BOARD_COLUMN: u32 = 100;
/// How many requests the task page lists.
const REQUESTS_SHOWN: u32 = 50;
/// How many of the task's tracker runs its page lists (newest first; the rest on `/sync`).
const RUNS_SHOWN: u32 = 20;

fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Todo => "To do",
        TaskStatus::InProgress => "In progress",
        TaskStatus::Done => "Done",
    }
}

/// The tenant's projects, for choosing one (the first 200).
pub(super) async fn projects(s: &AppState, session: &Session) -> Result<Vec<Project>, ApiError> {
    let mut items = s.store.list_projects(&session.caller.tenant_id, &Page::first(200)).await?;
    items.truncate(200);
    Ok(items)
}

/// What a task form shows: the values last entered.
#[derive(Default)]
struct Values {
    project_id: String,
    title: String,
    description: String,
    status: String,
    priority: String,
    assigned_to: String,
    time_estimate: String,
    time_spent: String,
    due_date: String,
    labels: String,
}

impl Values {
    fn new_task(project_id: Option<&str>) -> Self {
        Values {
            project_id: project_id.unwrap_or_default().to_string(),
            status: "todo".into(),
            priority: "medium".into(),
            time_spent: "0".into(),
            ..Values::default()
        }
    }

    fn of(t: &Task) -> Self {
        Values {
            project_id: t.project_id.to_string(),
            title: t.title.clone(),
            description: t.description.clone(),
            status: t.status.as_str().into(),
            priority: t.priority.as_str().into(),
            assigned_to: t.assigned_to.clone().unwrap_or_default(),
            time_estimate: t.time_estimate.map(|m| m.to_string()).unwrap_or_default(),
            time_spent: t.time_spent.to_string(),
            due_date: t.due_date.map(|d| d.to_string()).unwrap_or_default(),
            labels: t.labels.join(", "),
        }
    }

    fn posted(form: &Form) -> Self {
        Values {
            project_id: form.text("project_id"),
            title: form.text("title"),
            description: form.text("description"),
            status: form.text("status"),
            priority: form.text("priority"),
            assigned_to: form.text("assigned_to"),
            time_estimate: form.text("time_estimate"),
            time_spent: form.text("time_spent"),
            due_date: form.text("due_date"),
            labels: form.text("labels"),
        }
    }

    fn status(&self) -> Result<TaskStatus, DomainError> {
        TaskStatus::parse(&self.status)
            .ok_or_else(|| DomainError::invalid("status", "must be one of todo, in_progress, done"))
    }

    fn priority(&self) -> Result<Priority, DomainError> {
        Priority::parse(&self.priority)
            .ok_or_else(|| DomainError::invalid("priority", "must be one of low, medium, high"))
    }

    fn labels(&self) -> Vec<String> {
        self.labels.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
    }

    fn due_date(&self) -> Option<String> {
        Some(self.due_date.trim().to_string()).filter(|d| !d.is_empty())
    }

    fn new_input(&self) -> Result<NewTaskInput, DomainError> {
        Ok(NewTaskInput {
            project_id: self.project_id.clone(),
            title: self.title.clone(),
            description: Some(self.description.clone()),
            status: Some(self.status()?),
            priority: Some(self.priority()?),
            assigned_to: Some(self.assigned_to.clone()),
            time_estimate: minutes("time_estimate", &self.time_estimate)?,
            time_spent: minutes("time_spent", &self.time_spent)?,
            due_date: self.due_date(),
            labels: Some(self.labels()),
        })
    }

    fn patch_input(&self) -> Result<TaskPatchInput, DomainError> {
        Ok(TaskPatchInput {
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            status: Some(self.status()?),
            priority: Some(self.priority()?),
            assigned_to: Some(Some(self.assigned_to.clone()).filter(|a| !a.trim().is_empty())),
            time_estimate: Some(minutes("time_estimate", &self.time_estimate)?),
            time_spent: Some(minutes("time_spent", &self.time_spent)?.unwrap_or(0)),
            due_date: Some(self.due_date()),
            labels: Some(self.labels()),
        })
    }
}

/// A number of minutes typed into a form; blank is none.
fn minutes(field: &'static str, raw: &str) -> Result<Option<i64>, DomainError> {
    match raw.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| DomainError::invalid(field, "must be a whole number of minutes")),
    }
}

/// How many of a project's labels the task page names as a hint.
const LABELS_NAMED: u32 = 30;

/// The task form's fields; `known` are the project's labels, named as a hint.
fn task_fields(values: &Values, errors: &Errors, projects: Option<&[Project]>, known: &[String]) -> Markup {
    let options: Vec<(&str, &str)> =
        projects.unwrap_or_default().iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    html! {
        @if let Some(other) = errors.other(FIELDS) { p.error-message role="alert" { (other) } }
        @if projects.is_some() { (forms::select("project_id", "Project", &options, &values.project_id, errors)) }
        (forms::input("text", "title", "Title", &values.title, errors, None, true))
        (forms::textarea("description", "Description", &values.description, errors))
        div.filters {
            (forms::select("status", "Status", STATUSES, &values.status, errors))
            (forms::select("priority", "Priority", PRIORITIES, &values.priority, errors))
            (forms::input("text", "assigned_to", "Assigned to", &values.assigned_to, errors, None, false))
            (forms::input("date", "due_date", "Due date", &values.due_date, errors, None, false))
            (forms::input("number", "time_estimate", "Estimate (minutes)", &values.time_estimate, errors, None, false))
            (forms::input("number", "time_spent", "Time spent (minutes)", &values.time_spent, errors, None, false))
        }
        @let current = values.labels();
        @let others: Vec<&str> = known.iter().map(String::as_str).filter(|k| !current.iter().any(|c| c == k)).collect();
        @let hint = if others.is_empty() { "New labels are created in the project.".to_string() }
            else { format!("New labels are created in the project. Also in this project: {}.", others.join(", ")) };
        @if !current.is_empty() && !values.project_id.is_empty() {
            p.chips aria-label="Labels now" {
                @for label in &current {
                    a.pill href=(format!("/tasks?{}", serde_urlencoded::to_string([("project_id", values.project_id.as_str()), ("label", label.as_str())]).unwrap_or_default()))
                        title=(format!("Tasks labelled {label}")) { (label) }
                    " "
                }
            }
        }
        (forms::input("text", "labels", "Labels (separated by commas)", &values.labels, errors, Some(&hint), false))
    }
}

fn labels(task: &Task) -> Markup {
    html! { @for label in &task.labels { span.pill { (label) } " " } }
}

pub async fn list(State(s): State<AppState>, session: Session, uri: axum::http::Uri) -> PageResult {
    // Parsed and validated exactly as `GET /api/v1/tasks` parses its query.
    let params: TaskListParams = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|e| ApiError::BadRequest { code: "invalid_query", message: e.to_string() })?;
    list_page(&s, &session, &params, uri.query(), &Values::new_task(params.project_id.as_deref()), &Errors::none())
        .await
}

async fn list_page(
    s: &AppState,
    session: &Session,
    params: &TaskListParams,
    raw_query: Option<&str>,
    values: &Values,
    errors: &Errors,
) -> PageResult {
    let projects = projects(s, session).await?;
    let (tasks, next, query_error) = match params.validate() {
        Ok(query) => {
            let (tasks, next) = crate::http::tasks::page(&s.store, &session.caller, &query).await?;
            (tasks, next, None)
        }
        Err(err) => (Vec::new(), None, Some(ApiError::invalid_query(err).to_string())),
    };
    let project_name = |id: &str| projects.iter().find(|p| p.id == id).map(|p| p.name.as_str()).unwrap_or("—");
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut project_options = vec![("", "Any project")];
    project_options.extend(projects.iter().map(|p| (p.id.as_str(), p.name.as_str())));
    let mut status_options = vec![("", "Any status")];
    status_options.extend_from_slice(STATUSES);
    let mut priority_options = vec![("", "Any priority")];
    priority_options.extend_from_slice(PRIORITIES);
    let body = html! {
        h1 { "Tasks" }
        form.card method="get" action="/tasks" role="search" aria-label="Filter tasks" {
            div.filters {
                (forms::filter_select("project_id", "Project", &project_options, &v(&params.project_id)))
                (forms::filter_select("status", "Status", &status_options, &v(&params.status)))
                (forms::filter_select("priority", "Priority", &priority_options, &v(&params.priority)))
                (forms::filter_input("text", "assigned_to", "Assigned to", &v(&params.assigned_to)))
                (forms::filter_input("text", "label", "Label", &v(&params.label)))
                (forms::filter_input("date", "due_before", "Due on or before", &v(&params.due_before)))
                (forms::filter_input("search", "q", "Text", &v(&params.q)))
                (forms::filter_select("sort", "Sort", SORTS, params.sort.as_deref().unwrap_or("created_at")))
            }
            div.actions { button type="submit" { "Show" } a href="/tasks" { "Clear filters" } }
        }
        @if let Some(error) = query_error {
            p.error-message role="alert" { (error) }
        } @else if tasks.is_empty() {
            p.empty { "No tasks match." @if params.cursor.is_none() { " Create one below, or send a request from a connected chat." } }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Title" } th { "Status" } th { "Priority" } th.optional { "Assigned to" } th.optional { "Due" } th.optional { "Labels" } th.optional { "Project" } } }
                    tbody {
                        @for t in &tasks {
                            tr {
                                td { a href=(format!("/tasks/{}", t.id)) { (t.title) } }
                                td { span class=(format!("pill {}", t.status.as_str())) { (status_label(t.status)) } }
                                td { span class=(format!("pill {}", t.priority.as_str())) { (t.priority.as_str()) } }
                                td.optional { (t.assigned_to.as_deref().unwrap_or("—")) }
                                td.optional { (t.due_date.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                                td.optional { (labels(t)) }
                                td.optional { (project_name(&t.project_id)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next { p { a href=(format!("/tasks?{}", forms::with_cursor(raw_query, &next))) { "Next page" } } }
        }
        h2 id="new" { "New task" }
        @if projects.is_empty() {
            p.empty { "Create a project first: " a href="/projects" { "Projects" } }
        } @else {
            form.stack.card method="post" action="/tasks" aria-labelledby="new" {
                (csrf_field(session))
                (task_fields(values, errors, Some(&projects), &[]))
                div.actions { button type="submit" { "Create task" } }
            }
        }
    };
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, layout::page(session, Section::Tasks, "Tasks", body)).into_response())
}

pub async fn create(State(s): State<AppState>, form: Form) -> PageResult {
    let values = Values::posted(&form);
    let tenant = &form.session.caller.tenant_id;
    let params = TaskListParams::default();
    let new = match values.new_input().and_then(NewTaskInput::validate) {
        Ok(new) => new,
        Err(err) => return list_page(&s, &form.session, &params, None, &values, &Errors::from(err)).await,
    };
    match crate::tasks::create_task(&s.store, tenant, &new).await {
        Ok(task) => {
            s.wake_workers.wake(crate::jobs::Lane::Work); // pushes to the project's trackers
            Ok(Redirect::to(&format!("/tasks/{}", task.id)).into_response())
        }
        Err(StoreError::NotFound) => {
            let err = DomainError::invalid("project_id", "project not found");
            list_page(&s, &form.session, &params, None, &values, &Errors::from(err)).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct BoardQuery {
    project_id: Option<String>,
}

pub async fn board(State(s): State<AppState>, session: Session, Query(q): Query<BoardQuery>) -> PageResult {
    let projects = projects(&s, &session).await?;
    let project_id = q.project_id.filter(|p| !p.is_empty());
    if let Some(id) = &project_id {
        s.store.get_project(&session.caller.tenant_id, &ProjectId::from(id)).await.or_not_found("project")?;
    }
    let mut columns = Vec::new();
    for (status, _) in STATUSES {
        let params = TaskListParams {
            project_id: project_id.clone(),
            status: Some((*status).into()),
            sort: Some("-updated_at".into()),
            limit: Some(BOARD_COLUMN),
            ..TaskListParams::default()
        };
        let query = params.validate()?;
        let (tasks, more) = crate::http::tasks::page(&s.store, &session.caller, &query).await?;
        columns.push((TaskStatus::parse(status).unwrap_or_default(), tasks, more.is_some()));
    }
    let back = match &project_id {
        Some(id) => format!("/board?project_id={id}"),
        None => "/board".into(),
    };
    let mut project_options = vec![("", "All projects")];
    project_options.extend(projects.iter().map(|p| (p.id.as_str(), p.name.as_str())));
    let body = html! {
        h1 { "Board" }
        form.card method="get" action="/board" aria-label="Choose a project" {
            div.filters {
                (forms::filter_select("project_id", "Project", &project_options, project_id.as_deref().unwrap_or("")))
            }
            div.actions { button type="submit" { "Show" } }
        }
        div.board {
            @for (status, tasks, more) in &columns {
                section aria-labelledby=(format!("col-{}", status.as_str())) {
                    h2 id=(format!("col-{}", status.as_str())) { (status_label(*status)) " " span.muted { "(" (tasks.len()) @if *more { "+" } ")" } }
                    @if tasks.is_empty() { p.empty { "Nothing here." } }
                    ol {
                        @for t in tasks {
                            li {
                                a href=(format!("/tasks/{}", t.id)) { (t.title) }
                                div.muted { (t.priority.as_str()) @if let Some(a) = &t.assigned_to { " · " (a) } }
                                div.actions {
                                    @for (target, label) in moves(*status) {
                                        form.inline method="post" action=(format!("/tasks/{}/status", t.id)) {
                                            (csrf_field(&session))
                                            input type="hidden" name="status" value=(target.as_str());
                                            input type="hidden" name="back" value=(back);
                                            button.small.secondary type="submit" aria-label=(format!("Move “{}” to {}", t.title, status_label(target))) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if *more { p.muted { "Showing the " (BOARD_COLUMN) " most recently changed; " a href=(format!("/tasks?status={}", status.as_str())) { "see all" } } }
                }
            }
        }
    };
    Ok(layout::page(&session, Section::Board, "Board", body).into_response())
}

/// The buttons of a board card: one step back and one step forward.
fn moves(status: TaskStatus) -> Vec<(TaskStatus, &'static str)> {
    match status {
        TaskStatus::Todo => vec![(TaskStatus::InProgress, "Start →")],
        TaskStatus::InProgress => vec![(TaskStatus::Todo, "← To do"), (TaskStatus::Done, "Done →")],
        TaskStatus::Done => vec![(TaskStatus::InProgress, "← Reopen")],
    }
}

/// Moves a task to another status (the board's buttons), then goes back.
pub async fn set_status(State(s): State<AppState>, Path(id): Path<TaskId>, form: Form) -> PageResult {
    let status = TaskStatus::parse(form.get("status").unwrap_or_default())
        .ok_or_else(|| DomainError::invalid("status", "must be one of todo, in_progress, done"))?;
    crate::tasks::update_task(&s.store, &form.session.caller.tenant_id, &id, &TaskPatch::status(status), None)
        .await
        .or_not_found("task")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // status changes travel to linked trackers
    let back = match form.get("back") {
        Some(b) if b.starts_with("/board") && !b.contains("//") => b.to_string(),
        _ => format!("/tasks/{id}"),
    };
    Ok(Redirect::to(&back).into_response())
}

pub async fn show(State(s): State<AppState>, session: Session, Path(id): Path<TaskId>) -> PageResult {
    let task = s.store.get_task(&session.caller.tenant_id, &id).await.or_not_found("task")?;
    task_page(&s, &session, &task, &Values::of(&task), &Errors::none(), None).await
}

/// A comment form answered with an error: shown again in place, with what was typed and the
/// API's words next to the field.
struct CommentFailed {
    /// The comment being edited; `None` for the new comment's form.
    comment_id: Option<String>,
    content: String,
    errors: Errors,
}

impl CommentFailed {
    fn of(&self, comment_id: Option<&str>) -> Option<&CommentFailed> {
        (self.comment_id.as_deref() == comment_id).then_some(self)
    }
}

/// An existing comment's text field, with the error of its last save if it failed.
fn comment_field(id: &str, content: &str, failed: Option<&CommentFailed>) -> Markup {
    let field = format!("comment-{id}");
    let error = failed.and_then(|f| f.errors.of("content"));
    let content = failed.map(|f| f.content.as_str()).unwrap_or(content);
    html! {
        div.field {
            label for=(field) { "Comment" }
            textarea id=(field) name="content" required aria-invalid=[error.as_ref().map(|_| "true")]
                aria-describedby=[error.as_ref().map(|_| format!("{field}-error"))] { (content) }
            @if let Some(error) = &error { p.error-message id=(format!("{field}-error")) { (error) } }
        }
    }
}

async fn task_page(
    s: &AppState,
    session: &Session,
    task: &Task,
    values: &Values,
    errors: &Errors,
    comment: Option<&CommentFailed>,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let comments_page = crate::domain::list::PageParams { limit: Some(200), cursor: None }.validate()?;
    let labels_page = Page::first(LABELS_NAMED);
    let runs_filter = crate::store::RunFilter { task_id: Some(task.id.clone()), ..Default::default() };
    let runs_page = Page::first(RUNS_SHOWN);
    let (project, comments, links, requests, known_labels, mut runs) = tokio::try_join!(
        s.store.get_project(tenant, &task.project_id),
        s.store.list_comments(tenant, Some(&task.id), &comments_page),
        s.store.task_links(tenant, &task.id),
        s.store.messages_for_task(tenant, &task.id, REQUESTS_SHOWN),
        s.store.list_labels(tenant, Some(task.project_id.as_str()), &labels_page),
        s.store.list_sync_runs(tenant, &runs_filter, &runs_page),
    )?;
    let more_runs = runs.len() > RUNS_SHOWN as usize;
    runs.truncate(RUNS_SHOWN as usize);
    let mut known_labels: Vec<String> = known_labels.into_iter().take(LABELS_NAMED as usize).map(|l| l.name).collect();
    known_labels.sort();
    let body = html! {
        p { a href=(format!("/tasks?project_id={}", project.id)) { "← Tasks of " (project.name) } }
        h1 { (task.title) }
        p.muted { span class=(format!("pill {}", task.status.as_str())) { (status_label(task.status)) } " · created " (task.created_at.format("%Y-%m-%d %H:%M")) " UTC · changed " (task.updated_at.format("%Y-%m-%d %H:%M")) " UTC" }

        h2 id="edit" { "Details" }
        form.stack.card method="post" action=(format!("/tasks/{}", task.id)) aria-labelledby="edit" {
            (csrf_field(session))
            (task_fields(values, errors, None, &known_labels))
            div.actions { button type="submit" { "Save" } }
        }

        h2 { "In trackers" }
        @if links.is_empty() {
            p.empty { "Not in any tracker yet. Connect Taiga, Jira or Zendesk to the project and new tasks are created there too." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Tracker" } th { "Item" } th.optional { "Since" } } }
                tbody { @for l in &links { tr {
                    td { (l.tracker) }
                    td {
                        @let label = l.external_ref.clone().unwrap_or_else(|| l.external_id.clone());
                        @match l.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                            Some(url) => a href=(url) rel="noopener noreferrer" target="_blank" { (label) },
                            None => (label),
                        }
                    }
                    td.optional { (l.created_at.format("%Y-%m-%d")) }
                } } }
            } }
        }

        h2 id="tracker-changes" { "Changes in trackers" }
        @if runs.is_empty() {
            p.empty { "Nothing was written to a tracker for this task." }
        } @else {
            p.muted { "Each push, move, update and comment written to a tracker is a sync run; each can be undone." }
            (super::run_words::task_runs(&runs))
            @if more_runs { p { a href=(format!("/sync?project_id={}", project.id)) { "Older changes are on the sync page" } } }
        }

        h2 { "Requests" }
        @if requests.is_empty() {
            p.empty { "No request from a conversation created this task or was merged into it." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Request" } th { "From" } th { "Outcome" } th.optional { "Received" } } }
                tbody { @for m in &requests { tr {
                    td { (m.text) }
                    td { (m.author.as_deref().unwrap_or("—")) " " span.muted { "via " (m.source) } }
                    td {
                        (m.status.as_str()) @if let Some(score) = m.score { " " span.muted { "(similarity " (format!("{score:.2}")) ")" } }
                        // A possible duplicate names the task it may repeat, for a person to judge.
                        @if m.status == crate::domain::message::MessageStatus::PossibleDuplicate {
                            @if let Some(similar) = m.candidates.first() {
                                br; "may repeat " a href=(format!("/tasks/{}", similar.task_id)) { (similar.title) }
                            }
                        }
                    }
                    td.optional { (m.received_at.format("%Y-%m-%d %H:%M")) }
                } } }
            } }
        }

        h2 id="comments" { "Comments" }
        @if comments.is_empty() { p.empty { "No comments yet." } }
        @for c in &comments {
            div.card {
                p.muted { (c.author.as_deref().unwrap_or("someone")) " · " (c.created_at.format("%Y-%m-%d %H:%M")) " UTC"
                    @if c.updated_at != c.created_at { " · edited" } }
                form.stack method="post" action=(format!("/comments/{}", c.id)) {
                    (csrf_field(session))
                    (comment_field(&c.id, &c.content, comment.and_then(|f| f.of(Some(&c.id)))))
                    div.actions { button.small type="submit" { "Save comment" } }
                }
                form.inline method="post" action=(format!("/comments/{}/delete", c.id)) data-confirm="Delete this comment?" {
                    (csrf_field(session))
                    button.small.danger type="submit" { "Delete comment" }
                }
            }
        }
        form.stack.card method="post" action=(format!("/tasks/{}/comments", task.id)) aria-label="Add a comment" {
            (csrf_field(session))
            @let new = comment.and_then(|f| f.of(None));
            (forms::textarea("content", "New comment", new.map(|f| f.content.as_str()).unwrap_or_default(),
                new.map(|f| &f.errors).unwrap_or(&Errors::none())))
            div.actions { button type="submit" { "Add comment" } }
        }

        h2 { "Delete" }
        form.inline method="post" action=(format!("/tasks/{}/delete", task.id)) data-confirm="Delete this task and its comments?" {
            (csrf_field(session))
            button.danger type="submit" { "Delete task" }
        }
    };
    let status = if errors.any() || comment.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, layout::page(session, Section::Tasks, &task.title, body)).into_response())
}

pub async fn update(State(s): State<AppState>, Path(id): Path<TaskId>, form: Form) -> PageResult {
    let tenant = &form.session.caller.tenant_id;
    let task = s.store.get_task(tenant, &id).await.or_not_found("task")?;
    let values = Values::posted(&form);
    match values.patch_input().and_then(TaskPatchInput::validate) {
        Ok(patch) => {
            crate::tasks::update_task(&s.store, tenant, &id, &patch, None).await.or_not_found("task")?;
            s.wake_workers.wake(crate::jobs::Lane::Work); // changes travel to linked trackers
            Ok(Redirect::to(&format!("/tasks/{id}")).into_response())
        }
        Err(err) => task_page(&s, &form.session, &task, &values, &Errors::from(err), None).await,
    }
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<TaskId>, form: Form) -> PageResult {
    let task = s.store.get_task(&form.session.caller.tenant_id, &id).await.or_not_found("task")?;
    crate::tasks::delete_task(&s.store, &form.session.caller.tenant_id, &id).await.or_not_found("task")?;
    Ok(Redirect::to(&format!("/tasks?project_id={}", task.project_id)).into_response())
}

/// The task page again, with a comment form's error in place.
async fn comment_refused(s: &AppState, form: &Form, task_id: &TaskId, failed: CommentFailed) -> PageResult {
    let task = s.store.get_task(&form.session.caller.tenant_id, task_id).await.or_not_found("task")?;
    task_page(s, &form.session, &task, &Values::of(&task), &Errors::none(), Some(&failed)).await
}

pub async fn add_comment(State(s): State<AppState>, Path(id): Path<TaskId>, form: Form) -> PageResult {
    let content = form.text("content");
    let input = NewCommentInput { task_id: id.to_string(), content: content.clone(), author: None };
    let new = match input.validate() {
        Ok(new) => new,
        Err(err) => {
            let failed = CommentFailed { comment_id: None, content, errors: Errors::from(err) };
            return comment_refused(&s, &form, &id, failed).await;
        }
    };
    crate::tasks::comment::add_comment(&s.store, &form.session.caller.tenant_id, &new).await.or_not_found("task")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // comments travel to linked trackers
    Ok(Redirect::to(&format!("/tasks/{id}#comments")).into_response())
}

pub async fn edit_comment(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let tenant = &form.session.caller.tenant_id;
    let text = form.text("content");
    let content = match (CommentPatchInput { content: Some(text.clone()) }).validate() {
        Ok(content) => content,
        Err(err) => {
            let comment = s.store.get_comment(tenant, &id).await.or_not_found("comment")?;
            let failed = CommentFailed { comment_id: Some(id), content: text, errors: Errors::from(err) };
            return comment_refused(&s, &form, &comment.task_id, failed).await;
        }
    };
    let comment = s.store.update_comment(tenant, &id, content.as_deref()).await.or_not_found("comment")?;
    Ok(Redirect::to(&format!("/tasks/{}#comments", comment.task_id)).into_response())
}

pub async fn delete_comment(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let tenant = &form.session.caller.tenant_id;
    let comment = s.store.get_comment(tenant, &id).await.or_not_found("comment")?;
    s.store.delete_comment(tenant, &id).await.or_not_found("comment")?;
    Ok(Redirect::to(&format!("/tasks/{}#comments", comment.task_id)).into_response())
}
