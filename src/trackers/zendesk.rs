//! Zendesk Support: tickets created with the marker as their `external_id` (found again by
//! it), an internal comment holding the description and the link back, statuses set on the
//! ticket, cursor-paginated listing.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{External, Item, Listed, Listing, Tracker, TrackerFuture, TrackerResult};
use crate::domain::integration::{non_blank, setting, typed};
use crate::domain::task::{Priority, TaskStatus};
use crate::jobs::JobError;

pub struct Zendesk {
    http: reqwest::Client,
    /// `https://{subdomain}.zendesk.com/api/v2`, or `api_base_url`.
    base: String,
    /// Where agents open a ticket.
    agent: String,
    auth: Auth,
}

/// An agent's e-mail and API token, or an OAuth install's bearer token.
enum Auth {
    Token { email: String, token: String },
    Bearer(String),
}

/// Zendesk's errors (`{"error": "RecordInvalid", "description": …, "details": {"subject": [{"description": …}]}}`).
fn readable(body: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = body["description"].as_str().or(body["error"].as_str()) {
        parts.push(d.to_string());
    }
    if let Some(details) = body["details"].as_object() {
        for (field, problems) in details {
            for p in problems.as_array().into_iter().flatten() {
                parts.push(format!("{field}: {}", p["description"].as_str().unwrap_or_default()));
            }
        }
    }
    if parts.is_empty() { "no details".into() } else { parts.join("; ") }
}

fn status_of(ticket: &Value) -> TaskStatus {
    match ticket["status"].as_str() {
        Some("solved" | "closed") => TaskStatus::Done,
        Some("new") | None => TaskStatus::Todo,
        Some(_) => TaskStatus::InProgress,
    }
}

/// A Zendesk integration's settings beyond its `subdomain` (which an OAuth install may
/// hold instead, see `routed`); its API token or access token are secrets.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct ZendeskSettings {
    /// The API root (`https://{subdomain}.zendesk.com/api/v2` when not set).
    #[serde(deserialize_with = "non_blank")]
    api_base_url: Option<String>,
    /// The agent an API token belongs to.
    #[serde(deserialize_with = "non_blank")]
    email: Option<String>,
}

impl Zendesk {
    pub fn new(
        http: reqwest::Client,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Self, JobError> {
        let missing = |what: &str| JobError::Permanent(format!("the Zendesk integration has no {what}"));
        let subdomain = crate::domain::integration::routed(settings, secrets, "subdomain");
        let settings: ZendeskSettings = typed(settings);
        let base = match (settings.api_base_url.as_deref(), subdomain) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(sub)) => format!("https://{sub}.zendesk.com/api/v2"),
            (None, None) => return Err(missing("subdomain")),
        };
        let agent = base.trim_end_matches("/api/v2").to_string();
        Ok(Zendesk {
            http,
            agent,
            base,
            auth: match setting(secrets, "access_token") {
                Some(token) => Auth::Bearer(token.to_string()),
                None => Auth::Token {
                    email: settings.email.ok_or_else(|| missing("email"))?,
                    token: setting(secrets, "api_token").ok_or_else(|| missing("api_token"))?.to_string(),
                },
            },
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> TrackerResult<Value> {
        let request = self.http.request(method, format!("{}{path}", self.base));
        let mut request = match &self.auth {
            Auth::Token { email, token } => request.basic_auth(format!("{email}/token"), Some(token)),
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        // Query strings stay out of error messages.
        super::send_json(request, "Zendesk", path.split('?').next().unwrap_or(path), readable).await
    }

    fn external(&self, ticket: &Value) -> TrackerResult<External> {
        let id = ticket["id"].as_i64().ok_or(JobError::Retry("Zendesk ticket without id".into()))?;
        let status = ticket["status"].as_str().unwrap_or_default();
        Ok(External {
            id: id.to_string(),
            reference: format!("#{id}"),
            url: Some(format!("{}/agent/tickets/{id}", self.agent)),
            title: ticket["subject"].as_str().unwrap_or_default().to_string(),
            status: status.to_string(),
            closed: matches!(status, "solved" | "closed"),
        })
    }
}

/// The fields `update` writes: a ticket's description is its first comment, which stays.
const EDITABLE: [&str; 3] = ["subject", "priority", "tags"];

/// The task's fields as a ticket's.
fn editable(item: &Item) -> Value {
    let priority = match item.priority {
        Priority::Low => "low",
        Priority::Medium => "normal",
        Priority::High => "high",
    };
    let mut tags: Vec<String> =
        item.labels.iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join("_")).collect();
    tags.push("taskbridge".into());
    json!({"subject": item.title, "priority": priority, "tags": tags})
}

impl Tracker for Zendesk {
    fn update<'a>(&'a self, id: &'a str, item: &'a Item, _marker: &'a str) -> TrackerFuture<'a, External> {
        // The marker is the ticket's `external_id`, which an update leaves alone.
        Box::pin(async move { self.set_fields(id, &editable(item)).await })
    }

    fn fields<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, Value> {
        Box::pin(async move {
            let ticket = self.call(Method::GET, &format!("/tickets/{id}"), None).await?;
            Ok(super::pick(&ticket["ticket"], &EDITABLE))
        })
    }

    fn set_fields<'a>(&'a self, id: &'a str, fields: &'a Value) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let body = json!({"ticket": super::pick(fields, &EDITABLE)});
            self.external(&self.call(Method::PUT, &format!("/tickets/{id}"), Some(&body)).await?["ticket"])
        })
    }

    fn create<'a>(&'a self, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            if let Some(existing) = self.find(marker).await? {
                return Ok(existing);
            }
            let mut ticket = editable(item);
            ticket["comment"] = json!({"body": format!("{}\n\nTracked in taskbridge: {}", item.description, item.link),
                                       "public": false});
            ticket["external_id"] = json!(marker);
            let body = json!({"ticket": ticket});
            let created = self.call(Method::POST, "/tickets", Some(&body)).await?;
            self.external(&created["ticket"])
        })
    }

    fn find<'a>(&'a self, marker: &'a str) -> TrackerFuture<'a, Option<External>> {
        Box::pin(async move {
            let found = self.call(Method::GET, &format!("/tickets?external_id={marker}"), None).await?;
            let ticket = found["tickets"].as_array().into_iter().flatten().find(|t| t["external_id"] == marker);
            ticket.map(|t| self.external(t)).transpose()
        })
    }

    fn fetch<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(
            async move { self.external(&self.call(Method::GET, &format!("/tickets/{id}"), None).await?["ticket"]) },
        )
    }

    fn transition<'a>(&'a self, id: &'a str, status: TaskStatus) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            // A ticket cannot go back to `new`: work not done is `open`.
            let status = if status == TaskStatus::Done { "solved" } else { "open" };
            self.set_status(id, status).await
        })
    }

    fn restore<'a>(&'a self, id: &'a str, status: &'a str) -> TrackerFuture<'a, External> {
        Box::pin(async move {
            let status = status.to_ascii_lowercase();
            // Nothing goes back to `new`; `open` is the nearest.
            self.set_status(id, if status == "new" { "open" } else { &status }).await
        })
    }

    fn comment<'a>(&'a self, id: &'a str, text: &'a str, marker: &'a str) -> TrackerFuture<'a, String> {
        Box::pin(async move {
            if let Some(found) = self.find_comment(id, marker).await? {
                return Ok(found);
            }
            let body = json!({"ticket": {"comment": {"body": text, "public": false}}});
            self.call(Method::PUT, &format!("/tickets/{id}"), Some(&body)).await?;
            self.find_comment(id, marker)
                .await?
                .ok_or_else(|| JobError::Retry("Zendesk does not list the comment yet".into()))
        })
    }

    /// Zendesk keeps every comment: the text taskbridge wrote is redacted instead.
    fn uncomment<'a>(&'a self, id: &'a str, comment_id: &'a str, text: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move {
            let path = format!("/tickets/{id}/comments/{comment_id}/redact");
            super::deleted(self.call(Method::PUT, &path, Some(&json!({"text": text}))).await)
        })
    }

    fn list<'a>(&'a self, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(async move {
            let mut path = "/tickets?page[size]=100&sort=created_at".to_string();
            if let Some(after) = cursor {
                path.push_str(&format!(
                    "&page[after]={}",
                    form_urlencoded::byte_serialize(after.as_bytes()).collect::<String>()
                ));
            }
            let page = self.call(Method::GET, &path, None).await?;
            let next = if page["meta"]["has_more"].as_bool() == Some(true) {
                page["meta"]["after_cursor"].as_str().map(str::to_string)
            } else {
                None
            };
            Ok(Listing { items: self.listed(&page)?, next })
        })
    }

    /// Zendesk's incremental export, by cursor: every ticket updated since `since`.
    fn changes<'a>(&'a self, since: DateTime<Utc>, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing> {
        Box::pin(async move {
            let path = match cursor {
                Some(c) => format!(
                    "/incremental/tickets/cursor.json?cursor={}",
                    form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                ),
                None => format!("/incremental/tickets/cursor.json?start_time={}", since.timestamp().max(0)),
            };
            let page = self.call(Method::GET, &path, None).await?;
            let next = page["after_cursor"].as_str().filter(|_| page["end_of_stream"].as_bool() != Some(true));
            Ok(Listing { items: self.listed(&page)?, next: next.map(str::to_string) })
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, ()> {
        Box::pin(async move { super::deleted(self.call(Method::DELETE, &format!("/tickets/{id}"), None).await) })
    }
}

impl Zendesk {
    /// The ticket's comment holding `marker`, among its latest 100 (where a retried
    /// comment is).
    async fn find_comment(&self, id: &str, marker: &str) -> TrackerResult<Option<String>> {
        let page =
            self.call(Method::GET, &format!("/tickets/{id}/comments?sort_order=desc&per_page=100"), None).await?;
        Ok(page["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["body"].as_str().is_some_and(|b| b.contains(marker)))
            .and_then(|c| c["id"].as_i64().map(|n| n.to_string()).or_else(|| c["id"].as_str().map(str::to_string))))
    }

    async fn set_status(&self, id: &str, status: &str) -> TrackerResult<External> {
        let body = json!({"ticket": {"status": status}});
        self.external(&self.call(Method::PUT, &format!("/tickets/{id}"), Some(&body)).await?["ticket"])
    }

    fn listed(&self, page: &Value) -> TrackerResult<Vec<Listed>> {
        page["tickets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                Ok(Listed {
                    item: self.external(t)?,
                    description: t["description"].as_str().unwrap_or_default().to_string(),
                    // The marker is the external id; listing reports it like a label.
                    labels: t["external_id"].as_str().map(str::to_string).into_iter().collect(),
                    status: status_of(t),
                    due_date: t["due_at"].as_str().and_then(|d| d.get(..10)).and_then(|d| d.parse().ok()),
                    updated_at: t["updated_at"].as_str().and_then(super::tracker_time),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_line() {
        let body = json!({"error": "RecordInvalid", "description": "Record validation errors",
                          "details": {"subject": [{"description": "Subject: cannot be blank", "error": "BlankValue"}]}});
        assert_eq!(readable(&body), "Record validation errors; subject: Subject: cannot be blank");
    }

    #[test]
    fn statuses_read_as_taskbridge_statuses() {
        assert_eq!(status_of(&json!({"status": "new"})), TaskStatus::Todo);
        assert_eq!(status_of(&json!({"status": "pending"})), TaskStatus::InProgress);
        assert_eq!(status_of(&json!({"status": "solved"})), TaskStatus::Done);
    }
}
