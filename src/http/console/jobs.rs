//! `/jobs`: the tenant's background jobs (pushes to trackers, answers in chats, webhook
//! deliveries, sync runs) by status, as `GET /api/v1/jobs` lists them, with how many wait,
//! run, fail or were given up per kind; a failed or dead job is retried from here through
//! the same call as `POST /api/v1/jobs/{id}/retry` (409 for a job in another state, 404
//! for another tenant's). The overview's count of jobs given up links here.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::forms;
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::job::{Job, JobStatus};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::jobs::JobListParams;

const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("dead", "Given up (dead)"),
    ("failed", "Failed, will retry"),
    ("queued", "Queued"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
];

/// The columns of the counts: the statuses a person may have to act on.
const COUNTED: &[(JobStatus, &str)] = &[
    (JobStatus::Queued, "Queued"),
    (JobStatus::Running, "Running"),
    (JobStatus::Failed, "Failed"),
    (JobStatus::Dead, "Given up"),
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
    /// Set by the redirect after a retry: the job that was queued again.
    retried: Option<String>,
}

pub async fn list(State(s): State<AppState>, session: Session, Query(query): Query<ListQuery>) -> PageResult {
    let retried = match query.retried.as_deref() {
        Some(id) => s.store.get_job(&session.caller.tenant_id, id).await.ok(),
        None => None,
    };
    jobs_page(&s, &session, &query, Notice::from(retried)).await
}

/// What the page says above the list after a retry.
enum Notice {
    None,
    Retried(Job),
    /// The job was not failed or dead (409): the API's words.
    Refused(String),
}

impl From<Option<Job>> for Notice {
    fn from(job: Option<Job>) -> Self {
        job.map_or(Notice::None, Notice::Retried)
    }
}

async fn jobs_page(s: &AppState, session: &Session, query: &ListQuery, notice: Notice) -> PageResult {
    let params = JobListParams { status: query.status.clone(), limit: None, cursor: query.cursor.clone() };
    let (page, counts) = tokio::join!(
        crate::http::jobs::page(s, &session.caller, &params),
        s.store.unsettled_job_counts(&session.caller.tenant_id)
    );
    let (jobs, next, error) = match page {
        Ok((jobs, next)) => (jobs, next, None),
        Err(err @ ApiError::BadRequest { .. }) => (Vec::new(), None, Some(err.to_string())),
        Err(other) => return Err(other.into()),
    };
    let counts = counts?;
    let status = query.status.clone().unwrap_or_default();
    let next_link = next.map(|cursor| {
        let query = serde_urlencoded::to_string([("status", status.as_str()), ("cursor", cursor.as_str())]);
        format!("/jobs?{}", query.unwrap_or_default())
    });
    let mut kinds: Vec<&str> = counts.iter().map(|(kind, ..)| kind.as_str()).collect();
    kinds.dedup();
    let count = |kind: &str, status: JobStatus| {
        counts.iter().find(|(k, s, _)| k == kind && *s == status).map_or(0, |(.., n)| *n)
    };
    let body = html! {
        h1 { "Jobs" }
        p.muted {
            "What taskbridge does in the background: creating and changing items in trackers, answering in chats, "
            "delivering webhooks, sync runs. A failed job is retried with growing pauses; one given up (dead) is not, "
            "until it is retried here (or with " code { "POST /api/v1/jobs/{id}/retry" } ")."
        }
        @match &notice {
            Notice::Retried(job) => div.banner.ok role="status" {
                p { strong { "Queued again: " } code { (job.kind) } " runs now, with fresh attempts." }
            },
            Notice::Refused(why) => div.banner.bad role="alert" {
                p { strong { "Nothing was changed." } " " (why) "." }
                p { "Only a failed or given-up job can be retried; the jobs as they are now are shown below." }
            },
            Notice::None => {},
        }
        section.card aria-labelledby="counts-h" {
            h2 id="counts-h" { "Waiting, running and given up" }
            @if kinds.is_empty() {
                p.empty { "Nothing is queued, running, failing or given up." }
            } @else {
                div.table-wrap { table {
                    caption.visually-hidden { "Jobs per kind and status" }
                    thead { tr { th scope="col" { "Kind" } @for (_, label) in COUNTED { th scope="col" { (label) } } } }
                    tbody { @for kind in &kinds { tr {
                        th scope="row" { code { (kind) } }
                        @for (status, _) in COUNTED {
                            td { (count_link(count(kind, *status), *status)) }
                        }
                    } } }
                } }
            }
        }
        form.card method="get" action="/jobs" role="search" aria-label="Filter jobs" {
            div.filters { (forms::filter_select("status", "Status", STATUSES, &status)) }
            div.actions { button type="submit" { "Show" } }
        }
        @if let Some(error) = error {
            p.error-message role="alert" { (error) }
        } @else if jobs.is_empty() {
            p.empty { @if status == "dead" { "No job was given up." } @else { "No jobs here." } }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th { "Job" } th { "Status" } th { "Attempts" } th { "Next run" } th { "Last error" }
                    th.optional { "Changed" } th { span.visually-hidden { "Action" } }
                } }
                tbody { @for j in &jobs { (row(session, j, &status)) } }
            } }
            @if let Some(link) = next_link { p { a href=(link) { "Next page" } } }
        }
    };
    let code = match notice {
        Notice::Refused(_) => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    Ok((code, layout::page(session, Section::Jobs, "Jobs", body)).into_response())
}

/// A count, linking to the list of jobs in that status when there are any.
fn count_link(n: i64, status: JobStatus) -> Markup {
    html! {
        @if n == 0 { span.muted { "0" } }
        @else { a href=(format!("/jobs?status={}", status.as_str())) { (n) } }
    }
}

fn row(session: &Session, j: &Job, status_filter: &str) -> Markup {
    html! { tr {
        td { code { (j.kind) } }
        td { span class=(format!("pill {}", j.status.as_str())) { (j.status.as_str()) } }
        td { (j.attempts) " of " (j.max_attempts) }
        td { (next_run(j)) }
        td { (j.last_error.as_deref().unwrap_or("—")) }
        td.optional { (j.updated_at.format("%Y-%m-%d %H:%M")) " UTC" }
        td {
            @if matches!(j.status, JobStatus::Failed | JobStatus::Dead) {
                form.inline method="post" action=(format!("/jobs/{}/retry", j.id)) {
                    (csrf_field(session))
                    input type="hidden" name="status" value=(status_filter);
                    button.small type="submit" aria-label=(format!("Retry the {} job {}", j.kind, j.id)) { "Retry" }
                }
            }
        }
    } }
}

/// When the job runs next, in words.
fn next_run(j: &Job) -> Markup {
    let at = html! { time datetime=(j.run_at.to_rfc3339()) { (j.run_at.format("%Y-%m-%d %H:%M:%S")) " UTC" } };
    match j.status {
        JobStatus::Queued | JobStatus::Failed => at,
        JobStatus::Running => html! { "running now" },
        JobStatus::Dead => html! { span.muted { "not until retried" } },
        JobStatus::Succeeded => html! { span.muted { "—" } },
    }
}

/// Retries a failed or dead job, then shows the list it was asked from saying so; a job in
/// another state is refused (409) on the same page.
pub async fn retry(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let status = form.text("status");
    match crate::http::jobs::retry(&s, &form.session.caller, &id).await {
        Ok(job) => {
            let query = serde_urlencoded::to_string([("status", status.as_str()), ("retried", job.id.as_str())]);
            Ok(Redirect::to(&format!("/jobs?{}", query.unwrap_or_default())).into_response())
        }
        Err(ApiError::Conflict(why)) => {
            let query = ListQuery { status: Some(status), ..ListQuery::default() };
            jobs_page(&s, &form.session, &query, Notice::Refused(why)).await
        }
        Err(other) => Err(other.into()),
    }
}
