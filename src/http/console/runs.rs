//! `/sync/runs/{id}`: one sync run: what was asked, each result in the replaced automator's
//! terms and the journal of every change it made (where, before and after). **Undo** goes
//! through a confirmation that lists what will be put back (read from the journal by
//! `sync::preview`), then the same call as `POST /api/v1/sync-runs/{id}/undo`, and shows the
//! undo run's own results. A run that cannot be undone is refused (409) in the API's words;
//! another tenant's run is not found (404).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, Section, csrf_field};
use super::run_words::{
    self, external_link, journal, kind_label, outcome, results, status_pill, subject, undoable, verdict, with_original,
};
use super::session::Form;
use super::sync::{requested_by, started_at};
use super::{PageResult, Session};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::SyncRun;
use crate::sync::preview::{Restoration, undo_preview};

/// How many results, and how many changes of the journal, one page of a run shows.
const SHOWN: u32 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// Set by the redirect after an undo: this run is the undo just asked for.
    undone: Option<String>,
    /// The results from this one on (0 is the first).
    results_from: Option<u64>,
    /// The journal from this change on (0 is the first).
    journal_from: Option<u64>,
}

async fn run_of(s: &AppState, session: &Session, id: &str) -> Result<SyncRun, ApiError> {
    s.store.sync_run(&session.caller.tenant_id, id).await?.ok_or_else(|| ApiError::not_found("sync run"))
}

pub async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> PageResult {
    let run =
        s.store.sync_run_head(&session.caller.tenant_id, &id).await?.ok_or_else(|| ApiError::not_found("sync run"))?;
    run_page(&s, &session, &run, &query, None).await
}

fn title(run: &SyncRun) -> String {
    format!("{} of {}", kind_label(run.kind), run.created_at.format("%Y-%m-%d %H:%M UTC"))
}

async fn run_page(
    s: &AppState,
    session: &Session,
    run: &SyncRun,
    query: &ShowQuery,
    refused: Option<&str>,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let undone = query.undone.is_some();
    let from = query.results_from.unwrap_or(0);
    let after = query.journal_from.unwrap_or(0);
    let (project, changes, (shown, total)) = tokio::try_join!(
        async { Ok::<_, ApiError>(s.store.get_project(tenant, &run.project_id).await?) },
        async { Ok(s.store.sync_changes_page(&run.id, after, SHOWN + 1).await?) },
        results_page(s, session, run, from),
    )?;
    let (changes, more_changes) = one_more(changes);
    let of = run.request["of"].as_str();
    // An undo's results name tasks by their ids; what the run it undid said of the same
    // tasks names them.
    let original = match of {
        Some(of) if run.kind == SyncRunKind::Undo => {
            let mut ids: Vec<&str> = shown.iter().filter_map(|r| r["confluence_task_id"].as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            s.store.sync_run_results_of_tasks(tenant, of, &ids).await?
        }
        _ => Vec::new(),
    };
    let link = |results_from: u64, journal_from: u64, anchor: &str| {
        let mut pairs = Vec::new();
        if results_from > 0 {
            pairs.push(("results_from", results_from.to_string()));
        }
        if journal_from > 0 {
            pairs.push(("journal_from", journal_from.to_string()));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("/sync/runs/{}{query}#{anchor}", run.id)
    };
    let last_shown = from + shown.len() as u64;
    let title = title(run);
    let body = html! {
        p { a href="/sync" { "← Sync runs" } }
        h1 { (title) }
        @if let Some(why) = refused {
            div.banner.bad role="alert" {
                p { strong { "Nothing was changed." } " " (why) }
                p { "The run as it is now is shown below." }
            }
        }
        @if undone && run.kind == SyncRunKind::Undo {
            div.banner.ok role="status" {
                p { strong { "Undone." } " These are the undo's own results"
                    @if let Some(of) = of { "; the run it undid is " a href=(format!("/sync/runs/{of}")) { "here" } } "." }
            }
        }
        @if run.status == SyncRunStatus::Running {
            div.banner.note role="status" data-reload-after="3000" {
                p { strong { "Still running." } " Its results appear when it ends: "
                    a href=(format!("/sync/runs/{}", run.id)) { "reload this page" } "." }
            }
        }
        section.card aria-labelledby="run-h" {
            h2 id="run-h" { "The run" }
            dl.facts {
                dt { "Project" } dd { a href=(format!("/projects/{}", project.id)) { (project.name) } }
                dt { "Status" } dd { (status_pill(run.status)) }
                dt { "Started" } dd { (started_at(run)) }
                @if let Some(at) = run.finished_at { dt { "Ended" } dd { (at.format("%Y-%m-%d %H:%M:%S")) " UTC" } }
                @if let Some(user) = requested_by(run) { dt { "Requested by" } dd { (user) } }
                (asked(run))
                @if let Some(task) = &run.task_id { dt { "Task" } dd { a href=(format!("/tasks/{task}")) { "the task's page" } } }
                @if let Some(of) = of { dt { "Undoes" } dd { a href=(format!("/sync/runs/{of}")) { "the run it undid" } } }
                @if let Some(by) = &run.undone_by { dt { "Undone by" } dd { a href=(format!("/sync/runs/{by}")) { "its undo run" } } }
                @if let Some(error) = &run.error { dt { "Error" } dd.error-message { (error) } }
            }
            @if undoable(run) {
                div.actions {
                    a.button.secondary href=(format!("/sync/runs/{}/undo", run.id)) { "Undo this run…" }
                }
            }
        }
        h2 id="results-h" { "Results" }
        @if total == 0 {
            p.empty { @if run.status == SyncRunStatus::Running { "None yet." } @else { "This run has no results." } }
        } @else {
            @if total > u64::from(SHOWN) {
                p.muted { "Results " (from + 1) "–" (last_shown) " of " (total) "." }
            }
            (results_table(&shown, &original))
            @if total > u64::from(SHOWN) {
                p.actions {
                    @if from > 0 { a href=(link(from.saturating_sub(u64::from(SHOWN)), after, "results-h")) { "Previous results" } }
                    @if last_shown < total { a href=(link(last_shown, after, "results-h")) { "Next results" } }
                }
            }
        }
        h2 id="journal-h" { "Journal" }
        p.muted { "Every change the run made in another system, in order, with what was there before and after." }
        @if changes.is_empty() {
            p.empty { @if after > 0 { "No more changes." } @else { "Nothing was changed." } }
        } @else {
            @if more_changes || after > 0 {
                p.muted { "Changes " (after + 1) "–" (after + changes.len() as u64) "." }
            }
            (journal(&changes))
            @if more_changes || after > 0 {
                p.actions {
                    @if after > 0 { a href=(link(from, after.saturating_sub(u64::from(SHOWN)), "journal-h")) { "Previous changes" } }
                    @if more_changes { a href=(link(from, after + u64::from(SHOWN), "journal-h")) { "Next changes" } }
                }
            }
        }
    };
    let status = if refused.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok((status, layout::page(session, Section::Sync, &title, body)).into_response())
}

/// What the run was asked to do, as facts.
fn asked(run: &SyncRun) -> Markup {
    let r = &run.request;
    html! {
        @if let Some(urls) = r["confluence_page_urls"].as_array() {
            dt { "Pages" } dd { ul.plain { @for url in urls.iter().filter_map(Value::as_str) {
                li { (external_link(Some(url), url)) }
            } } }
            @if let Some(days) = r["context"]["days_to_due_date"].as_i64() { dt { "Days to the due date" } dd { (days) } }
        }
        @if let Some(key) = r["project_key"].as_str() { dt { "Jira project" } dd { code { (key) } } }
        @if let Some(url) = r["project_page_url"].as_str() { dt { "Under page" } dd { (external_link(Some(url), url)) } }
    }
}

/// The page's results, and how many the run has: read a page at a time from the store, or
/// cut from the results of a run finished before its results were counted.
async fn results_page(
    s: &AppState,
    session: &Session,
    run: &SyncRun,
    from: u64,
) -> Result<(Vec<Value>, u64), ApiError> {
    if let Some(counts) = run.counts {
        let page = s.store.sync_run_results(&session.caller.tenant_id, &run.id, from, SHOWN).await?;
        return Ok((page, counts.total()));
    }
    let all = results(run);
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(all.len());
    let end = start.saturating_add(SHOWN as usize).min(all.len());
    Ok((all[start..end].to_vec(), all.len() as u64))
}

/// The first `SHOWN` of `items`, and whether there were more.
fn one_more<T>(mut items: Vec<T>) -> (Vec<T>, bool) {
    let more = items.len() > SHOWN as usize;
    items.truncate(SHOWN as usize);
    (items, more)
}

fn results_table(shown: &[Value], original: &[Value]) -> Markup {
    html! {
        div.table-wrap { table {
            caption.visually-hidden { "Results of the run" }
            thead { tr {
                th scope="col" { "Task or page" } th scope="col" { "Where" } th scope="col" { "Result" }
                th scope="col" { "Jira" }
            } }
            tbody { @for r in shown {
                @let (what, place, keys) = subject(&with_original(r, original));
                tr {
                    td { (what) }
                    td { (place) }
                    td { (verdict(&outcome(r))) }
                    td { @if keys.is_empty() { span.muted { "—" } } @else { code { (keys) } } }
                }
            } }
        } }
    }
}

/// The confirmation: what the undo will put back.
pub async fn confirm(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PageResult {
    let run = run_of(&s, &session, &id).await?;
    let restorations = match undo_preview(&s.store, &s.integrations, &session.caller.tenant_id, &run).await {
        Ok(restorations) => restorations,
        Err(err) => return refused(&s, &session, &run, ApiError::from(err)).await,
    };
    let title =
        format!("Undo the {} of {}?", kind_label(run.kind).to_lowercase(), run.created_at.format("%Y-%m-%d %H:%M UTC"));
    let body = html! {
        p { a href=(format!("/sync/runs/{}", run.id)) { "← The run" } }
        h1 { (title) }
        @if let Some(by) = &run.undone_by {
            div.banner.note role="status" {
                p { strong { "This run was undone already" } " (" a href=(format!("/sync/runs/{by}")) { "its undo" } "). "
                    @if run.kind == SyncRunKind::ConfluenceTasks {
                        "Undoing again checks each item and changes only what is not back as it was."
                    } @else {
                        "Undoing again shows that undo; nothing is changed twice."
                    }
                }
            }
        }
        (restoration_list(&restorations))
        form.stack method="post" action=(format!("/sync/runs/{}/undo", run.id)) aria-labelledby="undo-h" {
            (csrf_field(&session))
            h2.visually-hidden id="undo-h" { "Undo the run" }
            div.actions {
                button.danger type="submit" { "Undo the run" }
                a.button.secondary href=(format!("/sync/runs/{}", run.id)) { "Cancel" }
            }
        }
    };
    Ok(layout::page(&session, Section::Sync, &title, body).into_response())
}

fn restoration_list(restorations: &[Restoration]) -> Markup {
    html! {
        @if restorations.is_empty() {
            p { "The run's journal holds no change to put back: the undo will find nothing to do." }
        } @else {
            p { "The undo puts back what the run changed:" }
            ul.restorations { @for r in restorations {
                li { (run_words::target_label(&r.target)) " " code { (r.reference) } ": " (r.becomes) }
            } }
        }
    }
}

/// Undoes the run, waits for the undo as the API does, then shows the undo run's results.
pub async fn undo(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    let session = &form.session;
    match crate::http::sync::start_undo(&s, &session.caller, &id).await {
        Ok(undo) => {
            let undo = crate::http::sync::wait(&s, &session.caller.tenant_id, undo).await?;
            Ok(Redirect::to(&format!("/sync/runs/{}?undone=1", undo.id)).into_response())
        }
        Err(err @ (ApiError::Conflict(_) | ApiError::BadRequest { .. })) => {
            let run = run_of(&s, session, &id).await?;
            refused(&s, session, &run, err).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The run's page saying why it was not undone (409 for a run that cannot be).
async fn refused(s: &AppState, session: &Session, run: &SyncRun, err: ApiError) -> PageResult {
    match err {
        ApiError::Conflict(why) => run_page(s, session, run, &ShowQuery::default(), Some(&why)).await,
        ApiError::BadRequest { message, .. } => {
            let mut page = run_page(s, session, run, &ShowQuery::default(), Some(&message)).await?;
            *page.status_mut() = StatusCode::BAD_REQUEST;
            Ok(page)
        }
        other => Err(other.into()),
    }
}
