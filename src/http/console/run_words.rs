//! Sync runs in words: a run's results as the replaced automator reported them (Success,
//! Failed with the error, Skipped with why), its journal's changes, kinds and targets as
//! people call them. Rendering only: the results and journal are the runs' own.

use maud::{Markup, html};
use serde_json::Value;

use crate::domain::run_outcome::Counts;
pub use crate::domain::run_outcome::{Outcome, Verdict, outcome};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::store::{SyncChange, SyncRun};

/// How a before or after value is cut when it is long.
const VALUE_SHOWN: usize = 300;

pub fn kind_label(kind: SyncRunKind) -> &'static str {
    match kind {
        SyncRunKind::ConfluenceTasks => "Confluence task sync",
        SyncRunKind::JiraProject => "Jira project mirror",
        SyncRunKind::Undo => "Undo",
        SyncRunKind::TrackerPush => "Pushed to a tracker",
        SyncRunKind::TrackerTransition => "Moved in a tracker",
        SyncRunKind::TrackerUpdate => "Updated in a tracker",
        SyncRunKind::TrackerComment => "Commented in a tracker",
    }
}

pub fn target_label(target: &str) -> &str {
    match target {
        "jira-issue" => "Jira issue",
        "confluence-page" => "Confluence page",
        "taiga" => "Taiga",
        "jira" => "Jira",
        "zendesk" => "Zendesk",
        other => other,
    }
}

pub fn status_pill(status: SyncRunStatus) -> Markup {
    html! { span class=(format!("pill {}", status.as_str())) { (status.as_str()) } }
}

fn text<'a>(r: &'a Value, key: &str) -> Option<&'a str> {
    r[key].as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The verdict as the replaced automator said it.
fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "Success",
        Verdict::Failed => "Failed",
        Verdict::Skipped => "Skipped",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Success => "pill done",
        Verdict::Failed => "pill failed",
        Verdict::Skipped => "pill",
    }
}

/// A run's results, as a list (empty while it runs or when it failed as a whole).
pub fn results(run: &SyncRun) -> &[Value] {
    run.results.as_ref().and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// How many results of each verdict: as kept with the run, or counted from its results
/// (a run finished before the counts were kept).
pub fn counts(run: &SyncRun) -> [(Verdict, u64); 3] {
    let c = run.counts.unwrap_or_else(|| Counts::of(run.results.as_ref().unwrap_or(&Value::Null)));
    [(Verdict::Success, c.success), (Verdict::Failed, c.failed), (Verdict::Skipped, c.skipped)]
}

pub fn counts_text(run: &SyncRun) -> Markup {
    let counts = counts(run);
    html! {
        @if counts.iter().all(|(_, n)| *n == 0) {
            span.muted { @if run.status == SyncRunStatus::Running { "running" } @else { "no results" } }
        } @else {
            @for (i, (verdict, n)) in counts.iter().filter(|(_, n)| *n > 0).enumerate() {
                @if i > 0 { " · " }
                (n) " " (verdict_label(*verdict).to_lowercase())
            }
        }
    }
}

pub fn verdict(o: &Outcome) -> Markup {
    html! {
        span class=(verdict_class(o.verdict)) { (verdict_label(o.verdict)) }
        @if let Some(words) = &o.words { " " (words) }
        @if let Some(error) = &o.error { br; span.error-message { (error) } }
    }
}

/// A link only to an http(s) address (what Confluence and trackers answer); anything else
/// stays text.
pub fn external_link(url: Option<&str>, label: &str) -> Markup {
    match url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
        Some(url) => html! { a href=(url) rel="noreferrer" { (label) } },
        None => html! { (label) },
    }
}

/// What a result is about: the task or page, where it lives, the Jira issues it names.
pub fn subject(r: &Value) -> (Markup, Markup, String) {
    let item = &r["item"];
    let what = text(r, "task_summary")
        .or_else(|| text(r, "page_title"))
        .or_else(|| text(item, "title"))
        .or_else(|| text(item, "external_ref"))
        .or_else(|| text(r, "confluence_task_id").map(|_| "a task"))
        .unwrap_or("—")
        .to_string();
    let what = html! { (what) };
    let page_id = text(r, "confluence_page_id").or_else(|| text(r, "page_id"));
    let page = text(r, "confluence_page_title").map(str::to_string).or_else(|| page_id.map(|p| format!("page {p}")));
    let url = text(r, "confluence_page_url").or_else(|| text(item, "url"));
    // A tracker's item: the tracker and the item's reference.
    let page = page.or_else(|| {
        text(item, "external_ref").map(|reference| {
            let tracker = text(item, "tracker").map_or("", target_label);
            format!("{tracker} {reference}").trim().to_string()
        })
    });
    let place = match (page, url) {
        (Some(page), url) => external_link(url, &page),
        (None, Some(url)) => external_link(Some(url), url),
        (None, None) => html! { span.muted { "—" } },
    };
    let place = html! {
        (place)
        @if let Some(wp) = text(r, "linked_work_package") { br; span.muted { "work package " (wp) } }
        @if let Some(user) = text(r, "assignee_name") { br; span.muted { "for " (user) } }
    };
    let mut keys: Vec<String> = Vec::new();
    keys.extend(text(r, "new_jira_task_key").map(str::to_string));
    if let Some(list) = r["new_jira_keys"].as_array() {
        keys.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if r.get("confluence_task_id").is_none() {
        keys.extend(text(r, "issue").map(str::to_string)); // a mirror's undo: the page's issue
    }
    (what, place, keys.join(", "))
}

/// Whether a run can be undone: what the undo service takes (a finished task sync, project
/// mirror or tracker run).
pub fn undoable(run: &SyncRun) -> bool {
    run.status == SyncRunStatus::Done
        && (run.kind.is_tracker_run() || matches!(run.kind, SyncRunKind::ConfluenceTasks | SyncRunKind::JiraProject))
}

/// A task's tracker runs (its pushes, moves, updates, comments and their undos), each with
/// its undo, for the task's page.
pub fn task_runs(runs: &[SyncRun]) -> Markup {
    html! {
        div.table-wrap { table {
            caption.visually-hidden { "The task's changes in trackers" }
            thead { tr {
                th scope="col" { "When" } th scope="col" { "Change" } th scope="col" { "Item" }
                th scope="col" { "Result" } th scope="col" { span.visually-hidden { "Undo" } }
            } }
            tbody { @for run in runs { tr {
                td { a href=(format!("/sync/runs/{}", run.id)) {
                    time datetime=(run.created_at.to_rfc3339()) { (run.created_at.format("%Y-%m-%d %H:%M:%S")) " UTC" }
                } }
                td { (kind_label(run.kind)) }
                td { @for (i, r) in results(run).iter().enumerate() {
                    @if i > 0 { br; }
                    @let (_, place, _) = subject(r);
                    (place)
                } }
                td {
                    (status_pill(run.status))
                    @for r in results(run) { " " (verdict(&outcome(r))) }
                    @if let Some(error) = &run.error { br; span.error-message { (error) } }
                }
                td {
                    @if let Some(by) = &run.undone_by {
                        a href=(format!("/sync/runs/{by}")) { "undone" }
                    } @else if undoable(run) {
                        a.button.small.secondary href=(format!("/sync/runs/{}/undo", run.id))
                            aria-label=(format!("Undo the change of {}", run.created_at.format("%Y-%m-%d %H:%M:%S"))) { "Undo…" }
                    } @else if let Some(of) = run.request["of"].as_str().filter(|_| run.kind == SyncRunKind::Undo) {
                        a href=(format!("/sync/runs/{of}")) { "the change it undid" }
                    }
                }
            } } }
        } }
    }
}

/// An undo's result with what the undone run's result for the same Confluence task said
/// of it (its summary, page title and address), for the fields the undo's result lacks.
pub fn with_original(r: &Value, original: &[Value]) -> Value {
    let same = |o: &&Value| {
        r["confluence_task_id"].is_string()
            && o["confluence_page_id"] == r["confluence_page_id"]
            && o["confluence_task_id"] == r["confluence_task_id"]
    };
    let mut merged = r.clone();
    if let (Some(o), Value::Object(fields)) = (original.iter().find(same), &mut merged) {
        for key in ["task_summary", "confluence_page_title", "confluence_page_url", "linked_work_package"] {
            if !fields.contains_key(key) {
                fields.insert(key.into(), o[key].clone());
            }
        }
    }
    merged
}

/// A journal's before or after value in a line: its fields as `name: value`, cut when long.
pub fn value_text(value: Option<&Value>) -> String {
    let line = match value {
        None | Some(Value::Null) => return "—".into(),
        Some(Value::Object(fields)) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match line.char_indices().nth(VALUE_SHOWN) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The journal as a table: what was changed where, before and after.
pub fn journal(changes: &[SyncChange]) -> Markup {
    html! {
        div.table-wrap { table {
            caption.visually-hidden { "Journal of the run" }
            thead { tr {
                th scope="col" { "#" } th scope="col" { "Where" } th scope="col" { "Change" }
                th scope="col" { "Before" } th scope="col" { "After" } th.optional scope="col" { "When" }
            } }
            tbody { @for c in changes { tr {
                td { (c.seq) }
                td { (target_label(&c.target)) " " code { (c.reference) } }
                td { span class=(if c.action == "failed" { "pill failed" } else { "pill" }) { (c.action) } }
                td.journal-value { (value_text(c.before.as_ref())) }
                td.journal-value { (value_text(c.after.as_ref())) }
                td.optional { (c.created_at.format("%Y-%m-%d %H:%M:%S")) " UTC" }
            } } }
        } }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_undo_names_its_tasks_as_the_undone_run_did() {
        let original = [
            json!({"confluence_page_id": "100", "confluence_task_id": "1", "task_summary": "Write the notes",
                   "confluence_page_title": "Release"}),
            json!({"confluence_page_id": "100", "confluence_task_id": "2", "task_summary": "Other"}),
        ];
        let undone = json!({"confluence_page_id": "100", "confluence_task_id": "1", "status_text": "Undone"});
        let merged = with_original(&undone, &original);
        assert_eq!(
            (merged["task_summary"].as_str(), merged["confluence_page_title"].as_str()),
            (Some("Write the notes"), Some("Release"))
        );
        assert_eq!(merged["status_text"], "Undone");
        let unknown = json!({"confluence_page_id": "100", "confluence_task_id": "9"});
        assert_eq!(with_original(&unknown, &original), unknown);
    }

    #[test]
    fn journal_values_read_as_fields_and_are_cut_when_long() {
        assert_eq!(value_text(Some(&json!({"version": 1, "changed": true, "x": null}))), "changed: true · version: 1");
        assert_eq!(value_text(None), "—");
        let long = value_text(Some(&json!("a".repeat(400))));
        assert_eq!(long.chars().count(), VALUE_SHOWN + 1);
    }
}
