//! `/jobs`: the tenant's background jobs (pushes to trackers, answers in chats, webhook
//! deliveries) by status, read-only, as `GET /api/v1/jobs` lists them; the overview's count
//! of jobs given up links here.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use maud::html;

use super::forms;
use super::layout::{self, Section};
use super::{PageResult, Session};
use crate::domain::job::JobStatus;
use crate::http::AppState;
use crate::http::jobs::JobListParams;

const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("dead", "Given up (dead)"),
    ("failed", "Failed, will retry"),
    ("queued", "Queued"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
];

pub async fn list(State(s): State<AppState>, session: Session, Query(params): Query<JobListParams>) -> PageResult {
    let (jobs, next, error) = match crate::http::jobs::page(&s, &session.caller, &params).await {
        Ok((jobs, next)) => (jobs, next, None),
        Err(err @ crate::http::error::ApiError::BadRequest { .. }) => (Vec::new(), None, Some(err.to_string())),
        Err(other) => return Err(other.into()),
    };
    let status = params.status.clone().unwrap_or_default();
    let next_link = next.map(|cursor| {
        let query = serde_urlencoded::to_string([("status", status.as_str()), ("cursor", cursor.as_str())]);
        format!("/jobs?{}", query.unwrap_or_default())
    });
    let body = html! {
        h1 { "Jobs" }
        p.muted {
            "What taskbridge does in the background: creating and changing items in trackers, answering in chats, "
            "delivering webhooks. A failed job is retried with growing pauses; one given up (dead) is not, until it is "
            "retried with " code { "POST /api/v1/jobs/{id}/retry" } "."
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
                thead { tr { th { "Job" } th { "Status" } th { "Attempts" } th { "Last error" } th.optional { "Changed" } } }
                tbody { @for j in &jobs { tr {
                    td { code { (j.kind) } }
                    td { span class=(format!("pill {}", j.status.as_str())) { (j.status.as_str()) } }
                    td { (j.attempts) " of " (j.max_attempts)
                        @if j.status == JobStatus::Failed { br; span.muted { "next " (j.run_at.format("%Y-%m-%d %H:%M")) " UTC" } } }
                    td { (j.last_error.as_deref().unwrap_or("—")) }
                    td.optional { (j.updated_at.format("%Y-%m-%d %H:%M")) " UTC" }
                } } }
            } }
            @if let Some(link) = next_link { p { a href=(link) { "Next page" } } }
        }
    };
    Ok(layout::page(&session, Section::Jobs, "Jobs", body).into_response())
}
