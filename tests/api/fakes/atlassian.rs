//! A fake Atlassian site for tests: Confluence REST v2 (storage bodies, versions, 409 on a
//! stale version, cursor-paginated children, 429 with Retry-After, v2 error bodies), v1
//! content search, and Jira REST v3 (search/jql, create under a parent, transitions, 400
//! validation errors, the user lookup), with an optional delay on every answer. Self-contained: the
//! benchmarks include it too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Version {
    pub title: String,
    pub body: String,
}

pub struct Page {
    pub parent: Option<String>,
    pub space: String,
    pub versions: Vec<Version>,
    /// The next write loses against someone else's edit made just before it.
    pub conflict_once: bool,
}

#[derive(Default)]
pub struct Site {
    pub pages: HashMap<String, Page>,
    /// Children in order, per parent.
    pub children: HashMap<String, Vec<String>>,
    /// Answer the next children listing of this page with 429.
    pub throttle_children: Option<String>,
    pub issues: Vec<Value>,
    pub creates: usize,
    pub transitions: usize,
    pub puts: usize,
    /// Writes per page.
    pub puts_by_page: HashMap<String, usize>,
    pub page_creates: usize,
    pub page_deletes: usize,
    /// Issue positions by key, and by label.
    pub index: HashMap<String, usize>,
    pub labelled: HashMap<String, Vec<usize>>,
    /// How long every answer takes.
    pub delay: std::time::Duration,
    /// What goes wrong with the next requests, one each.
    pub trouble: std::collections::VecDeque<Trouble>,
    pub troubles_met: usize,
    /// Display names by Atlassian account id, served by Jira's user lookup; others are 404.
    pub users: HashMap<String, String>,
    /// User lookups asked, per account id.
    pub user_lookups: HashMap<String, usize>,
    /// Answer every user lookup with 500, as a site whose user service is down.
    pub users_down: bool,
    /// The workflow's statuses `(transition id, name, category)`; Backlog, In Progress and
    /// Done when empty.
    pub workflow: Vec<(&'static str, &'static str, &'static str)>,
}

impl Site {
    fn statuses(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        if self.workflow.is_empty() { STATUSES.to_vec() } else { self.workflow.clone() }
    }
}

pub type Shared = Arc<Mutex<Site>>;

/// A failure the site serves instead of an answer.
#[derive(Debug, Clone, Copy)]
pub enum Trouble {
    /// Answers only after this long (longer than the client waits).
    Slow(std::time::Duration),
    /// Answers with this status and an error body.
    Status(u16),
}

pub const ORIGIN: &str = "https://acme.atlassian.net";

fn authorized(headers: &HeaderMap) -> bool {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bot@acme.test:atl-token-1"));
    headers.get("authorization").is_some_and(|v| v == expected.as_str())
}

fn v2_error(status: AxumStatus, title: &str) -> Response {
    let body = json!({"errors": [{"status": status.as_u16(), "code": title.to_uppercase().replace(' ', "_"),
                                  "title": title, "detail": null}]});
    (status, Json(body)).into_response()
}

fn page_json(id: &str, page: &Page, number: usize) -> Value {
    let version = &page.versions[number - 1];
    json!({"id": id, "status": "current", "title": version.title, "spaceId": "98", "parentId": page.parent,
           "parentType": page.parent.as_ref().map(|_| "page"), "authorId": "557058:author",
           "version": {"number": number, "message": "", "minorEdit": false, "authorId": format!("557058:editor-{number}"),
                       "createdAt": format!("2026-11-0{}T10:00:00.000Z", number.min(9))},
           "body": {"storage": {"representation": "storage", "value": version.body}},
           "_links": {"webui": format!("/spaces/{}/pages/{id}", page.space), "base": format!("{ORIGIN}/wiki")}})
}

async fn get_page(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized");
    }
    assert_eq!(q.get("body-format").map(String::as_str), Some("storage"));
    let site = s.lock().expect("lock");
    let Some(page) = site.pages.get(&id) else { return v2_error(AxumStatus::NOT_FOUND, "Not Found") };
    let number = q.get("version").and_then(|v| v.parse().ok()).unwrap_or(page.versions.len());
    if number == 0 || number > page.versions.len() {
        return v2_error(AxumStatus::NOT_FOUND, "Not Found");
    }
    Json(page_json(&id, page, number)).into_response()
}

async fn put_page(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(b): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized");
    }
    let mut site = s.lock().expect("lock");
    site.puts += 1;
    *site.puts_by_page.entry(id.clone()).or_default() += 1;
    let Some(page) = site.pages.get_mut(&id) else { return v2_error(AxumStatus::NOT_FOUND, "Not Found") };
    if page.conflict_once {
        // A person saves the page a moment before the sync does.
        page.conflict_once = false;
        let mut edited = page.versions.last().expect("a version").clone();
        edited.body.push_str("<p>Edited meanwhile</p>");
        page.versions.push(edited);
    }
    let wanted = b["version"]["number"].as_u64().unwrap_or_default() as usize;
    if wanted != page.versions.len() + 1 {
        return v2_error(AxumStatus::CONFLICT, "Version conflict");
    }
    assert_eq!(b["body"]["representation"], "storage");
    assert_eq!(b["status"], "current");
    page.versions.push(Version {
        title: b["title"].as_str().unwrap_or_default().to_string(),
        body: b["body"]["value"].as_str().unwrap_or_default().to_string(),
    });
    let number = page.versions.len();
    Json(page_json(&id, page, number)).into_response()
}

async fn create_page(State(s): State<Shared>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    if !authorized(&headers) {
        return v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized");
    }
    let mut site = s.lock().expect("lock");
    let title = b["title"].as_str().unwrap_or_default().to_string();
    if site.pages.values().any(|p| p.versions.last().is_some_and(|v| v.title == title)) {
        return v2_error(AxumStatus::BAD_REQUEST, "A page with this title already exists");
    }
    let Some(parent) = b["parentId"].as_str().filter(|p| site.pages.contains_key(*p)).map(str::to_string) else {
        return v2_error(AxumStatus::BAD_REQUEST, "Parent page not found");
    };
    assert_eq!(b["spaceId"], "98");
    site.page_creates += 1;
    let id = format!("{}", 5000 + site.page_creates);
    site.add(&id, Some(&parent), &title, b["body"]["value"].as_str().unwrap_or_default().to_string());
    let page = &site.pages[&id];
    Json(page_json(&id, page, 1)).into_response()
}

/// Deletion moves a page to the trash: it is gone from the tree and from reads.
async fn delete_page(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized");
    }
    let mut site = s.lock().expect("lock");
    if site.pages.remove(&id).is_none() {
        return v2_error(AxumStatus::NOT_FOUND, "Not Found");
    }
    site.page_deletes += 1;
    for children in site.children.values_mut() {
        children.retain(|c| c != &id);
    }
    AxumStatus::NO_CONTENT.into_response()
}

async fn children(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized");
    }
    let mut site = s.lock().expect("lock");
    if site.throttle_children.as_deref() == Some(id.as_str()) {
        site.throttle_children = None;
        let mut res = v2_error(AxumStatus::TOO_MANY_REQUESTS, "Too Many Requests");
        res.headers_mut().insert("retry-after", "1".parse().expect("header"));
        return res;
    }
    // Two per page, so every tree with three children needs the cursor.
    let all = site.children.get(&id).cloned().unwrap_or_default();
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let results: Vec<Value> = all
        .iter()
        .skip(start)
        .take(2)
        .map(|c| json!({"id": c, "status": "current", "title": site.pages[c].versions.last().map(|v| v.title.clone())}))
        .collect();
    let mut links = json!({"base": format!("{ORIGIN}/wiki")});
    if start + 2 < all.len() {
        links["next"] = json!(format!("/wiki/api/v2/pages/{id}/children?cursor={}", start + 2));
    }
    Json(json!({"results": results, "_links": links})).into_response()
}

async fn content_by_title(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return (AxumStatus::UNAUTHORIZED, Json(json!({"statusCode": 401, "message": "Unauthorized"}))).into_response();
    }
    let site = s.lock().expect("lock");
    let results: Vec<Value> = site
        .pages
        .iter()
        .filter(|(_, p)| Some(&p.space) == q.get("spaceKey") && p.versions.last().map(|v| &v.title) == q.get("title"))
        .map(|(id, p)| json!({"id": id, "type": "page", "title": p.versions.last().map(|v| v.title.clone())}))
        .collect();
    Json(json!({"results": results, "start": 0, "limit": 25, "size": results.len()})).into_response()
}

fn jira_denied() -> Response {
    (AxumStatus::UNAUTHORIZED, Json(json!({"errorMessages": ["You are not authenticated."], "errors": {}})))
        .into_response()
}

async fn search(State(s): State<Shared>, headers: HeaderMap, Json(q): Json<Value>) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let jql = q["jql"].as_str().unwrap_or_default();
    let quoted = |after: &str| jql.split(after).nth(1).and_then(|r| r.split('"').next()).map(str::to_string);
    let (label, project) = (quoted("labels = \""), quoted("project = \""));
    let site = s.lock().expect("lock");
    // Markers are looked up through an index, so that large benchmark runs stay linear.
    let candidates: Vec<&Value> = match &label {
        Some(l) => site.labelled.get(l).into_iter().flatten().map(|&i| &site.issues[i]).collect(),
        None => site.issues.iter().collect(),
    };
    let issues: Vec<Value> = candidates
        .into_iter()
        .filter(|i| {
            label.as_ref().is_none_or(|l| i["fields"]["labels"].as_array().is_some_and(|ls| ls.iter().any(|x| x == l)))
                && project.as_ref().is_none_or(|p| i["key"].as_str().is_some_and(|k| k.starts_with(&format!("{p}-"))))
        })
        .cloned()
        .collect();
    // Token pagination as /search/jql does it: three at most per page, no total.
    let start: usize =
        q["nextPageToken"].as_str().and_then(|t| t.strip_prefix("t")).and_then(|t| t.parse().ok()).unwrap_or(0);
    let size = q["maxResults"].as_u64().unwrap_or(50).min(3) as usize;
    let page: Vec<Value> = issues.iter().skip(start).take(size).cloned().collect();
    let last = start + size >= issues.len();
    let mut answer = json!({"issues": page, "isLast": last});
    if !last {
        answer["nextPageToken"] = json!(format!("t{}", start + size));
    }
    Json(answer).into_response()
}

async fn create_issue(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let fields = &body["fields"];
    let summary = fields["summary"].as_str().unwrap_or_default();
    if summary.contains("FAIL") {
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"errorMessages": [], "errors": {"summary": "Summary contains a forbidden word."}})),
        )
            .into_response();
    }
    let mut site = s.lock().expect("lock");
    let parent = fields["parent"]["key"].as_str().unwrap_or_default().to_string();
    if !site.index.contains_key(&parent) {
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"errorMessages": [], "errors": {"parent": "Parent not found."}})),
        )
            .into_response();
    }
    site.creates += 1;
    let project = fields["project"]["key"].as_str().unwrap_or_default();
    let key = format!("{project}-{}", 100 + site.creates);
    let mut stored = fields.clone();
    stored["status"] = json!({"name": "To Do", "statusCategory": {"key": "new"}});
    for label in stored["labels"].as_array().cloned().unwrap_or_default() {
        let position = site.issues.len();
        site.labelled.entry(label.as_str().unwrap_or_default().to_string()).or_default().push(position);
    }
    site.push_issue(json!({"id": key, "key": key, "fields": stored}));
    (AxumStatus::CREATED, Json(json!({"id": key, "key": key, "self": format!("{ORIGIN}/rest/api/3/issue/{key}")})))
        .into_response()
}

async fn issue(State(s): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let site = s.lock().expect("lock");
    match site.index.get(&key).map(|&i| &site.issues[i]) {
        Some(issue) => Json(issue.clone()).into_response(),
        None => (AxumStatus::NOT_FOUND, Json(json!({"errorMessages": ["Issue does not exist"], "errors": {}})))
            .into_response(),
    }
}

async fn remote_link(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    assert!(body["object"]["url"].as_str().is_some_and(|u| u.contains("/pages/")), "{body}");
    (AxumStatus::CREATED, Json(json!({"id": 1, "self": "…"}))).into_response()
}

/// Jira's `GET /rest/api/3/user?accountId=`: the account's profile, as privacy allows.
async fn user(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let mut site = s.lock().expect("lock");
    let Some(account) = q.get("accountId").cloned() else {
        return (AxumStatus::BAD_REQUEST, Json(json!({"errorMessages": ["accountId is required"], "errors": {}})))
            .into_response();
    };
    *site.user_lookups.entry(account.clone()).or_default() += 1;
    if site.users_down {
        return (
            AxumStatus::INTERNAL_SERVER_ERROR,
            Json(json!({"errorMessages": ["Internal server error"], "errors": {}})),
        )
            .into_response();
    }
    let Some(name) = site.users.get(&account).cloned() else {
        let message = "Specified user does not exist or you do not have required permissions";
        return (AxumStatus::NOT_FOUND, Json(json!({"errorMessages": [message], "errors": {}}))).into_response();
    };
    let avatar = format!("https://avatar-management.example/{account}/48x48.png");
    Json(json!({"self": format!("{ORIGIN}/rest/api/3/user?accountId={account}"), "accountId": account,
                "accountType": "atlassian", "emailAddress": null, "avatarUrls": {"48x48": avatar},
                "displayName": name, "active": true, "timeZone": "Europe/Madrid", "locale": "en_US",
                "groups": {"size": 1, "items": []}, "applicationRoles": {"size": 1, "items": []},
                "expand": "groups,applicationRoles"}))
    .into_response()
}

const STATUSES: [(&str, &str, &str); 3] =
    [("11", "Backlog", "new"), ("21", "In Progress", "indeterminate"), ("31", "Done", "done")];

async fn transitions(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let statuses = s.lock().expect("lock").statuses();
    let list: Vec<Value> = statuses
        .iter()
        .map(|(id, name, category)| {
            json!({"id": id, "name": format!("Move to {name}"), "hasScreen": false, "isAvailable": true,
                   "to": {"id": id, "name": name, "statusCategory": {"key": category}}})
        })
        .collect();
    Json(json!({"transitions": list})).into_response()
}

async fn transition(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Json(b): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return jira_denied();
    }
    let mut site = s.lock().expect("lock");
    site.transitions += 1;
    let id = b["transition"]["id"].as_str().unwrap_or_default();
    let Some((_, name, category)) = site.statuses().into_iter().find(|(i, _, _)| *i == id) else {
        return (AxumStatus::BAD_REQUEST, Json(json!({"errorMessages": ["Unknown transition"], "errors": {}})))
            .into_response();
    };
    if let Some(issue) = site.index.get(&key).copied().map(|i| &mut site.issues[i]) {
        issue["fields"]["status"] = json!({"name": name, "statusCategory": {"key": category}});
    }
    AxumStatus::NO_CONTENT.into_response()
}

pub fn macro_for(key: &str) -> String {
    format!(
        "<ac:structured-macro ac:name=\"jira\" ac:schema-version=\"1\" ac:macro-id=\"m-{key}\"><ac:parameter \
         ac:name=\"server\">System JIRA</ac:parameter><ac:parameter ac:name=\"key\">{key}</ac:parameter></ac:structured-macro>"
    )
}

pub fn task(id: u32, status: &str, body: &str) -> String {
    format!(
        "<ac:task><ac:task-id>{id}</ac:task-id><ac:task-status>{status}</ac:task-status><ac:task-body>{body}</ac:task-body></ac:task>"
    )
}

pub fn tasks(items: &[String]) -> String {
    format!("<ac:task-list>\n{}\n</ac:task-list>", items.join("\n"))
}

/// Serves a site seeded by `seed`.
pub async fn fake_site(seed: impl FnOnce(&mut Site)) -> (String, Shared) {
    let shared: Shared = Arc::default();
    seed(&mut shared.lock().expect("lock"));
    let router = axum::Router::new()
        .route("/wiki/api/v2/pages", post(create_page))
        .route("/wiki/api/v2/pages/{id}", get(get_page).put(put_page).delete(delete_page))
        .route("/wiki/api/v2/pages/{id}/children", get(children))
        .route("/wiki/rest/api/content", get(content_by_title))
        .route("/rest/api/3/search/jql", post(search))
        .route("/rest/api/3/issue", post(create_issue))
        .route("/rest/api/3/issue/{key}", get(issue))
        .route("/rest/api/3/issue/{key}/remotelink", post(remote_link))
        .route("/rest/api/3/issue/{key}/transitions", get(transitions).post(transition))
        .route("/rest/api/3/user", get(user))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), slow))
        .with_state(shared.clone());
    (serve(router).await, shared)
}

/// Answers after the site's delay, like a remote service far away.
async fn slow(State(s): State<Shared>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (delay, trouble) = {
        let mut site = s.lock().expect("lock");
        let trouble = site.trouble.pop_front();
        site.troubles_met += usize::from(trouble.is_some());
        (site.delay, trouble)
    };
    match trouble {
        Some(Trouble::Slow(d)) => tokio::time::sleep(d).await,
        Some(Trouble::Status(code)) => {
            let status = AxumStatus::from_u16(code).unwrap_or(AxumStatus::INTERNAL_SERVER_ERROR);
            return v2_error(status, status.canonical_reason().unwrap_or("Error"));
        }
        None => {}
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

impl Site {
    /// Adds a page (under `parent`, after its other children).
    pub fn add(&mut self, id: &str, parent: Option<&str>, title: &str, body: String) {
        self.pages.insert(
            id.to_string(),
            Page {
                parent: parent.map(str::to_string),
                space: "OPS".into(),
                versions: vec![Version { title: title.into(), body }],
                conflict_once: false,
            },
        );
        if let Some(parent) = parent {
            self.children.entry(parent.to_string()).or_default().push(id.to_string());
        }
    }

    fn push_issue(&mut self, issue: Value) {
        self.index.insert(issue["key"].as_str().unwrap_or_default().to_string(), self.issues.len());
        self.issues.push(issue);
    }

    /// Adds an issue of type `kind` (a sub-task type when `subtask`) under `parent`.
    pub fn issue(&mut self, key: &str, summary: &str, kind: &str, subtask: bool, parent: Option<&str>) {
        self.push_issue(json!({"id": key, "key": key, "fields": {"summary": summary, "labels": [],
            "issuetype": {"name": kind, "subtask": subtask},
            "parent": parent.map(|p| json!({"key": p})),
            "status": {"name": "To Do", "statusCategory": {"key": "new"}}}}));
    }

    /// Adds a work package issue, assigned to `assignee`.
    pub fn work_package(&mut self, key: &str, assignee: Option<&str>) {
        self.push_issue(
            json!({"id": key, "key": key, "fields": {"summary": format!("Work package {key}"), "labels": [],
            "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            "assignee": assignee.map(|a| json!({"accountId": a}))}}),
        );
    }
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
