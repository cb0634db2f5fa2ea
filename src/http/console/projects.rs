//! `/projects`: list, create and edit projects, through the same validation and store
//! calls as `/api/v1/projects`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};

use super::forms::{self, Errors};
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::id::ProjectId;
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::project::{IntakeMode, NewProjectInput, Project, ProjectPatchInput, ProjectStatus};
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};
use crate::http::pages::paginate;

const STATUSES: &[(&str, &str)] = &[("active", "Active"), ("on_hold", "On hold"), ("completed", "Completed")];
const FIELDS: &[&str] = &["name", "description", "status", "deadline", "auto_follow_ups", "intake_mode"];
const INTAKE_MODES: &[(&str, &str)] =
    &[("auto", "Become tasks by themselves (auto)"), ("triage", "Wait for a person to decide (triage)")];

/// What a project form shows: the values last entered and the error they met.
struct Values {
    name: String,
    description: String,
    status: String,
    deadline: String,
    auto_follow_ups: bool,
    intake_mode: String,
}

impl Values {
    fn empty() -> Self {
        Values {
            name: String::new(),
            description: String::new(),
            status: "active".into(),
            deadline: String::new(),
            auto_follow_ups: false,
            intake_mode: IntakeMode::default().as_str().into(),
        }
    }

    fn of(p: &Project) -> Self {
        Values {
            name: p.name.clone(),
            description: p.description.clone(),
            status: p.status.as_str().into(),
            deadline: p.deadline.map(|d| d.to_string()).unwrap_or_default(),
            auto_follow_ups: p.auto_follow_ups,
            intake_mode: p.intake_mode.as_str().into(),
        }
    }

    fn posted(form: &Form) -> Self {
        Values {
            name: form.text("name"),
            description: form.text("description"),
            status: form.text("status"),
            deadline: form.text("deadline"),
            auto_follow_ups: form.checked("auto_follow_ups"),
            intake_mode: form.text("intake_mode"),
        }
    }

    fn status(&self) -> Result<ProjectStatus, crate::domain::DomainError> {
        ProjectStatus::parse(&self.status)
            .ok_or_else(|| crate::domain::DomainError::invalid("status", "must be one of active, completed, on_hold"))
    }

    /// The mode chosen; none when the form did not say (the project's stays).
    fn intake_mode(&self) -> Result<Option<IntakeMode>, crate::domain::DomainError> {
        match self.intake_mode.as_str() {
            "" => Ok(None),
            mode => IntakeMode::parse(mode)
                .map(Some)
                .ok_or_else(|| crate::domain::DomainError::invalid("intake_mode", "must be one of auto, triage")),
        }
    }
}

fn fields(values: &Values, errors: &Errors) -> Markup {
    html! {
        @if let Some(other) = errors.other(FIELDS) { p.error-message role="alert" { (other) } }
        (forms::input("text", "name", "Name", &values.name, errors, None, true))
        (forms::textarea("description", "Description", &values.description, errors))
        (forms::select("status", "Status", STATUSES, &values.status, errors))
        (forms::input("date", "deadline", "Deadline", &values.deadline, errors, Some("Optional, YYYY-MM-DD."), false))
        (forms::checkbox("auto_follow_ups", "Send follow-ups by itself", values.auto_follow_ups,
            Some("The coordinator reminds people of overdue and stale tasks without asking for approval first.")))
        (forms::select("intake_mode", "Requests from chats", INTAKE_MODES, &values.intake_mode, errors))
    }
}

pub async fn list(State(s): State<AppState>, session: Session, Query(params): Query<PageParams>) -> PageResult {
    list_page(&s, &session, &params, &Values::empty(), &Errors::none()).await
}

async fn list_page(
    s: &AppState,
    session: &Session,
    params: &PageParams,
    values: &Values,
    errors: &Errors,
) -> PageResult {
    let page = params.validate().map_err(ApiError::invalid_query)?;
    let items = s.store.list_projects(&session.caller.tenant_id, &page).await?;
    let (projects, next) = paginate(items, page.limit, |p| id_cursor(&p.id));
    let body = html! {
        h1 { "Projects" }
        @if projects.is_empty() && params.cursor.is_none() {
            p.empty { "No projects yet — create the first one below." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Name" } th { "Status" } th.optional { "Deadline" } th { "Open" } } }
                    tbody {
                        @for p in &projects {
                            tr {
                                td { a href=(format!("/projects/{}", p.id)) { (p.name) } }
                                td { span class=(format!("pill {}", p.status.as_str())) { (p.status.as_str()) } }
                                td.optional { (p.deadline.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                                td.actions {
                                    a href=(format!("/requests?project_id={}", p.id)) { "Requests" }
                                    a href=(format!("/tasks?project_id={}", p.id)) { "Tasks" }
                                    a href=(format!("/board?project_id={}", p.id)) { "Board" }
                                    a href=(format!("/projects/{}/integrations", p.id)) { "Integrations" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next { p { a href=(format!("/projects?cursor={next}")) { "Next page" } } }
        }
        h2 id="new" { "New project" }
        form.stack.card method="post" action="/projects" aria-labelledby="new" {
            (csrf_field(session))
            (fields(values, errors))
            div.actions { button type="submit" { "Create project" } }
        }
    };
    let status = if errors.any() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, layout::page(session, Section::Projects, "Projects", body)).into_response())
}

pub async fn create(State(s): State<AppState>, form: Form) -> PageResult {
    let values = Values::posted(&form);
    let input =
        values.status().and_then(|status| Ok((status, values.intake_mode()?))).map(|(status, mode)| NewProjectInput {
            name: values.name.clone(),
            description: Some(values.description.clone()),
            status: Some(status),
            deadline: Some(values.deadline.clone()).filter(|d| !d.trim().is_empty()),
            auto_follow_ups: Some(values.auto_follow_ups),
            duplicate_bands: None,
            intake_mode: mode,
            notify_requester_on: None,
        });
    match input.and_then(NewProjectInput::validate) {
        Ok(new) => {
            let project = s.store.create_project(&form.session.caller.tenant_id, &new).await?;
            Ok(Redirect::to(&format!("/projects/{}", project.id)).into_response())
        }
        Err(err) => list_page(&s, &form.session, &PageParams::default(), &values, &Errors::from(err)).await,
    }
}

pub async fn show(State(s): State<AppState>, session: Session, Path(id): Path<ProjectId>) -> PageResult {
    let project = s.store.get_project(&session.caller.tenant_id, &id).await.or_not_found("project")?;
    Ok(project_page(&session, &project, &Values::of(&project), &Errors::none(), StatusCode::OK))
}

fn project_page(
    session: &Session,
    project: &Project,
    values: &Values,
    errors: &Errors,
    status: StatusCode,
) -> axum::response::Response {
    let body = html! {
        p { a href="/projects" { "← Projects" } }
        h1 { (project.name) }
        div.actions {
            a.button.secondary href=(format!("/requests?project_id={}", project.id)) { "Requests" }
            a.button.secondary href=(format!("/tasks?project_id={}", project.id)) { "Tasks" }
            a.button.secondary href=(format!("/board?project_id={}", project.id)) { "Board" }
            a.button.secondary href=(format!("/projects/{}/integrations", project.id)) { "Integrations" }
        }
        h2 id="edit" { "Edit project" }
        form.stack.card method="post" action=(format!("/projects/{}", project.id)) aria-labelledby="edit" {
            (csrf_field(session))
            (fields(values, errors))
            div.actions { button type="submit" { "Save" } }
        }
    };
    (status, layout::page(session, Section::Projects, &project.name, body)).into_response()
}

pub async fn update(State(s): State<AppState>, Path(id): Path<ProjectId>, form: Form) -> PageResult {
    let tenant = &form.session.caller.tenant_id;
    let project = s.store.get_project(tenant, &id).await.or_not_found("project")?;
    let values = Values::posted(&form);
    let input = values.status().and_then(|status| Ok((status, values.intake_mode()?))).map(|(status, mode)| {
        ProjectPatchInput {
            name: Some(values.name.clone()),
            description: Some(values.description.clone()),
            status: Some(status),
            deadline: Some(Some(values.deadline.clone()).filter(|d| !d.trim().is_empty())),
            auto_follow_ups: Some(values.auto_follow_ups),
            // The bands are set through the API; the form leaves them as they are.
            duplicate_bands: None,
            intake_mode: mode,
            notify_requester_on: None,
        }
    });
    match input.and_then(ProjectPatchInput::validate) {
        Ok(patch) => {
            s.store.update_project(tenant, &id, &patch).await.or_not_found("project")?;
            Ok(Redirect::to(&format!("/projects/{id}")).into_response())
        }
        Err(err) => {
            Ok(project_page(&form.session, &project, &values, &Errors::from(err), StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}
