//! Test data for the Confluence task sync, built from a real Jira project: under a root
//! page, a page per work package (showing it through a Jira macro) with a tree of child
//! pages below it, every page holding open dummy tasks. Titles carry a time stamp, so the
//! command can run again beside an earlier tree.

use serde_json::Value;

use crate::jobs::JobError;
use crate::trackers::confluence::Confluence;
use crate::trackers::confluence::storage::escape;
use crate::trackers::jira::Jira;

#[derive(Debug, Clone)]
pub struct TreeSpec {
    /// Only issues of this type are work packages (any non-sub-task type when `None`).
    pub work_package_type: Option<String>,
    pub work_packages: usize,
    /// Child pages per page, and how many levels of them below each work package page.
    pub children: usize,
    pub depth: usize,
    pub tasks_per_page: usize,
}

impl TreeSpec {
    /// Pages the tree will have.
    pub fn pages(&self, work_packages: usize) -> usize {
        let below: usize = (1..=self.depth).map(|d| self.children.saturating_pow(d as u32)).sum();
        work_packages * (1 + below)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub root_page_id: String,
    pub work_packages: Vec<String>,
    pub pages: usize,
    pub tasks: usize,
}

fn task_list(title: &str, count: usize, page_number: usize) -> String {
    let mut list = String::from("<ac:task-list>\n");
    for n in 1..=count {
        // Every other task names a due date, as real pages do.
        let due = if n % 2 == 0 {
            format!(" <time datetime=\"2027-01-{:02}\" />", 1 + (page_number + n) % 28)
        } else {
            String::new()
        };
        list.push_str(&format!(
            "<ac:task><ac:task-id>{n}</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Dummy task {n} \
             for {}{due}</ac:task-body></ac:task>\n",
            escape(title)
        ));
    }
    list.push_str("</ac:task-list>");
    list
}

/// Builds the tree under the page at `root_url` from the work packages of `jira_project`,
/// reporting `(pages made, pages in all)` after each page.
pub async fn generate(
    jira: &Jira,
    confluence: &Confluence,
    root_url: &str,
    jira_project: &str,
    spec: &TreeSpec,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Generated, JobError> {
    let root_id = confluence
        .resolve(root_url)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("{root_url} names no Confluence page")))?;
    let root = confluence.page(&root_id, None).await?;
    let space = root.space_id.clone().ok_or_else(|| JobError::Permanent("the root page has no space".into()))?;
    let mut jql = format!("project = \"{}\"", jira_project.replace('"', ""));
    if let Some(kind) = &spec.work_package_type {
        jql.push_str(&format!(" AND issuetype = \"{}\"", kind.replace('"', "")));
    }
    jql.push_str(" ORDER BY key ASC");
    let packages: Vec<(String, String)> = jira
        .search_all(&jql, &["summary", "issuetype"])
        .await?
        .iter()
        .filter(|i| i["fields"]["issuetype"]["subtask"] != Value::Bool(true))
        .filter_map(|i| {
            Some((i["key"].as_str()?.to_string(), i["fields"]["summary"].as_str().unwrap_or("").to_string()))
        })
        .take(spec.work_packages)
        .collect();
    if packages.is_empty() {
        return Err(JobError::Permanent(format!("the Jira project {jira_project} has no work packages to build on")));
    }
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    let total = spec.pages(packages.len());
    let mut made = 0;
    let mut tasks = 0;
    for (key, summary) in &packages {
        let title = format!("{key} {summary} ({stamp})").chars().take(255).collect::<String>();
        let body = format!(
            "<p>Work package: <ac:structured-macro ac:name=\"jira\" ac:schema-version=\"1\"><ac:parameter \
             ac:name=\"key\">{}</ac:parameter></ac:structured-macro></p><h2>Actions</h2>{}",
            escape(key),
            task_list(&title, spec.tasks_per_page, made)
        );
        let page = confluence.create_page(&space, &root.id, &title, &body).await?;
        made += 1;
        tasks += spec.tasks_per_page;
        progress(made, total);
        // Level by level below the work package page; titles name the path ("WP-1 2.1").
        let mut level = vec![(page.id, String::new())];
        for _ in 0..spec.depth {
            let mut next = Vec::new();
            for (parent, path) in &level {
                for c in 1..=spec.children {
                    let path = if path.is_empty() { c.to_string() } else { format!("{path}.{c}") };
                    let title = format!("{key} {path} ({stamp})");
                    let body = format!("<h2>Actions</h2>{}", task_list(&title, spec.tasks_per_page, made));
                    let child = confluence.create_page(&space, parent, &title, &body).await?;
                    made += 1;
                    tasks += spec.tasks_per_page;
                    progress(made, total);
                    next.push((child.id, path));
                }
            }
            level = next;
        }
    }
    Ok(Generated {
        root_page_id: root.id,
        work_packages: packages.into_iter().map(|(k, _)| k).collect(),
        pages: made,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_size_is_known_before_it_is_built() {
        let spec = TreeSpec { work_package_type: None, work_packages: 5, children: 3, depth: 2, tasks_per_page: 4 };
        assert_eq!(spec.pages(5), 5 * (1 + 3 + 9));
        assert_eq!(TreeSpec { depth: 0, ..spec }.pages(2), 2);
    }

    #[test]
    fn dummy_tasks_are_open_and_parse() {
        let list = task_list("WP-1 <2>", 4, 0);
        let tasks = crate::trackers::confluence::storage::Storage::parse(&list).tasks();
        assert_eq!(tasks.len(), 4);
        assert!(tasks.iter().all(|t| !t.complete));
        assert_eq!(tasks[0].summary, "Dummy task 1 for WP-1 <2>");
        assert!(tasks[1].due_date.is_some() && tasks[0].due_date.is_none());
    }
}
