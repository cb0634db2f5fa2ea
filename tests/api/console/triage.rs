//! A request's page: the request beside the tasks it may repeat, and the three decisions made
//! from it through the triage service (once; 409 after), refused in the API's words, within
//! the tenant and project, only with the session's token.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::requests::{id, request};
use super::{Browser, other_tenant};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends};

async fn triage_project(app: &TestApp, name: &str) -> String {
    let res = app.post("/api/v1/projects", json!({"name": name, "intake_mode": "triage"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.id()
}

async fn message(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/messages/{id}")).await.body
}

async fn tasks_of(app: &TestApp, project: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/tasks?project_id={project}&limit=200")).await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn comments_of(app: &TestApp, task: &str) -> Vec<String> {
    let res = app.get(&format!("/api/v1/comments?task_id={task}&limit=200")).await;
    let items = res.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|c| c["content"].as_str().map(str::to_string)).collect()
}

fn accept_fields(title: &str) -> Vec<(&str, &str)> {
    vec![
        ("title", title),
        ("description", "Users with long e-mail addresses cannot sign in."),
        ("priority", "high"),
        ("assigned_to", "ana"),
        ("due_date", "2030-01-31"),
        ("labels", "frontend, bug"),
    ]
}

async fn a_request_is_accepted_with_edits_once(app: TestApp) {
    let project = triage_project(&app, "support").await;
    let waiting =
        request(&app, &project, "<b>Fix</b> the login form by Friday, it's urgent", "<i>ana</i>", "slack").await;
    assert_eq!(waiting["status"], "needs_triage", "{waiting}");
    let page_path = format!("/requests/{}", id(&waiting));
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    // The request as text, its draft in the accept form, the three decisions and their keys.
    assert!(
        html.contains("<h1>Request from &lt;i&gt;ana&lt;/i&gt; <span class=\"muted\">via Slack</span></h1>"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;Fix&lt;/b&gt; the login form by Friday"), "{html}");
    assert!(!html.contains("<b>Fix</b>") && !html.contains("<i>ana</i>"), "escaped");
    let draft_title =
        waiting["draft"]["title"].as_str().expect("draft title").replace('<', "&lt;").replace('>', "&gt;");
    assert!(html.contains(&format!("name=\"title\" value=\"{draft_title}\"")), "{draft_title}: {html}");
    assert!(html.contains("<option value=\"high\" selected>High</option>"), "the draft's priority: {html}");
    for (key, action) in [("a", "accept"), ("m", "merge"), ("d", "decline")] {
        assert!(
            html.contains(&format!("action=\"{page_path}/{action}\""))
                && html.contains(&format!("data-shortcut=\"{key}\"")),
            "{action}: {html}"
        );
        assert!(html.contains(&format!("<kbd>{}</kbd>", key.to_uppercase())), "{key} documented");
    }
    assert!(html.contains("No similar task was found in the project."), "{html}");

    // Refused edits: the form again with what was typed and the API's words by the field.
    let mut fields = accept_fields("");
    let refused = browser.submit(&page_path, &format!("{page_path}/accept"), &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
    assert!(refused.html.contains("id=\"f-title-error\">title: must not be empty</p>"), "{}", refused.html);
    assert!(refused.html.contains("value=\"frontend, bug\""), "what was typed stays: {}", refused.html);
    fields[4] = ("due_date", "next week");
    fields[0] = ("title", "Fix the login form");
    let refused = browser.submit(&page_path, &format!("{page_path}/accept"), &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("due_date: must be a date written YYYY-MM-DD"), "{}", refused.html);
    assert!(tasks_of(&app, &project).await.is_empty(), "nothing made");

    // Without the session's token, nothing is decided.
    let forged =
        browser.post(&format!("{page_path}/accept"), &[("csrf", "nope"), ("title", "x"), ("priority", "low")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    assert_eq!(message(&app, &id(&waiting)).await["status"], "needs_triage");

    let accepted =
        browser.submit(&page_path, &format!("{page_path}/accept"), &accept_fields("Fix the <login> form")).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.html);
    assert_eq!(accepted.location(), format!("{page_path}?decided=1"));
    let shown = message(&app, &id(&waiting)).await;
    assert_eq!((&shown["status"], &shown["decision"]["action"]), (&json!("created"), &json!("accept")), "{shown}");
    let me = app.get("/api/v1/me").await.body;
    assert_eq!(shown["decision"]["decided_by_key_id"], me["key"]["id"], "decided as the key that signed in");
    let task = app.get(&format!("/api/v1/tasks/{}", shown["task_id"].as_str().expect("task"))).await.body;
    assert_eq!(
        (&task["title"], &task["priority"], &task["assigned_to"], &task["due_date"], &task["labels"]),
        (
            &json!("Fix the <login> form"),
            &json!("high"),
            &json!("ana"),
            &json!("2030-01-31"),
            &json!(["bug", "frontend"])
        ),
        "{task}"
    );
    let done = browser.get(accepted.location()).await;
    assert!(done.html.contains("Accepted: the task was created."), "{}", done.html);
    assert!(done.html.contains("Fix the &lt;login&gt; form"), "{}", done.html);
    assert!(!done.html.contains("data-shortcut"), "no decision is offered any more: {}", done.html);

    // A second decision, of any kind: 409 with the API's words, and nothing changes.
    for (action, fields) in [
        ("accept", accept_fields("Again")),
        ("decline", vec![("reason", "changed my mind")]),
        ("merge", vec![("task_id", task["id"].as_str().expect("id"))]),
    ] {
        let again = browser.submit(&page_path, &format!("{page_path}/{action}"), &fields).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{action}: {}", again.html);
        assert!(again.html.contains("Nothing was changed."), "{}", again.html);
        assert!(again.html.contains("was already decided (accept by bootstrap admin at"), "{action}: {}", again.html);
    }
    assert_eq!(tasks_of(&app, &project).await.len(), 1);
    assert!(comments_of(&app, task["id"].as_str().expect("id")).await.is_empty());
}
both_backends!(a_request_is_accepted_with_edits_once);

async fn a_request_is_merged_into_a_task_found_by_search_or_declined(app: TestApp) {
    let project = triage_project(&app, "support").await;
    let other = app.project("elsewhere").await;
    let target =
        app.task(&project, json!({"title": "Quarterly <budget> review", "description": "Numbers for Q3."})).await;
    let foreign = app.task(&other, json!({"title": "Quarterly budget review"})).await;
    let waiting = request(&app, &project, "Please prepare the slides for the all-hands", "bo", "teams").await;
    let page_path = format!("/requests/{}", id(&waiting));
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;

    // No candidate: the merge waits for a search; one without a choice is refused.
    let page = browser.get(&page_path).await;
    assert!(page.html.contains("No similar task: search the project"), "{}", page.html);
    let refused = browser.submit(&page_path, &format!("{page_path}/merge"), &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
    assert!(refused.html.contains("task_id: must not be empty"), "{}", refused.html);
    // The search finds tasks of the request's project only.
    let found = browser.get(&format!("{page_path}?q=budget")).await;
    let target_id = target["id"].as_str().expect("id");
    assert!(
        found.html.contains(&format!("value=\"{target_id}\""))
            && found.html.contains("Quarterly &lt;budget&gt; review"),
        "{}",
        found.html
    );
    assert!(!found.html.contains(foreign["id"].as_str().expect("id")), "another project's task is not offered");
    assert!(
        browser.get(&format!("{page_path}?q=nothing-like-it")).await.html.contains("No task of the project matches.")
    );
    // Another project's task is not found (404), even when posted by hand.
    let foreign_merge = browser
        .submit(&page_path, &format!("{page_path}/merge"), &[("task_id", foreign["id"].as_str().expect("id"))])
        .await;
    assert_eq!(foreign_merge.status, StatusCode::NOT_FOUND, "{}", foreign_merge.html);
    assert!(foreign_merge.html.contains("task not found"), "{}", foreign_merge.html);

    let merged = browser.submit(&page_path, &format!("{page_path}/merge"), &[("task_id", target_id)]).await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.html);
    let shown = message(&app, &id(&waiting)).await;
    assert_eq!((&shown["status"], &shown["task_id"]), (&json!("duplicate"), &json!(target_id)), "{shown}");
    assert!(comments_of(&app, target_id).await.iter().any(|c| c.contains("prepare the slides for the all-hands")));
    let again = browser.submit(&page_path, &format!("{page_path}/merge"), &[("task_id", target_id)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert_eq!(comments_of(&app, target_id).await.len(), 1, "merged once");

    // Declined with a reason (required, in the API's words), once.
    let second = request(&app, &project, "Buy a ping-pong table", "cy", "slack").await;
    let second_path = format!("/requests/{}", id(&second));
    let refused = browser.submit(&second_path, &format!("{second_path}/decline"), &[("reason", "  ")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.html);
    assert!(refused.html.contains("id=\"f-reason-error\">reason: must not be empty</p>"), "{}", refused.html);
    let declined =
        browser.submit(&second_path, &format!("{second_path}/decline"), &[("reason", "Not <our> work")]).await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER, "{}", declined.html);
    let shown = message(&app, &id(&second)).await;
    assert_eq!((&shown["status"], &shown["decision"]["reason"]), (&json!("declined"), &json!("Not <our> work")));
    let page = browser.get(&second_path).await;
    assert!(page.html.contains("Reason: Not &lt;our&gt; work"), "{}", page.html);
    let again = browser.submit(&second_path, &format!("{second_path}/accept"), &accept_fields("x")).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert_eq!(tasks_of(&app, &project).await.len(), 1, "only the task made by hand");
}
both_backends!(a_request_is_merged_into_a_task_found_by_search_or_declined);

/// In an `auto` project a possible duplicate shows its candidates beside it, with scores, and
/// can only be merged (its own task closes); a plain created request offers no decision.
async fn a_possible_duplicate_is_compared_and_merged(app: TestApp) {
    let project = app.project("web").await;
    let german = request(&app, &project, "Translate the pricing page into German", "ana", "email").await;
    let japanese = request(&app, &project, "Translate the pricing page into Japanese", "bo", "email").await;
    assert_eq!(japanese["status"], "possible_duplicate", "{japanese}");
    let german_task = german["task_id"].as_str().expect("task").to_string();
    let own = japanese["task_id"].as_str().expect("task").to_string();
    let path = format!("/requests/{}", id(&japanese));
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&path).await;
    let html = &page.html;
    let score = japanese["candidates"][0]["score"].as_f64().expect("score");
    assert!(html.contains("Tasks it may repeat"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"/tasks/{german_task}\">Translate the pricing page into German</a> <span class=\"muted\">(similarity {score:.2})</span>")),
        "the candidate with its score: {html}"
    );
    assert!(
        html.contains("data-shortcut=\"m\"")
            && !html.contains("data-shortcut=\"a\"")
            && !html.contains("data-shortcut=\"d\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("id=\"merge-{german_task}\" value=\"{german_task}\" checked")),
        "the best candidate first: {html}"
    );
    assert!(!html.contains(&format!("value=\"{own}\"")), "never its own task: {html}");
    // Accepting or declining it is not what it waits for.
    let refused = browser.submit(&path, &format!("{path}/decline"), &[("reason", "no")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(refused.html.contains("is possible_duplicate; it cannot be declined"), "{}", refused.html);

    let merged = browser.submit(&path, &format!("{path}/merge"), &[("task_id", &german_task)]).await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.html);
    assert_eq!(app.get(&format!("/api/v1/tasks/{own}")).await.body["status"], "done", "its own task is closed");
    let done = browser.get(merged.location()).await;
    assert!(done.html.contains("Merged: the request was added to the task."), "{}", done.html);

    let created = browser.get(&format!("/requests/{}", id(&german))).await;
    assert!(!created.html.contains("data-shortcut") && created.html.contains("pill created"), "{}", created.html);
}
both_backends!(a_possible_duplicate_is_compared_and_merged);

async fn another_tenant_cannot_see_or_decide_a_request(app: TestApp) {
    let project = triage_project(&app, "support").await;
    let waiting = request(&app, &project, "Renew the shop's certificate", "ana", "slack").await;
    let path = format!("/requests/{}", id(&waiting));
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let page = stranger.get(&path).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.html.contains("certificate"), "{}", page.html);
    for (action, fields) in [
        ("accept", accept_fields("Mine now")),
        ("merge", vec![("task_id", "any")]),
        ("decline", vec![("reason", "mine")]),
    ] {
        let res = stranger.submit("/requests", &format!("{path}/{action}"), &fields).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}: {}", res.html);
    }
    assert_eq!(message(&app, &id(&waiting)).await["status"], "needs_triage");
    assert_eq!(Browser::new(&app).get(&path).await.status, StatusCode::UNAUTHORIZED, "signed out");
}
both_backends!(another_tenant_cannot_see_or_decide_a_request);
