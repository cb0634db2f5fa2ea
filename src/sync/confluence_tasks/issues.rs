//! The issues of a task sync: a task whose create is journaled is not made again; each work
//! package is read once; the rest are made up to [`BULK_CREATE`] per call with several calls
//! in flight, then each is linked back to its page, and each task's create is journaled on
//! its own once its link is made. An attempt after one that may have made issues finds them
//! by their markers first, so no task gets two.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::{Planned, Request, create_step, missing, outcome};
use crate::jobs::JobError;
use crate::store::NewChange;
use crate::sync::pace::Pace;
use crate::sync::{Context, steps};
use crate::trackers::jira::{BULK_CREATE, ChildIssue};

/// A task to make an issue for: its place in the plan, and the package it goes under.
pub(super) type ToCreate<'p> = (usize, &'p Planned, &'p str);

/// The key of each task's issue, or why it has none, by the task's place in the plan.
pub(super) async fn create_all(
    c: &Context<'_>,
    request: &Request,
    to_create: Vec<ToCreate<'_>>,
    first_attempt: bool,
) -> Result<HashMap<usize, Result<String, String>>, JobError> {
    let pace = Pace::new(c.jira_in_flight);
    let mut outcomes = HashMap::new();
    let mut open = Vec::new();
    let journaled = c.journaled().await?;
    for (i, item, package) in to_create {
        match journaled.get(&create_step(&item.task.confluence_page_id, &item.task.confluence_task_id)) {
            Some(done) => {
                outcomes.insert(i, outcome(done));
            }
            None => open.push((i, item, package)),
        }
    }

    // The work package must exist; its assignee takes a task that mentions nobody.
    let packages: BTreeSet<&str> = open.iter().map(|(_, _, package)| *package).collect();
    let assignees: HashMap<&str, Result<Option<String>, String>> = steps::run(c.jira_in_flight, packages, |package| {
        let pace = &pace;
        async move {
            let assignee = match pace.run(|_| c.jira.issue(package)).await {
                Ok(issue) => Ok(issue["fields"]["assignee"]["accountId"].as_str().map(str::to_string)),
                Err(e) if missing(&e) => Err(format!("the work package {package} does not exist in Jira")),
                Err(e) => Err(c.settle(e)?),
            };
            Ok((package, assignee))
        }
    })
    .await?
    .into_iter()
    .collect();

    let mut ready = Vec::new();
    for (i, item, package) in open {
        match &assignees[package] {
            Ok(assignee) => ready.push(Child::new(c, request, i, item, package, assignee.clone())),
            Err(e) => {
                outcomes.insert(i, record(c, item, package, Err(e.clone())).await?);
            }
        }
    }

    let made: Vec<Vec<(&Child, Result<String, String>)>> =
        steps::run(c.jira_in_flight, ready.chunks(BULK_CREATE), |chunk| {
            let pace = &pace;
            async move {
                let issues: Vec<(ChildIssue<'_>, String)> =
                    chunk.iter().map(|child| (child.issue(c), child.marker.clone())).collect();
                // A try after a pause may follow a create that went through: find it again.
                let made = match pace.run(|again| c.jira.create_children(&issues, again || !first_attempt)).await {
                    Ok(made) => made,
                    Err(e) => {
                        let reason = c.settle(e)?;
                        vec![Err(reason); chunk.len()]
                    }
                };
                Ok(chunk.iter().zip(made).collect())
            }
        })
        .await?;

    let linked = steps::run(c.jira_in_flight, made.into_iter().flatten(), |(child, made)| {
        let pace = &pace;
        async move {
            let made = match made {
                Ok(key) => match pace.run(|_| c.jira.link_origin(&key, child.issue(c), &child.marker)).await {
                    Ok(()) => Ok(key),
                    Err(e) => Err(c.settle(e)?),
                },
                Err(reason) => Err(reason),
            };
            Ok((child.index, record(c, child.item, &child.package, made).await?))
        }
    })
    .await?;
    outcomes.extend(linked);
    Ok(outcomes)
}

/// Journals a task's create (or its failure) and answers it.
async fn record(
    c: &Context<'_>,
    item: &Planned,
    package: &str,
    made: Result<String, String>,
) -> Result<Result<String, String>, JobError> {
    let step = create_step(&item.task.confluence_page_id, &item.task.confluence_task_id);
    let change = match &made {
        Ok(key) => NewChange {
            step: &step,
            target: "jira-issue",
            reference: key,
            action: "create",
            before: None,
            after: Some(json!({"key": key, "parent": package, "summary": item.task.task_summary})),
        },
        Err(error) => NewChange {
            step: &step,
            target: "jira-issue",
            reference: package,
            action: "failed",
            before: None,
            after: Some(json!({"error": error})),
        },
    };
    c.journal(change).await?;
    Ok(made)
}

/// What an issue for a task is made of.
struct Child<'p> {
    index: usize,
    item: &'p Planned,
    package: String,
    assignee: Option<String>,
    description: String,
    /// The label that finds the issue again: the run, the page and the task.
    marker: String,
}

impl<'p> Child<'p> {
    fn new(
        c: &Context<'_>,
        request: &Request,
        index: usize,
        item: &'p Planned,
        package: &str,
        package_assignee: Option<String>,
    ) -> Self {
        let task = &item.task;
        let mut description = format!(
            "{}\n\nFrom the Confluence page \"{}\": {}",
            task.task_summary, task.confluence_page_title, task.confluence_page_url
        );
        if let Some(context) = &task.context {
            description.push_str(&format!("\n\n{context}"));
        }
        description.push_str(&format!(
            "\n\nRequested by {} (taskbridge sync run {}).",
            request.context.request_user, c.run.id
        ));
        Child {
            index,
            item,
            package: package.to_string(),
            assignee: task.assignee_account_id.clone().or(package_assignee),
            description,
            marker: format!("tb-sync-{}-{}-{}", c.run.id, task.confluence_page_id, task.confluence_task_id),
        }
    }

    fn issue<'a>(&'a self, c: &'a Context<'_>) -> ChildIssue<'a> {
        let task = &self.item.task;
        ChildIssue {
            parent: &self.package,
            issue_type: c.jira_settings.task_issue_type.as_deref().unwrap_or("Task"),
            summary: &task.task_summary,
            description: &self.description,
            assignee: self.assignee.as_deref(),
            due_date: task.due_date.as_deref(),
            origin: (&task.confluence_page_url, &task.confluence_page_title),
        }
    }
}
