//! `/dashboard`: the overview, and where OAuth installs send the browser back.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Section};
use super::{PageResult, Session};
use crate::http::AppState;

/// What an OAuth callback put in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct OAuthResult {
    integration: Option<String>,
    status: Option<String>,
    error: Option<String>,
    workspace: Option<String>,
}

/// The name a person knows a provider by.
pub fn provider_name(kind: &str) -> &str {
    match kind {
        "slack" => "Slack",
        "discord" => "Discord",
        "teams" => "Microsoft Teams",
        "atlassian" => "Atlassian (Jira and Confluence)",
        "zendesk" => "Zendesk",
        other => other,
    }
}

/// What went wrong in words, and what to do next, for each error code of the callback.
fn explain(code: &str, provider: &str) -> (String, &'static str) {
    match code {
        "invalid_state" => (
            "The install could not be matched to a request from this console: it was started too long ago, \
             was already completed, or was started from another browser."
                .into(),
            "Start the install again from the project's integrations page and finish it within ten minutes.",
        ),
        "missing_state" | "missing_code" => (
            format!("{provider} sent the browser back without the install's code or state."),
            "Start the install again; if it keeps failing, check the redirect URL configured in the provider's app.",
        ),
        "token_exchange_failed" => (
            format!("{provider} did not accept taskbridge's request for an access token."),
            "Check the client id and secret in TASKBRIDGE_OAUTH_* and the redirect URL registered with the \
             provider, then start the install again.",
        ),
        "storage_failed" => (
            "The access was granted but could not be saved.".into(),
            "Check the server's log and the database, then start the install again.",
        ),
        "unknown_integration" => (
            "The callback named a provider taskbridge does not know.".into(),
            "Start the install from the project's integrations page.",
        ),
        denied if denied.ends_with("_oauth_denied") => (
            format!("The install was cancelled or refused at {provider}."),
            "Start it again and approve the requested access, or ask an administrator of the workspace to.",
        ),
        _ => ("The install did not complete.".into(), "Start it again from the project's integrations page."),
    }
}

fn oauth_banner(result: &OAuthResult) -> Option<Markup> {
    let kind = result.integration.as_deref()?;
    let provider = provider_name(kind);
    match result.status.as_deref()? {
        "success" => Some(html! {
            div.banner.ok role="status" {
                p {
                    strong { (provider) " is connected" }
                    @if let Some(workspace) = &result.workspace { " to " strong { (workspace) } }
                    "."
                }
            }
        }),
        "error" => {
            let code = result.error.as_deref().unwrap_or("unknown");
            let (what, next) = explain(code, provider);
            Some(html! {
                div.banner.bad role="alert" {
                    p { strong { "Connecting " (provider) " failed." } " " (what) }
                    p { (next) }
                    p.muted { "Error code: " code { (code) } }
                }
            })
        }
        _ => None,
    }
}

fn count(counts: &[(String, i64)], state: &str) -> i64 {
    counts.iter().filter(|(s, _)| s == state).map(|(_, n)| n).sum()
}

pub async fn dashboard(State(s): State<AppState>, session: Session, Query(oauth): Query<OAuthResult>) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let midnight = chrono::Utc::now().date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let (tasks, requests, problems, dead) = tokio::try_join!(
        s.store.task_counts(tenant),
        s.store.message_counts_since(tenant, midnight),
        s.store.integration_problems(tenant),
        s.store.dead_job_count(tenant),
    )?;
    let received: i64 = requests.iter().map(|(_, n)| n).sum();
    // The inbox under the figure's own filter: today's requests, of one outcome.
    let today = |status: Option<&str>| {
        let mut pairs = vec![("received_since", midnight.format("%Y-%m-%d").to_string())];
        pairs.extend(status.map(|s| ("status", s.to_string())));
        format!("/requests?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    };
    let body = html! {
        @if let Some(banner) = oauth_banner(&oauth) { (banner) }
        h1 { "Overview" }
        h2 { "Tasks by status" }
        div.grid {
            @for (status, label) in [("todo", "To do"), ("in_progress", "In progress"), ("done", "Done")] {
                div.card {
                    a.figure href=(format!("/tasks?status={status}")) { (count(&tasks, status)) }
                    span.figure-label { (label) }
                }
            }
        }
        h2 { "Requests received today" }
        div.grid {
            div.card { a.figure href=(today(None)) { (received) } span.figure-label { "received since midnight (UTC)" } }
            div.card {
                a.figure href="/tasks?sort=-created_at" {
                    (count(&requests, "created") + count(&requests, "possible_duplicate"))
                }
                span.figure-label { "became new tasks" }
            }
            div.card {
                a.figure href=(today(Some("duplicate"))) { (count(&requests, "duplicate")) }
                span.figure-label { "were already tracked (duplicates)" }
            }
            div.card {
                a.figure href=(today(Some("possible_duplicate"))) { (count(&requests, "possible_duplicate")) }
                span.figure-label { "became tasks that may be duplicates" }
            }
            div.card {
                a.figure href=(today(Some("needs_triage"))) { (count(&requests, "needs_triage")) }
                span.figure-label { "wait for a person to triage them" }
            }
            div.card { a.figure href=(today(Some("failed"))) { (count(&requests, "failed")) } span.figure-label { "failed" } }
        }
        h2 { "Integrations with a problem" }
        @if problems.is_empty() {
            p.empty { "Every integration is working." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Integration" } th { "Status" } th { "Last error" } } }
                    tbody {
                        @for p in &problems {
                            tr {
                                td { a href=(format!("/projects/{}/integrations", p.project_id)) { (p.name) } " " span.muted { "(" (p.kind) ")" } }
                                td { span class=(format!("pill {}", p.status)) { (p.status) } }
                                td { (p.last_error.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Jobs" }
        div.grid {
            div.card {
                a.figure href="/jobs?status=dead" { (dead) }
                span.figure-label { "jobs given up after failing (dead letters)" }
            }
        }
    };
    Ok(layout::page(&session, Section::Overview, "Overview", body).into_response())
}
