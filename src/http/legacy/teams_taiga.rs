//! Routes of the replaced Teams→Taiga service, as aliases over the intake pipeline and
//! the tracker. Without a `project_id` they act on the caller's tenant's default project
//! ("Inbox", created on first use).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::id::TaskId;
use crate::domain::message::{Message, NewMessageInput};
use crate::domain::task::{NewTaskInput, Task};
use crate::domain::team::{NewTeam, Team};
use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, NotFoundExt};
use crate::http::extract::{ApiJson, ApiPath};

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamsMessageInput {
    pub text: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TaigaTaskInput {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskWithTeamInput {
    pub title: String,
    pub team_name: String,
    #[serde(default)]
    pub team_description: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskWithTeam {
    pub task: Task,
    pub team: Team,
}

#[utoipa::path(post, path = "/teams", tag = "legacy", request_body = TeamsMessageInput,
    responses(
        (status = 200, description = "Checked for a similar task, enriched, and created or linked", body = Message),
        (status = 202, description = "Accepted; still processing when the wait ended", body = Message),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn teams_message(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TeamsMessageInput>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let project_id = crate::http::projects::project_or_default(&s, &caller, input.project_id).await?;
    let new = NewMessageInput {
        text: input.text,
        project_id: project_id.into(),
        author: input.author,
        source: Some("teams".into()),
        channel: input.channel,
        thread_ref: None,
        received_at: None,
    }
    .validate()?;
    let message = crate::http::messages::accept(&s, &caller.tenant_id, &new).await.or_not_found("project")?;
    crate::http::messages::answer_with_outcome(&s, &caller.tenant_id, message).await
}

#[utoipa::path(post, path = "/taiga/create-task", tag = "legacy", request_body = TaigaTaskInput,
    responses((status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn taiga_create_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TaigaTaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let project_id = crate::http::projects::project_or_default(&s, &caller, input.project_id).await?;
    let new = task_input(project_id.into(), input.title, input.description).validate()?;
    let task = crate::tasks::create_task(&s.store, &caller.tenant_id, &new).await.or_not_found("project")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // pushes to the project's trackers
    Ok((StatusCode::CREATED, Json(task)))
}

#[utoipa::path(post, path = "/teams/create-task-with-team", tag = "legacy", request_body = TaskWithTeamInput,
    responses((status = 201, body = TaskWithTeam), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_task_with_team(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TaskWithTeamInput>,
) -> Result<(StatusCode, Json<TaskWithTeam>), ApiError> {
    let team = NewTeam::validate(&input.team_name, input.team_description.as_deref())?;
    let project_id = crate::http::projects::project_or_default(&s, &caller, input.project_id).await?;
    let new = task_input(project_id.into(), input.title, input.team_description).validate()?;
    let (task, team) =
        crate::tasks::create_task_with_team(&s.store, &caller.tenant_id, &new, &team).await.or_not_found("project")?;
    s.wake_workers.wake(crate::jobs::Lane::Work);
    Ok((StatusCode::CREATED, Json(TaskWithTeam { task, team })))
}

#[utoipa::path(get, path = "/teams/team-by-task/{task_id}", params(("task_id" = String, Path)), tag = "legacy",
    responses((status = 200, description = "The team of the task with this id, or whose tracker item (Taiga's) has this id", body = Team),
               (status = 404, description = "No such task, or it has no team", body = ErrorBody)))]
pub async fn team_by_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Json<Team>, ApiError> {
    Ok(Json(s.store.team_by_task(&caller.tenant_id, &task_id).await.or_not_found("team for this task")?))
}

fn task_input(project_id: String, title: String, description: Option<String>) -> NewTaskInput {
    NewTaskInput {
        project_id,
        title,
        description,
        status: None,
        priority: None,
        assigned_to: None,
        time_estimate: None,
        time_spent: None,
        due_date: None,
        labels: None,
    }
}
