//! Jira as the Jira tests know it: the fake Atlassian site (the one fake of Jira, in
//! [`super::atlassian`]) with their credentials and workflow, served behind troubles.

use super::atlassian::{Options, Site, Trouble, basic, router};
pub use super::atlassian::{Shared, jira_time};
use crate::helpers::TroubleQueue;

/// Sets `site` up as the Jira tests expect: their credentials (an API token, and the bearer
/// token of an OAuth install), the workflow To Do, In Progress, Done, issues numbered from 1
/// and made in the project OPS only, 40 issues to a search page, the first create throttled
/// (429), the third comment's answer lost, remote links pointing back at tasks.
pub fn configure(site: &mut Site) {
    site.options = Options {
        credentials: vec![basic("bot@example.org", "jira-token-1"), "Bearer jira-oauth-1".into()],
        page_size: 40,
        key_base: 0,
        throttled_creates: 1,
        projects: vec!["OPS".into()],
        lost_comment_answer: Some(3),
        remote_links_to: "/api/v1/tasks/",
    };
    site.workflow = vec![("11", "To Do", "new"), ("21", "In Progress", "indeterminate"), ("31", "Done", "done")];
}

/// Serves a Jira set up by [`configure`], its first requests meeting `troubles`; its base
/// URL, its state, and the troubles not met yet.
pub async fn fake_jira(troubles: &[Trouble]) -> (String, Shared, TroubleQueue) {
    let shared = Shared::default();
    configure(&mut shared.lock().expect("lock"));
    let (base, troubles) = crate::helpers::serve_troubled(router(shared.clone()), troubles).await;
    (base, shared, troubles)
}
