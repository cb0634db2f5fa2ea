//! A Jira project mirrored into a Confluence page tree: under the project page, a page per
//! issue that is not a sub-task (epics first, their issues below them), each showing its
//! issue through a Jira macro and listing its sub-tasks. Pages are found again by the key
//! their title starts with, so a re-run (or a run resumed after a crash) updates them and
//! creates none twice.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::pace::Pace;
use super::{Context, Shared, SyncError, steps};
use crate::jobs::{JobContext, JobError};
use crate::store::NewChange;
use crate::trackers::confluence::storage::{Storage, escape};
use crate::trackers::confluence::{Page, Written};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectRequest {
    /// The Confluence page the tree is built under.
    pub project_page_url: String,
    /// A Jira project key (`OPS`): its epics are the top pages. Or an issue key (`OPS-1`):
    /// the issues below it are.
    pub project_key: String,
    #[serde(default = "unknown_user")]
    pub request_user: String,
}

fn unknown_user() -> String {
    "unknown_user".into()
}

fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && key.len() <= 50
}

/// `OPS-12` → `OPS`.
fn issue_project(key: &str) -> Option<&str> {
    let (project, number) = key.rsplit_once('-')?;
    (is_project_key(project) && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(project)
}

impl ProjectRequest {
    pub fn validate(&self) -> Result<(), SyncError> {
        if reqwest::Url::parse(&self.project_page_url).is_err() {
            return Err(SyncError::Invalid(format!(
                "project_page_url: {:?} is not a page address",
                self.project_page_url
            )));
        }
        if !is_project_key(&self.project_key) && issue_project(&self.project_key).is_none() {
            return Err(SyncError::Invalid(format!(
                "project_key: {:?} is neither a Jira project key nor an issue key",
                self.project_key
            )));
        }
        if self.request_user.chars().count() > 200 {
            return Err(SyncError::Invalid("request_user is longer than 200 characters".into()));
        }
        Ok(())
    }
}

/// An issue as the tree needs it.
#[derive(Debug, Clone)]
struct Issue {
    key: String,
    summary: String,
    parent: Option<String>,
    subtask: bool,
}

fn issue(v: &Value) -> Option<Issue> {
    let fields = &v["fields"];
    Some(Issue {
        key: v["key"].as_str()?.to_string(),
        summary: fields["summary"].as_str().unwrap_or_default().to_string(),
        parent: fields["parent"]["key"].as_str().map(str::to_string),
        subtask: fields["issuetype"]["subtask"].as_bool().unwrap_or(false),
    })
}

fn macro_for(key: &str) -> String {
    format!(
        "<ac:structured-macro ac:name=\"jira\" ac:schema-version=\"1\"><ac:parameter ac:name=\"server\">System JIRA\
         </ac:parameter><ac:parameter ac:name=\"key\">{}</ac:parameter></ac:structured-macro>",
        escape(key)
    )
}

/// The page of `issue`: its macro, then its sub-tasks'.
fn page_body(issue: &Issue, subtasks: &[&Issue]) -> String {
    let mut body = format!("<p>{}</p>", macro_for(&issue.key));
    if !subtasks.is_empty() {
        body.push_str("<h2>Sub-tasks</h2><ul>");
        for sub in subtasks {
            body.push_str(&format!("<li>{}</li>", macro_for(&sub.key)));
        }
        body.push_str("</ul>");
    }
    body
}

fn title(issue: &Issue) -> String {
    format!("{}: {}", issue.key, issue.summary).chars().take(255).collect()
}

/// The issue key a mirrored page's title starts with.
fn title_key(title: &str) -> Option<&str> {
    let key = title.split(':').next()?;
    issue_project(key).map(|_| key)
}

pub(crate) async fn run(shared: &Shared, ctx: JobContext, run_id: &str) -> Result<(), JobError> {
    let Some(c) = super::context(shared, &ctx, run_id).await? else { return Ok(()) };
    let request: ProjectRequest = serde_json::from_value(c.run.request.clone())
        .map_err(|e| JobError::Permanent(format!("the run's request is unreadable: {e}")))?;
    // One pace per product for the whole run: a 429 anywhere slows every call to it.
    let confluence = Pace::new(c.confluence_in_flight);
    let (root, issues, existing) = match read(&c, &confluence, &request).await {
        Ok(read) => read,
        Err(e) => return super::fail(&c, e).await,
    };
    let journaled = c.journaled().await?;

    // Children by parent, in key order; the tree's top is the project's issues without a
    // parent, or the named issue's children.
    let mut below: HashMap<Option<&str>, Vec<&Issue>> = HashMap::new();
    for issue in &issues {
        below.entry(issue.parent.as_deref()).or_default().push(issue);
    }
    let top: Option<&str> = (!is_project_key(&request.project_key)).then_some(request.project_key.as_str());
    let tree = Tree { root: &root, existing: &existing, journaled: &journaled, pace: &confluence };
    let mut results = Vec::new();
    // A level at a time (a page's parent exists before it is made), the pages of a level
    // several at once, each journaled on its own.
    let mut level: Vec<(&Issue, String)> =
        below.get(&top).into_iter().flatten().filter(|i| !i.subtask).map(|i| (*i, root.id.clone())).collect();
    while !level.is_empty() {
        let done = steps::run_in_order(c.confluence_in_flight, level.iter(), |(issue, parent_page)| {
            let (c, tree, subtasks) = (&c, &tree, subtasks_of(&below, &issue.key));
            async move { mirror(c, tree, issue, &subtasks, parent_page).await }
        })
        .await?;
        let mut next = Vec::new();
        for ((issue, _), outcome) in level.iter().zip(done) {
            let subtasks = subtasks_of(&below, &issue.key);
            results.push(match outcome {
                Ok((page_id, action)) => {
                    for child in below.get(&Some(issue.key.as_str())).into_iter().flatten().filter(|i| !i.subtask) {
                        next.push((*child, page_id.clone()));
                    }
                    json!({"page_id": page_id, "page_title": title(issue), "action": action,
                           "new_jira_keys": std::iter::once(&issue.key).chain(subtasks.iter().map(|s| &s.key)).collect::<Vec<_>>(),
                           "project_linked": request.project_key})
                }
                Err(message) => {
                    json!({"page_id": null, "page_title": title(issue), "action": "failed", "error": message,
                                       "new_jira_keys": [issue.key], "project_linked": request.project_key})
                }
            });
        }
        level = next;
    }
    super::finish(&c, &Value::Array(results)).await?;
    tracing::info!(run_id = %c.run.id, issues = issues.len(), "Jira project mirrored into Confluence");
    Ok(())
}

/// The sub-tasks of issue `key`, listed on its page.
fn subtasks_of<'a>(below: &HashMap<Option<&str>, Vec<&'a Issue>>, key: &str) -> Vec<&'a Issue> {
    below.get(&Some(key)).into_iter().flatten().filter(|i| i.subtask).copied().collect()
}

/// What every page of a run is mirrored against.
struct Tree<'a> {
    root: &'a Page,
    /// Pages mirrored before, found under the root: issue key → page id.
    existing: &'a HashMap<String, String>,
    /// The steps this run finished before this attempt.
    journaled: &'a HashMap<String, crate::store::SyncChange>,
    pace: &'a Pace,
}

type Read = (Page, Vec<Issue>, HashMap<String, String>);

/// The root page, the project's issues, and the pages already mirrored under the root
/// (issue key → page id). Jira's search runs beside the walk of the page tree, which reads
/// a level at a time, the pages of a level several at once.
async fn read(c: &Context<'_>, pace: &Pace, request: &ProjectRequest) -> Result<Read, JobError> {
    let project = issue_project(&request.project_key).unwrap_or(&request.project_key);
    let jql = format!("project = \"{project}\" ORDER BY key ASC");
    let jira = Pace::new(c.jira_in_flight);
    let search = jira.run(|_| c.jira.search_all(&jql, &["summary", "issuetype", "parent"]));
    let walk = async {
        let root_id = pace
            .run(|_| c.confluence.resolve(&request.project_page_url))
            .await?
            .ok_or_else(|| JobError::Permanent(format!("{} names no Confluence page", request.project_page_url)))?;
        let root = pace.run(|_| c.confluence.page(&root_id, None)).await?;
        let mut existing = HashMap::new();
        let mut level = vec![root.id.clone()];
        while !level.is_empty() {
            let read = steps::run_in_order(c.confluence_in_flight, level.iter(), |id| async move {
                pace.run(|_| c.confluence.children(id)).await
            })
            .await?;
            level = Vec::new();
            for (child, title) in read.into_iter().flatten() {
                if let Some(key) = title_key(&title) {
                    existing.entry(key.to_string()).or_insert_with(|| child.clone());
                }
                level.push(child);
            }
        }
        Ok::<_, JobError>((root, existing))
    };
    let (found, walked) = tokio::join!(search, walk);
    let (root, existing) = walked?;
    let mut issues: Vec<Issue> = found?.iter().filter_map(issue).collect();
    // Jira orders `OPS-10` before `OPS-9` as text: order by number.
    issues.sort_by_key(|i| i.key.rsplit_once('-').and_then(|(_, n)| n.parse::<u64>().ok()).unwrap_or(0));
    Ok((root, issues, existing))
}

/// How a page came to be as it should.
enum Made {
    Created(String),
    Updated(String, Option<(i64, i64)>),
}

/// Creates or updates the issue's page; answers its id and what was done. A failure that
/// retrying cannot fix is reported for this page (`Ok(Err)`) while the others go on.
async fn mirror(
    c: &Context<'_>,
    tree: &Tree<'_>,
    issue: &Issue,
    subtasks: &[&Issue],
    parent_page: &str,
) -> Result<Result<(String, &'static str), String>, JobError> {
    let step = format!("page:{}", issue.key);
    if let Some(done) = tree.journaled.get(&step) {
        return Ok(match done.action.as_str() {
            "failed" => {
                Err(done.after.as_ref().and_then(|a| a["error"].as_str().map(str::to_string)).unwrap_or_default())
            }
            "create" => Ok((done.reference.clone(), "created")),
            _ => Ok((done.reference.clone(), "updated")),
        });
    }
    let title = title(issue);
    let body = page_body(issue, subtasks);
    let outcome = match tree.existing.get(&issue.key) {
        Some(page_id) => {
            // An update compares before it writes, so a try after a pause repeats nothing.
            tree.pace.run(|_| update(c, page_id, &title, &body)).await.map(|v| Made::Updated(page_id.clone(), v))
        }
        None => match &tree.root.space_id {
            Some(space) => {
                let (title, body) = (&title, &body);
                tree.pace
                    .run(|again| async move {
                        // A try after a pause finds the page an earlier try may have made.
                        if again && let Some(made) = made_under(c, parent_page, &issue.key).await? {
                            return Ok(Made::Created(made));
                        }
                        c.confluence.create_page(space, parent_page, title, body).await.map(|p| Made::Created(p.id))
                    })
                    .await
            }
            None => Err(JobError::Permanent("the project page has no space".into())),
        },
    };
    let change = match &outcome {
        Ok(Made::Created(page_id)) => Some(NewChange {
            step: &step,
            target: "confluence-page",
            reference: page_id,
            action: "create",
            before: None,
            after: Some(json!({"title": title, "parent": parent_page, "issue": issue.key})),
        }),
        Ok(Made::Updated(_, None)) => None, // already as it should be
        Ok(Made::Updated(page_id, Some((before, after)))) => Some(NewChange {
            step: &step,
            target: "confluence-page",
            reference: page_id,
            action: "update",
            before: Some(json!({"version": before})),
            after: Some(json!({"version": after, "title": title, "parent": parent_page, "issue": issue.key})),
        }),
        Err(_) => None,
    };
    if let Some(change) = change {
        c.journal(change).await?;
    }
    Ok(match outcome {
        Ok(Made::Created(page_id)) => Ok((page_id, "created")),
        Ok(Made::Updated(page_id, None)) => Ok((page_id, "unchanged")),
        Ok(Made::Updated(page_id, Some(_))) => Ok((page_id, "updated")),
        Err(e) => {
            let message = c.settle(e)?;
            c.journal(NewChange {
                step: &step,
                target: "confluence-page",
                reference: parent_page,
                action: "failed",
                before: None,
                after: Some(json!({"error": message, "issue": issue.key})),
            })
            .await?;
            Err(message)
        }
    })
}

/// The page of issue `key` under `parent`, if there is one.
async fn made_under(c: &Context<'_>, parent: &str, key: &str) -> Result<Option<String>, JobError> {
    let children = c.confluence.children(parent).await?;
    Ok(children.into_iter().find(|(_, title)| title_key(title) == Some(key)).map(|(id, _)| id))
}

/// Writes the page when its title or its Jira issues differ from the mirror's; answers
/// the versions before and after, or `None` when nothing needed writing. Confluence
/// normalizes what it stores, so the comparison is of what matters, not of bytes.
async fn update(c: &Context<'_>, page_id: &str, title: &str, body: &str) -> Result<Option<(i64, i64)>, JobError> {
    let wanted = Storage::parse(body).jira_keys();
    for _ in 0..5 {
        let page = c.confluence.page(page_id, None).await?;
        if page.title == title && Storage::parse(&page.body).jira_keys() == wanted {
            return Ok(None);
        }
        let message = format!("taskbridge: mirrored from Jira (sync run {})", c.run.id);
        match c.confluence.write(&page, title, body, &message).await? {
            Written::Version(after) => return Ok(Some((page.version, after))),
            Written::Conflict => continue,
        }
    }
    Err(JobError::Retry(format!("Confluence page {page_id} kept changing while it was updated")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_told_apart() {
        assert!(is_project_key("OPS") && is_project_key("A1_B"));
        assert!(!is_project_key("ops") && !is_project_key("OPS-1") && !is_project_key(""));
        assert_eq!(issue_project("OPS-12"), Some("OPS"));
        assert_eq!(issue_project("OPS-"), None);
        assert_eq!(title_key("OPS-12: Rotate keys"), Some("OPS-12"));
        assert_eq!(title_key("Meeting notes: Monday"), None);
    }
}
