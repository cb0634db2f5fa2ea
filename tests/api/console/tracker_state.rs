//! A task's tracker state on its page: its push and status change to the fake Taiga listed
//! as sync runs, the change undone from there through the run's confirmation, the item put
//! back in the fake, and the page showing the change as undone.

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, other_tenant};
use crate::fakes::taiga::{fake_taiga, taiga_integration};
use crate::helpers::{ADMIN_KEY, Backend, each_backend, finished_run, spawn_app_with};

async fn a_tracker_change_is_undone_from_the_task_page(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, taiga_integration(&fake)).await;
    let task = app.task(&project, json!({"title": "<b>Rotate</b> the backup keys"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&format!("/tasks/{task}")).await;
    assert!(page.html.contains("Changes in trackers"), "{}", page.html);
    let push = finished_run(&app, &task, "tracker-push").await;
    let push_id = push["id"].as_str().expect("push").to_string();
    let res = app.patch(&format!("/api/v1/tasks/{task}/status"), json!({"status": "in_progress"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let moved = finished_run(&app, &task, "tracker-transition").await;
    let moved_id = moved["id"].as_str().expect("run").to_string();
    assert_eq!(shared.lock().expect("lock").tasks[0]["status"], 11);

    // Both changes are listed, newest first, each with its undo.
    let page = browser.get(&format!("/tasks/{task}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    let (moved_at, pushed_at) =
        (html.find(&format!("/sync/runs/{moved_id}\"")), html.find(&format!("/sync/runs/{push_id}\"")));
    assert!(moved_at.is_some() && pushed_at.is_some() && moved_at < pushed_at, "newest first: {html}");
    assert!(html.contains("<td>Moved in a tracker</td>") && html.contains("<td>Pushed to a tracker</td>"), "{html}");
    assert!(html.contains("transitioned (now In progress)"), "{html}");
    for run in [&moved_id, &push_id] {
        assert!(html.contains(&format!("href=\"/sync/runs/{run}/undo\"")), "{run}: {html}");
    }
    // The push's page names the item by its title, which stays text.
    let pushed = browser.get(&format!("/sync/runs/{push_id}")).await;
    assert!(pushed.html.contains("&lt;b&gt;Rotate&lt;/b&gt; the backup keys"), "{}", pushed.html);
    assert!(!pushed.html.contains("<b>Rotate"), "{}", pushed.html);

    // Another tenant can neither see nor undo it.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert_eq!(stranger.get(&format!("/tasks/{task}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("/sync/runs/{moved_id}/undo")).await.status, StatusCode::NOT_FOUND);

    // Undone through the confirmation: the item is back in New, the task keeps its status.
    let confirm_path = format!("/sync/runs/{moved_id}/undo");
    let confirm = browser.get(&confirm_path).await;
    assert!(confirm.html.contains(": moved back to New</li>"), "{}", confirm.html);
    let undone = browser.submit(&confirm_path, &confirm_path, &[]).await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER, "{}", undone.html);
    let undo = browser.get(undone.location()).await;
    assert!(undo.html.contains("restored (now New)"), "{}", undo.html);
    assert_eq!(shared.lock().expect("lock").tasks[0]["status"], 10, "the item is back where it was");
    assert_eq!(app.get(&format!("/api/v1/tasks/{task}")).await.body["status"], "in_progress");
    let undo_id = undone.location().trim_end_matches("?undone=1").rsplit('/').next().expect("undo").to_string();

    // The task's page shows it undone, and the undo beside it; asked again, the same undo.
    let page = browser.get(&format!("/tasks/{task}")).await;
    assert!(page.html.contains(&format!("<a href=\"/sync/runs/{undo_id}\">undone</a>")), "{}", page.html);
    assert!(page.html.contains(&format!("<a href=\"/sync/runs/{moved_id}\">the change it undid</a>")), "{}", page.html);
    assert!(!page.html.contains(&format!("href=\"{confirm_path}\"")), "no second undo offered: {}", page.html);
    let patches = shared.lock().expect("lock").patches;
    let again = browser.submit(&confirm_path, &confirm_path, &[]).await;
    assert_eq!(again.location(), undone.location(), "the same undo run, as the API answers");
    assert_eq!(shared.lock().expect("lock").patches, patches, "nothing more is sent");
}
each_backend!(a_tracker_change_is_undone_from_the_task_page);
