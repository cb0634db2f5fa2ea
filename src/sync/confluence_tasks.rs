//! Confluence tasks to Jira: walk each page and its descendants, create an issue under the
//! page's work package for every open task, then rewrite the tasks in their pages as text
//! with a link to the issue. One result per task, in the fields the replaced automator
//! answered with.

mod issues;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::pace::Pace;
use super::steps;
use super::{Context, Shared, SyncError};
use crate::jobs::{JobContext, JobError};
use crate::store::NewChange;
use crate::trackers::confluence::storage::{IssueLink, PageTask, Storage};
use crate::trackers::confluence::{Page, Written};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Request {
    /// Pages whose trees are synced: `…/pages/{id}/…`, `?pageId=`, `/x/…` or `/display/SPACE/Title`.
    pub confluence_page_urls: Vec<String>,
    #[serde(default)]
    pub context: RequestContext,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestContext {
    #[serde(default = "unknown_user")]
    pub request_user: String,
    /// The due date of a task that names none, in days from the run.
    #[serde(default = "two_weeks")]
    pub days_to_due_date: i64,
}

fn unknown_user() -> String {
    "unknown_user".into()
}

fn two_weeks() -> i64 {
    14
}

impl Default for RequestContext {
    fn default() -> Self {
        RequestContext { request_user: unknown_user(), days_to_due_date: two_weeks() }
    }
}

impl Request {
    pub fn validate(&self) -> Result<(), SyncError> {
        let invalid = |m: &str| Err(SyncError::Invalid(m.into()));
        if self.confluence_page_urls.is_empty() {
            return invalid("confluence_page_urls must name at least one page");
        }
        if self.confluence_page_urls.len() > 100 {
            return invalid("confluence_page_urls may name at most 100 pages");
        }
        if let Some(bad) = self.confluence_page_urls.iter().find(|u| reqwest::Url::parse(u).is_err() || u.len() > 2000)
        {
            return Err(SyncError::Invalid(format!("confluence_page_urls: {bad:?} is not a page address")));
        }
        if !(0..=3650).contains(&self.context.days_to_due_date) {
            return invalid("context.days_to_due_date must be between 0 and 3650");
        }
        if self.context.request_user.chars().count() > 200 {
            return invalid("context.request_user is longer than 200 characters");
        }
        Ok(())
    }
}

/// A task found while planning, in the replaced automator's fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Found {
    confluence_page_id: String,
    confluence_page_title: String,
    confluence_page_url: String,
    confluence_task_id: String,
    task_summary: String,
    status: String,
    /// The mentioned user's account id (`assignee_name` in plans written before results
    /// carried display names).
    #[serde(alias = "assignee_name")]
    assignee_account_id: Option<String>,
    due_date: Option<String>,
    original_page_version: i64,
    /// The account that wrote the version (`original_page_version_by` in older plans).
    #[serde(alias = "original_page_version_by")]
    original_page_version_by_account_id: String,
    original_page_version_when: String,
    context: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Planned {
    task: Found,
    linked_work_package: Option<String>,
    /// Why the task is left alone (`Skipped - …`), decided while planning.
    skipped: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Plan {
    items: Vec<Planned>,
    /// Addresses that named no page: one result each.
    unresolved: Vec<(String, String)>,
}

pub(crate) async fn run(shared: &Shared, ctx: JobContext, run_id: &str) -> Result<(), JobError> {
    let Some(c) = super::context(shared, &ctx, run_id).await? else { return Ok(()) };
    let request: Request = serde_json::from_value(c.run.request.clone())
        .map_err(|e| JobError::Permanent(format!("the run's request is unreadable: {e}")))?;
    let plan = match c.run.plan.clone() {
        Some(plan) => plan,
        None => match plan(&c, &request).await {
            Ok(plan) => {
                let plan = serde_json::to_value(&plan).map_err(|e| JobError::Permanent(e.to_string()))?;
                c.store().set_sync_plan(c.tenant(), &c.run.id, &plan).await.map_err(super::retry)?
            }
            Err(e) => return super::fail(&c, e).await,
        },
    };
    let plan: Plan = serde_json::from_value(plan).map_err(|e| JobError::Permanent(format!("unreadable plan: {e}")))?;

    // Nothing of this run was written before its first attempt: no issue to find again.
    let first_attempt = c.ctx.job.attempts <= 1;
    let mut to_create: Vec<issues::ToCreate> = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        if let (Some(package), None) = (&item.linked_work_package, &item.skipped) {
            to_create.push((i, item, package));
        }
    }
    let created = issues::create_all(&c, &request, to_create, first_attempt).await?;

    let mut pages: Vec<&str> = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        let page = item.task.confluence_page_id.as_str();
        if matches!(created.get(&i), Some(Ok(_))) && !pages.contains(&page) {
            pages.push(page);
        }
    }
    let confluence_pace = Pace::new(c.confluence_in_flight);
    let page_errors: HashMap<&str, String> = steps::run(c.confluence_in_flight, pages, |page| {
        let (c, plan, created, pace) = (&c, &plan, &created, &confluence_pace);
        async move { Ok(rewrite_once(c, plan, created, pace, page).await?.map(|error| (page, error))) }
    })
    .await?
    .into_iter()
    .flatten()
    .collect();

    let mut results: Vec<Value> = plan
        .unresolved
        .iter()
        .map(|(url, status)| {
            json!({"status_text": status, "confluence_page_url": url, "request_user": request.context.request_user,
                   "new_jira_task_key": null, "linked_work_package": null})
        })
        .collect();
    let names = display_names(shared, &c, &plan).await;
    let name = |account: &str| names.get(account).cloned().unwrap_or_else(|| account.to_string());
    for (i, item) in plan.items.iter().enumerate() {
        let mut result = match serde_json::to_value(&item.task) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        // Display names as the replaced automator gave them; the account ids beside them.
        result.insert("assignee_name".into(), json!(item.task.assignee_account_id.as_deref().map(name)));
        result.insert("original_page_version_by".into(), json!(name(&item.task.original_page_version_by_account_id)));
        let (status, key, error) = match (&item.skipped, created.get(&i)) {
            (Some(skipped), _) => (skipped.clone(), None, None),
            (None, Some(Ok(key))) => ("Success".to_string(), Some(key.clone()), None),
            (None, Some(Err(e))) => ("Failed - Jira task creation".to_string(), None, Some(e.clone())),
            (None, None) => ("Skipped - No Work Package found".to_string(), None, None),
        };
        result.insert("status_text".into(), json!(status));
        result.insert("new_jira_task_key".into(), json!(key));
        result.insert("linked_work_package".into(), json!(item.linked_work_package));
        result.insert("request_user".into(), json!(request.context.request_user));
        if let Some(error) = error {
            result.insert("error".into(), json!(error));
        }
        if key.is_some()
            && let Some(page_error) = page_errors.get(item.task.confluence_page_id.as_str())
        {
            result.insert("page_error".into(), json!(page_error));
        }
        results.push(Value::Object(result));
    }
    super::finish(&c, &Value::Array(results)).await?;
    tracing::info!(run_id = %c.run.id, tasks = plan.items.len(), "Confluence task sync finished");
    Ok(())
}

/// The journal step of creating the issue for task `task_id` of page `page_id`: it names
/// the task in the run, so the results of a run find the run again.
pub fn create_step(page_id: &str, task_id: &str) -> String {
    format!("create:{page_id}:{task_id}")
}

/// The display names of the accounts the results name (page authors, assignees).
async fn display_names(shared: &Shared, c: &Context<'_>, plan: &Plan) -> HashMap<String, String> {
    let mut accounts: Vec<&str> = Vec::new();
    for item in &plan.items {
        accounts.push(&item.task.original_page_version_by_account_id);
        accounts.extend(item.task.assignee_account_id.as_deref());
    }
    shared.names.names(&c.jira_id, accounts, &c.jira).await
}

/// A journaled create: the issue's key, or why it failed.
fn outcome(done: &crate::store::SyncChange) -> Result<String, String> {
    let after = done.after.clone().unwrap_or_default();
    match done.action.as_str() {
        "create" => Ok(after["key"].as_str().unwrap_or(&done.reference).to_string()),
        _ => Err(after["error"].as_str().unwrap_or("failed").to_string()),
    }
}

fn missing(e: &JobError) -> bool {
    matches!(e, JobError::Gone(_))
}

/// Walks every requested tree once, recording each open task and its work package, in the
/// order of a depth-first walk (children in their order on the page tree).
async fn plan(c: &Context<'_>, request: &Request) -> Result<Plan, JobError> {
    let default_due = c.run.created_at.date_naive() + chrono::Days::new(request.context.days_to_due_date as u64);
    let pace = Pace::new(c.confluence_in_flight);
    let mut plan = Plan::default();
    let mut seen: HashSet<String> = HashSet::new();
    for url in &request.confluence_page_urls {
        let root = match pace.run(|_| c.confluence.resolve(url)).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                plan.unresolved.push((url.clone(), "Failed - Not a Confluence page address".into()));
                continue;
            }
            Err(e) if missing(&e) => {
                plan.unresolved.push((url.clone(), "Failed - Confluence page not found".into()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut walked = walk(c, &pace, &root, &seen).await?;
        let mut todo: Vec<(String, Option<String>, bool)> = vec![(root, None, true)];
        while let Some((id, inherited, is_root)) = todo.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(Some(page)) = walked.remove(&id) else {
                if is_root {
                    plan.unresolved.push((url.clone(), "Failed - Confluence page not found".into()));
                }
                continue; // deleted while the tree was walked
            };
            let inherited = match (is_root, inherited) {
                (true, _) => ancestors_package(c, &page.page).await?,
                (false, inherited) => inherited,
            };
            for (task, own) in page.tasks {
                let package = own.or_else(|| inherited.clone());
                let skipped = if task.summary.trim().is_empty() {
                    Some("Skipped - Empty Task".to_string())
                } else if package.is_none() {
                    Some("Skipped - No Work Package found".to_string())
                } else {
                    None
                };
                let context = [task.heading.as_deref(), task.paragraph.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n");
                plan.items.push(Planned {
                    task: found(&page.page, task.id, task.summary, task.assignee, task.due_date, default_due, context),
                    linked_work_package: package,
                    skipped,
                });
            }
            let package = page.package.or(inherited);
            for child in page.children.into_iter().rev() {
                todo.push((child, package.clone(), false));
            }
        }
    }
    Ok(plan)
}

/// A page as the walk read it: its open tasks (each with the work package it names itself),
/// the work package the page names, and its children in order. The body is not kept.
struct Walked {
    page: Page,
    tasks: Vec<(PageTask, Option<String>)>,
    package: Option<String>,
    children: Vec<String>,
}

/// Reads the tree under `root` a level at a time, the pages of a level several at once;
/// `None` for a page gone while the tree was walked. Pages `seen` under an earlier root are
/// not read again.
async fn walk(
    c: &Context<'_>,
    pace: &Pace,
    root: &str,
    seen: &HashSet<String>,
) -> Result<HashMap<String, Option<Walked>>, JobError> {
    let mut walked: HashMap<String, Option<Walked>> = HashMap::new();
    let mut level = vec![root.to_string()];
    while !level.is_empty() {
        let read = steps::run(c.confluence_in_flight, level, |id| async move {
            let page = match pace.run(|_| c.confluence.page(&id, None)).await {
                Ok(page) => page,
                Err(e) if missing(&e) => return Ok((id, None)),
                Err(e) => return Err(e),
            };
            let children = pace.run(|_| c.confluence.children(&page.id)).await?;
            let doc = Storage::parse(&page.body);
            let tasks = doc
                .tasks()
                .into_iter()
                .filter(|t| !t.complete)
                .map(|t| {
                    let own = doc.work_package(Some(&t.id));
                    (t, own)
                })
                .collect();
            let package = doc.work_package(None);
            let page = Page { body: String::new(), ..page };
            let children = children.into_iter().map(|(id, _)| id).collect();
            Ok((id, Some(Walked { page, tasks, package, children })))
        })
        .await?;
        level = Vec::new();
        for (id, page) in read {
            if let Some(page) = &page {
                level.extend(page.children.iter().filter(|c| !walked.contains_key(*c) && !seen.contains(*c)).cloned());
            }
            walked.insert(id, page);
        }
        level.sort_unstable();
        level.dedup();
    }
    Ok(walked)
}

fn found(
    page: &Page,
    id: String,
    summary: String,
    assignee: Option<String>,
    due: Option<String>,
    default_due: chrono::NaiveDate,
    context: String,
) -> Found {
    Found {
        confluence_page_id: page.id.clone(),
        confluence_page_title: page.title.clone(),
        confluence_page_url: page.url.clone(),
        confluence_task_id: id,
        task_summary: summary,
        status: "incomplete".into(),
        assignee_account_id: assignee,
        due_date: Some(due.unwrap_or_else(|| default_due.to_string())),
        original_page_version: page.version,
        original_page_version_by_account_id: page.version_by.clone(),
        original_page_version_when: page.version_when.clone(),
        context: Some(context).filter(|c| !c.is_empty()),
    }
}

/// The work package of the nearest ancestor that names one.
async fn ancestors_package(c: &Context<'_>, page: &Page) -> Result<Option<String>, JobError> {
    let mut parent = page.parent_id.clone();
    for _ in 0..50 {
        let Some(id) = parent else { return Ok(None) };
        let ancestor = match c.confluence.page(&id, None).await {
            Ok(p) => p,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(package) = Storage::parse(&ancestor.body).work_package(None) {
            return Ok(Some(package));
        }
        parent = ancestor.parent_id;
    }
    Ok(None)
}

/// The journaled rewrite of one page with the issues created for its tasks: the page's
/// error when it failed, `None` when it was rewritten (now or before).
async fn rewrite_once(
    c: &Context<'_>,
    plan: &Plan,
    created: &HashMap<usize, Result<String, String>>,
    pace: &Pace,
    page: &str,
) -> Result<Option<String>, JobError> {
    let step = format!("rewrite:{page}");
    let done = match c.done(&step).await? {
        Some(done) => done,
        None => {
            let links: HashMap<String, IssueLink> = plan
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| item.task.confluence_page_id == page)
                .filter_map(|(i, item)| match created.get(&i) {
                    Some(Ok(key)) => Some((
                        item.task.confluence_task_id.clone(),
                        IssueLink { key: key.clone(), url: c.jira.browse_url(key) },
                    )),
                    _ => None,
                })
                .collect();
            let original =
                plan.items.iter().find(|i| i.task.confluence_page_id == page).map(|i| i.task.original_page_version);
            // A rewrite re-reads the page first, so a try after a pause repeats nothing.
            let change = match pace.run(|_| rewrite(c, page, &links)).await {
                Ok((version, changed)) => NewChange {
                    step: &step,
                    target: "confluence-page",
                    reference: page,
                    action: "rewrite",
                    before: Some(json!({"version": original})),
                    after: Some(json!({"version": version, "changed": changed,
                                       "tasks": links.keys().collect::<Vec<_>>()})),
                },
                Err(e) => NewChange {
                    step: &step,
                    target: "confluence-page",
                    reference: page,
                    action: "failed",
                    before: Some(json!({"version": original})),
                    after: Some(json!({"error": c.settle(e)?})),
                },
            };
            c.journal(change).await?;
            c.done(&step).await?.ok_or_else(|| JobError::Retry("the journal lost a step".into()))?
        }
    };
    if done.action == "failed" {
        let error = done.after.as_ref().and_then(|a| a["error"].as_str()).unwrap_or_default();
        return Ok(Some(error.to_string()));
    }
    Ok(None)
}

/// Rewrites the page's linked tasks, re-reading and re-applying on a version conflict.
/// Answers the page's version afterwards and whether this call changed it.
async fn rewrite(c: &Context<'_>, page_id: &str, links: &HashMap<String, IssueLink>) -> Result<(i64, bool), JobError> {
    for _ in 0..5 {
        let page = c.confluence.page(page_id, None).await?;
        let body = Storage::parse(&page.body).rewrite(links);
        if body == page.body {
            return Ok((page.version, false)); // already rewritten (by an attempt before a restart)
        }
        let message = format!("taskbridge: tasks moved to Jira (sync run {})", c.run.id);
        match c.confluence.write(&page, &page.title, &body, &message).await? {
            Written::Version(version) => return Ok((version, true)),
            Written::Conflict => continue,
        }
    }
    Err(JobError::Retry(format!("Confluence page {page_id} kept changing while it was rewritten")))
}
