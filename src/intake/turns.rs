//! Turns to decide and write, per project, within this instance: the duplicate decision and
//! the create it leads to must see each other's results, so requests of one project take
//! them one at a time. Without this, every worker of the instance would decide at once and
//! all but one would find the project changed and decide again (a storm of wasted searches).
//! Other instances are ordered by the project's intake counter in the database
//! ([`crate::store::Store::finish_created`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::domain::id::ProjectId;

#[derive(Default)]
pub(super) struct Turns {
    projects: Mutex<HashMap<ProjectId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    /// Waits for the project's turn; it passes on when the guard is dropped.
    pub(super) async fn take(&self, project_id: &ProjectId) -> OwnedMutexGuard<()> {
        let turn = {
            let mut projects = self.projects.lock().unwrap_or_else(|e| e.into_inner());
            // Turns nobody holds or waits for are dropped, so the map stays as small as
            // the number of projects busy right now.
            projects.retain(|_, turn| Arc::strong_count(turn) > 1);
            projects.entry(project_id.clone()).or_default().clone()
        };
        turn.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_request_of_a_project_at_a_time_and_projects_apart() {
        let turns = Turns::default();
        let (a, b): (ProjectId, ProjectId) = ("a".into(), "b".into());
        let held = turns.take(&a).await;
        assert!(tokio::time::timeout(Duration::from_millis(50), turns.take(&a)).await.is_err(), "a is taken");
        let other = tokio::time::timeout(Duration::from_millis(50), turns.take(&b)).await;
        assert!(other.is_ok(), "b is not held up by a");
        drop(other);
        drop(held);
        assert!(tokio::time::timeout(Duration::from_millis(50), turns.take(&a)).await.is_ok(), "a is free again");
        assert!(turns.projects.lock().unwrap().len() <= 1);
    }
}
