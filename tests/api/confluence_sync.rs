//! Confluence task sync against a local fake Atlassian site (see `atlassian`): open tasks
//! of a page tree become issues under each page's work package, the pages are rewritten
//! once (re-applied after a 409), the run is journaled, and undo puts everything back,
//! harmlessly when repeated.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fakes::atlassian::{ORIGIN, Shared, Site, fake_site, macro_for, task, tasks};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use std::time::Duration;

/// Project Alpha (work package WP-1) with children Design, Ops (its own WP-2), Excerpt and
/// Empty, whose child Deep inherits WP-1; and an Orphan page under no work package.
fn seed(site: &mut Site) {
    let mut add = |id: &str, parent: Option<&str>, title: &str, body: String| site.add(id, parent, title, body);
    add(
        "100",
        None,
        "Project Alpha",
        format!(
            "<p>Work package: {}</p>\n<h2>Release</h2>\n<p>Before the beta &amp; after QA.</p>\n{}",
            macro_for("WP-1"),
            tasks(&[
                task(
                    1,
                    "incomplete",
                    "<ac:link><ri:user ri:account-id=\"acc-ana\" /></ac:link> Write the release notes <time datetime=\"2026-12-01\" />"
                ),
                task(2, "complete", "Book the room"),
            ])
        ),
    );
    add(
        "101",
        Some("100"),
        "Design",
        format!(
            "<h1>Design</h1>\n{}",
            tasks(&[task(1, "incomplete", "Draft the API FAIL"), task(2, "incomplete", "Review the mock-ups")])
        ),
    );
    add(
        "102",
        Some("100"),
        "Ops",
        format!(
            "<p>{}</p>\n{}\n<p>Ünïcödé stays — 日本語</p>",
            macro_for("WP-2"),
            tasks(&[task(5, "incomplete", "Renew the TLS certificate"), task(6, "incomplete", "Rotate the keys")])
        ),
    );
    add(
        "103",
        Some("100"),
        "Excerpt",
        format!(
            "<ac:structured-macro ac:name=\"excerpt-include\"><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>",
            tasks(&[task(9, "incomplete", "Shown from another page")])
        ),
    );
    add("104", Some("100"), "Empty", tasks(&[task(1, "incomplete", "   ")]));
    add("105", Some("104"), "Deep", tasks(&[task(3, "incomplete", "Migrate the database")]));
    add("200", None, "Orphan", tasks(&[task(1, "incomplete", "Nobody owns this")]));
    site.pages.get_mut("102").expect("ops page").conflict_once = true;
    site.throttle_children = Some("100".into());
    site.work_package("WP-1", Some("acc-lead"));
    site.work_package("WP-2", None);
    // Every page's first version is by editor-1; later versions' authors are unknown (404).
    site.users.insert("acc-ana".into(), "Ana Pérez".into());
    site.users.insert("557058:editor-1".into(), "Edith Editor".into());
}

fn result<'a>(results: &'a [Value], page: &str, task: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["confluence_page_id"] == page && r["confluence_task_id"] == task)
        .unwrap_or_else(|| panic!("no result for page {page} task {task}: {results:?}"))
}

fn body(site: &Shared, page: &str) -> (usize, String) {
    let site = site.lock().expect("lock");
    let page = &site.pages[page];
    (page.versions.len(), page.versions.last().map(|v| v.body.clone()).unwrap_or_default())
}

async fn confluence_tasks(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("alpha").await;

    // Without Jira and Confluence connected nothing starts.
    let urls = json!([format!("{site_url}/wiki/spaces/OPS/pages/100/Project+Alpha")]);
    let res = app
        .post(&format!("/api/v1/projects/{project}/sync/confluence-tasks"), json!({"confluence_page_urls": urls}))
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "not_connected"), "{}", res.body);
    connect(&app, &project, &site_url).await;
    let res = app
        .post(&format!("/api/v1/projects/{project}/sync/confluence-tasks"), json!({"confluence_page_urls": []}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .post(
            &format!("/api/v1/projects/{project}/sync/confluence-tasks"),
            json!({"confluence_page_urls": ["not a url"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    let res = app
        .post(
            &format!("/api/v1/projects/{project}/sync/confluence-tasks"),
            json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/100/Project+Alpha"),
                                            format!("{site_url}/wiki/display/OPS/Orphan"),
                                            format!("{site_url}/wiki/spaces/OPS/pages/999/Gone")],
                   "context": {"request_user": "ana", "days_to_due_date": 7}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let run_id = res.body["run_id"].as_str().expect("run id").to_string();
    assert_eq!(res.body["request_id"], run_id.as_str());
    let results = res.body["results"].as_array().expect("results").clone();
    // 100:1, 101:1, 101:2, 102:5, 102:6, 104:1, 105:3, 200:1 and the missing page.
    assert_eq!(results.len(), 9, "{results:#?}");

    let notes = result(&results, "100", "1");
    assert_eq!(notes["status_text"], "Success");
    assert_eq!(notes["linked_work_package"], "WP-1");
    assert_eq!(notes["request_user"], "ana");
    assert_eq!(notes["task_summary"], "Write the release notes");
    assert_eq!(notes["assignee_name"], "Ana Pérez", "the display name, as the automator gave it");
    assert_eq!(notes["assignee_account_id"], "acc-ana");
    assert_eq!(notes["due_date"], "2026-12-01");
    assert_eq!(notes["status"], "incomplete");
    assert_eq!(notes["confluence_page_title"], "Project Alpha");
    assert_eq!(notes["confluence_page_url"], format!("{ORIGIN}/wiki/spaces/OPS/pages/100"));
    assert_eq!(notes["original_page_version"], 1);
    assert_eq!(notes["original_page_version_by"], "Edith Editor");
    assert_eq!(notes["original_page_version_by_account_id"], "557058:editor-1");
    let unassigned = result(&results, "101", "2");
    assert_eq!((&unassigned["assignee_name"], &unassigned["assignee_account_id"]), (&Value::Null, &Value::Null));
    assert_eq!(notes["original_page_version_when"], "2026-11-01T10:00:00.000Z");
    assert_eq!(notes["context"], "Release\nBefore the beta & after QA.");
    let notes_key = notes["new_jira_task_key"].as_str().expect("key").to_string();

    let failed = result(&results, "101", "1");
    assert_eq!(failed["status_text"], "Failed - Jira task creation");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("Summary contains a forbidden word")), "{failed}");
    assert_eq!(
        result(&results, "101", "2")["linked_work_package"],
        "WP-1",
        "a page without a macro inherits its parent's"
    );
    assert_eq!(result(&results, "102", "5")["linked_work_package"], "WP-2");
    assert_eq!(result(&results, "104", "1")["status_text"], "Skipped - Empty Task");
    assert_eq!(result(&results, "105", "3")["linked_work_package"], "WP-1");
    assert_eq!(result(&results, "200", "1")["status_text"], "Skipped - No Work Package found");
    let gone =
        results.iter().find(|r| r["confluence_page_url"].as_str().is_some_and(|u| u.contains("999"))).expect("gone");
    assert_eq!(gone["status_text"], "Failed - Confluence page not found");
    assert!(!results.iter().any(|r| r["confluence_task_id"] == "9"), "tasks shown from other pages are not synced");

    {
        let s = site.lock().expect("lock");
        // Eight tasks by one author, one of them assigned: each account asked about once.
        let asked: Vec<(&str, usize)> = {
            let mut asked: Vec<_> = s.user_lookups.iter().map(|(a, n)| (a.as_str(), *n)).collect();
            asked.sort_unstable();
            asked
        };
        assert_eq!(asked, [("557058:editor-1", 1), ("acc-ana", 1)]);
        assert_eq!(s.creates, 5, "one issue per synced task");
        assert!(s.throttle_children.is_none(), "the 429 was met and waited out");
        let created = s.issues.iter().find(|i| i["key"] == notes_key.as_str()).expect("issue");
        assert_eq!(created["fields"]["parent"]["key"], "WP-1");
        assert_eq!(created["fields"]["project"]["key"], "WP");
        assert_eq!(created["fields"]["assignee"]["id"], "acc-ana");
        assert_eq!(created["fields"]["duedate"], "2026-12-01");
        assert_eq!(created["fields"]["description"]["type"], "doc");
        let review = s.issues.iter().find(|i| i["fields"]["summary"] == "Review the mock-ups").expect("review");
        assert_eq!(review["fields"]["assignee"]["id"], "acc-lead", "the work package's assignee by default");
        let due = (chrono::Utc::now().date_naive() + chrono::Days::new(7)).to_string();
        assert_eq!(review["fields"]["duedate"], due.as_str());
    }

    // Pages with synced tasks were rewritten once: the task is text with a link now.
    let (versions, alpha) = body(&site, "100");
    assert_eq!(versions, 2);
    assert!(alpha.contains(&format!("Write the release notes <a href=\"{site_url}/browse/{notes_key}\"")), "{alpha}");
    assert!(!alpha.contains("<ac:task-id>1</ac:task-id>"));
    assert!(alpha.contains(&task(2, "complete", "Book the room")), "done tasks stay");
    let (_, design) = body(&site, "101");
    assert!(design.contains("Draft the API FAIL</ac:task-body>"), "a task whose issue failed stays a task");
    let (versions, ops) = body(&site, "102");
    assert_eq!(versions, 3, "the conflicting edit, then the sync re-applied on top of it");
    assert!(ops.contains("<p>Edited meanwhile</p>") && !ops.contains("<ac:task>"), "{ops}");
    assert!(ops.ends_with("<p>Ünïcödé stays — 日本語</p><p>Edited meanwhile</p>"));
    assert_eq!(body(&site, "103").0, 1, "nothing of its own to sync");
    assert_eq!(body(&site, "200").0, 1);

    // The journal explains the run.
    let detail = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(detail.body["status"], "done");
    assert_eq!(detail.body["kind"], "confluence-tasks");
    let changes = detail.body["changes"].as_array().expect("changes");
    let count =
        |target: &str, action: &str| changes.iter().filter(|c| c["target"] == target && c["action"] == action).count();
    assert_eq!(count("jira-issue", "create"), 5);
    assert_eq!(count("jira-issue", "failed"), 1);
    assert_eq!(count("confluence-page", "rewrite"), 4, "pages 100, 101, 102 and 105");
    let rewrite = changes.iter().find(|c| c["reference"] == "102" && c["action"] == "rewrite").expect("102");
    assert_eq!((rewrite["before"]["version"].as_i64(), rewrite["after"]["version"].as_i64()), (Some(1), Some(3)));

    // Undo: pages back to their version before the run, issues to Backlog.
    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let undone = undo.body["results"].as_array().expect("results");
    let item = undone.iter().find(|r| r["new_jira_task_key"] == notes_key.as_str()).expect("undone item");
    assert_eq!(item["status_text"], "Undone");
    assert_eq!(item["page"], "restored to version 1");
    assert_eq!(item["issue"], "moved to Backlog");
    {
        let s = site.lock().expect("lock");
        for page in ["100", "101", "102", "105"] {
            let p = &s.pages[page];
            assert_eq!(p.versions.last().map(|v| &v.body), p.versions.first().map(|v| &v.body), "page {page}");
        }
        let backlog = s.issues.iter().filter(|i| i["fields"]["status"]["name"] == "Backlog").count();
        assert_eq!(backlog, 5);
    }
    let detail = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
    assert_eq!(detail.body["undone_by"], undo.body["run_id"]);
    assert_eq!(
        app.post(&format!("/api/v1/sync-runs/{}/undo", undo.body["run_id"].as_str().unwrap_or_default()), json!({}))
            .await
            .status,
        StatusCode::CONFLICT,
        "an undo is not undone"
    );

    // The replaced automator's undo with the whole sync answer: everything is already back.
    let (puts, transitions) = {
        let s = site.lock().expect("lock");
        (s.puts, s.transitions)
    };
    let mut answer = res.body.clone();
    answer["project_id"] = json!(project);
    let again = app.post("/undo_sync_task", answer).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let item = again.body["results"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["new_jira_task_key"] == notes_key.as_str()).cloned());
    let item = item.expect("item");
    assert_eq!(
        (item["page"].as_str(), item["issue"].as_str()),
        (Some("already as at version 1"), Some("already in Backlog"))
    );
    {
        let s = site.lock().expect("lock");
        assert_eq!((s.puts, s.transitions), (puts, transitions), "a repeated undo writes nothing");
    }
    let detail = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
    assert_eq!(detail.body["undone_by"], again.body["run_id"], "the whole answer names the run it undoes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_tasks_sqlite() {
    confluence_tasks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_tasks_postgres() {
    confluence_tasks(Backend::Postgres).await;
}

/// The replaced automator's `/sync_task` on the default project, and its bad inputs.
async fn legacy_sync_task(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let tiny = json!({"confluence_page_urls": [format!("{site_url}/wiki/x/aQ")], "context": {"request_user": "bo"}});
    let res = app.post("/sync_task", tiny.clone()).await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "not_connected"), "{}", res.body);
    // That request made the tenant's default project, which the aliases act on.
    let project =
        app.get("/api/v1/projects").await.body["items"][0]["id"].as_str().expect("default project").to_string();
    connect(&app, &project, &site_url).await;
    let res = app.post("/sync_task", json!({"confluence_page_urls": "not a list"})).await;
    assert!(res.status.is_client_error(), "{}", res.body);
    let res = app.post("/undo_sync_task", json!({"results": [{"status_text": "Success"}]})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(site.lock().expect("lock").creates, 0);

    // Confluence refusing the credentials fails the run as a whole, visibly.
    site.lock().expect("lock").trouble.push_back(crate::fakes::atlassian::Trouble::Status(401));
    let refused = app.post("/sync_task", tiny.clone()).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::BAD_GATEWAY, "upstream_failed"), "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Confluence answered 401") && !message.contains("atl-token-1"), "{message}");
    assert_eq!(site.lock().expect("lock").creates, 0);

    let res = app.post("/sync_task", tiny).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let results = res.body.as_array().expect("the plain list of results");
    // The tiny link names page 105 ("aQ" is 0x69): one task, under WP-1 through its ancestors.
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["status_text"], "Success");
    assert_eq!(results[0]["linked_work_package"], "WP-1");
    assert_eq!(results[0]["request_user"], "bo");
    let undo = app.post("/undo_sync_task", res.body.clone()).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(undo.body["results"][0]["status_text"], "Undone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sync_task_sqlite() {
    legacy_sync_task(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sync_task_postgres() {
    legacy_sync_task(Backend::Postgres).await;
}

/// A team whose workflow has no Backlog names its own issue type and undo status: the sync
/// creates that type and its undo moves the issues to that status.
async fn undo_to_the_teams_own_status(backend: Backend) {
    let (site_url, site) = fake_site(|s| {
        seed(s);
        s.workflow = vec![("11", "Open", "new"), ("21", "Doing", "indeterminate"), ("31", "Closed", "done")];
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("alpha").await;
    for (kind, settings) in [
        (
            "jira",
            json!({"site_url": site_url, "email": "bot@acme.test", "project_key": "WP",
                   "task_issue_type": "Sub-task", "undo_status": "Open"}),
        ),
        ("confluence", json!({"site_url": site_url, "email": "bot@acme.test"})),
    ] {
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        app.integration(&project, body).await;
    }
    let urls = json!([format!("{site_url}/wiki/spaces/OPS/pages/105/Deep")]);
    let res = app
        .post(&format!("/api/v1/projects/{project}/sync/confluence-tasks"), json!({"confluence_page_urls": urls}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let key = res.body["results"][0]["new_jira_task_key"].as_str().expect("an issue").to_string();
    {
        let s = site.lock().expect("lock");
        let issue = s.issues.iter().find(|i| i["key"] == key.as_str()).expect("issue");
        assert_eq!(issue["fields"]["issuetype"]["name"], "Sub-task", "{issue}");
    }
    let run = res.body["run_id"].as_str().expect("run");
    let undo = app.post(&format!("/api/v1/sync-runs/{run}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let item = &undo.body["results"][0];
    assert_eq!(
        (item["status_text"].as_str(), item["issue"].as_str()),
        (Some("Undone"), Some("moved to Open")),
        "{item}"
    );
    let s = site.lock().expect("lock");
    let issue = s.issues.iter().find(|i| i["key"] == key.as_str()).expect("issue");
    assert_eq!(issue["fields"]["status"]["name"], "Open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_to_the_teams_own_status_sqlite() {
    undo_to_the_teams_own_status(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_to_the_teams_own_status_postgres() {
    undo_to_the_teams_own_status(Backend::Postgres).await;
}

/// Connects the project's Jira and Confluence to the site.
pub async fn connect(app: &TestApp, project: &str, site: &str) {
    connect_as(app, &app.key, project, site).await;
}

/// Connects, as the holder of `key`, the project's Jira and Confluence to the site.
async fn connect_as(app: &TestApp, key: &str, project: &str, site: &str) {
    for (kind, settings) in [
        ("jira", json!({"site_url": site, "email": "bot@acme.test", "project_key": "WP"})),
        ("confluence", json!({"site_url": site, "email": "bot@acme.test"})),
    ] {
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        let res =
            app.request(Method::POST, &format!("/api/v1/projects/{project}/integrations"), Some(key), Some(body)).await;
        assert_eq!(res.status, reqwest::StatusCode::CREATED, "{}", res.body);
    }
}

/// The caller's default project ("Inbox"), made by a first alias call that finds nothing
/// connected.
async fn default_project(app: &TestApp, key: &str, site_url: &str) -> String {
    let body = json!({"confluence_page_urls": [format!("{site_url}/wiki/x/aQ")]});
    let res = app.request(Method::POST, "/sync_task", Some(key), Some(body)).await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "not_connected"), "{}", res.body);
    let projects = app.request(Method::GET, "/api/v1/projects", Some(key), None).await;
    projects.body["items"][0]["id"].as_str().expect("default project").to_string()
}

/// `/sync_task` answers the plain list with the run in `Location` and `X-Sync-Run-Id`; that
/// run's answer as read at `Location` is the same list.
async fn listed_run(app: &TestApp, res: &crate::helpers::Resp) -> String {
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.is_array(), "the plain list of results: {}", res.body);
    let header = |name: &str| res.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let run_id = header("x-sync-run-id").expect("X-Sync-Run-Id");
    let location = header("location").expect("Location");
    assert_eq!(location, format!("/api/v1/sync-runs/{run_id}"));
    let run = app.get(&location).await;
    assert_eq!((run.status, &run.body["kind"]), (StatusCode::OK, &json!("confluence-tasks")), "{}", run.body);
    assert_eq!(run.body["results"], res.body);
    run_id
}

/// The alias answers as the replaced automator did, and takes that list back: the run is
/// found from its results (this tenant's only), its pages restored, its issues moved back.
async fn legacy_list_answer(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    let (other_url, other_site) = fake_site(|_| {}).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = default_project(&app, &app.key, &site_url).await;
    connect(&app, &project, &site_url).await;

    let tree = json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/100")],
                      "context": {"request_user": "ana"}});
    let res = app.post("/sync_task", tree).await;
    let run_id = listed_run(&app, &res).await;
    let results = res.body.as_array().expect("list").clone();
    let notes = result(&results, "100", "1");
    assert_eq!((notes["status_text"].as_str(), notes["assignee_name"].as_str()), (Some("Success"), Some("Ana Pérez")));
    assert_eq!(notes["original_page_version_by"], "Edith Editor");
    assert_eq!(notes["original_page_version_by_account_id"], "557058:editor-1");
    let created = results.iter().filter(|r| r["status_text"] == "Success").count();
    assert_eq!(created, 5);

    // Another run by the same author asks nobody: the name is cached for the integration.
    let orphan =
        app.post("/sync_task", json!({"confluence_page_urls": [format!("{site_url}/wiki/display/OPS/Orphan")]}));
    let orphan = orphan.await;
    listed_run(&app, &orphan).await;
    assert_eq!(orphan.body[0]["original_page_version_by"], "Edith Editor");
    assert_eq!(site.lock().expect("lock").user_lookups.get("557058:editor-1"), Some(&1));

    // Another tenant sending this tenant's list acts on its own site, and marks no run of ours.
    let other =
        app.post("/api/v1/tenants", json!({"name": "Other"})).await.body["api_key"].as_str().expect("key").to_string();
    let other_project = default_project(&app, &other, &other_url).await;
    connect_as(&app, &other, &other_project, &other_url).await;
    let (puts, transitions) = {
        let s = site.lock().expect("lock");
        (s.puts, s.transitions)
    };
    let foreign = app.request(Method::POST, "/undo_sync_task", Some(&other), Some(res.body.clone())).await;
    assert_eq!(foreign.status, StatusCode::OK, "{}", foreign.body);
    let foreign_run = app
        .request(
            Method::GET,
            &format!("/api/v1/sync-runs/{}", foreign.body["run_id"].as_str().unwrap_or("-")),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(foreign_run.body["request"]["of"], Value::Null, "{}", foreign_run.body);
    assert_eq!(app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body["undone_by"], Value::Null);
    {
        let s = site.lock().expect("lock");
        assert_eq!((s.puts, s.transitions), (puts, transitions), "nothing of ours was touched");
    }
    assert!(other_site.lock().expect("lock").pages.is_empty());

    // This tenant's plain list: the run is found, undone and marked.
    let undo = app.post("/undo_sync_task", res.body.clone()).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let undone = undo.body["results"].as_array().expect("results");
    let item = undone.iter().find(|r| r["new_jira_task_key"] == notes["new_jira_task_key"]).expect("item");
    assert_eq!(
        (item["page"].as_str(), item["issue"].as_str()),
        (Some("restored to version 1"), Some("moved to Backlog"))
    );
    {
        let s = site.lock().expect("lock");
        for page in ["100", "101", "102", "105"] {
            let p = &s.pages[page];
            assert_eq!(p.versions.last().map(|v| &v.body), p.versions.first().map(|v| &v.body), "page {page}");
        }
        let backlog = s.issues.iter().filter(|i| i["fields"]["status"]["name"] == "Backlog").count();
        assert_eq!(backlog, created);
    }
    let run = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
    assert_eq!(run.body["undone_by"], undo.body["run_id"], "{}", run.body);
    let undo_run = app.get(&format!("/api/v1/sync-runs/{}", undo.body["run_id"].as_str().unwrap_or("-"))).await;
    assert_eq!(undo_run.body["request"]["of"], run_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_list_answer_sqlite() {
    legacy_list_answer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_list_answer_postgres() {
    legacy_list_answer(Backend::Postgres).await;
}

/// A run outlasting the wait: 202 naming the run in the same headers, with a body saying it
/// is still running. And names when the user lookup is down: the account ids stand in, the
/// sync goes on, and the next run asks again (a failure is not cached).
async fn legacy_still_running(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    site.lock().expect("lock").users_down = true;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.sync_wait_secs = 0;
    })
    .await
    else {
        return;
    };
    let project = default_project(&app, &app.key, &site_url).await;
    connect(&app, &project, &site_url).await;
    let orphan = json!({"confluence_page_urls": [format!("{site_url}/wiki/display/OPS/Orphan")]});
    let res = app.post("/sync_task", orphan.clone()).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let run_id = res.headers.get("x-sync-run-id").and_then(|v| v.to_str().ok()).expect("X-Sync-Run-Id").to_string();
    let location = format!("/api/v1/sync-runs/{run_id}");
    assert_eq!(res.headers.get("location").and_then(|v| v.to_str().ok()), Some(location.as_str()));
    assert_eq!((res.body["run_id"].as_str(), res.body["status"].as_str()), (Some(run_id.as_str()), Some("running")));
    assert!(res.body["message"].as_str().is_some_and(|m| m.contains(&location)), "{}", res.body);

    let run = crate::helpers::finished(&app, &location).await;
    assert_eq!(run["status"], "done", "a failing user lookup does not fail the sync: {run}");
    let first = &run["results"][0];
    assert_eq!(first["status_text"], "Skipped - No Work Package found");
    assert_eq!(first["original_page_version_by"], "557058:editor-1", "the account id stands in for the name");
    assert_eq!(first["original_page_version_by_account_id"], "557058:editor-1");

    site.lock().expect("lock").users_down = false;
    let res = app.post("/sync_task", orphan).await;
    let again = res.headers.get("x-sync-run-id").and_then(|v| v.to_str().ok()).expect("run id").to_string();
    let run = crate::helpers::finished(&app, &format!("/api/v1/sync-runs/{again}")).await;
    assert_eq!(run["results"][0]["original_page_version_by"], "Edith Editor");
    assert_eq!(site.lock().expect("lock").user_lookups.get("557058:editor-1"), Some(&2), "asked again after failing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_still_running_sqlite() {
    legacy_still_running(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_still_running_postgres() {
    legacy_still_running(Backend::Postgres).await;
}

/// `taskbridge admin generate-confluence-tree` builds a tree from the Jira project's work
/// packages through the project's integrations; the task sync then finds every task.
async fn generated_tree(backend: Backend) {
    let (site_url, site) = fake_site(|s| {
        s.add("600", None, "Test data", "<p>Generated below.</p>".into());
        s.issue("WP-1", "Billing", "Work Package", false, None);
        s.issue("WP-2", "Search", "Work Package", false, None);
        s.issue("WP-3", "Not needed", "Work Package", false, None);
        s.issue("WP-4", "A sub-task", "Sub-task", true, Some("WP-1"));
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("data").await;
    connect(&app, &project, &site_url).await;
    let root = format!("{site_url}/wiki/spaces/OPS/pages/600");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .args(["admin", "generate-confluence-tree", "--root-page-url", &root, "--jira-project", "WP"])
        .args([
            "--project-id",
            &project,
            "--work-packages",
            "2",
            "--children",
            "2",
            "--depth",
            "2",
            "--tasks-per-page",
            "3",
        ])
        .env("TASKBRIDGE_DATABASE_URL", &app.database_url)
        .env("TASKBRIDGE_ENCRYPTION_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        .env("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true")
        .env("TASKBRIDGE_LOG", "warn")
        .output()
        .await
        .expect("the command runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("14/14 pages"), "a progress bar to the end: {stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(summary["pages"], 14, "2 work packages × (1 + 2 + 4) pages");
    assert_eq!(summary["tasks"], 42);
    assert_eq!(summary["work_packages"], json!(["WP-1", "WP-2"]));
    assert_eq!(site.lock().expect("lock").page_creates, 14);

    let res = app
        .post(&format!("/api/v1/projects/{project}/sync/confluence-tasks"), json!({"confluence_page_urls": [root]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let results = res.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 42);
    assert!(results.iter().all(|r| r["status_text"] == "Success"), "{results:?}");
    let under_first = results.iter().filter(|r| r["linked_work_package"] == "WP-1").count();
    assert_eq!(under_first, 21, "each work package's subtree is linked to it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_tree_sqlite() {
    generated_tree(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_tree_postgres() {
    generated_tree(Backend::Postgres).await;
}

/// With Atlassian answering in 20 ms, a run keeps several calls in flight, never more than
/// each integration's `max_in_flight`; a burst of 429s pauses the run, which then finishes
/// without a duplicate issue; and a first attempt searches for no issue it could not have
/// made yet (only a try after a refusal looks for the issue it may have made).
async fn calls_in_flight(backend: Backend) {
    let (site_url, site) = fake_site(|s| {
        // At most five refusals: a call refused a sixth time would end the attempt.
        s.options.throttled_creates = 5;
        s.delay = Duration::from_millis(20);
        s.add("1", None, "Programme", format!("<p>{}</p>", macro_for("WP-1")));
        s.work_package("WP-1", None);
        for p in 0..20 {
            let items: Vec<String> =
                (1..=10).map(|t| task(t, "incomplete", &format!("Task {t} of page {p}"))).collect();
            s.add(&format!("p{p}"), Some("1"), &format!("Page {p}"), tasks(&items));
        }
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("programme").await;
    let integrations = format!("/api/v1/projects/{project}/integrations");
    for bad in [json!(0), json!(65), json!("8")] {
        let settings = json!({"site_url": site_url, "email": "bot@acme.test", "max_in_flight": bad});
        let body = json!({"type": "jira", "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        let res = app.post(&integrations, body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    assert_eq!(app.get(&integrations).await.body["items"], json!([]), "nothing was made");
    for (kind, limit) in [("jira", 6), ("confluence", 3)] {
        let mut settings = json!({"site_url": site_url, "email": "bot@acme.test", "max_in_flight": limit});
        if kind == "jira" {
            settings["project_key"] = json!("WP");
        }
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        let res = app.post(&integrations, body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }

    let root = format!("{site_url}/wiki/spaces/OPS/pages/1");
    let res = app
        .post(&format!("/api/v1/projects/{project}/sync/confluence-tasks"), json!({"confluence_page_urls": [root]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let results = res.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| r["status_text"] == "Success"), "{results:?}");

    let run_id = res.body["run_id"].as_str().expect("run id").to_string();
    {
        let mut s = site.lock().expect("lock");
        assert_eq!(s.creates, 200);
        assert_eq!(
            (s.bulk_creates, s.create_attempts),
            (4 + 5, 4 + 5),
            "200 issues in four bulk creates of 50, each refused one tried again once it may"
        );
        let mut markers: Vec<&str> = s
            .issues
            .iter()
            .flat_map(|i| i["fields"]["labels"].as_array().into_iter().flatten())
            .filter_map(|l| l.as_str().filter(|l| l.starts_with("tb-sync-")))
            .collect();
        markers.sort_unstable();
        markers.dedup();
        assert_eq!(markers.len(), 200, "one issue per task, none twice");
        assert_eq!(s.remote_links.len(), 200, "one link back per issue");
        assert_eq!(s.searches, 5, "only the tries after a refusal looked for the issues made before");
        assert_eq!(s.puts, 20, "every page rewritten once");
        let flight = s.in_flight;
        assert!((2..=6).contains(&flight.most_jira), "Jira calls in flight: {flight:?}");
        assert!((2..=3).contains(&flight.most_confluence), "Confluence calls in flight: {flight:?}");
        s.in_flight = Default::default();
    }

    // The undo too: every page restored and every issue moved, several at a time.
    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let undone = undo.body["results"].as_array().expect("results");
    assert_eq!(undone.len(), 200);
    assert!(undone.iter().all(|r| r["status_text"] == "Undone" && r["issue"] == "moved to Backlog"), "{undone:?}");
    let s = site.lock().expect("lock");
    for p in 0..20 {
        let page = &s.pages[&format!("p{p}")];
        assert_eq!(page.versions.last().map(|v| &v.body), page.versions.first().map(|v| &v.body), "page p{p}");
    }
    let backlog = s.issues.iter().filter(|i| i["fields"]["status"]["name"] == "Backlog").count();
    assert_eq!(backlog, 200);
    let flight = s.in_flight;
    assert!((2..=6).contains(&flight.most_jira), "Jira calls in flight: {flight:?}");
    assert!((2..=3).contains(&flight.most_confluence), "Confluence calls in flight: {flight:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_sqlite() {
    calls_in_flight(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_postgres() {
    calls_in_flight(Backend::Postgres).await;
}

/// An undo finds where every issue stands in one search and looks up the transition to the
/// undo status once for issues of one type and status; an issue whose workflow refuses that
/// transition is moved by its own, and when the search cannot be made (an issue was deleted
/// since the sync) each issue is moved on its own.
async fn undo_moves_each_issue_its_own_way(backend: Backend) {
    let (site_url, site) = fake_site(|s| {
        s.add("1", None, "Programme", format!("<p>{}</p>", macro_for("WP-1")));
        s.work_package("WP-1", None);
        for p in 0..4 {
            let items: Vec<String> = (1..=2).map(|t| task(t, "incomplete", &format!("Task {t} of page {p}"))).collect();
            s.add(&format!("p{p}"), Some("1"), &format!("Page {p}"), tasks(&items));
        }
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("programme").await;
    // One call at a time, so the issues are moved in the order of their keys.
    for kind in ["jira", "confluence"] {
        let mut settings = json!({"site_url": site_url, "email": "bot@acme.test", "max_in_flight": 1});
        if kind == "jira" {
            settings["project_key"] = json!("WP");
        }
        app.integration(&project, json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}}))
            .await;
    }
    let (app, project, site_url) = (&app, &project, &site_url);
    let sync = || async move {
        let root = format!("{site_url}/wiki/spaces/OPS/pages/1");
        let url = format!("/api/v1/projects/{project}/sync/confluence-tasks");
        let res = app.post(&url, json!({"confluence_page_urls": [root]})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let results = res.body["results"].as_array().expect("results").clone();
        assert_eq!(results.len(), 8);
        assert!(results.iter().all(|r| r["status_text"] == "Success"), "{results:?}");
        let mut keys: Vec<String> =
            results.iter().filter_map(|r| r["new_jira_task_key"].as_str().map(str::to_string)).collect();
        keys.sort_unstable_by_key(|k| k.trim_start_matches("WP-").parse::<u32>().unwrap_or_default());
        (res.body["run_id"].as_str().expect("run id").to_string(), keys)
    };
    let undo = |run_id: String| async move {
        let res = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body["results"].as_array().expect("results").clone()
    };
    let counts = || {
        let s = site.lock().expect("lock");
        (s.searches, s.transition_lookups, s.transitions)
    };

    // The last issue's workflow reaches Backlog by a transition of its own.
    let (run_id, keys) = sync().await;
    let last = keys.last().expect("keys").clone();
    site.lock().expect("lock").own_workflow.insert(last.clone(), vec![("12", "Backlog", "new")]);
    let before = counts();
    let undone = undo(run_id).await;
    assert!(undone.iter().all(|r| r["status_text"] == "Undone" && r["issue"] == "moved to Backlog"), "{undone:?}");
    let after = counts();
    assert_eq!(after.0 - before.0, 3, "one search for where the issues stand (three pages of three)");
    assert_eq!(after.1 - before.1, 2, "the transition looked up once, and once more for the issue that refused it");
    assert_eq!(after.2 - before.2, 9, "eight moves, one of them tried with the shared transition first");
    {
        let s = site.lock().expect("lock");
        for key in &keys {
            let issue = s.issues.iter().find(|i| i["key"] == key.as_str()).expect("issue");
            assert_eq!(issue["fields"]["status"]["name"], "Backlog", "{key}");
        }
    }

    // An issue deleted since the sync: the search fails, each issue is moved on its own.
    let (run_id, keys) = sync().await;
    let gone = keys[0].clone();
    assert_eq!(app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body["status"], "done");
    {
        let mut s = site.lock().expect("lock");
        s.issues.retain(|i| i["key"] != gone.as_str());
    }
    let before = counts();
    let undone = undo(run_id).await;
    for result in &undone {
        if result["new_jira_task_key"] == gone.as_str() {
            assert_eq!(result["status_text"], "Failed - Undo incomplete", "{result}");
            assert!(result["issue"].as_str().is_some_and(|i| i.starts_with("failed")), "{result}");
        } else {
            assert_eq!((&result["status_text"], &result["issue"]), (&json!("Undone"), &json!("moved to Backlog")));
        }
    }
    let after = counts();
    assert_eq!(after.0 - before.0, 1, "the one search, refused");
    assert_eq!(after.1 - before.1, 7, "each remaining issue's own transitions");
    assert_eq!(after.2 - before.2, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_moves_each_issue_its_own_way_sqlite() {
    undo_moves_each_issue_its_own_way(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_moves_each_issue_its_own_way_postgres() {
    undo_moves_each_issue_its_own_way(Backend::Postgres).await;
}
