//! Taiga (REST API v1): login with username and password (`/auth`, type normal) and token
//! refresh on 401, or an application token; the project by slug; tasks or user stories
//! created with subject, description, status, tags, due date and assignee, found again by
//! their marker tag.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::{External, Item, Listed, Listing, Tracker, TrackerFuture, TrackerResult};
use crate::domain::id::IntegrationId;
use crate::domain::integration::{non_blank, setting, typed};
use crate::domain::task::{Priority, TaskStatus};
use crate::jobs::JobError;

pub const DEFAULT_API: &str = "https://api.taiga.io/api/v1";

#[derive(Clone)]
enum Credentials {
    Password {
        username: String,
        password: String,
    },
    /// `Authorization: Application <token>`.
    Application(String),
}

/// Auth tokens by integration, shared by every job of this process.
#[derive(Default)]
pub struct Sessions {
    tokens: Mutex<HashMap<String, (String, Option<String>)>>,
}

/// What the adapter knows of the Taiga project.
#[derive(Debug, Clone)]
struct Project {
    id: i64,
    slug: String,
    /// (id, name, slug, is_closed), in Taiga's order.
    statuses: Vec<(i64, String, String, bool)>,
    /// (id, username, full name, e-mail)
    members: Vec<(i64, String, String, String)>,
}

pub struct Taiga {
    http: reqwest::Client,
    base: String,
    integration_id: String,
    credentials: Credentials,
    project_slug: String,
    /// `tasks` (default) or `userstories`.
    collection: &'static str,
    sessions: Arc<Sessions>,
}

/// Taiga's validation errors (`{"subject": ["This field is required."], "_error_message": …}`)
/// as one readable line.
fn readable(body: &Value) -> String {
    if let Some(m) = body["_error_message"].as_str().filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    if let Some(fields) = body.as_object() {
        let parts: Vec<String> = fields
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| match v {
                Value::Array(list) => {
                    format!("{k}: {}", list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
                }
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    "no details".into()
}

fn failure(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, what: &str) -> JobError {
    super::failure(status, headers, what, "Taiga", readable(body))
}

fn tags_of(item: &Value) -> Vec<String> {
    item["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| match t {
            Value::String(s) => Some(s.clone()),
            // Taiga answers tags as [name, colour] pairs.
            Value::Array(pair) => pair.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// A Taiga integration's settings (its token or password are secrets).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct TaigaSettings {
    /// The API root (Taiga's cloud when not set).
    #[serde(deserialize_with = "non_blank")]
    api_base_url: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    username: Option<String>,
    #[serde(deserialize_with = "non_blank")]
    project_slug: Option<String>,
    /// `task` (the default) or `userstory`.
    #[serde(deserialize_with = "non_blank")]
    item_type: Option<String>,
}

impl Taiga {
    /// A page of the project's items: all of them by creation, or those modified since
    /// `since` by modification.
    async fn listing(&self, cursor: Option<&str>, since: Option<DateTime<Utc>>) -> TrackerResult<Listing> {
        let project = self.project().await?;
        let page: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(1);
        let mut query = vec![
            ("project", project.id.to_string()),
            ("page", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
            ("order_by", if since.is_some() { "modified_date" } else { "created_date" }.to_string()),
        ];
        if let Some(since) = since {
            query.push(("modified_date__gte", since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        }
        let items = self.call(Method::GET, &format!("/{}", self.collection), None, &query).await?;
        let items = items.as_array().cloned().unwrap_or_default();
        let full = items.len() >= PAGE_SIZE;
        let listed = items
            .iter()
            .map(|i| {
                let status = project
                    .statuses
                    .iter()
                    .find(|s| Some(s.0) == i["status"].as_i64())
                    .map(|s| super::inbound::taiga_status(&json!({"slug": s.2, "is_closed": s.3})))
                    .unwrap_or_default();
                Ok(Listed {
                    item: self.external(&project, i)?,
                    description: i["description"].as_str().unwrap_or_default().to_string(),
                    labels: tags_of(i),
                    status,
                    due_date: i["due_date"].as_str().and_then(|d| d.parse().ok()),
                    updated_at: i["modified_date"].as_str().and_then(super::tracker_time),
                })
            })
            .collect::<TrackerResult<Vec<_>>>()?;
        Ok(Listing { items: listed, next: full.then(|| (page + 1).to_string()) })
    }

    pub fn new(
        http: reqwest::Client,
        integration_id: &IntegrationId,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
        sessions: Arc<Sessions>,
    ) -> Result<Self, JobError> {
        let missing = |what: &str| JobError::Permanent(format!("the Taiga integration has no {what}"));
        let settings: TaigaSettings = typed(settings);
        let credentials = match (setting(secrets, "token"), settings.username.as_deref(), setting(secrets, "password"))
        {
            (Some(token), _, _) => Credentials::Application(token.to_string()),
            (None, Some(username), Some(password)) => {
                Credentials::Password { username: username.to_string(), password: password.to_string() }
            }
            _ => return Err(missing("token, or username and password")),
        };
        let collection = match settings.item_type.as_deref() {
            None | Some("task") => "tasks",
            Some("userstory" | "user_story") => "userstories",
            Some(other) => return Err(JobError::Permanent(format!("unknown Taiga item_type {other:?}"))),
        };
        Ok(Taiga {
            http,
            base: settings.api_base_url.as_deref().unwrap_or(DEFAULT_API).trim_end_matches('/').to_string(),
            integration_id: integration_id.to_string(),
            credentials,
            project_slug: settings.project_slug.ok_or_else(|| missing("project_slug"))?,
            collection,
            sessions,
        })
    }

    /// The web address of an item: the API host without `/api/v1` (`api.taiga.io` → `tree.taiga.io`).
    fn web_url(&self, project: &Project, reference: i64) -> String {
        let web = self.base.trim_end_matches("/api/v1").replace("://api.taiga.io", "://tree.taiga.io");
        let kind = if self.collection == "tasks" { "task" } else { "us" };
        format!("{web}/project/{}/{kind}/{reference}", project.slug)
    }

    async fn login(&self) -> TrackerResult<String> {
        let Credentials::Password { username, password } = &self.credentials else {
            return Err(JobError::Permanent("an application token needs no login".into()));
        };
        let body = json!({"type": "normal", "username": username, "password": password});
        let (status, headers, answer) = self.raw(Method::POST, "/auth", None, Some(&body), &[]).await?;
        if !status.is_success() {
            return Err(failure(status, &headers, &answer, "Taiga login"));
        }
        let token = answer["auth_token"].as_str().ok_or(JobError::Retry("Taiga login: no auth_token".into()))?;
        let refresh = answer["refresh"].as_str().map(str::to_string);
        self.sessions.tokens.lock().await.insert(self.integration_id.clone(), (token.to_string(), refresh));
        Ok(token.to_string())
    }

    /// A token to use instead of `failed`: the one another call already renewed it to, else a
    /// new one from the refresh token, or from a new login when that fails. (Several calls
    /// in flight meet the same expiry; only the first renews, so a refresh token used up by
    /// it is not tried again.)
    async fn renew(&self, failed: &str) -> TrackerResult<String> {
        let session = self.sessions.tokens.lock().await.get(&self.integration_id).cloned();
        if let Some((current, _)) = &session
            && current != failed
        {
            return Ok(current.clone());
        }
        if let Some(refresh) = session.and_then(|(_, r)| r) {
            let body = json!({"refresh": refresh});
            let (status, _, answer) = self.raw(Method::POST, "/auth/refresh", None, Some(&body), &[]).await?;
            if let (true, Some(token)) = (status.is_success(), answer["auth_token"].as_str()) {
                let refresh = answer["refresh"].as_str().map(str::to_string);
                self.sessions.tokens.lock().await.insert(self.integration_id.clone(), (token.to_string(), refresh));
                return Ok(token.to_string());
            }
        }
        self.login().await
    }

    async fn authorization(&self) -> TrackerResult<String> {
        match &self.credentials {
            Credentials::Application(token) => Ok(format!("Application {token}")),
            Credentials::Password { .. } => {
                let cached = self.sessions.tokens.lock().await.get(&self.integration_id).map(|(t, _)| t.clone());
                let token = match cached {
                    Some(t) => t,
                    None => self.login().await?,
                };
                Ok(format!("Bearer {token}"))
            }
        }
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
        query: &[(&str, String)],
    ) -> TrackerResult<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).query(query);
        if !query.iter().any(|(k, _)| *k == "page") {
            request = request.header("x-disable-pagination", "True");
        }
        if let Some(auth) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let res = request.send().await.map_err(|e| crate::outbound::transport_failure(&format!("Taiga {path}"), e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let answer = res.json().await.unwrap_or(Value::Null);
        Ok((status, headers, answer))
    }

    /// An authenticated call, whatever Taiga answers; a 401 renews the token and tries once more.
    async fn answer(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        query: &[(&str, String)],
    ) -> TrackerResult<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let auth = self.authorization().await?;
        let answered = self.raw(method.clone(), path, Some(&auth), body, query).await?;
        if answered.0 == StatusCode::UNAUTHORIZED && matches!(self.credentials, Credentials::Password { .. }) {
            let token = self.renew(auth.trim_start_matches("Bearer ")).await?;
            return self.raw(method, path, Some(&format!("Bearer {token}")), body, query).await;
        }
        Ok(answered)
    }

    /// An authenticated call that must succeed.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        query: &[(&str, String)],
    ) -> TrackerResult<Value> {
        let (status, headers, answer) = self.answer(method, path, body, query).await?;
        if status.is_success() { Ok(answer) } else { Err(failure(status, &headers, &answer, &format!("Taiga {path}"))) }
    }

    async fn project(&self) -> TrackerResult<Project> {
        let p = self.call(Method::GET, "/projects/by_slug", None, &[("slug", self.project_slug.clone())]).await?;
        let statuses_key = if self.collection == "tasks" { "task_statuses" } else { "us_statuses" };
        let id = p["id"].as_i64().ok_or(JobError::Permanent("Taiga project without id".into()))?;
        let mut statuses: Vec<(i64, i64, String, String, bool)> = p[statuses_key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some((
                    s["order"].as_i64().unwrap_or(0),
                    s["id"].as_i64()?,
                    s["name"].as_str().unwrap_or_default().to_string(),
                    s["slug"].as_str().unwrap_or_default().to_string(),
                    s["is_closed"].as_bool().unwrap_or(false),
                ))
            })
            .collect();
        statuses.sort_by_key(|s| s.0);
        let members = p["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    m["id"].as_i64()?,
                    m["username"].as_str().unwrap_or_default().to_string(),
                    m["full_name"].as_str().unwrap_or_default().to_string(),
                    m["email"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        Ok(Project {
            id,
            slug: p["slug"].as_str().unwrap_or(&self.project_slug).to_string(),
            statuses: statuses.into_iter().map(|(_, id, name, slug, closed)| (id, name, slug, closed)).collect(),
            members,
        })
    }

    /// The project's status for a taskbridge status: by slug, else the first open (todo),
    /// the first open after it (in progress) or the first closed (done).
    fn status_id(project: &Project, status: TaskStatus) -> Option<i64> {
        let wanted: &[&str] = match status {
            TaskStatus::Todo => &["new", "todo", "to-do", "backlog"],
            TaskStatus::InProgress => &["in-progress", "doing", "in-development"],
            TaskStatus::Done => &["done", "closed", "finished"],
        };
        if let Some(s) = project.statuses.iter().find(|s| wanted.contains(&s.2.as_str())) {
            return Some(s.0);
        }
        let open: Vec<_> = project.statuses.iter().filter(|s| !s.3).collect();
        match status {
            TaskStatus::Todo => open.first().map(|s| s.0),
            TaskStatus::InProgress => open.get(1).or(open.first()).map(|s| s.0),
            TaskStatus::Done => project.statuses.iter().find(|s| s.3).map(|s| s.0),
        }
    }

    /// Sends the item's current `version` (Taiga's optimistic concurrency); a conflict
    /// with a concurrent edit re-reads and tries again.
    async fn set_status(&self, project: &Project, id: &str, status_id: i64) -> TrackerResult<External> {
        self.patch(project, id, &json!({"status": status_id})).await
    }

    /// The task's fields as Taiga's: subject, description with the link back, tags with the
    /// marker (and `priority-high`), assignee, due date.
    fn editable(project: &Project, item: &Item, marker: &str) -> Value {
        let mut tags: Vec<String> = item.labels.iter().map(|l| l.to_lowercase()).collect();
        if item.priority == Priority::High {
            tags.push("priority-high".into());
        }
        tags.push(marker.to_string());
        json!({
            "subject": item.title,
            "description": format!("{}\n\n---\nTracked in taskbridge: {}", item.description, item.link),
            "tags": tags,
            "assigned_to": item.assignee.as_deref().and_then(|a| Self::member_id(project, a)),
            "due_date": item.due_date.map(|d| d.to_string()),
        })
    }

    /// Writes `fields` with the item's current `version`, re-read after a concurrent edit.
    async fn patch(&self, project: &Project, id: &str, fields: &Value) -> TrackerResult<External> {
        let path = format!("/{}/{id}", self.collection);
        let mut attempt = 0;
        loop {
            let current = self.call(Method::GET, &path, None, &[]).await?;
            let mut body = fields.clone();
            body["version"] = current["version"].clone();
            let (status, headers, answer) = self.answer(Method::PATCH, &path, Some(&body), &[]).await?;
            match status {
                s if s.is_success() => return self.external(project, &answer),
                // Taiga refuses a stale `version` with a 400 naming that field.
                StatusCode::BAD_REQUEST if attempt < 2 && !answer["version"].is_null() => attempt += 1,
                _ => return Err(failure(status, &headers, &answer, &format!("Taiga {path}"))),
            }
        }
    }

    /// The item kind as Taiga's history names it.
    fn history_kind(&self) -> &'static str {
        if self.collection == "tasks" { "task" } else { "userstory" }
    }

    /// The id of the item's (not deleted) comment holding `marker`.
    async fn find_comment(&self, id: &str, marker: &str) -> TrackerResult<Option<String>> {
        let path = format!("/history/{}/{id}", self.history_kind());
        let history = self.call(Method::GET, &path, None, &[("type", "comment".to_string())]).await?;
        Ok(history
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["delete_comment_date"].is_null() && e["comment"].as_str().is_some_and(|c| c.contains(marker)))
            .and_then(|e| e["id"].as_str().map(str::to_string)))
    }

    fn member_id(project: &Project, who: &str) -> Option<i64> {
        let who = who.trim_start_matches('@').to_lowercase();
        project
            .members
            .iter()
            .find(|m| m.1.to_lowercase() == who || m.3.to_lowercase() == who || m.2.to_lowercase() == who)
            .map(|m| m.0)
    }

    fn external(&self, project: &Project, item: &Value) -> TrackerResult<External> {
        let id = item["id"].as_i64().ok_or(JobError::Retry("Taiga item without id".into()))?;
        let reference = item["ref"].as_i64().unwrap_or(id);
        let status = item["status_extra_info"]["name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                let sid = item["status"].as_i64()?;
                project.statuses.iter().find(|s| s.0 == sid).map(|s| s.1.clone())
            })
            .unwrap_or_default();
        Ok(External {
            id: id.to_string(),
            reference: format!("#{reference}"),
            url: Some(self.web_url(project, reference)),
            title: item["subject"].as_str().unwrap_or_default().to_string(),
            closed: item["is_closed"].as_bool().unwrap_or(false),
            status,
        })
    }

    async fn find_in(&self, project: &Project, marker: &str) -> TrackerResult<Option<External>> {
        let path = format!("/{}", self.collection);
        let query = [("project", project.id.to_string()), ("tags", marker.to_string())];
        let items = self.call(Method::GET, &path, None, &query).await?;
        // The filter is the server's; the check is ours.
        let found = items.as_array().into_iter().flatten().find(|i| tags_of(i).iter().any(|t| t == marker));
        found.map(|i| self.external(project, i)).transpose()
    }
}

/// The fields `update` writes.
const EDITABLE: [&str; 5] = ["subject", "description", "tags", "assigned_to", "due_date"];

/// Items per page when importing.
const PAGE_SIZE: usize = 100;

impl Tracker for Taiga {
    fn list<'a>(&'a self, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(self.listing(cursor, None))
    }

    fn changes<'a>(&'a self, since: DateTime<Utc>, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(self.listing(cursor, Some(since)))
    }

    fn create<'a>(&'a self, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            if let Some(existing) = self.find_in(&project, marker).await? {
                return Ok(existing);
            }
            let mut body = Self::editable(&project, item, marker);
            body["project"] = json!(project.id);
            if let Some(status) = Self::status_id(&project, item.status) {
                body["status"] = json!(status);
            }
            let created = self.call(Method::POST, &format!("/{}", self.collection), Some(&body), &[]).await?;
            self.external(&project, &created)
        })
    }

    fn find<'a>(&'a self, marker: &'a str) -> TrackerFuture<'a, Option<External>> {
        Box::pin(async move {
            let project = self.project().await?;
            self.find_in(&project, marker).await
        })
    }

    fn fetch<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            let item = self.call(Method::GET, &format!("/{}/{id}", self.collection), None, &[]).await?;
            self.external(&project, &item)
        })
    }

    fn transition<'a>(&'a self, id: &'a str, status: TaskStatus) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            let status_id = Self::status_id(&project, status).ok_or_else(|| {
                JobError::Permanent(format!("the Taiga project has no status for {}", status.as_str()))
            })?;
            self.set_status(&project, id, status_id).await
        })
    }

    fn restore<'a>(&'a self, id: &'a str, status: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            let status_id = project.statuses.iter().find(|s| s.1.eq_ignore_ascii_case(status)).map(|s| s.0);
            let status_id = status_id
                .ok_or_else(|| JobError::Permanent(format!("the Taiga project has no status named {status}")))?;
            self.set_status(&project, id, status_id).await
        })
    }

    fn update<'a>(&'a self, id: &'a str, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            self.patch(&project, id, &Self::editable(&project, item, marker)).await
        })
    }

    fn fields<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, Value> {
        Box::pin(async move {
            let item = self.call(Method::GET, &format!("/{}/{id}", self.collection), None, &[]).await?;
            let mut fields = super::pick(&item, &EDITABLE);
            fields["tags"] = json!(tags_of(&item));
            Ok(fields)
        })
    }

    fn set_fields<'a>(&'a self, id: &'a str, fields: &'a Value) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let project = self.project().await?;
            self.patch(&project, id, &super::pick(fields, &EDITABLE)).await
        })
    }

    fn comment<'a>(&'a self, id: &'a str, text: &'a str, marker: &'a str) -> TrackerFuture<'a, String> {
        Box::pin(async move {
            if let Some(found) = self.find_comment(id, marker).await? {
                return Ok(found);
            }
            // Taiga takes comments as a PATCH of the item with `comment` and `version`; the
            // comment's id is its entry in the item's history.
            let project = self.project().await?;
            self.patch(&project, id, &json!({"comment": text})).await?;
            self.find_comment(id, marker)
                .await?
                .ok_or_else(|| JobError::Retry("Taiga's history does not show the comment yet".into()))
        })
    }

    fn uncomment<'a>(&'a self, id: &'a str, comment_id: &'a str, _text: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move {
            let path = format!("/history/{}/{id}/delete_comment", self.history_kind());
            super::deleted(self.call(Method::POST, &path, None, &[("id", comment_id.to_string())]).await)
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move {
            super::deleted(self.call(Method::DELETE, &format!("/{}/{id}", self.collection), None, &[]).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_read_as_one_line() {
        let body = json!({"subject": ["This field is required."], "status": ["Invalid pk \"99\"."]});
        assert_eq!(readable(&body), "status: Invalid pk \"99\".; subject: This field is required.");
        assert_eq!(readable(&json!({"_error_message": "Not found."})), "Not found.");
    }

    #[test]
    fn statuses_map_by_slug_then_by_position() {
        let project = Project {
            id: 1,
            slug: "p".into(),
            statuses: vec![
                (10, "Nuevo".into(), "nuevo".into(), false),
                (11, "En curso".into(), "en-curso".into(), false),
                (12, "Cerrado".into(), "cerrado".into(), true),
            ],
            members: vec![(5, "anap".into(), "Ana Pérez".into(), "ana@example.org".into())],
        };
        assert_eq!(Taiga::status_id(&project, TaskStatus::Todo), Some(10));
        assert_eq!(Taiga::status_id(&project, TaskStatus::InProgress), Some(11));
        assert_eq!(Taiga::status_id(&project, TaskStatus::Done), Some(12));
        assert_eq!(Taiga::member_id(&project, "@AnaP"), Some(5));
        assert_eq!(Taiga::member_id(&project, "ana@example.org"), Some(5));
        assert_eq!(Taiga::member_id(&project, "bob"), None);
    }

    #[test]
    fn tags_come_as_pairs_or_names() {
        assert_eq!(tags_of(&json!({"tags": [["tb-1", null], "x"]})), ["tb-1", "x"]);
    }
}
