//! A sync run's results read as the replaced automator reported them: each one a
//! Success, Failed (with the error) or Skipped (with why), and how many of each a run has.
//! The console words them; the store keeps each finished run's counts, so a list of runs
//! never reads their results.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The automator's three verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Failed,
    Skipped,
}

/// One result: its verdict, the rest of its status in the run's words (the kind of failure,
/// why it was skipped, what an undo did), and the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub words: Option<String>,
    pub error: Option<String>,
}

fn text<'a>(r: &'a Value, key: &str) -> Option<&'a str> {
    r[key].as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A result's outcome: task syncs and their undo say it in `status_text` ("Success",
/// "Failed - Jira task creation", "Skipped - Empty Task", "Undone"); project mirrors in
/// `action`; tracker runs in `status`.
pub fn outcome(r: &Value) -> Outcome {
    let error = text(r, "error").map(str::to_string);
    if let Some(status) = text(r, "status_text") {
        // A task sync's undo says what it did to the page and the issue (a mirror's undo
        // names the issue by its key instead: see `subject`).
        let done: Vec<String> = if r.get("confluence_task_id").is_some() {
            [("page", "page"), ("issue", "issue")]
                .iter()
                .filter_map(|(key, name)| text(r, key).map(|v| format!("{name} {v}")))
                .collect()
        } else {
            Vec::new()
        };
        let rest = |prefix: &str| status.strip_prefix(prefix).map(|w| w.trim_start_matches([' ', '-']).to_string());
        if let Some(why) = rest("Skipped") {
            return Outcome { verdict: Verdict::Skipped, words: Some(why).filter(|w| !w.is_empty()), error };
        }
        if let Some(what) = rest("Failed") {
            let error = error.or_else(|| (!done.is_empty()).then(|| done.join("; ")));
            return Outcome { verdict: Verdict::Failed, words: Some(what).filter(|w| !w.is_empty()), error };
        }
        let words = match (status, done.is_empty()) {
            ("Success", _) => None,
            (other, true) => Some(other.to_string()),
            (other, false) => Some(format!("{other}: {}", done.join("; "))),
        };
        // The issue was made but its page could not be rewritten.
        let error = error.or_else(|| text(r, "page_error").map(|e| format!("the page was not rewritten: {e}")));
        return Outcome { verdict: Verdict::Success, words, error };
    }
    match text(r, "action").or_else(|| text(r, "status")) {
        Some("failed") => Outcome { verdict: Verdict::Failed, words: None, error },
        Some("unchanged") => {
            Outcome { verdict: Verdict::Skipped, words: Some("already as in Jira".into()), error: None }
        }
        // A tracker run: what was done, and the item's status after it.
        Some(done) if text(&r["item"], "status").is_some() => {
            let now = text(&r["item"], "status").unwrap_or_default();
            Outcome { verdict: Verdict::Success, words: Some(format!("{done} (now {now})")), error }
        }
        other => Outcome { verdict: Verdict::Success, words: other.map(str::to_string), error },
    }
}

/// How many results of each verdict a run has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub success: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    /// The counts of `results` (a run's results list; anything else has none).
    pub fn of(results: &Value) -> Counts {
        let mut counts = Counts::default();
        for r in results.as_array().map_or(&[][..], Vec::as_slice) {
            match outcome(r).verdict {
                Verdict::Success => counts.success += 1,
                Verdict::Failed => counts.failed += 1,
                Verdict::Skipped => counts.skipped += 1,
            }
        }
        counts
    }

    pub fn total(&self) -> u64 {
        self.success + self.failed + self.skipped
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn results_read_as_the_automator_reported_them() {
        let success = outcome(&json!({"status_text": "Success", "new_jira_task_key": "WP-3"}));
        assert_eq!((success.verdict, success.words, success.error), (Verdict::Success, None, None));
        let failed = outcome(&json!({"status_text": "Failed - Jira task creation", "error": "forbidden word"}));
        assert_eq!(failed.verdict, Verdict::Failed);
        assert_eq!(
            (failed.words.as_deref(), failed.error.as_deref()),
            (Some("Jira task creation"), Some("forbidden word"))
        );
        let skipped = outcome(&json!({"status_text": "Skipped - No Work Package found"}));
        assert_eq!((skipped.verdict, skipped.words.as_deref()), (Verdict::Skipped, Some("No Work Package found")));
        let undone = outcome(&json!({"status_text": "Undone", "confluence_task_id": "1",
                                     "page": "restored to version 1", "issue": "moved to Backlog"}));
        assert_eq!(
            (undone.verdict, undone.words.as_deref()),
            (Verdict::Success, Some("Undone: page restored to version 1; issue moved to Backlog"))
        );
        let half = outcome(&json!({"status_text": "Success", "page_error": "409 twice"}));
        assert_eq!(half.error.as_deref(), Some("the page was not rewritten: 409 twice"));
    }

    #[test]
    fn mirrors_and_tracker_runs_say_it_in_their_action() {
        assert_eq!(outcome(&json!({"action": "created"})).words.as_deref(), Some("created"));
        let failed = outcome(&json!({"action": "failed", "error": "no space"}));
        assert_eq!((failed.verdict, failed.error.as_deref()), (Verdict::Failed, Some("no space")));
        assert_eq!(outcome(&json!({"action": "unchanged"})).verdict, Verdict::Skipped);
        assert_eq!(outcome(&json!({"status": "transitioned"})).verdict, Verdict::Success);
    }

    #[test]
    fn a_runs_results_are_counted_by_verdict() {
        let results = json!([{"status_text": "Success"}, {"status_text": "Failed - x"}, {"action": "unchanged"},
                             {"status": "pushed"}]);
        assert_eq!(Counts::of(&results), Counts { success: 2, failed: 1, skipped: 1 });
        assert_eq!(Counts::of(&Value::Null).total(), 0);
    }
}
