//! A Jira project mirrored into a Confluence page tree against the fake Atlassian site:
//! epics on top, their issues below, sub-tasks listed on their issue's page; a page made
//! earlier is updated rather than doubled, a re-run changes nothing, and undo takes the
//! mirror back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use std::time::Duration;

use crate::confluence_sync::connect;
use crate::fakes::atlassian::{Site, Trouble, fake_site};
use crate::helpers::{Backend, spawn_app_with};

fn seed(site: &mut Site) {
    site.add("400", None, "Roadmap", "<p>The roadmap.</p>".into());
    site.add("401", Some("400"), "RM-4: Old title", "<p>Written by hand once.</p>".into());
    site.issue("RM-1", "Payments", "Epic", false, None);
    site.issue("RM-2", "Card checkout", "Story", false, Some("RM-1"));
    site.issue("RM-3", "Validate the CVC", "Sub-task", true, Some("RM-2"));
    site.issue("RM-4", "Fix the footer", "Task", false, None);
    site.issue("RM-5", "Search", "Epic", false, None);
    site.issue("RM-6", "Search as you type", "Story", false, Some("RM-5"));
    site.issue("RM-10", "Refunds", "Story", false, Some("RM-1"));
    site.issue("OPS-1", "Another project", "Task", false, None);
    // The first answer comes too late, the next is a server error: both are retried.
    site.trouble.extend([Trouble::Slow(Duration::from_secs(3)), Trouble::Status(500)]);
}

fn title_of(site: &crate::fakes::atlassian::Shared, id: &str) -> (Option<String>, String) {
    let s = site.lock().expect("lock");
    let page = &s.pages[id];
    (page.parent.clone(), page.versions.last().map(|v| v.title.clone()).unwrap_or_default())
}

fn page_of<'a>(results: &'a [Value], key: &str) -> &'a Value {
    results.iter().find(|r| r["new_jira_keys"][0] == key).unwrap_or_else(|| panic!("no page for {key}: {results:?}"))
}

async fn jira_project(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.outbound_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("roadmap").await;
    connect(&app, &project, &site_url).await;
    let path = format!("/api/v1/projects/{project}/sync/jira-project");
    let bad = app
        .post(&path, json!({"project_page_url": format!("{site_url}/wiki/spaces/OPS/pages/400"), "project_key": "rm"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    let request = json!({"project_page_url": format!("{site_url}/wiki/spaces/OPS/pages/400"), "project_key": "RM",
                         "request_user": "ana"});
    let res = app.post(&path, request.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let results = res.body["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 6, "RM-1, RM-4, RM-5 and below them RM-2, RM-10, RM-6: {results:?}");
    let order: Vec<&str> = results.iter().filter_map(|r| r["new_jira_keys"][0].as_str()).collect();
    assert_eq!(order, ["RM-1", "RM-4", "RM-5", "RM-2", "RM-10", "RM-6"], "parents first, keys by number");
    assert_eq!(page_of(&results, "RM-4")["action"], "updated", "the page made earlier is found by its key");
    assert_eq!(page_of(&results, "RM-4")["page_id"], "401");
    assert_eq!(page_of(&results, "RM-1")["action"], "created");
    assert_eq!(page_of(&results, "RM-2")["new_jira_keys"], json!(["RM-2", "RM-3"]), "its sub-task is listed on it");
    assert_eq!(page_of(&results, "RM-1")["project_linked"], "RM");
    assert_eq!(site.lock().expect("lock").troubles_met, 2, "the slow answer and the 500 were waited out");

    let epic = page_of(&results, "RM-1")["page_id"].as_str().expect("id").to_string();
    let story = page_of(&results, "RM-2")["page_id"].as_str().expect("id").to_string();
    assert_eq!(title_of(&site, &epic), (Some("400".into()), "RM-1: Payments".into()));
    assert_eq!(title_of(&site, &story), (Some(epic.clone()), "RM-2: Card checkout".into()));
    assert_eq!(title_of(&site, "401").1, "RM-4: Fix the footer");
    {
        let s = site.lock().expect("lock");
        let body = &s.pages[&story].versions[0].body;
        assert!(body.contains("<ac:parameter ac:name=\"key\">RM-2</ac:parameter>"), "{body}");
        assert!(body.contains("<ac:parameter ac:name=\"key\">RM-3</ac:parameter>"), "{body}");
        assert_eq!(s.page_creates, 5);
        assert!(!s.pages.values().any(|p| p.versions.iter().any(|v| v.title.starts_with("OPS-1"))));
    }
    let detail = app.get(&format!("/api/v1/sync-runs/{}", res.body["run_id"].as_str().unwrap_or_default())).await.body;
    assert_eq!(detail["kind"], "jira-project");
    let changes = detail["changes"].as_array().expect("changes");
    assert_eq!(changes.iter().filter(|c| c["action"] == "create").count(), 5);
    assert_eq!(changes.iter().filter(|c| c["action"] == "update").count(), 1);

    // Again, through the replaced automator's alias: everything is already as it should be.
    let (creates, puts) = {
        let s = site.lock().expect("lock");
        (s.page_creates, s.puts)
    };
    let mut alias = request.clone();
    alias["project_id"] = json!(project);
    let again = app.post("/sync_project", alias).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert!(
        again.body["results"].as_array().expect("results").iter().all(|r| r["action"] == "unchanged"),
        "{}",
        again.body
    );
    {
        let s = site.lock().expect("lock");
        assert_eq!((s.page_creates, s.puts), (creates, puts), "a re-run writes nothing");
    }

    // Undone: the pages it made are deleted, the page it updated is as it was.
    let run_id = res.body["run_id"].as_str().expect("run id");
    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let undone = undo.body["results"].as_array().expect("results");
    assert_eq!(undone.len(), 6, "{undone:?}");
    assert_eq!(undone.iter().filter(|r| r["status_text"] == "Deleted").count(), 5, "{undone:?}");
    assert_eq!(
        undone.iter().find(|r| r["page_id"] == "401").map(|r| r["status_text"].clone()),
        Some(json!("Restored to version 1"))
    );
    assert_eq!(
        undone.last().map(|r| r["issue"].clone()),
        Some(json!("RM-1")),
        "newest change first: the epic's page last"
    );
    {
        let s = site.lock().expect("lock");
        let mut left: Vec<&String> = s.pages.keys().collect();
        left.sort();
        assert_eq!(left, ["400", "401"], "only the pages there before remain");
        assert_eq!(s.pages["401"].versions.last().map(|v| v.title.as_str()), Some("RM-4: Old title"));
        assert_eq!(s.pages["401"].versions.last().map(|v| v.body.as_str()), Some("<p>Written by hand once.</p>"));
    }
    let undo_id = undo.body["run_id"].as_str().expect("undo run").to_string();
    assert_eq!(app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body["undone_by"], json!(undo_id));
    let (deletes, puts) = {
        let s = site.lock().expect("lock");
        (s.page_deletes, s.puts)
    };
    let again = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!((again.status, again.body["run_id"].as_str()), (StatusCode::OK, Some(undo_id.as_str())));
    let s = site.lock().expect("lock");
    assert_eq!((s.page_deletes, s.puts), (deletes, puts), "asked again, nothing more is written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_project_sqlite() {
    jira_project(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_project_postgres() {
    jira_project(Backend::Postgres).await;
}

/// A mirror of twelve epics with two stories each, against a site that takes 30 ms per
/// answer, refuses the first two page creations with 429 and fails a story's with 500: the
/// pages of a level are made several at once but never more than the Confluence
/// integration's `max_in_flight` (3), the refusals slow the run down, the failure ends the
/// attempt and the next finishes the run from its journal, without doubling a page; the
/// undo deletes them the same way.
async fn pages_are_mirrored_and_undone_several_at_once(backend: Backend) {
    let (site_url, site) = fake_site(|s| {
        s.add("700", None, "Programme", "<p>The programme.</p>".into());
        for e in 1..=12 {
            let epic = format!("PG-{e}");
            s.issue(&epic, &format!("Epic {e}"), "Epic", false, None);
            for t in 1..=2 {
                s.issue(&format!("PG-{}", 100 + e * 10 + t), &format!("Story {t} of {e}"), "Story", false, Some(&epic));
            }
        }
        s.delay = Duration::from_millis(30);
        s.throttle_page_creates = 2;
        s.fail_page_create = Some(20);
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("programme").await;
    for (kind, limit) in [("jira", 2), ("confluence", 3)] {
        let mut settings = json!({"site_url": site_url, "email": "bot@acme.test", "max_in_flight": limit});
        if kind == "jira" {
            settings["project_key"] = json!("PG");
        }
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        let res = app.post(&format!("/api/v1/projects/{project}/integrations"), body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }

    let request = json!({"project_page_url": format!("{site_url}/wiki/spaces/OPS/pages/700"), "project_key": "PG"});
    let res = app.post(&format!("/api/v1/projects/{project}/sync/jira-project"), request).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let results = res.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 36, "{results:?}");
    assert!(results.iter().all(|r| r["action"] == "created"), "{results:?}");
    let order: Vec<&str> = results.iter().filter_map(|r| r["new_jira_keys"][0].as_str()).collect();
    assert_eq!(order[..3], ["PG-1", "PG-2", "PG-3"], "epics first, by number: {order:?}");
    assert_eq!(order[12..15], ["PG-111", "PG-112", "PG-121"], "then the stories, by number: {order:?}");
    {
        let mut s = site.lock().expect("lock");
        assert_eq!(s.throttle_page_creates, 0, "both refusals met");
        assert_eq!(s.page_creates, 36, "each page made once");
        assert!(s.page_create_requests > 38, "the failed creation was tried again: {}", s.page_create_requests);
        let story = results.iter().find(|r| r["new_jira_keys"][0] == "PG-121").expect("PG-121");
        let epic = results.iter().find(|r| r["new_jira_keys"][0] == "PG-2").expect("PG-2");
        assert_eq!(s.pages[story["page_id"].as_str().expect("id")].parent.as_deref(), epic["page_id"].as_str());
        let flight = s.in_flight;
        assert!((2..=3).contains(&flight.most_confluence), "Confluence calls in flight: {flight:?}");
        assert!(flight.most_jira <= 2, "Jira calls in flight: {flight:?}");
        s.in_flight = Default::default();
    }

    let run_id = res.body["run_id"].as_str().expect("run id");
    let detail = app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body;
    let changes = detail["changes"].as_array().expect("changes");
    assert_eq!(changes.iter().filter(|c| c["action"] == "create").count(), 36, "each page journaled once");
    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    let undone = undo.body["results"].as_array().expect("results");
    assert_eq!(undone.len(), 36);
    assert!(undone.iter().all(|r| r["status_text"] == "Deleted"), "{undone:?}");
    let issues: Vec<&str> = undone.iter().filter_map(|r| r["issue"].as_str()).collect();
    assert_eq!((issues[0], issues[35]), ("PG-222", "PG-1"), "the stories first, the first epic last: {issues:?}");
    let s = site.lock().expect("lock");
    assert_eq!(s.pages.keys().collect::<Vec<_>>(), ["700"], "only the programme page remains");
    assert_eq!(s.page_deletes, 36);
    let flight = s.in_flight;
    assert!((2..=3).contains(&flight.most_confluence), "Confluence calls in flight: {flight:?}");
}
crate::helpers::each_backend!(pages_are_mirrored_and_undone_several_at_once);
