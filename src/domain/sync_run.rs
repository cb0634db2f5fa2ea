//! Sync runs as data: what kind of work a run did and where it stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a run did. Tracker runs journal one change the task service wrote to a tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SyncRunKind {
    /// A Confluence page tree's open tasks made Jira issues.
    ConfluenceTasks,
    /// A Jira project mirrored into Confluence.
    JiraProject,
    /// The undo of another run.
    Undo,
    TrackerPush,
    TrackerTransition,
    TrackerUpdate,
    TrackerComment,
}

impl SyncRunKind {
    pub const ALL: [SyncRunKind; 7] = [
        SyncRunKind::ConfluenceTasks,
        SyncRunKind::JiraProject,
        SyncRunKind::Undo,
        SyncRunKind::TrackerPush,
        SyncRunKind::TrackerTransition,
        SyncRunKind::TrackerUpdate,
        SyncRunKind::TrackerComment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncRunKind::ConfluenceTasks => "confluence-tasks",
            SyncRunKind::JiraProject => "jira-project",
            SyncRunKind::Undo => "undo",
            SyncRunKind::TrackerPush => "tracker-push",
            SyncRunKind::TrackerTransition => "tracker-transition",
            SyncRunKind::TrackerUpdate => "tracker-update",
            SyncRunKind::TrackerComment => "tracker-comment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A change the task service wrote to one tracker.
    pub fn is_tracker_run(self) -> bool {
        matches!(
            self,
            SyncRunKind::TrackerPush
                | SyncRunKind::TrackerTransition
                | SyncRunKind::TrackerUpdate
                | SyncRunKind::TrackerComment
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncRunStatus {
    Running,
    Done,
    Failed,
}

impl SyncRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncRunStatus::Running => "running",
            SyncRunStatus::Done => "done",
            SyncRunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SyncRunStatus::Running, SyncRunStatus::Done, SyncRunStatus::Failed].into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_read_back_as_written_and_serialize_the_same() {
        for kind in SyncRunKind::ALL {
            assert_eq!(SyncRunKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(serde_json::json!(kind.as_str())));
        }
        for status in [SyncRunStatus::Running, SyncRunStatus::Done, SyncRunStatus::Failed] {
            assert_eq!(SyncRunStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::json!(status.as_str())));
        }
        assert_eq!(SyncRunKind::parse("tracker-poll"), None);
    }
}
