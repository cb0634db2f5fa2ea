//! The sync pages: a Confluence task sync and a Jira project mirror started from the
//! console against the fake Atlassian site, their runs listed and read in the replaced
//! automator's terms with their journal, and undone through a confirmation; CSRF, escaping,
//! another tenant's runs and projects, and a second undo as the API answers it.

use reqwest::StatusCode;

use super::{Browser, other_tenant};
use crate::confluence_sync::connect;
use crate::fakes::atlassian::{Shared, Site, fake_site, macro_for, task, tasks};
use crate::helpers::{ADMIN_KEY, Backend, each_backend, spawn_app_with};

/// Page 100 under work package WP-1 with a task whose text is hostile, one whose issue Jira
/// refuses (FAIL), and an empty one.
fn seed(site: &mut Site) {
    site.add(
        "100",
        None,
        "Release <b>plan</b>",
        format!(
            "<p>{}</p>\n{}",
            macro_for("WP-1"),
            tasks(&[
                task(1, "incomplete", "&lt;script&gt;alert(1)&lt;/script&gt; Write the notes"),
                task(2, "incomplete", "Draft the API FAIL"),
                task(3, "incomplete", "   "),
            ])
        ),
    );
    site.work_package("WP-1", None);
}

fn versions(site: &Shared, page: &str) -> (usize, bool) {
    let s = site.lock().expect("lock");
    let p = &s.pages[page];
    (p.versions.len(), p.versions.last().map(|v| &v.body) == p.versions.first().map(|v| &v.body))
}

async fn a_task_sync_is_started_read_and_undone(backend: Backend) {
    let (site_url, site) = fake_site(seed).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("alpha").await;
    let unconnected = app.project("beta").await;
    connect(&app, &project, &site_url).await;
    let url = format!("{site_url}/wiki/spaces/OPS/pages/100/Release");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/sync").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<a href=\"/sync\" aria-current=\"page\">Sync</a>"), "{}", page.html);
    assert!(page.html.contains("<label for=\"f-confluence_page_urls\">"), "{}", page.html);
    assert!(page.html.contains("No sync runs here."), "{}", page.html);

    // Without the session's token nothing starts.
    let fields = [("project_id", project.as_str()), ("confluence_page_urls", url.as_str()), ("days_to_due_date", "7")];
    let forged = browser.post("/sync/confluence-tasks", &fields).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    // Inputs the API refuses are refused in its words, with what was entered.
    let bad = browser
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[("project_id", &project), ("confluence_page_urls", "not-a-page"), ("days_to_due_date", "7")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(bad.html.contains("confluence_page_urls: &quot;not-a-page&quot; is not a page address"), "{}", bad.html);
    assert!(bad.html.contains(">not-a-page</textarea>"), "{}", bad.html);
    let bad = browser
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[("project_id", &project), ("confluence_page_urls", &url), ("days_to_due_date", "soon")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    let unconnected_start = browser
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[("project_id", &unconnected), ("confluence_page_urls", &url), ("days_to_due_date", "7")],
        )
        .await;
    assert_eq!(unconnected_start.status, StatusCode::BAD_REQUEST, "{}", unconnected_start.html);
    assert!(
        unconnected_start.html.contains("the project has no active jira integration"),
        "{}",
        unconnected_start.html
    );
    assert_eq!(site.lock().expect("lock").creates, 0, "nothing started");

    // Started: the run's page once it has ended.
    let started = browser
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[
                ("project_id", &project),
                ("confluence_page_urls", &url),
                ("request_user", "ana"),
                ("days_to_due_date", "7"),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
    let run_path = started.location().to_string();
    assert!(run_path.starts_with("/sync/runs/"), "{run_path}");
    let run_id = run_path.rsplit('/').next().expect("run id").to_string();
    let run = browser.get(&run_path).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.html);
    let html = &run.html;
    assert!(html.contains("<span class=\"pill done\">done</span>"), "{html}");
    assert!(html.contains("<dt>Requested by</dt><dd>ana</dd>"), "{html}");
    // Each result as the automator said it: Success, Failed with the error, Skipped with why.
    assert!(html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt; Write the notes</td>"), "{html}");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("Release &lt;b&gt;plan&lt;/b&gt;"), "the page's title stays text: {html}");
    assert!(html.contains("<span class=\"pill done\">Success</span>"), "{html}");
    assert!(
        html.contains("<span class=\"pill failed\">Failed</span> Jira task creation<br><span class=\"error-message\">"),
        "{html}"
    );
    assert!(html.contains("Summary contains a forbidden word."), "{html}");
    assert!(html.contains("<span class=\"pill\">Skipped</span> Empty Task"), "{html}");
    // The journal: the issue made, the page rewritten from version 1.
    assert!(
        html.contains("<td>Confluence page <code>100</code></td><td><span class=\"pill\">rewrite</span></td>"),
        "{html}"
    );
    assert!(html.contains("<td class=\"journal-value\">version: 1</td>"), "{html}");
    let key = {
        let s = site.lock().expect("lock");
        s.issues
            .iter()
            .find(|i| i["fields"]["summary"].as_str().is_some_and(|t| t.contains("Write the notes")))
            .expect("issue")["key"]
            .as_str()
            .expect("key")
            .to_string()
    };
    assert!(
        html.contains(&format!("<td>Jira issue <code>{key}</code></td><td><span class=\"pill\">create</span></td>"))
    );
    assert_eq!(versions(&site, "100"), (2, false), "rewritten once");

    // Listed, newest first, with its counts.
    let list = browser.get("/sync").await;
    assert!(list.html.contains(&format!("<a href=\"{run_path}\">")), "{}", list.html);
    assert!(list.html.contains("<td>1 success · 1 failed · 1 skipped</td>"), "{}", list.html);
    assert!(list.html.contains("<td>Confluence task sync</td>"), "{}", list.html);

    // Another tenant sees none of it and cannot start in this project or undo its run.
    let key_b = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key_b).await;
    assert!(stranger.get("/sync").await.html.contains("No sync runs here."));
    assert_eq!(stranger.get(&run_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("{run_path}/undo")).await.status, StatusCode::NOT_FOUND);
    let theirs = stranger.submit("/sync", &format!("{run_path}/undo"), &[]).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.html);
    let theirs = stranger
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[("project_id", &project), ("confluence_page_urls", &url), ("days_to_due_date", "7")],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.html);
    assert_eq!(site.lock().expect("lock").creates, 1, "one issue made, by the run above");

    // The confirmation says what will be put back.
    let confirm = browser.get(&format!("{run_path}/undo")).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(
        confirm.html.contains("<li>Confluence page <code>100</code>: back to version 1, as before the run</li>"),
        "{}",
        confirm.html
    );
    assert!(
        confirm.html.contains(&format!("<li>Jira issue <code>{key}</code>: moved to Backlog</li>")),
        "{}",
        confirm.html
    );
    let forged = browser.post(&format!("{run_path}/undo"), &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    assert_eq!(versions(&site, "100"), (2, false), "not undone without the token");

    // Undone: the undo run's own results; the page is back, the issue in Backlog.
    let undone = browser.submit(&format!("{run_path}/undo"), &format!("{run_path}/undo"), &[]).await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER, "{}", undone.html);
    let undo_path = undone.location().to_string();
    assert!(undo_path.ends_with("?undone=1") && !undo_path.contains(&run_id), "{undo_path}");
    let undo = browser.get(&undo_path).await;
    assert!(undo.html.contains("<strong>Undone.</strong>"), "{}", undo.html);
    assert!(undo.html.contains("Undone: page restored to version 1; issue moved to Backlog"), "{}", undo.html);
    assert!(undo.html.contains(&format!("<a href=\"/sync/runs/{run_id}\">the run it undid</a>")), "{}", undo.html);
    assert_eq!(versions(&site, "100"), (3, true), "the page is as before the run");
    let (puts, transitions) = {
        let s = site.lock().expect("lock");
        let issue = s.issues.iter().find(|i| i["key"] == key.as_str()).expect("issue");
        assert_eq!(issue["fields"]["status"]["name"], "Backlog");
        (s.puts, s.transitions)
    };
    let original = browser.get(&run_path).await;
    let undo_id = undo_path.trim_end_matches("?undone=1").rsplit('/').next().expect("undo id").to_string();
    assert!(original.html.contains(&format!("<dd><a href=\"/sync/runs/{undo_id}\">its undo run</a></dd>")));

    // A second undo is answered as the API answers it: for a task sync, another undo run that
    // finds everything back and writes nothing. An undo run itself is not undone (409).
    let confirm = browser.get(&format!("{run_path}/undo")).await;
    assert!(confirm.html.contains("This run was undone already"), "{}", confirm.html);
    let again = browser.submit(&run_path, &format!("{run_path}/undo"), &[]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.html);
    let again = browser.get(again.location()).await;
    assert!(again.html.contains("page already as at version 1; issue already in Backlog"), "{}", again.html);
    {
        let s = site.lock().expect("lock");
        assert_eq!((s.puts, s.transitions), (puts, transitions), "a repeated undo writes nothing");
    }
    let undo_run = format!("/sync/runs/{undo_id}");
    let refused = browser.submit(&undo_run, &format!("{undo_run}/undo"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(refused.html.contains("<strong>Nothing was changed.</strong> sync run"), "{}", refused.html);
    assert!(refused.html.contains("only a finished task sync, project mirror or tracker run can be undone"));
    assert_eq!(browser.get(&format!("{undo_run}/undo")).await.status, StatusCode::CONFLICT);
    let api = app.post(&format!("/api/v1/sync-runs/{undo_id}/undo"), serde_json::json!({})).await;
    assert_eq!(api.status, StatusCode::CONFLICT, "the API answers the same: {}", api.body);
}
each_backend!(a_task_sync_is_started_read_and_undone);

/// A Jira project mirrored from the console, undone, and undone again: the second undo is
/// the first one (as the API answers), nothing is deleted twice.
async fn a_mirror_is_undone_once(backend: Backend) {
    let (site_url, site) = fake_site(|site| {
        site.add("400", None, "Roadmap", "<p>The roadmap.</p>".into());
        site.issue("RM-1", "Payments <img src=x onerror=alert(1)>", "Epic", false, None);
        site.issue("RM-2", "Card checkout", "Story", false, Some("RM-1"));
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("roadmap").await;
    connect(&app, &project, &site_url).await;
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page_url = format!("{site_url}/wiki/spaces/OPS/pages/400");
    let bad = browser
        .submit(
            "/sync",
            "/sync/jira-project",
            &[("mirror_project_id", &project), ("project_page_url", &page_url), ("project_key", "rm")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(bad.html.contains("neither a Jira project key nor an issue key"), "{}", bad.html);
    let started = browser
        .submit(
            "/sync",
            "/sync/jira-project",
            &[("mirror_project_id", &project), ("project_page_url", &page_url), ("project_key", "RM")],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
    let run_path = started.location().to_string();
    let run = browser.get(&run_path).await;
    assert!(run.html.contains("<span class=\"pill done\">Success</span> created"), "{}", run.html);
    assert!(run.html.contains("RM-1: Payments &lt;img src=x onerror=alert(1)&gt;"), "{}", run.html);
    assert!(!run.html.contains("<img src=x"), "{}", run.html);
    assert_eq!(site.lock().expect("lock").pages.len(), 3, "two pages made");

    let confirm = browser.get(&format!("{run_path}/undo")).await;
    assert_eq!(confirm.html.matches(": deleted (the run made it)</li>").count(), 2, "{}", confirm.html);
    let undone = browser.submit(&format!("{run_path}/undo"), &format!("{run_path}/undo"), &[]).await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER, "{}", undone.html);
    let undo = browser.get(undone.location()).await;
    assert_eq!(undo.html.matches("<span class=\"pill done\">Success</span> Deleted").count(), 2, "{}", undo.html);
    assert_eq!(site.lock().expect("lock").pages.len(), 1, "the made pages are gone");
    let again = browser.submit(&run_path, &format!("{run_path}/undo"), &[]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.html);
    assert_eq!(again.location(), undone.location(), "the same undo run");
    assert_eq!(site.lock().expect("lock").pages.len(), 1);
}
each_backend!(a_mirror_is_undone_once);

/// A run with more results and journal entries than a page shows is read a page at a time:
/// the first hundred of each, then the next ones by their links, the counts kept with the
/// run in the list; another tenant finds no page of it.
async fn a_large_run_is_read_a_page_at_a_time(backend: Backend) {
    let items: Vec<String> = (1..=130).map(|t| task(t, "incomplete", &format!("Step {t:03} of the rollout"))).collect();
    let (site_url, _site) = fake_site(|site| {
        site.add("100", None, "Rollout", format!("<p>{}</p>\n{}", macro_for("WP-1"), tasks(&items)));
        site.work_package("WP-1", None);
    })
    .await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("alpha").await;
    connect(&app, &project, &site_url).await;
    let url = format!("{site_url}/wiki/spaces/OPS/pages/100/Rollout");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let started = browser
        .submit(
            "/sync",
            "/sync/confluence-tasks",
            &[("project_id", &project), ("confluence_page_urls", &url), ("days_to_due_date", "7")],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.html);
    let run_path = started.location().to_string();
    let step = |n: u32| format!("<td>Step {n:03} of the rollout</td>");

    let first = browser.get(&run_path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    let html = &first.html;
    assert!(html.contains("Results 1–100 of 130."), "{html}");
    assert!(html.contains(&step(1)) && html.contains(&step(100)) && !html.contains(&step(101)), "{html}");
    assert!(html.contains(&format!("<a href=\"{run_path}?results_from=100#results-h\">Next results</a>")), "{html}");
    assert!(!html.contains("Previous results"), "{html}");
    assert_eq!(html.matches("<td class=\"journal-value\">").count(), 200, "a hundred journal entries: {html}");
    assert!(html.contains(&format!("<a href=\"{run_path}?journal_from=100#journal-h\">Next changes</a>")), "{html}");

    let rest = browser.get(&format!("{run_path}?results_from=100")).await;
    let html = &rest.html;
    assert!(html.contains("Results 101–130 of 130."), "{html}");
    assert!(html.contains(&step(101)) && html.contains(&step(130)) && !html.contains(&step(100)), "{html}");
    assert!(html.contains(&format!("<a href=\"{run_path}#results-h\">Previous results</a>")), "{html}");
    assert!(!html.contains("Next results"), "{html}");

    // The rest of the journal, as the API has it in full.
    let run_id = run_path.rsplit('/').next().expect("run id");
    let changes = app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body["changes"].as_array().map(Vec::len);
    let changes = changes.expect("the journal");
    assert!((101..=200).contains(&changes), "{changes} changes");
    let journal = browser.get(&format!("{run_path}?journal_from=100")).await;
    let html = &journal.html;
    assert!(html.contains(&format!("Changes 101–{changes}.")), "{html}");
    assert_eq!(html.matches("<td class=\"journal-value\">").count(), 2 * (changes - 100), "{html}");
    assert!(html.contains(&format!("<a href=\"{run_path}#journal-h\">Previous changes</a>")), "{html}");
    assert!(!html.contains("Next changes"), "{html}");

    // The list counts the run's results without reading them.
    let list = browser.get("/sync").await;
    assert!(list.html.contains("<td>130 success</td>"), "{}", list.html);

    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert_eq!(stranger.get(&format!("{run_path}?results_from=100")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("{run_path}?journal_from=100")).await.status, StatusCode::NOT_FOUND);
}
each_backend!(a_large_run_is_read_a_page_at_a_time);
