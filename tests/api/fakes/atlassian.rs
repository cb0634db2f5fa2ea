//! A fake Atlassian site for tests, the one fake of Jira and of Confluence: Confluence REST
//! v2 (storage bodies, versions, 409 on a stale version, cursor-paginated children, 429 with
//! Retry-After, v2 error bodies), v1 content search and the current user; Jira REST v3
//! (search/jql with token pages, create (under a parent, 429 with Retry-After, 400 validation
//! errors), edit, delete, comments, remote links, transitions, the user lookup, `myself`), also
//! through Atlassian's gateway as OAuth installs reach it; with an optional delay on every
//! answer and troubles (a late answer, an error status) met by the next requests.
//! [`Options`] holds what differs between the tests that use it. Self-contained: the
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
    /// How the site answers where the tests that use it differ.
    pub options: Options,
    pub pages: HashMap<String, Page>,
    /// Children in order, per parent.
    pub children: HashMap<String, Vec<String>>,
    /// Answer the next children listing of this page with 429.
    pub throttle_children: Option<String>,
    /// Answer the next this many page creations with 429 and `Retry-After: 1` (nothing made).
    pub throttle_page_creates: usize,
    /// Page creation requests so far, refused or not.
    pub page_create_requests: usize,
    /// The page creation request of this number (from 1) fails with 500 (nothing made).
    pub fail_page_create: Option<usize>,
    /// Jira's issues, in the order made. Add them with [`Site::push_issue`] (or the helpers
    /// beside it) so that the key and label indexes follow; they are rebuilt when the list
    /// changes size behind their back.
    pub issues: Vec<Value>,
    /// Issues created (not counting refused attempts).
    pub creates: usize,
    /// Create requests (single or bulk), refused or not.
    pub create_attempts: usize,
    /// Bulk create requests, refused or not.
    pub bulk_creates: usize,
    /// Transitions asked for, valid or not.
    pub transitions: usize,
    /// Issue edits asked for (`PUT /issue/{key}`).
    pub edits: usize,
    /// Comments per issue key, as Jira keeps them (ADF bodies).
    pub comments: Vec<(String, Value)>,
    pub comment_posts: usize,
    /// Remote links per issue key (one per global id).
    pub remote_links: Vec<(String, Value)>,
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
    /// Requests being answered now, and the most at once, by Jira and by Confluence.
    pub in_flight: InFlight,
    /// Searches asked (`POST /search/jql`).
    pub searches: usize,
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
    /// Issues whose transitions differ from the workflow's (a condition of Jira's workflows
    /// can offer one issue other transitions than another of its type and status).
    pub own_workflow: HashMap<String, Vec<(&'static str, &'static str, &'static str)>>,
    /// Transition lists asked for (`GET /issue/{key}/transitions`).
    pub transition_lookups: usize,
}

/// Requests being answered at once, per product (the path tells: `/wiki/` is Confluence).
#[derive(Debug, Default, Clone, Copy)]
pub struct InFlight {
    pub jira: usize,
    pub confluence: usize,
    pub most_jira: usize,
    pub most_confluence: usize,
}

impl InFlight {
    fn enter(&mut self, confluence: bool) {
        if confluence {
            self.confluence += 1;
            self.most_confluence = self.most_confluence.max(self.confluence);
        } else {
            self.jira += 1;
            self.most_jira = self.most_jira.max(self.jira);
        }
    }

    fn leave(&mut self, confluence: bool) {
        if confluence {
            self.confluence -= 1;
        } else {
            self.jira -= 1;
        }
    }
}

/// What differs between the tests that use the site; the defaults are what the Confluence
/// tests and the sync benchmark expect.
pub struct Options {
    /// The `Authorization` values accepted, by Confluence and Jira alike.
    pub credentials: Vec<String>,
    /// The most issues a search page holds, whatever `maxResults` asks.
    pub page_size: usize,
    /// An issue created gets the number `key_base` + issues created so far (with itself).
    pub key_base: usize,
    /// The first this many create requests (single or bulk) are answered 429 with `Retry-After: 1`.
    pub throttled_creates: usize,
    /// The projects issues can be created in (any when empty); others are Jira's 400.
    pub projects: Vec<String>,
    /// The comment post of this number (from 1) is written, but its answer is lost (502).
    pub lost_comment_answer: Option<usize>,
    /// What every remote link's URL must contain (a Confluence page by default).
    pub remote_links_to: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            credentials: vec![basic("bot@acme.test", "atl-token-1")],
            page_size: 3,
            key_base: 100,
            throttled_creates: 0,
            projects: Vec::new(),
            lost_comment_answer: None,
            remote_links_to: "/pages/",
        }
    }
}

/// The `Authorization` value of an API token.
pub fn basic(email: &str, token: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}")))
}

impl Site {
    fn statuses(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        if self.workflow.is_empty() { STATUSES.to_vec() } else { self.workflow.clone() }
    }

    /// The transitions issue `key` is offered.
    fn statuses_of(&self, key: &str) -> Vec<(&'static str, &'static str, &'static str)> {
        self.own_workflow.get(key).cloned().unwrap_or_else(|| self.statuses())
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

fn authorized(site: &Site, headers: &HeaderMap) -> bool {
    headers.get("authorization").is_some_and(|v| site.options.credentials.iter().any(|c| v == c.as_str()))
}

/// The 401 each API answers: Confluence v2's error list, Confluence v1's status and message,
/// Jira's error messages.
fn denied(path: &str) -> Response {
    if path.contains("/wiki/api/v2/") {
        v2_error(AxumStatus::UNAUTHORIZED, "Unauthorized")
    } else if path.contains("/wiki/rest/") {
        (AxumStatus::UNAUTHORIZED, Json(json!({"statusCode": 401, "message": "Unauthorized"}))).into_response()
    } else {
        jira_denied()
    }
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
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q.get("body-format").map(String::as_str), Some("storage"));
    let site = s.lock().expect("lock");
    let Some(page) = site.pages.get(&id) else { return v2_error(AxumStatus::NOT_FOUND, "Not Found") };
    let number = q.get("version").and_then(|v| v.parse().ok()).unwrap_or(page.versions.len());
    if number == 0 || number > page.versions.len() {
        return v2_error(AxumStatus::NOT_FOUND, "Not Found");
    }
    Json(page_json(&id, page, number)).into_response()
}

async fn put_page(State(s): State<Shared>, Path(id): Path<String>, Json(b): Json<Value>) -> Response {
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

async fn create_page(State(s): State<Shared>, Json(b): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.page_create_requests += 1;
    if site.fail_page_create == Some(site.page_create_requests) {
        return v2_error(AxumStatus::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    if site.throttle_page_creates > 0 {
        site.throttle_page_creates -= 1;
        let mut res = v2_error(AxumStatus::TOO_MANY_REQUESTS, "Too Many Requests");
        res.headers_mut().insert("retry-after", "1".parse().expect("header"));
        return res;
    }
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
async fn delete_page(State(s): State<Shared>, Path(id): Path<String>) -> Response {
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
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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

async fn content_by_title(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
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

fn jira_error(status: AxumStatus, message: &str) -> Response {
    (status, Json(json!({"errorMessages": [message], "errors": {}}))).into_response()
}

fn no_issue() -> Response {
    jira_error(AxumStatus::NOT_FOUND, "Issue does not exist")
}

/// Now, as Jira writes times.
pub fn jira_time() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// `GET /rest/api/3/myself` and Confluence's `GET /wiki/rest/api/user/current`: who the
/// credentials are (what readiness checks).
async fn myself() -> Response {
    Json(json!({"accountId": "5b10", "displayName": "taskbridge bot", "active": true})).into_response()
}

async fn search(State(s): State<Shared>, Json(q): Json<Value>) -> Response {
    let jql = q["jql"].as_str().unwrap_or_default();
    let quoted = |after: &str| jql.split(after).nth(1).and_then(|r| r.split('"').next()).map(str::to_string);
    let (label, project) = (quoted("labels = \""), quoted("project = \""));
    // `labels in ("a", "b")`: any of the labels.
    let labels: Option<Vec<String>> = jql.split("labels in (").nth(1).and_then(|r| r.split(')').next()).map(|list| {
        list.split(',').map(|l| l.trim().trim_matches('"').to_string()).filter(|l| !l.is_empty()).collect()
    });
    // `updated >= "-15m"`: relative minutes, as the poller asks.
    let since = jql
        .split("updated >= \"-")
        .nth(1)
        .and_then(|r| r.split('m').next())
        .and_then(|m| m.parse::<i64>().ok())
        .map(|m| chrono::Utc::now() - chrono::Duration::minutes(m));
    let mut site = s.lock().expect("lock");
    site.fresh();
    site.searches += 1;
    // Markers are looked up through an index, so that large benchmark runs stay linear.
    let candidates: Vec<&Value> = match (&label, &labels) {
        (Some(l), _) => site.labelled.get(l).into_iter().flatten().map(|&i| &site.issues[i]).collect(),
        (None, Some(ls)) => {
            let mut at: Vec<usize> =
                ls.iter().flat_map(|l| site.labelled.get(l).into_iter().flatten().copied()).collect();
            at.sort_unstable();
            at.dedup();
            at.into_iter().map(|i| &site.issues[i]).collect()
        }
        (None, None) => match jql.split("key in (").nth(1).and_then(|r| r.split(')').next()) {
            // `key in (A-1, A-2)`: Jira refuses the whole search when one key does not exist.
            Some(list) => {
                let mut found = Vec::new();
                for key in list.split(',').map(|k| k.trim().trim_matches('"')).filter(|k| !k.is_empty()) {
                    match site.index.get(key) {
                        Some(&i) => found.push(&site.issues[i]),
                        None => {
                            let message = format!("An issue with key '{key}' does not exist for field 'key'.");
                            return jira_error(AxumStatus::BAD_REQUEST, &message);
                        }
                    }
                }
                found
            }
            None => site.issues.iter().collect(),
        },
    };
    let mut issues: Vec<Value> = candidates
        .into_iter()
        .filter(|i| {
            label.as_ref().is_none_or(|l| i["fields"]["labels"].as_array().is_some_and(|ls| ls.iter().any(|x| x == l)))
                && project.as_ref().is_none_or(|p| i["key"].as_str().is_some_and(|k| k.starts_with(&format!("{p}-"))))
                && since.is_none_or(|since| {
                    i["fields"]["updated"]
                        .as_str()
                        .and_then(|u| chrono::DateTime::parse_from_str(u, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
                        .is_some_and(|u| u >= since)
                })
        })
        .cloned()
        .collect();
    if since.is_some() {
        issues.sort_by(|a, b| a["fields"]["updated"].as_str().cmp(&b["fields"]["updated"].as_str()));
    }
    // Token pagination as /search/jql does it: no total, a nextPageToken until isLast. A
    // token is only good for the query that gave it (the JQL's length stands in for it).
    let size = q["maxResults"].as_u64().unwrap_or(50).min(site.options.page_size as u64) as usize;
    let start = match q["nextPageToken"].as_str() {
        None => 0,
        Some(token) => match token.strip_prefix(&format!("q{}-page-", jql.len())).and_then(|n| n.parse().ok()) {
            Some(start) => start,
            None => return jira_error(AxumStatus::BAD_REQUEST, "The provided next page token is invalid or expired."),
        },
    };
    let page: Vec<Value> = issues.iter().skip(start).take(size).cloned().collect();
    let last = start + size >= issues.len();
    let mut answer = json!({"issues": page, "isLast": last});
    if !last {
        answer["nextPageToken"] = json!(format!("q{}-page-{}", jql.len(), start + size));
    }
    Json(answer).into_response()
}

/// Answer to a create refused by the throttle: 429 with `Retry-After`.
fn throttled(site: &mut Site) -> Option<Response> {
    site.create_attempts += 1;
    (site.create_attempts <= site.options.throttled_creates).then(|| {
        (
            AxumStatus::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"errorMessages": ["Rate limit exceeded."]})),
        )
            .into_response()
    })
}

/// Makes one issue from `fields` as Jira would: its id and key, or Jira's 400 errors.
fn make_issue(site: &mut Site, fields: &Value) -> Result<(String, String), Value> {
    let invalid = |field: &str, message: &str| json!({"errorMessages": [], "errors": {field: message}});
    if fields["summary"].as_str().unwrap_or_default().contains("FAIL") {
        return Err(invalid("summary", "Summary contains a forbidden word."));
    }
    let project = fields["project"]["key"].as_str().unwrap_or_default();
    if !site.options.projects.is_empty() && !site.options.projects.iter().any(|p| p == project) {
        return Err(invalid("project", "valid project is required"));
    }
    if let Some(parent) = fields["parent"]["key"].as_str()
        && !site.index.contains_key(parent)
    {
        return Err(invalid("parent", "Parent not found."));
    }
    site.creates += 1;
    let n = site.options.key_base + site.creates;
    let (id, key) = (format!("{}", 10000 + n), format!("{project}-{n}"));
    let mut stored = fields.clone();
    stored["status"] = json!({"name": "To Do", "statusCategory": {"key": "new"}});
    stored["updated"] = json!(jira_time());
    site.push_issue(json!({"id": id, "key": key, "fields": stored}));
    Ok((id, key))
}

async fn create_issue(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.fresh();
    if let Some(refused) = throttled(&mut site) {
        return refused;
    }
    match make_issue(&mut site, &body["fields"]) {
        Ok((id, key)) => (
            AxumStatus::CREATED,
            Json(json!({"id": id, "key": key, "self": format!("{ORIGIN}/rest/api/3/issue/{id}")})),
        )
            .into_response(),
        Err(errors) => (AxumStatus::BAD_REQUEST, Json(errors)).into_response(),
    }
}

/// `POST /issue/bulk`: up to 50 issues; the made ones listed in order, the refused ones by
/// position (`failedElementNumber`); 201 when any was made, 400 when none was.
async fn bulk_create(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.fresh();
    let updates = body["issueUpdates"].as_array().cloned().unwrap_or_default();
    if updates.is_empty() || updates.len() > 50 {
        return jira_error(AxumStatus::BAD_REQUEST, "issueUpdates must hold 1 to 50 issues.");
    }
    site.bulk_creates += 1;
    if let Some(refused) = throttled(&mut site) {
        return refused;
    }
    let (mut issues, mut errors) = (Vec::new(), Vec::new());
    for (n, update) in updates.iter().enumerate() {
        match make_issue(&mut site, &update["fields"]) {
            Ok((id, key)) => {
                issues.push(json!({"id": id, "key": key, "self": format!("{ORIGIN}/rest/api/3/issue/{id}")}))
            }
            Err(element) => errors.push(json!({"status": 400, "elementErrors": element, "failedElementNumber": n})),
        }
    }
    let status = if issues.is_empty() { AxumStatus::BAD_REQUEST } else { AxumStatus::CREATED };
    (status, Json(json!({"issues": issues, "errors": errors}))).into_response()
}

async fn issue(State(s): State<Shared>, Path(key): Path<String>) -> Response {
    let mut site = s.lock().expect("lock");
    site.fresh();
    match site.index.get(&key).map(|&i| &site.issues[i]) {
        Some(issue) => Json(issue.clone()).into_response(),
        None => no_issue(),
    }
}

/// Edits the fields given; 204 as Jira answers.
async fn edit_issue(State(s): State<Shared>, Path(key): Path<String>, Json(body): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.fresh();
    site.edits += 1;
    let Some(&position) = site.index.get(&key) else { return no_issue() };
    let issue = &mut site.issues[position];
    for (field, value) in body["fields"].as_object().into_iter().flatten() {
        issue["fields"][field] = value.clone();
    }
    issue["fields"]["updated"] = json!(jira_time());
    // Its labels may have changed.
    site.reindex();
    AxumStatus::NO_CONTENT.into_response()
}

async fn delete_issue(State(s): State<Shared>, Path(key): Path<String>) -> Response {
    let mut site = s.lock().expect("lock");
    let before = site.issues.len();
    site.issues.retain(|i| i["key"] != key.as_str());
    if site.issues.len() == before {
        return no_issue();
    }
    site.reindex();
    AxumStatus::NO_CONTENT.into_response()
}

/// Comments, two a page whatever is asked, so that finding one needs the paging.
async fn comments(
    State(s): State<Shared>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let site = s.lock().expect("lock");
    let all: Vec<Value> = site.comments.iter().filter(|(k, _)| *k == key).map(|(_, c)| c.clone()).collect();
    let start: usize = q.get("startAt").and_then(|v| v.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    Json(json!({"startAt": start, "maxResults": 2, "total": all.len(), "comments": page})).into_response()
}

async fn add_comment(State(s): State<Shared>, Path(key): Path<String>, Json(body): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.comment_posts += 1;
    let comment = json!({"id": format!("{}", 20000 + site.comment_posts), "body": body["body"]});
    site.comments.push((key, comment.clone()));
    if site.options.lost_comment_answer == Some(site.comment_posts) {
        // Written, but the answer is lost on the way back.
        return (AxumStatus::BAD_GATEWAY, "upstream timed out").into_response();
    }
    (AxumStatus::CREATED, Json(comment)).into_response()
}

async fn delete_comment(State(s): State<Shared>, Path((key, id)): Path<(String, String)>) -> Response {
    let mut site = s.lock().expect("lock");
    let before = site.comments.len();
    site.comments.retain(|(k, c)| !(*k == key && c["id"] == id.as_str()));
    if site.comments.len() == before {
        return jira_error(AxumStatus::NOT_FOUND, "Can not find a comment");
    }
    AxumStatus::NO_CONTENT.into_response()
}

/// A remote link is kept per issue and global id (a second with the same id replaces it).
async fn remote_link(State(s): State<Shared>, Path(key): Path<String>, Json(body): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    let to = site.options.remote_links_to;
    assert!(body["object"]["url"].as_str().is_some_and(|u| u.contains(to)), "{body}");
    site.remote_links.retain(|(k, l)| !(k == &key && l["globalId"] == body["globalId"]));
    site.remote_links.push((key, body));
    (AxumStatus::CREATED, Json(json!({"id": 1, "self": "…"}))).into_response()
}

/// Jira's `GET /rest/api/3/user?accountId=`: the account's profile, as privacy allows.
async fn user(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut site = s.lock().expect("lock");
    let Some(account) = q.get("accountId").cloned() else {
        return jira_error(AxumStatus::BAD_REQUEST, "accountId is required");
    };
    *site.user_lookups.entry(account.clone()).or_default() += 1;
    if site.users_down {
        return jira_error(AxumStatus::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    let Some(name) = site.users.get(&account).cloned() else {
        let message = "Specified user does not exist or you do not have required permissions";
        return jira_error(AxumStatus::NOT_FOUND, message);
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

async fn transitions(State(s): State<Shared>, Path(key): Path<String>) -> Response {
    let mut site = s.lock().expect("lock");
    site.transition_lookups += 1;
    let statuses = site.statuses_of(&key);
    let list: Vec<Value> = statuses
        .iter()
        .map(|(id, name, category)| {
            json!({"id": id, "name": format!("Move to {name}"), "hasScreen": false, "isAvailable": true,
                   "to": {"id": id, "name": name, "statusCategory": {"key": category}}})
        })
        .collect();
    Json(json!({"transitions": list})).into_response()
}

async fn transition(State(s): State<Shared>, Path(key): Path<String>, Json(b): Json<Value>) -> Response {
    let mut site = s.lock().expect("lock");
    site.fresh();
    site.transitions += 1;
    let id = b["transition"]["id"].as_str().unwrap_or_default();
    let Some((_, name, category)) = site.statuses_of(&key).into_iter().find(|(i, _, _)| *i == id) else {
        return jira_error(AxumStatus::BAD_REQUEST, "Unknown transition");
    };
    if let Some(issue) = site.index.get(&key).copied().map(|i| &mut site.issues[i]) {
        issue["fields"]["status"] = json!({"name": name, "statusCategory": {"key": category}});
        issue["fields"]["updated"] = json!(jira_time());
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
    (serve(router(shared.clone())).await, shared)
}

/// The site's routes over `shared`, to serve (the Jira API also through Atlassian's
/// gateway for the cloud id `cloud-1`, as OAuth installs reach it).
pub fn router(shared: Shared) -> axum::Router {
    let api = axum::Router::new()
        .route("/wiki/api/v2/pages", post(create_page))
        .route("/wiki/api/v2/pages/{id}", get(get_page).put(put_page).delete(delete_page))
        .route("/wiki/api/v2/pages/{id}/children", get(children))
        .route("/wiki/rest/api/content", get(content_by_title))
        .route("/wiki/rest/api/user/current", get(myself))
        .route("/rest/api/3/myself", get(myself))
        .route("/rest/api/3/search/jql", post(search))
        .route("/rest/api/3/issue", post(create_issue))
        .route("/rest/api/3/issue/bulk", post(bulk_create))
        .route("/rest/api/3/issue/{key}", get(issue).put(edit_issue).delete(delete_issue))
        .route("/rest/api/3/issue/{key}/remotelink", post(remote_link))
        .route("/rest/api/3/issue/{key}/comment", get(comments).post(add_comment))
        .route("/rest/api/3/issue/{key}/comment/{id}", axum::routing::delete(delete_comment))
        .route("/rest/api/3/issue/{key}/transitions", get(transitions).post(transition))
        .route("/rest/api/3/user", get(user));
    axum::Router::new()
        .nest("/ex/jira/cloud-1", api.clone())
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// In front of every route: the next trouble, if any, then the site's delay (like a remote
/// service far away), then the credentials (a 401 in the API's own shape).
async fn gate(State(s): State<Shared>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let confluence = request.uri().path().contains("/wiki/");
    let (delay, trouble, authorized) = {
        let mut site = s.lock().expect("lock");
        let trouble = site.trouble.pop_front();
        site.troubles_met += usize::from(trouble.is_some());
        site.in_flight.enter(confluence);
        (site.delay, trouble, authorized(&site, request.headers()))
    };
    let response = answer(delay, trouble, authorized, request, next).await;
    s.lock().expect("lock").in_flight.leave(confluence);
    response
}

async fn answer(
    delay: std::time::Duration,
    trouble: Option<Trouble>,
    authorized: bool,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
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
    if !authorized {
        return denied(request.uri().path());
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

    /// Adds an issue as it is (its key and labels indexed).
    pub fn push_issue(&mut self, issue: Value) {
        self.fresh();
        self.index_issue(self.issues.len(), &issue);
        self.issues.push(issue);
    }

    fn index_issue(&mut self, position: usize, issue: &Value) {
        self.index.insert(issue["key"].as_str().unwrap_or_default().to_string(), position);
        for label in issue["fields"]["labels"].as_array().into_iter().flatten() {
            self.labelled.entry(label.as_str().unwrap_or_default().to_string()).or_default().push(position);
        }
    }

    /// Rebuilds the key and label indexes from the issues.
    fn reindex(&mut self) {
        self.index.clear();
        self.labelled.clear();
        let issues = std::mem::take(&mut self.issues);
        for (position, issue) in issues.iter().enumerate() {
            self.index_issue(position, issue);
        }
        self.issues = issues;
    }

    /// Reindexes when issues were added or removed without the indexes.
    fn fresh(&mut self) {
        if self.index.len() != self.issues.len() {
            self.reindex();
        }
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
