//! Jira Cloud (REST v3): issues created with an Atlassian Document Format description, the
//! marker as a label (found again with the current `/search/jql`), a remote link back to
//! taskbridge, transitions chosen by their target status, comments in ADF.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::atlassian::Access;
use super::{External, Item, Listed, Listing, Tracker, TrackerFuture, TrackerResult};
use crate::domain::integration::{non_blank, typed};
use crate::domain::task::TaskStatus;
use crate::jobs::JobError;

/// A Jira integration's settings (its credentials are [`Access`]'s).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct JiraSettings {
    /// The project new issues go to.
    #[serde(deserialize_with = "non_blank")]
    pub project_key: Option<String>,
    /// The issue type of pushed tasks (`Task` when not set).
    #[serde(deserialize_with = "non_blank")]
    pub issue_type: Option<String>,
    /// The epic or parent pushed issues go under.
    #[serde(deserialize_with = "non_blank")]
    pub parent_key: Option<String>,
    /// The issue type of a Confluence task sync's issues (`Task` when not set).
    #[serde(deserialize_with = "non_blank")]
    pub task_issue_type: Option<String>,
    /// The status an undone sync's issues go back to (`Backlog` when not set).
    #[serde(deserialize_with = "non_blank")]
    pub undo_status: Option<String>,
}

impl JiraSettings {
    pub fn read(settings: &Map<String, Value>) -> Self {
        typed(settings)
    }
}

pub struct Jira {
    http: reqwest::Client,
    access: Access,
    project_key: String,
    issue_type: String,
    parent_key: Option<String>,
}

/// Plain text as an ADF document: one paragraph per paragraph of the text.
pub fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.lines().enumerate() {
                if i > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    content.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": content})
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

/// Jira labels cannot hold spaces.
fn label(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join("-")
}

/// The fields `update` writes.
const EDITABLE: [&str; 4] = ["summary", "description", "labels", "duedate"];

/// The task's fields as Jira's: summary, ADF description with the link back, labels with
/// the marker, due date.
fn editable(item: &Item, marker: &str) -> Value {
    let mut labels: Vec<String> = item.labels.iter().map(|l| label(l)).collect();
    labels.push(marker.to_string());
    let description = format!("{}\n\nTracked in taskbridge: {}", item.description, item.link);
    json!({"summary": item.title, "description": adf(&description), "labels": labels,
           "duedate": item.due_date.map(|d| d.to_string())})
}

/// Where an issue stands: its status's name and its type (issues of one type in one
/// status are offered the same transitions, unless a condition of the workflow differs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Standing {
    pub status: String,
    pub issue_type: String,
}

/// Whether transition `t` leads to the status named `status` (or is named so).
fn leads_to(t: &Value, status: &str) -> bool {
    let named = |v: &Value| v.as_str().is_some_and(|n| n.eq_ignore_ascii_case(status));
    named(&t["to"]["name"]) || named(&t["name"])
}

/// At most this many issues are created by one bulk create (Jira's limit).
pub const BULK_CREATE: usize = 50;

/// Jira's errors (`{"errorMessages": [...], "errors": {"summary": "..."}}`, or a bulk
/// create's list of them per issue) as one line.
fn readable(body: &Value) -> String {
    let mut parts: Vec<String> =
        body["errorMessages"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_string)).collect();
    if let Some(fields) = body["errors"].as_object() {
        parts.extend(fields.iter().map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())));
    }
    for element in body["errors"].as_array().into_iter().flatten() {
        let n = element["failedElementNumber"].as_u64().map_or_else(|| "?".to_string(), |n| n.to_string());
        parts.push(format!("issue {n}: {}", readable(&element["elementErrors"])));
    }
    if parts.is_empty() { "no details".into() } else { parts.join("; ") }
}

impl Jira {
    pub fn new(
        http: reqwest::Client,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Self, JobError> {
        let missing = |what: &str| JobError::Permanent(format!("the Jira integration has no {what}"));
        let access = Access::new("jira", "Jira", settings, secrets)?;
        let typed = JiraSettings::read(settings);
        Ok(Jira {
            http,
            access,
            project_key: typed.project_key.ok_or_else(|| missing("project_key"))?,
            issue_type: typed.issue_type.unwrap_or_else(|| "Task".into()),
            parent_key: typed.parent_key,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> TrackerResult<Value> {
        self.call_keeping(method, path, body, |_, _| false).await
    }

    /// [`Jira::call`], reading an answer that `keep` accepts whatever its status.
    async fn call_keeping(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        keep: impl Fn(reqwest::StatusCode, &Value) -> bool,
    ) -> TrackerResult<Value> {
        let mut request = self
            .access
            .authorize(self.http.request(method, format!("{}/rest/api/3{path}", self.access.api)))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        super::send_json_keeping(request, "Jira", path, readable, keep).await
    }

    fn external(&self, issue: &Value) -> TrackerResult<External> {
        let key = issue["key"].as_str().ok_or(JobError::Retry("Jira issue without key".into()))?;
        let status = &issue["fields"]["status"];
        Ok(External {
            id: key.to_string(),
            reference: key.to_string(),
            url: Some(format!("{}/browse/{key}", self.access.site)),
            title: issue["fields"]["summary"].as_str().unwrap_or_default().to_string(),
            status: status["name"].as_str().unwrap_or_default().to_string(),
            closed: status["statusCategory"]["key"] == "done",
        })
    }

    /// Takes the first available transition that `wanted` accepts (it sees the whole
    /// transition: its name and its target `to`); false when there is none.
    async fn take_transition(&self, key: &str, wanted: impl Fn(&Value) -> bool) -> TrackerResult<bool> {
        let Some(transition_id) = self.find_transition(key, wanted).await? else { return Ok(false) };
        self.take(key, &transition_id).await?;
        Ok(true)
    }

    /// The id of the first transition available to issue `key` that `wanted` accepts.
    async fn find_transition(&self, key: &str, wanted: impl Fn(&Value) -> bool) -> TrackerResult<Option<String>> {
        let available = self.call(Method::GET, &format!("/issue/{key}/transitions"), None).await?;
        Ok(available["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| wanted(t) && t["isAvailable"].as_bool() != Some(false))
            .and_then(|t| t["id"].as_str())
            .map(str::to_string))
    }

    /// Takes transition `transition_id` of issue `key`.
    pub async fn take(&self, key: &str, transition_id: &str) -> TrackerResult<()> {
        let body = json!({"transition": {"id": transition_id}});
        self.call(Method::POST, &format!("/issue/{key}/transitions"), Some(&body)).await?;
        Ok(())
    }

    /// The issue's comment holding `marker`, paging through them (oldest first).
    async fn find_comment(&self, key: &str, marker: &str) -> TrackerResult<Option<String>> {
        let mut start = 0;
        loop {
            let page =
                self.call(Method::GET, &format!("/issue/{key}/comment?startAt={start}&maxResults=100"), None).await?;
            let comments = page["comments"].as_array().cloned().unwrap_or_default();
            if let Some(found) = comments.iter().find(|c| adf_text(&c["body"]).contains(marker)) {
                return Ok(found["id"].as_str().map(str::to_string));
            }
            start += comments.len();
            if comments.is_empty() || start as u64 >= page["total"].as_u64().unwrap_or(0) {
                return Ok(None);
            }
        }
    }

    async fn get(&self, key: &str) -> TrackerResult<External> {
        let issue = self.call(Method::GET, &format!("/issue/{key}?fields=summary,status"), None).await?;
        self.external(&issue)
    }

    /// A page of the project's issues: all by creation, or those updated since `since` by
    /// update. JQL reads absolute times in the Jira user's time zone, so the bound is
    /// relative ("-15m"), a minute early: later changes are seen again, never missed.
    ///
    /// A page token is only good for the query that gave it, so the minutes are fixed on the
    /// first page and carried in the cursor (`{minutes}|{token}`) to the next.
    async fn listing(&self, cursor: Option<&str>, since: Option<DateTime<Utc>>) -> TrackerResult<Listing> {
        let carried = cursor.and_then(|c| c.split_once('|')).and_then(|(m, t)| Some((m.parse::<i64>().ok()?, t)));
        let (minutes, token) = match (since, carried) {
            (None, _) => (None, cursor),
            (Some(_), Some((minutes, token))) => (Some(minutes), Some(token)),
            (Some(since), None) => (Some((Utc::now() - since).num_minutes().max(0) + 1), cursor),
        };
        let jql = match minutes {
            None => format!("project = \"{}\" ORDER BY created ASC", self.project_key),
            Some(minutes) => {
                format!("project = \"{}\" AND updated >= \"-{minutes}m\" ORDER BY updated ASC", self.project_key)
            }
        };
        let mut query = json!({"jql": jql, "fields": ["summary", "status", "labels", "description", "duedate", "updated"],
                               "maxResults": 100});
        if let Some(token) = token {
            query["nextPageToken"] = json!(token);
        }
        let page = self.call(Method::POST, "/search/jql", Some(&query)).await?;
        let items = page["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|issue| {
                let fields = &issue["fields"];
                let status = match fields["status"]["statusCategory"]["key"].as_str() {
                    Some("done") => TaskStatus::Done,
                    Some("indeterminate") => TaskStatus::InProgress,
                    _ => TaskStatus::Todo,
                };
                Ok(Listed {
                    item: self.external(issue)?,
                    description: adf_text(&fields["description"]),
                    labels: fields["labels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect(),
                    status,
                    due_date: fields["duedate"].as_str().and_then(|d| d.parse().ok()),
                    updated_at: fields["updated"].as_str().and_then(super::tracker_time),
                })
            })
            .collect::<TrackerResult<Vec<_>>>()?;
        let last = page["isLast"].as_bool().unwrap_or(true);
        let next = page["nextPageToken"].as_str().filter(|_| !last).map(|token| match minutes {
            Some(minutes) => format!("{minutes}|{token}"),
            None => token.to_string(),
        });
        Ok(Listing { items, next })
    }
}

/// An issue made under a work package for a task found elsewhere (a Confluence page).
#[derive(Debug, Clone)]
pub struct ChildIssue<'a> {
    pub parent: &'a str,
    pub issue_type: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    /// An Atlassian account id.
    pub assignee: Option<&'a str>,
    pub due_date: Option<&'a str>,
    /// Where the task came from, linked from the issue.
    pub origin: (&'a str, &'a str),
}

impl Jira {
    pub fn browse_url(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.access.site)
    }

    /// An issue's summary, status, assignee and type.
    pub async fn issue(&self, key: &str) -> TrackerResult<Value> {
        self.call(Method::GET, &format!("/issue/{key}?fields=summary,status,assignee,issuetype"), None).await
    }

    /// Creates the issues (at most [`BULK_CREATE`], each with its marker label) in one call,
    /// or, when an earlier attempt may have created some (`search_first`), finds those by their
    /// markers and creates only the rest. Answers each issue's key, or Jira's reason for
    /// refusing that one; the links back to the origins are [`Jira::link_origin`]'s.
    pub async fn create_children(
        &self,
        children: &[(ChildIssue<'_>, String)],
        search_first: bool,
    ) -> TrackerResult<Vec<Result<String, String>>> {
        let mut keys: Vec<Option<Result<String, String>>> = vec![None; children.len()];
        if search_first {
            let found = self.marked(children.iter().map(|(_, marker)| marker.as_str())).await?;
            for (key, (_, marker)) in keys.iter_mut().zip(children) {
                *key = found.get(marker).cloned().map(Ok);
            }
        }
        let missing: Vec<usize> = (0..children.len()).filter(|&i| keys[i].is_none()).collect();
        if !missing.is_empty() {
            let updates: Vec<Value> =
                missing.iter().map(|&i| json!({"fields": self.child_fields(&children[i].0, &children[i].1)})).collect();
            let made = self.bulk_create(&updates).await?;
            for (i, made) in missing.into_iter().zip(made) {
                keys[i] = Some(made);
            }
        }
        Ok(keys.into_iter().map(|k| k.unwrap_or_else(|| Err("Jira answered nothing for this issue".into()))).collect())
    }

    /// `POST /issue/bulk`: each update's key or the reason Jira refused it. Jira answers the
    /// created issues in the order asked, leaving out the refused ones, which it names by
    /// their position (`failedElementNumber`); 400 when it refused every one.
    async fn bulk_create(&self, updates: &[Value]) -> TrackerResult<Vec<Result<String, String>>> {
        let body = json!({"issueUpdates": updates});
        let refused_each = |status: reqwest::StatusCode, answer: &Value| {
            status == reqwest::StatusCode::BAD_REQUEST && answer["errors"].is_array()
        };
        let answer = self.call_keeping(Method::POST, "/issue/bulk", Some(&body), refused_each).await?;
        let mut refused: HashMap<u64, String> = HashMap::new();
        for error in answer["errors"].as_array().into_iter().flatten() {
            let Some(n) = error["failedElementNumber"].as_u64() else { continue };
            let status = error["status"].as_u64().unwrap_or(400);
            refused.insert(n, format!("Jira answered {status}: {}", readable(&error["elementErrors"])));
        }
        let mut created = answer["issues"].as_array().into_iter().flatten().map(|i| i["key"].as_str());
        let mut made = Vec::with_capacity(updates.len());
        for n in 0..updates.len() as u64 {
            match refused.remove(&n) {
                Some(reason) => made.push(Err(reason)),
                None => match created.next().flatten() {
                    Some(key) => made.push(Ok(key.to_string())),
                    // Issues may exist that cannot be told apart: the next try finds them by marker.
                    None => return Err(JobError::Retry("Jira's bulk create answered fewer issues than made".into())),
                },
            }
        }
        Ok(made)
    }

    /// The issues labelled with each of `markers`, by marker.
    async fn marked<'m>(&self, markers: impl Iterator<Item = &'m str>) -> TrackerResult<HashMap<String, String>> {
        let wanted: Vec<&str> = markers.collect();
        let quoted: Vec<String> = wanted.iter().map(|m| format!("\"{m}\"")).collect();
        let jql = format!("labels in ({})", quoted.join(", "));
        let mut found = HashMap::new();
        for issue in self.search_all(&jql, &["labels"]).await? {
            let Some(key) = issue["key"].as_str() else { continue };
            for label in issue["fields"]["labels"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if wanted.contains(&label) {
                    found.entry(label.to_string()).or_insert_with(|| key.to_string());
                }
            }
        }
        Ok(found)
    }

    /// A child issue's fields as Jira takes them, its marker among the labels.
    fn child_fields(&self, child: &ChildIssue<'_>, marker: &str) -> Value {
        let project = child.parent.rsplit_once('-').map_or(self.project_key.as_str(), |(p, _)| p);
        let mut fields = json!({
            "project": {"key": project},
            "issuetype": {"name": child.issue_type},
            "parent": {"key": child.parent},
            "summary": child.summary.chars().take(255).collect::<String>(),
            "description": adf(child.description),
            "labels": [marker],
        });
        if let Some(account) = child.assignee {
            fields["assignee"] = json!({"id": account});
        }
        if let Some(due) = child.due_date {
            fields["duedate"] = json!(due);
        }
        fields
    }

    /// Links issue `key` back to the child's origin; a link of the same global id (the
    /// marker's) is updated, not repeated, so a second try changes nothing.
    pub async fn link_origin(&self, key: &str, child: ChildIssue<'_>, marker: &str) -> TrackerResult<()> {
        let (url, title) = child.origin;
        let remote = json!({"globalId": format!("taskbridge:{marker}"),
            "application": {"type": "com.atlassian.confluence", "name": "Confluence"},
            "object": {"url": url, "title": title}});
        self.call(Method::POST, &format!("/issue/{key}/remotelink"), Some(&remote)).await?;
        Ok(())
    }

    /// Every issue `jql` finds, with `fields`, across all token pages.
    pub async fn search_all(&self, jql: &str, fields: &[&str]) -> TrackerResult<Vec<Value>> {
        let mut issues = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = json!({"jql": jql, "fields": fields, "maxResults": 100});
            if let Some(token) = &token {
                query["nextPageToken"] = json!(token);
            }
            let page = self.call(Method::POST, "/search/jql", Some(&query)).await?;
            issues.extend(page["issues"].as_array().into_iter().flatten().cloned());
            token =
                page["nextPageToken"].as_str().filter(|_| page["isLast"].as_bool() != Some(true)).map(str::to_string);
            if token.is_none() {
                return Ok(issues);
            }
        }
    }

    /// The display name of Atlassian account `account_id` (`GET /user?accountId=`). Account
    /// ids are the same in every Atlassian product, so this names Confluence's users too.
    pub async fn user_name(&self, account_id: &str) -> TrackerResult<String> {
        let query =
            serde_urlencoded::to_string([("accountId", account_id)]).map_err(|e| JobError::Permanent(e.to_string()))?;
        let user = self.call(Method::GET, &format!("/user?{query}"), None).await?;
        user["displayName"]
            .as_str()
            .filter(|name| !name.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| JobError::Permanent(format!("Jira answered no displayName for account {account_id}")))
    }

    /// Moves the issue to the status named `status` (case-insensitive); false when it is
    /// there already.
    pub async fn move_to(&self, key: &str, status: &str) -> TrackerResult<bool> {
        let issue = self.call(Method::GET, &format!("/issue/{key}?fields=status"), None).await?;
        if issue["fields"]["status"]["name"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(status)) {
            return Ok(false);
        }
        if self.take_transition(key, |t| leads_to(t, status)).await? {
            Ok(true)
        } else {
            Err(JobError::Permanent(format!("Jira offers no transition of {key} to {status}")))
        }
    }

    /// The transition that takes issue `key` to the status named `status`, if it has one.
    pub async fn transition_to(&self, key: &str, status: &str) -> TrackerResult<Option<String>> {
        self.find_transition(key, |t| leads_to(t, status)).await
    }

    /// Where each of the issues stands (its status and type), in one search per hundred.
    pub async fn standing(&self, keys: &[&str]) -> TrackerResult<HashMap<String, Standing>> {
        let mut standing = HashMap::new();
        for chunk in keys.chunks(100) {
            let jql = format!("key in ({})", chunk.join(", "));
            for issue in self.search_all(&jql, &["status", "issuetype"]).await? {
                let Some(key) = issue["key"].as_str() else { continue };
                let fields = &issue["fields"];
                standing.insert(
                    key.to_string(),
                    Standing {
                        status: fields["status"]["name"].as_str().unwrap_or_default().to_string(),
                        issue_type: fields["issuetype"]["id"]
                            .as_str()
                            .or(fields["issuetype"]["name"].as_str())
                            .unwrap_or_default()
                            .to_string(),
                    },
                );
            }
        }
        Ok(standing)
    }
}

/// The text of an ADF document (descriptions of imported issues).
pub fn adf_text(node: &Value) -> String {
    let mut out = String::new();
    fn walk(node: &Value, out: &mut String) {
        match node["type"].as_str() {
            Some("text") => out.push_str(node["text"].as_str().unwrap_or_default()),
            Some("hardBreak") => out.push('\n'),
            _ => {}
        }
        for child in node["content"].as_array().into_iter().flatten() {
            walk(child, out);
        }
        if matches!(node["type"].as_str(), Some("paragraph" | "heading" | "listItem" | "codeBlock")) {
            out.push_str("\n\n");
        }
    }
    walk(node, &mut out);
    out.trim().to_string()
}

impl Tracker for Jira {
    fn list<'a>(&'a self, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(self.listing(cursor, None))
    }

    fn changes<'a>(&'a self, since: DateTime<Utc>, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(self.listing(cursor, Some(since)))
    }

    fn create<'a>(&'a self, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let existing = match self.find(marker).await? {
                Some(found) => found,
                None => {
                    let mut fields = editable(item, marker);
                    if fields["duedate"].is_null() {
                        fields.as_object_mut().map(|f| f.remove("duedate"));
                    }
                    fields["project"] = json!({"key": self.project_key});
                    fields["issuetype"] = json!({"name": self.issue_type});
                    if let Some(parent) = &self.parent_key {
                        fields["parent"] = json!({"key": parent});
                    }
                    let created = self.call(Method::POST, "/issue", Some(&json!({"fields": fields}))).await?;
                    let key = created["key"].as_str().ok_or(JobError::Retry("Jira created no key".into()))?;
                    External {
                        id: key.to_string(),
                        reference: key.to_string(),
                        url: Some(format!("{}/browse/{key}", self.access.site)),
                        title: item.title.clone(),
                        status: String::new(),
                        closed: false,
                    }
                }
            };
            // The same globalId updates rather than adds: safe to send again on a retry.
            let remote = json!({"globalId": format!("taskbridge:{marker}"),
                "application": {"type": "taskbridge", "name": "taskbridge"},
                "object": {"url": item.link, "title": format!("taskbridge: {}", item.title)}});
            self.call(Method::POST, &format!("/issue/{}/remotelink", existing.id), Some(&remote)).await?;
            Ok(existing)
        })
    }

    fn find<'a>(&'a self, marker: &'a str) -> TrackerFuture<'a, Option<External>> {
        Box::pin(async move {
            let query = json!({"jql": format!("project = \"{}\" AND labels = \"{marker}\"", self.project_key),
                               "fields": ["summary", "status", "labels"], "maxResults": 5});
            let found = self.call(Method::POST, "/search/jql", Some(&query)).await?;
            let issue = found["issues"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["fields"]["labels"].as_array().is_some_and(|ls| ls.iter().any(|l| l == marker)));
            issue.map(|i| self.external(i)).transpose()
        })
    }

    fn fetch<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(self.get(id))
    }

    /// Transition ids differ per workflow: the one leading to the wanted status category.
    fn transition<'a>(&'a self, id: &'a str, status: TaskStatus) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let category = match status {
                TaskStatus::Todo => "new",
                TaskStatus::InProgress => "indeterminate",
                TaskStatus::Done => "done",
            };
            let moved = self.take_transition(id, |t| t["to"]["statusCategory"]["key"] == category).await?;
            let current = self.get(id).await?;
            if moved || (status == TaskStatus::Done && current.closed) {
                return Ok(current); // already there
            }
            Err(JobError::Permanent(format!("Jira offers no transition of {id} to {}", status.as_str())))
        })
    }

    fn restore<'a>(&'a self, id: &'a str, status: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            self.move_to(id, status).await?;
            self.get(id).await
        })
    }

    fn update<'a>(&'a self, id: &'a str, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move { self.set_fields(id, &editable(item, marker)).await })
    }

    fn fields<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, Value> {
        Box::pin(async move {
            let issue = self.call(Method::GET, &format!("/issue/{id}?fields={}", EDITABLE.join(",")), None).await?;
            Ok(super::pick(&issue["fields"], &EDITABLE))
        })
    }

    fn set_fields<'a>(&'a self, id: &'a str, fields: &'a Value) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            self.call(Method::PUT, &format!("/issue/{id}"), Some(&json!({"fields": super::pick(fields, &EDITABLE)})))
                .await?;
            self.get(id).await
        })
    }

    fn comment<'a>(&'a self, id: &'a str, text: &'a str, marker: &'a str) -> TrackerFuture<'a, String> {
        Box::pin(async move {
            if let Some(found) = self.find_comment(id, marker).await? {
                return Ok(found);
            }
            let posted =
                self.call(Method::POST, &format!("/issue/{id}/comment"), Some(&json!({"body": adf(text)}))).await?;
            posted["id"].as_str().map(str::to_string).ok_or(JobError::Retry("Jira made a comment without id".into()))
        })
    }

    fn uncomment<'a>(&'a self, id: &'a str, comment_id: &'a str, _text: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move {
            super::deleted(self.call(Method::DELETE, &format!("/issue/{id}/comment/{comment_id}"), None).await)
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move { super::deleted(self.call(Method::DELETE, &format!("/issue/{id}"), None).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_adf_paragraphs() {
        let doc = adf("First line\nsecond line\n\nNext paragraph");
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["content"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["content"][0]["content"][1]["type"], "hardBreak");
        assert_eq!(doc["content"][1]["content"][0]["text"], "Next paragraph");
    }

    #[test]
    fn errors_read_as_one_line() {
        let body =
            json!({"errorMessages": ["Issue does not exist"], "errors": {"summary": "You must specify a summary."}});
        assert_eq!(readable(&body), "Issue does not exist; summary: You must specify a summary.");
        assert_eq!(label("needs review"), "needs-review");
    }
}
