//! Undo of a task sync: each page goes back to its version before the run and each created
//! issue moves to Backlog (the Jira integration's `undo_status`). It takes exactly what the
//! sync answered; running it again finds everything already undone and changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::pace::Pace;
use super::{Context, Shared, SyncError, steps};
use crate::domain::id::{ProjectId, TenantId};
use crate::jobs::{JobContext, JobError};
use crate::store::{NewChange, Store};
use crate::trackers::confluence::Written;
use crate::trackers::jira::Standing;
use tokio::sync::OnceCell;

/// What undo reads from one result of a sync; other fields are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub status_text: String,
    /// Absent from results about an address that named no page.
    #[serde(default)]
    pub confluence_page_id: Option<String>,
    #[serde(default)]
    pub original_page_version: Option<i64>,
    #[serde(default)]
    pub new_jira_task_key: Option<String>,
    #[serde(default)]
    pub confluence_task_id: Option<String>,
}

impl Item {
    /// The results of a sync (its `results` list, or the whole answer) as undo items.
    pub fn parse_all(items: Vec<Value>) -> Result<Vec<Item>, SyncError> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v).map_err(|e| SyncError::Invalid(format!("results[{i}]: {e}"))))
            .collect::<Result<Vec<Item>, _>>()
            .and_then(|items| {
                if items.is_empty() {
                    return Err(SyncError::Invalid("there are no results to undo".into()));
                }
                match items.iter().position(|i| i.synced().is_none() && i.status_text.starts_with("Success")) {
                    Some(i) => Err(SyncError::Invalid(format!(
                        "results[{i}] is a success without confluence_page_id and original_page_version"
                    ))),
                    None => Ok(items),
                }
            })
    }

    /// The page and its version before the sync, for an item the sync changed.
    fn synced(&self) -> Option<(&str, i64)> {
        if !self.status_text.starts_with("Success") {
            return None;
        }
        Some((self.confluence_page_id.as_deref()?, self.original_page_version?))
    }

    /// For an item the sync changed: the journal step that created its issue, and the key.
    fn created(&self) -> Option<(String, &str)> {
        let (page, _) = self.synced()?;
        let step = super::confluence_tasks::create_step(page, self.confluence_task_id.as_deref()?);
        Some((step, self.new_jira_task_key.as_deref()?))
    }
}

/// The task sync of the project that `items` came from: the one run of the tenant whose
/// journal created every issue the items name, each for the item's page and task. `None`
/// when the items name no issue, or not all of one run's (then no run is marked undone).
pub async fn run_of(
    store: &Store,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    items: &[Item],
) -> Result<Option<String>, SyncError> {
    let created: Vec<(String, &str)> = items.iter().filter_map(Item::created).collect();
    if created.is_empty() {
        return Ok(None);
    }
    let steps: Vec<String> =
        created.iter().map(|(step, _)| step.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let journaled = store
        .journaled_steps(tenant_id, project_id, crate::domain::sync_run::SyncRunKind::ConfluenceTasks, "create", &steps)
        .await?;
    let mut runs: Option<HashSet<&str>> = None;
    for (step, key) in &created {
        let holding: HashSet<&str> =
            journaled.iter().filter(|(_, s, r)| s == step && r == key).map(|(run, _, _)| run.as_str()).collect();
        runs = Some(match runs {
            None => holding,
            Some(runs) => &runs & &holding,
        });
    }
    let runs = runs.unwrap_or_default();
    if runs.len() == 1 {
        return Ok(runs.into_iter().next().map(str::to_string));
    }
    tracing::info!(
        %tenant_id,
        %project_id,
        candidates = runs.len(),
        "the results to undo are not one task sync's: no run is marked undone"
    );
    Ok(None)
}

pub(crate) async fn run(shared: &Shared, ctx: JobContext, run_id: &str) -> Result<(), JobError> {
    let Some(c) = super::context(shared, &ctx, run_id).await? else { return Ok(()) };
    if c.run.request["kind"] == crate::domain::sync_run::SyncRunKind::JiraProject.as_str() {
        return undo_mirror(&c).await;
    }
    let items: Vec<Item> = serde_json::from_value(c.run.request["items"].clone())
        .map_err(|e| JobError::Permanent(format!("the run's request is unreadable: {e}")))?;
    let target = c.jira_settings.undo_status.clone().unwrap_or_else(|| "Backlog".into());

    // Each page once, to the oldest version the results name for it.
    let mut pages: Vec<(&str, i64)> = Vec::new();
    for (page, original) in items.iter().filter_map(Item::synced) {
        match pages.iter_mut().find(|(id, _)| *id == page) {
            Some((_, version)) => *version = (*version).min(original),
            None => pages.push((page, original)),
        }
    }
    let mut keys: Vec<&str> = items
        .iter()
        .filter(|item| item.synced().is_some())
        .filter_map(|item| item.new_jira_task_key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // Pages and issues at once, each several at a time (each step journaled on its own).
    let confluence = Pace::new(c.confluence_in_flight);
    let restores = steps::run(c.confluence_in_flight, pages, |(page, version)| {
        let (c, pace) = (&c, &confluence);
        async move { Ok((page, restore_once(c, pace, page, version).await?)) }
    });
    let (restored, moves) = tokio::join!(restores, move_issues(&c, keys, &target));
    let page_outcomes: HashMap<&str, String> = restored?.into_iter().collect();
    let moves = moves?;

    let mut results = Vec::new();
    for item in &items {
        let mut result = json!({
            "confluence_page_id": item.confluence_page_id,
            "confluence_task_id": item.confluence_task_id,
            "new_jira_task_key": item.new_jira_task_key,
            "original_page_version": item.original_page_version,
        });
        let Some((page_id, _)) = item.synced() else {
            result["status_text"] = json!("Skipped - nothing was synced");
            results.push(result);
            continue;
        };
        let page = page_outcomes.get(page_id).cloned();
        let issue = item.new_jira_task_key.as_deref().and_then(|key| moves.get(key).cloned());
        let failed = page.as_deref().is_some_and(|p| p.starts_with("failed"))
            || issue.as_deref().is_some_and(|i| i.starts_with("failed"));
        result["status_text"] = json!(if failed { "Failed - Undo incomplete" } else { "Undone" });
        result["page"] = json!(page);
        result["issue"] = json!(issue);
        results.push(result);
    }
    if let Some(of) = c.run.request["of"].as_str() {
        c.store().mark_sync_undone(c.tenant(), of, &c.run.id).await.map_err(super::retry)?;
    }
    super::finish(&c, &Value::Array(results)).await?;
    tracing::info!(run_id = %c.run.id, items = items.len(), "sync undone");
    Ok(())
}

/// Restores the page once per run; answers what happened.
async fn restore_once(c: &Context<'_>, pace: &Pace, page: &str, version: i64) -> Result<String, JobError> {
    let step = format!("restore:{page}");
    let done = match c.done(&step).await? {
        Some(done) => done,
        None => {
            // A restore compares before it writes, so a try after a pause repeats nothing.
            let change = match pace.run(|_| restore(c, page, version)).await {
                Ok((before, after)) => NewChange {
                    step: &step,
                    target: "confluence-page",
                    reference: page,
                    action: "restore",
                    before: Some(json!({"version": before})),
                    after: Some(json!({"version": after, "restored": version, "changed": after != before})),
                },
                Err(e) => NewChange {
                    step: &step,
                    target: "confluence-page",
                    reference: page,
                    action: "failed",
                    before: None,
                    after: Some(json!({"error": c.settle(e)?})),
                },
            };
            c.journal(change).await?;
            c.done(&step).await?.ok_or_else(|| JobError::Retry("the journal lost a step".into()))?
        }
    };
    let after = done.after.unwrap_or_default();
    Ok(match done.action.as_str() {
        "restore" if after["changed"] == true => format!("restored to version {version}"),
        "restore" => format!("already as at version {version}"),
        _ => format!("failed: {}", after["error"].as_str().unwrap_or_default()),
    })
}

/// Writes the page's body and title at `version` as its newest version, unless they are
/// what it holds already. Answers the version before and after.
async fn restore(c: &Context<'_>, page_id: &str, version: i64) -> Result<(i64, i64), JobError> {
    let old = c.confluence.page(page_id, Some(version)).await?;
    for _ in 0..5 {
        let current = c.confluence.page(page_id, None).await?;
        if current.body == old.body && current.title == old.title {
            return Ok((current.version, current.version));
        }
        let message = format!("taskbridge: undo (run {}) back to version {version}", c.run.id);
        match c.confluence.write(&current, &old.title, &old.body, &message).await? {
            Written::Version(after) => return Ok((current.version, after)),
            Written::Conflict => continue,
        }
    }
    Err(JobError::Retry(format!("Confluence page {page_id} kept changing while it was restored")))
}

/// Moves each issue to the undo status once per run; answers what happened to each. One
/// search tells where the issues stand; issues of one type in one status take the same
/// transition, looked up once. An issue the search did not show, a try after a pause, and
/// an issue that refuses the shared transition are moved the careful way (status, then its
/// own transitions).
async fn move_issues<'k>(
    c: &Context<'_>,
    keys: Vec<&'k str>,
    target: &str,
) -> Result<HashMap<&'k str, String>, JobError> {
    let pace = Pace::new(c.jira_in_flight);
    let journaled = c.journaled().await?;
    let open: Vec<&str> =
        keys.iter().copied().filter(|key| !journaled.contains_key(&format!("transition:{key}"))).collect();
    let standing = if open.is_empty() {
        HashMap::new()
    } else {
        match pace.run(|_| c.jira.standing(&open)).await {
            Ok(standing) => standing,
            // A key Jira no longer knows fails the whole search: move each on its own.
            Err(JobError::Permanent(e) | JobError::Gone(e)) => {
                tracing::info!(run_id = %c.run.id, error = %e, "Jira's search for the issues failed: moving one by one");
                HashMap::new()
            }
            Err(e) => return Err(e),
        }
    };
    let routes: HashMap<&Standing, OnceCell<Option<String>>> =
        standing.values().map(|s| (s, OnceCell::new())).collect();
    let (pace, standing, routes, journaled) = (&pace, &standing, &routes, &journaled);
    Ok(steps::run(c.jira_in_flight, keys, |key| async move {
        let step = format!("transition:{key}");
        let (action, after) = match journaled.get(&step) {
            Some(done) => (done.action.clone(), done.after.clone().unwrap_or_default()),
            None => {
                let moved = pace
                    .run(|again| async move {
                        match standing.get(key).filter(|_| !again) {
                            Some(at) if at.status.eq_ignore_ascii_case(target) => Ok(false),
                            Some(at) => {
                                let route = routes[at].get_or_try_init(|| c.jira.transition_to(key, target)).await?;
                                match route {
                                    Some(id) => match c.jira.take(key, id).await {
                                        Ok(()) => Ok(true),
                                        Err(JobError::Permanent(_)) => c.jira.move_to(key, target).await,
                                        Err(e) => Err(e),
                                    },
                                    None => c.jira.move_to(key, target).await,
                                }
                            }
                            None => c.jira.move_to(key, target).await,
                        }
                    })
                    .await;
                let (action, after) = match moved {
                    Ok(moved) => ("transition", json!({"status": target, "changed": moved})),
                    Err(e) => ("failed", json!({"error": c.settle(e)?})),
                };
                c.journal(NewChange {
                    step: &step,
                    target: "jira-issue",
                    reference: key,
                    action,
                    before: None,
                    after: Some(after.clone()),
                })
                .await?;
                (action.to_string(), after)
            }
        };
        let outcome = match action.as_str() {
            "transition" if after["changed"] == true => format!("moved to {target}"),
            "transition" => format!("already in {target}"),
            _ => format!("failed: {}", after["error"].as_str().unwrap_or_default()),
        };
        Ok((key, outcome))
    })
    .await?
    .into_iter()
    .collect())
}

/// Undo of a project mirror: its journal inverted — a page it made is deleted, a page it
/// updated goes back to its version before. Pages go a level at a time, the deepest first
/// (a page made below another is deleted before it), the pages of a level several at once.
/// Each page's undo is journaled once, so a retry or a second run writes nothing.
async fn undo_mirror(c: &Context<'_>) -> Result<(), JobError> {
    let of = c.run.request["of"].as_str().unwrap_or_default().to_string();
    let mut changes = c.store().sync_changes(&of).await.map_err(super::retry)?;
    changes.retain(|change| change.action == "create" || change.action == "update");
    let depth = mirror_depths(&changes);
    // Listed as the mirror's results reversed: the deepest level first, within a level the
    // highest issue number first.
    changes.sort_by_key(|change| {
        let number = change.after.as_ref().and_then(|a| a["issue"].as_str()?.rsplit_once('-')?.1.parse::<u64>().ok());
        std::cmp::Reverse((depth[change.reference.as_str()], number, change.seq))
    });
    let journaled = c.journaled().await?;
    let pace = Pace::new(c.confluence_in_flight);
    let mut undone: HashMap<&str, (String, Value)> = HashMap::new();
    let mut levels: Vec<usize> = depth.values().copied().collect();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    levels.dedup();
    for level in levels {
        // Each page once, though the journal could name it twice.
        let mut seen = HashSet::new();
        let pages: Vec<&crate::store::SyncChange> = changes
            .iter()
            .filter(|change| depth[change.reference.as_str()] == level && seen.insert(change.reference.as_str()))
            .collect();
        let (pace, journaled) = (&pace, &journaled);
        let done = steps::run(c.confluence_in_flight, pages, |change| async move {
            Ok((change.reference.as_str(), undo_page(c, pace, journaled, change).await?))
        })
        .await?;
        undone.extend(done);
    }
    let mut results = Vec::new();
    let mut complete = true;
    for change in &changes {
        let page = change.reference.as_str();
        let issue = change.after.as_ref().map(|a| a["issue"].clone()).unwrap_or_default();
        let (action, after) =
            undone.get(page).cloned().ok_or_else(|| JobError::Retry("the journal lost a step".into()))?;
        let status_text = match action.as_str() {
            "deleted" => "Deleted".to_string(),
            "restore" => format!("Restored to version {}", after["restored"]),
            _ => {
                complete = false;
                format!("Failed - {}", after["error"].as_str().unwrap_or_default())
            }
        };
        results.push(json!({"page_id": page, "issue": issue, "status_text": status_text}));
    }
    // Only a complete undo stands for the run: after a failure, asking again tries again.
    if complete {
        c.store().mark_sync_undone(c.tenant(), &of, &c.run.id).await.map_err(super::retry)?;
    }
    super::finish(c, &Value::Array(results)).await?;
    tracing::info!(run_id = %c.run.id, pages = changes.len(), "project mirror undone");
    Ok(())
}

/// How deep each page of a mirror's journal lies below the others it made or updated (0: its
/// parent is none of them). Pages updated by a mirror from before parents were journaled
/// for updates count as top pages; only the pages it made must be ordered, and those know.
fn mirror_depths(changes: &[crate::store::SyncChange]) -> HashMap<String, usize> {
    let parent: HashMap<&str, &str> = changes
        .iter()
        .filter_map(|change| Some((change.reference.as_str(), change.after.as_ref()?["parent"].as_str()?)))
        .collect();
    changes
        .iter()
        .map(|change| {
            let mut page = change.reference.as_str();
            let mut depth = 0;
            // Bounded by the number of pages: a journal naming a cycle cannot loop forever.
            while let Some(up) = parent.get(page).filter(|up| parent.contains_key(**up) && depth < changes.len()) {
                depth += 1;
                page = *up;
            }
            (change.reference.clone(), depth)
        })
        .collect()
}

/// Undoes one page of a mirror once per run; answers the journaled action and its details.
async fn undo_page(
    c: &Context<'_>,
    pace: &Pace,
    journaled: &HashMap<String, crate::store::SyncChange>,
    change: &crate::store::SyncChange,
) -> Result<(String, Value), JobError> {
    let page = change.reference.as_str();
    let step = format!("undo:{page}");
    if let Some(done) = journaled.get(&step) {
        return Ok((done.action.clone(), done.after.clone().unwrap_or_default()));
    }
    let issue = change.after.as_ref().map(|a| a["issue"].clone()).unwrap_or_default();
    let version = change.before.as_ref().and_then(|b| b["version"].as_i64());
    // A deletion of a page already gone, and a restore (it compares before it writes), can
    // be tried again after a pause without doing anything twice.
    let outcome = match version {
        None => pace.run(|_| c.confluence.delete_page(page)).await.map(|()| ("deleted", json!({"issue": issue}))),
        Some(version) => pace.run(|_| restore(c, page, version)).await.map(|(before, after)| {
            ("restore", json!({"version": after, "restored": version, "changed": after != before}))
        }),
    };
    let (action, after) = match outcome {
        Ok(done) => done,
        Err(e) => ("failed", json!({"error": c.settle(e)?})),
    };
    c.journal(NewChange {
        step: &step,
        target: "confluence-page",
        reference: page,
        action,
        before: change.after.clone(),
        after: Some(after.clone()),
    })
    .await?;
    Ok((action.to_string(), after))
}
