//! Triage (issue 21): a project whose requests wait for a person (`intake_mode: triage`), the
//! person's decisions (accept, merge, decline; each once, journaled with who made it,
//! answered in the requester's thread), the queue's list, and a possible duplicate of an
//! `auto` project merged later.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, both_backends, each_backend, join_all, spawn_app_with};

async fn triage_project(app: &TestApp, name: &str) -> String {
    let res = app.post("/api/v1/projects", json!({"name": name, "intake_mode": "triage"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["intake_mode"], "triage");
    res.id()
}

/// A request through the API, waited for until intake is done with it.
async fn request(app: &TestApp, project: &str, text: &str) -> Value {
    let res = app.post("/api/v1/messages?wait=true", json!({"project_id": project, "text": text})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn tasks_of(app: &TestApp, project: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/tasks?project_id={project}&limit=200")).await;
    res.body["items"].as_array().cloned().unwrap_or_default()
}

async fn comments_of(app: &TestApp, task: &str) -> Vec<String> {
    let res = app.get(&format!("/api/v1/comments?task_id={task}&limit=200")).await;
    let items = res.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|c| c["content"].as_str().map(str::to_string)).collect()
}

async fn message(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/messages/{id}")).await.body
}

fn decide(id: &str, what: &str) -> String {
    format!("/api/v1/messages/{id}/{what}")
}

async fn requests_wait_for_triage_when_the_project_says_so(app: TestApp) {
    let project = app.project("web").await;
    let path = format!("/api/v1/projects/{project}");
    assert_eq!(app.get(&path).await.body["intake_mode"], "auto");

    // Unknown modes are refused and change nothing, with the rest of the change.
    for bad in [json!({"intake_mode": "manual"}), json!({"intake_mode": "triage", "name": ""})] {
        let res = app.patch(&path, bad.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
        assert_eq!(res.code(), "validation_failed");
    }
    assert_eq!(app.patch(&path, json!({"intake_mode": 1})).await.status, StatusCode::BAD_REQUEST, "not even a string");
    assert_eq!(app.get(&path).await.body["intake_mode"], "auto");
    let refused = app.post("/api/v1/projects", json!({"name": "other", "intake_mode": "sometimes"})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let projects = app.get("/api/v1/projects").await.body;
    assert!(!projects["items"].as_array().expect("items").iter().any(|p| p["name"] == "other"));

    let res = app.patch(&path, json!({"intake_mode": "triage"})).await;
    assert_eq!((res.status, &res.body["intake_mode"]), (StatusCode::OK, &json!("triage")), "{}", res.body);

    // No task: the draft and the candidates wait with the request.
    let german = request(&app, &project, "Translate the pricing page into German by Friday, it's urgent").await;
    assert_eq!(german["status"], "needs_triage", "{german}");
    assert_eq!((&german["task_id"], &german["decision"]), (&Value::Null, &Value::Null));
    assert!(german["draft"]["title"].as_str().is_some_and(|t| t.contains("German")), "{german}");
    assert_eq!(german["draft"]["priority"], "high", "{german}");
    assert!(german["draft"]["due_date"].is_string(), "{german}");
    assert!(tasks_of(&app, &project).await.is_empty());

    let existing = app.task(&project, json!({"title": "Translate the pricing page into Japanese"})).await;
    let japanese = request(&app, &project, "Translate the pricing page into Japanese").await;
    assert_eq!(japanese["status"], "needs_triage", "{japanese}");
    assert_eq!(japanese["candidates"][0]["task_id"], existing["id"], "{japanese}");
    assert_eq!(tasks_of(&app, &project).await.len(), 1, "only the task made by hand");

    // Back to auto: requests become tasks by themselves again.
    app.patch(&path, json!({"intake_mode": "auto"})).await;
    assert_eq!(request(&app, &project, "Order new office chairs").await["status"], "created");
}
both_backends!(requests_wait_for_triage_when_the_project_says_so);

async fn a_person_accepts_merges_or_declines_once(app: TestApp) {
    let project = triage_project(&app, "web").await;
    let me = app.get("/api/v1/me").await.body;
    let first =
        request(&app, &project, "Add a dark mode to the settings page").await["id"].as_str().expect("id").to_string();
    let second = request(&app, &project, "Dark mode for settings please").await["id"].as_str().expect("id").to_string();
    let third =
        request(&app, &project, "Buy a ping-pong table for the office").await["id"].as_str().expect("id").to_string();

    // Accepted with edits: the task is made from the edited draft.
    let edits =
        json!({"title": "Dark mode in settings", "priority": "high", "labels": ["ui"], "due_date": "2030-01-31"});
    let accepted = app.post(&decide(&first, "accept"), edits).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let body = &accepted.body;
    assert_eq!(body["status"], "created");
    let task_id = body["task_id"].as_str().expect("task id").to_string();
    assert_eq!(body["decision"]["action"], "accept");
    assert_eq!(body["decision"]["task_id"], task_id.as_str());
    assert_eq!(body["decision"]["decided_by_key_id"], me["key"]["id"], "{body}");
    assert_eq!(body["decision"]["decided_by"], me["key"]["name"], "{body}");
    assert!(body["decision"]["decided_at"].is_string());
    let task = app.get(&format!("/api/v1/tasks/{task_id}")).await.body;
    assert_eq!(
        (&task["title"], &task["priority"], &task["labels"], &task["due_date"]),
        (&json!("Dark mode in settings"), &json!("high"), &json!(["ui"]), &json!("2030-01-31")),
        "{task}"
    );
    assert_eq!(message(&app, &first).await["decision"], body["decision"], "the decision is kept with the message");

    // Decided once: every other decision on it is a conflict, and changes nothing.
    for (what, body) in [
        ("accept", json!({})),
        ("merge", json!({"task_id": task_id})),
        ("decline", json!({"reason": "changed my mind"})),
    ] {
        let res = app.post(&decide(&first, what), body).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{what}: {}", res.body);
        assert_eq!(res.code(), "conflict");
        assert!(res.body["error"]["message"].as_str().is_some_and(|m| m.contains("already decided")), "{}", res.body);
    }
    assert_eq!(tasks_of(&app, &project).await.len(), 1);

    // Edits are validated as a task creation is; a refused one changes nothing.
    for bad in [
        json!({"title": ""}),
        json!({"title": "x".repeat(201)}),
        json!({"priority": "urgent"}),
        json!({"due_date": "next week"}),
        json!({"labels": "ui"}),
        json!({"assignee": "ana"}),
    ] {
        let res = app.post(&decide(&second, "accept"), bad.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    for bad in [json!({}), json!({"task_id": ""}), json!({"task_id": task_id, "extra": 1})] {
        let res = app.post(&decide(&second, "merge"), bad.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    assert_eq!(
        app.post(&decide(&second, "merge"), json!({"task_id": "no-such-task"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(message(&app, &second).await["status"], "needs_triage");
    assert_eq!(tasks_of(&app, &project).await.len(), 1);
    assert!(comments_of(&app, &task_id).await.is_empty());

    // Merged: the request becomes a comment on the chosen task.
    let merged = app.post(&decide(&second, "merge"), json!({"task_id": task_id})).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!((&merged.body["status"], &merged.body["task_id"]), (&json!("duplicate"), &json!(task_id)));
    assert_eq!(merged.body["decision"]["action"], "merge");
    let comments = comments_of(&app, &task_id).await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("Dark mode for settings please"), "{comments:?}");
    assert_eq!(app.post(&decide(&second, "merge"), json!({"task_id": task_id})).await.status, StatusCode::CONFLICT);
    assert_eq!(comments_of(&app, &task_id).await.len(), 1, "a second merge writes nothing");

    // Declined: a reason is required, and bounded.
    for bad in [json!({}), json!({"reason": "  "}), json!({"reason": "x".repeat(2001)})] {
        let res = app.post(&decide(&third, "decline"), bad.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    assert_eq!(message(&app, &third).await["status"], "needs_triage");
    let declined = app.post(&decide(&third, "decline"), json!({"reason": "Not work for this team"})).await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!((&declined.body["status"], &declined.body["task_id"]), (&json!("declined"), &Value::Null));
    assert_eq!(declined.body["decision"]["reason"], "Not work for this team");
    assert_eq!(app.post(&decide(&third, "accept"), json!({})).await.status, StatusCode::CONFLICT);
    assert_eq!(tasks_of(&app, &project).await.len(), 1);

    // The queue is empty now; unknown messages are not found.
    let queue = app.get(&format!("/api/v1/messages?status=needs_triage&project_id={project}")).await.body;
    assert_eq!(queue["items"], json!([]), "{queue}");
    assert_eq!(app.post(&decide("no-such-message", "accept"), json!({})).await.status, StatusCode::NOT_FOUND);
}
both_backends!(a_person_accepts_merges_or_declines_once);

async fn a_merge_stays_within_the_project_and_tenant(app: TestApp) {
    let project = triage_project(&app, "web").await;
    let other = app.project("other").await;
    let elsewhere = app.task(&other, json!({"title": "Add a dark mode"})).await["id"].as_str().expect("id").to_string();
    let id = request(&app, &project, "Add a dark mode").await["id"].as_str().expect("id").to_string();

    let res = app.post(&decide(&id, "merge"), json!({"task_id": elsewhere})).await;
    assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", res.body);
    assert_eq!(message(&app, &id).await["status"], "needs_triage");
    assert!(comments_of(&app, &elsewhere).await.is_empty());

    // Another tenant sees none of it, decides nothing, and its tasks are not merge targets.
    let b_key =
        app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let b = app.with_key(&b_key);
    let b_project = b.send(reqwest::Method::POST, "/api/v1/projects", Some(json!({"name": "B's"}))).await.id();
    let b_task = b
        .send(
            reqwest::Method::POST,
            "/api/v1/tasks",
            Some(json!({"project_id": b_project, "title": "Add a dark mode"})),
        )
        .await
        .id();
    let res = app.post(&decide(&id, "merge"), json!({"task_id": b_task})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    for (what, body) in
        [("accept", json!({})), ("merge", json!({"task_id": b_task})), ("decline", json!({"reason": "mine now"}))]
    {
        let res = b.send(reqwest::Method::POST, &decide(&id, what), Some(body)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{what}: {}", res.body);
    }
    assert_eq!(
        b.send(reqwest::Method::GET, &format!("/api/v1/messages/{id}"), None).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = b.send(reqwest::Method::GET, "/api/v1/messages?status=needs_triage", None).await.body;
    assert_eq!(listed["items"], json!([]), "{listed}");
    let listed = b.send(reqwest::Method::GET, &format!("/api/v1/messages?project_id={project}"), None).await.body;
    assert_eq!(listed["items"], json!([]), "{listed}");
    let shown = message(&app, &id).await;
    assert_eq!((&shown["status"], &shown["decision"]), (&json!("needs_triage"), &Value::Null));
}
both_backends!(a_merge_stays_within_the_project_and_tenant);

/// Decisions made at once on one request: exactly one is taken, the others are conflicts.
async fn decisions_made_at_once_are_taken_once(app: TestApp) {
    let project = triage_project(&app, "web").await;
    let target =
        app.task(&project, json!({"title": "Keep the docs up to date"})).await["id"].as_str().expect("id").to_string();
    let mut accepted = 0;
    let mut merged = 0;
    for round in 0..6 {
        let id = request(&app, &project, &format!("Write the release notes for version {round}")).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let calls = [
            (decide(&id, "accept"), json!({})),
            (decide(&id, "accept"), json!({"title": "Release notes"})),
            (decide(&id, "merge"), json!({"task_id": target})),
            (decide(&id, "decline"), json!({"reason": "later"})),
        ];
        let answers = join_all(calls.iter().map(|(path, body)| app.post(path, body.clone()))).await;
        let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status).collect();
        let winners: Vec<usize> = (0..answers.len()).filter(|&i| answers[i].status == StatusCode::OK).collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 3, "{statuses:?}");
        let shown = message(&app, &id).await;
        let won = &answers[winners[0]].body;
        assert_eq!(shown["decision"]["id"], won["decision"]["id"], "the winner's decision is the one kept");
        match winners[0] {
            0 | 1 => accepted += 1,
            2 => merged += 1,
            _ => assert_eq!(shown["status"], "declined"),
        }
    }
    assert_eq!(tasks_of(&app, &project).await.len(), 1 + accepted, "one task per accepted request, no more");
    assert_eq!(comments_of(&app, &target).await.len(), merged, "one comment per merged request, no more");
}
both_backends!(decisions_made_at_once_are_taken_once);

async fn the_queue_is_listed_newest_first_in_pages(app: TestApp) {
    let project = triage_project(&app, "web").await;
    let other = triage_project(&app, "ops").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(request(&app, &project, &format!("Request number {n} about the website")).await["id"].clone());
    }
    let elsewhere = request(&app, &other, "Restart the build server").await["id"].clone();
    ids.reverse(); // newest first

    let mut seen = Vec::new();
    let mut path = format!("/api/v1/messages?status=needs_triage&project_id={project}&limit=2");
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2);
        assert!(items.iter().all(|m| m["project_id"] == project.as_str() && m["status"] == "needs_triage"));
        seen.extend(items.iter().map(|m| m["id"].clone()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/messages?status=needs_triage&project_id={project}&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let all = app.get("/api/v1/messages?status=needs_triage").await.body;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(6), "{all}");
    assert_eq!(all["items"][0]["id"], elsewhere);

    let first = ids[0].as_str().expect("id");
    assert_eq!(app.post(&decide(first, "accept"), json!({})).await.status, StatusCode::OK);
    let queue = app.get(&format!("/api/v1/messages?status=needs_triage&project_id={project}")).await.body;
    assert_eq!(queue["items"].as_array().map(Vec::len), Some(4));
    let created = app.get(&format!("/api/v1/messages?status=created&project_id={project}")).await.body;
    assert_eq!(
        created["items"].as_array().map(|i| i.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()),
        Some(vec![ids[0].clone()])
    );

    for bad in ["status=waiting", "limit=0", "limit=500", "cursor=nonsense"] {
        let res = app.get(&format!("/api/v1/messages?{bad}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
}
both_backends!(the_queue_is_listed_newest_first_in_pages);

/// In an `auto` project, a request made a task that may repeat another: a person merges it
/// later, and the task made for it is closed with a note where its work is tracked.
async fn a_possible_duplicate_is_merged_later(app: TestApp) {
    let project = app.project("web").await;
    let german = request(&app, &project, "Translate the pricing page into German").await;
    assert_eq!(german["status"], "created", "{german}");
    let german_task = german["task_id"].as_str().expect("task").to_string();
    let japanese = request(&app, &project, "Translate the pricing page into Japanese").await;
    assert_eq!(japanese["status"], "possible_duplicate", "{japanese}");
    let (id, own) = (japanese["id"].as_str().expect("id"), japanese["task_id"].as_str().expect("task"));

    // Not waiting for triage: it cannot be accepted or declined, nor merged into itself.
    assert_eq!(app.post(&decide(id, "accept"), json!({})).await.status, StatusCode::CONFLICT);
    assert_eq!(app.post(&decide(id, "decline"), json!({"reason": "no"})).await.status, StatusCode::CONFLICT);
    let itself = app.post(&decide(id, "merge"), json!({"task_id": own})).await;
    assert_eq!(itself.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", itself.body);
    // A request that simply made its task is not merged this way either.
    let created = german["id"].as_str().expect("id");
    assert_eq!(app.post(&decide(created, "merge"), json!({"task_id": own})).await.status, StatusCode::CONFLICT);

    let merged = app.post(&decide(id, "merge"), json!({"task_id": german_task})).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!((&merged.body["status"], &merged.body["task_id"]), (&json!("duplicate"), &json!(german_task)));
    assert_eq!(merged.body["decision"]["closed_task_id"], own, "{}", merged.body);
    assert!(comments_of(&app, &german_task).await.iter().any(|c| c.contains("into Japanese")));
    let closed = app.get(&format!("/api/v1/tasks/{own}")).await.body;
    assert_eq!(closed["status"], "done", "{closed}");
    assert!(
        comments_of(&app, own).await.iter().any(|c| c.contains("Merged into “Translate the pricing page into German”"))
    );
    assert_eq!(app.post(&decide(id, "merge"), json!({"task_id": german_task})).await.status, StatusCode::CONFLICT);
}
both_backends!(a_possible_duplicate_is_merged_later);

async fn wait_for<T: Clone>(seen: &std::sync::Arc<std::sync::Mutex<Vec<T>>>, n: usize) -> Vec<T> {
    for _ in 0..400 {
        if seen.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen.lock().expect("lock").clone()
}

async fn waiting(app: &TestApp, project: &str) -> Vec<Value> {
    for _ in 0..400 {
        let queue = app.get(&format!("/api/v1/messages?status=needs_triage&project_id={project}")).await.body;
        let items = queue["items"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Vec::new()
}

/// Telegram: the requester is told the request waits, then what was decided, in their thread.
async fn the_requester_hears_each_decision_on_telegram(backend: Backend) {
    use crate::fakes::telegram::{SECRET, deliver, fake_telegram, update};
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_telegram().await;
    let project = triage_project(&app, "telegram").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await;
    let text_of = |replies: &[(String, Value)], i: usize| replies[i].1["text"].as_str().unwrap_or_default().to_string();

    assert_eq!(
        deliver(&app, &integration, &update(727100001, "/task Fix the login page"), Some(SECRET)).await.0,
        StatusCode::OK
    );
    let replies = wait_for(&seen, 1).await;
    assert!(text_of(&replies, 0).starts_with("Received your request"), "{replies:?}");
    assert!(
        app.get("/api/v1/tasks").await.body["items"].as_array().is_some_and(Vec::is_empty),
        "no task before a decision"
    );
    let queued = waiting(&app, &project).await;
    let id = queued[0]["id"].as_str().expect("id");
    let accepted = app.post(&decide(id, "accept"), json!({"title": "Fix the login page on mobile"})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let replies = wait_for(&seen, 2).await;
    let task = accepted.body["task_id"].as_str().expect("task");
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(text_of(&replies, 1).starts_with("Tracked as “Fix the login page on mobile”"), "{replies:?}");
    assert!(text_of(&replies, 1).contains(task), "{replies:?}");
    assert_eq!(replies[1].1["chat_id"], replies[0].1["chat_id"]);
    assert_eq!(replies[1].1["reply_parameters"]["message_id"], 42, "in the requester's thread");

    assert_eq!(
        deliver(&app, &integration, &update(727100002, "/task Order pizza for everyone"), Some(SECRET)).await.0,
        StatusCode::OK
    );
    wait_for(&seen, 3).await;
    let queued = waiting(&app, &project).await;
    let id = queued[0]["id"].as_str().expect("id");
    let declined = app.post(&decide(id, "decline"), json!({"reason": "Not something we track"})).await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    let replies = wait_for(&seen, 4).await;
    assert_eq!(text_of(&replies, 3), "Not taken: Not something we track", "{replies:?}");
    // Nothing is answered twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().expect("lock").len(), 4);
}
each_backend!(the_requester_hears_each_decision_on_telegram);

/// Slack: a merge is answered in the thread with the task the request was added to.
async fn the_requester_hears_a_merge_on_slack(backend: Backend) {
    use taskbridge::channels::slack::sign;
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = crate::fakes::slack::fake_slack().await;
    let project = triage_project(&app, "slack").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "slack", "settings": {"api_base_url": format!("{fake}/api")},
                   "secrets": {"signing_secret": SECRET, "bot_token": "xoxb-test"}}),
        )
        .await;
    let task = app.task(&project, json!({"title": "Translate the pricing page into German"})).await;
    let task_id = task["id"].as_str().expect("id");
    let body = json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": "Ev1", "event_time": 1,
                      "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR",
                                "text": "<@U0BOT> please translate the pricing page to German",
                                "ts": "1767225599.000100", "event_ts": "1767225599.000100"}})
    .to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let res = app
        .raw()
        .post(format!("{}/webhooks/slack/{integration}", app.base))
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sign(SECRET, &ts, body.as_bytes()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    let posted = |seen: &[(String, axum::http::HeaderMap, Value)]| -> Vec<Value> {
        seen.iter().filter(|(method, _, _)| method == "chat.postMessage").map(|(_, _, b)| b.clone()).collect()
    };
    assert!(
        posted(&wait_for(&seen, 1).await)
            .first()
            .is_some_and(|b| b["text"].as_str().is_some_and(|t| t.starts_with("Received your request")))
    );
    let queued = waiting(&app, &project).await;
    assert_eq!(queued[0]["candidates"][0]["task_id"], task_id, "{queued:?}");
    let id = queued[0]["id"].as_str().expect("id");
    let merged = app.post(&decide(id, "merge"), json!({"task_id": task_id})).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    let answers = posted(&wait_for(&seen, 2).await);
    assert_eq!(answers.len(), 2, "{answers:?}");
    let text = answers[1]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Added to “Translate the pricing page into German”"), "{text}");
    assert!(text.contains(task_id), "{text}");
    assert_eq!(answers[1]["thread_ts"], "1767225599.000100", "in the requester's thread: {answers:?}");

    // Undone: the requester hears their request is tracked on its own.
    let undone = app.post(&decide(id, "unmerge"), json!({})).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    let answers = posted(&wait_for(&seen, 3).await);
    let text = answers.get(2).and_then(|a| a["text"].as_str()).unwrap_or_default();
    assert!(text.starts_with("Tracked on its own as “"), "{answers:?}");
    assert!(text.contains(undone.body["task_id"].as_str().expect("own task")), "{text}");
}
each_backend!(the_requester_hears_a_merge_on_slack);

async fn decisions_of(app: &TestApp, id: &str) -> Vec<String> {
    let journal = app.get(&format!("/api/v1/messages/{id}/decisions")).await;
    assert_eq!(journal.status, StatusCode::OK, "{}", journal.body);
    let items = journal.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|d| d["action"].as_str().map(str::to_string)).collect()
}

/// A merge, by a person or by intake, is undone: the comment removed from the task, the
/// request its own task again; journaled, once.
async fn a_merge_is_undone(app: TestApp) {
    // A person's merge in triage.
    let project = triage_project(&app, "web").await;
    let target = app.task(&project, json!({"title": "Add a dark mode"})).await["id"].as_str().expect("id").to_string();
    let id = request(&app, &project, "Add a high-contrast mode for the settings page").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let draft_title = message(&app, &id).await["draft"]["title"].clone();
    assert_eq!(app.post(&decide(&id, "merge"), json!({"task_id": target})).await.status, StatusCode::OK);
    assert_eq!(comments_of(&app, &target).await.len(), 1);
    assert!(message(&app, &id).await["comment_id"].is_string());

    let undone = app.post(&decide(&id, "unmerge"), json!({})).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    let own = undone.body["task_id"].as_str().expect("own task").to_string();
    assert_ne!(own, target);
    assert_eq!((&undone.body["status"], &undone.body["comment_id"]), (&json!("created"), &Value::Null));
    assert_eq!(undone.body["decision"]["action"], "unmerge");
    assert!(comments_of(&app, &target).await.is_empty(), "the comment is removed");
    assert_eq!(app.get(&format!("/api/v1/tasks/{own}")).await.body["title"], draft_title);
    assert_eq!(decisions_of(&app, &id).await, ["merge", "unmerge"], "both are journaled");
    for (what, body) in [("unmerge", json!({})), ("merge", json!({"task_id": target})), ("accept", json!({}))] {
        assert_eq!(app.post(&decide(&id, what), body).await.status, StatusCode::CONFLICT, "{what}");
    }
    assert_eq!(tasks_of(&app, &project).await.len(), 2);

    // Intake's own merge: the worst mistake, a different request swallowed, is undone too.
    let auto = app.project("auto").await;
    let first = request(&app, &auto, "Migrate the wiki to Confluence").await;
    let again = request(&app, &auto, "can someone migrate our wiki to confluence?").await;
    assert_eq!(again["status"], "duplicate", "{again}");
    let swallowed = again["id"].as_str().expect("id");
    let existing = first["task_id"].as_str().expect("task");
    assert_eq!(comments_of(&app, existing).await.len(), 1);
    let undone = app.post(&decide(swallowed, "unmerge"), json!({})).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    assert_eq!(undone.body["status"], "created");
    assert!(comments_of(&app, existing).await.is_empty());
    assert_eq!(tasks_of(&app, &auto).await.len(), 2);
    assert_eq!(decisions_of(&app, swallowed).await, ["unmerge"]);

    // A merge made before merges could be undone (its comment unknown) is refused, unchanged.
    let old = request(&app, &auto, "Migrate the wiki to Confluence").await;
    assert_eq!(old["status"], "duplicate", "{old}");
    let old = old["id"].as_str().expect("id");
    crate::helpers::execute_sql(&app, "UPDATE messages SET comment_id = NULL WHERE id = $1", &[old]).await;
    let refused = app.post(&decide(old, "unmerge"), json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().is_some_and(|m| m.contains("before merges could be undone")));
    assert_eq!(message(&app, old).await["status"], "duplicate");

    // Nothing else is unmerged, and another tenant's key finds nothing.
    let waiting = request(&app, &project, "Rename the staging database").await["id"].as_str().expect("id").to_string();
    assert_eq!(app.post(&decide(&waiting, "unmerge"), json!({})).await.status, StatusCode::CONFLICT);
    let b_key =
        app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let b = app.with_key(&b_key);
    assert_eq!(
        b.send(reqwest::Method::POST, &decide(old, "unmerge"), Some(json!({}))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.send(reqwest::Method::GET, &format!("/api/v1/messages/{id}/decisions"), None).await.status,
        StatusCode::NOT_FOUND
    );
}
both_backends!(a_merge_is_undone);

/// A possible duplicate merged later and then unmerged gets its own task back, reopened.
async fn an_unmerged_possible_duplicate_gets_its_task_back(app: TestApp) {
    let project = app.project("web").await;
    let german = request(&app, &project, "Translate the pricing page into German").await;
    let german_task = german["task_id"].as_str().expect("task").to_string();
    let japanese = request(&app, &project, "Translate the pricing page into Japanese").await;
    assert_eq!(japanese["status"], "possible_duplicate", "{japanese}");
    let (id, own) = (japanese["id"].as_str().expect("id"), japanese["task_id"].as_str().expect("task"));
    assert_eq!(app.post(&decide(id, "merge"), json!({"task_id": german_task})).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/tasks/{own}")).await.body["status"], "done");

    let undone = app.post(&decide(id, "unmerge"), json!({})).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    assert_eq!((&undone.body["status"], &undone.body["task_id"]), (&json!("possible_duplicate"), &json!(own)));
    assert_eq!(app.get(&format!("/api/v1/tasks/{own}")).await.body["status"], "todo", "reopened");
    assert!(comments_of(&app, own).await.iter().any(|c| c.contains("Unmerged by")));
    assert!(!comments_of(&app, &german_task).await.iter().any(|c| c.contains("into Japanese")));
    assert_eq!(tasks_of(&app, &project).await.len(), 2, "no task made: its own came back");
    // Still a possible duplicate: it can be merged again.
    assert_eq!(app.post(&decide(id, "merge"), json!({"task_id": german_task})).await.status, StatusCode::OK);
    assert_eq!(decisions_of(&app, id).await, ["merge", "unmerge", "merge"]);
}
both_backends!(an_unmerged_possible_duplicate_gets_its_task_back);

/// Undoing one merge twice at once: one undo, one task.
async fn unmerges_made_at_once_are_taken_once(app: TestApp) {
    let project = triage_project(&app, "web").await;
    let target =
        app.task(&project, json!({"title": "Keep the docs up to date"})).await["id"].as_str().expect("id").to_string();
    for round in 0..4 {
        let id =
            request(&app, &project, &format!("Document release {round}")).await["id"].as_str().expect("id").to_string();
        assert_eq!(app.post(&decide(&id, "merge"), json!({"task_id": target})).await.status, StatusCode::OK);
        let path = decide(&id, "unmerge");
        let answers = join_all((0..3).map(|_| app.post(&path, json!({})))).await;
        let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 2, "{statuses:?}");
    }
    assert_eq!(tasks_of(&app, &project).await.len(), 5, "the target and one task per undone merge");
    assert!(comments_of(&app, &target).await.is_empty());
}
both_backends!(unmerges_made_at_once_are_taken_once);

/// Decisions go through the task service: an accepted request's task is pushed to the
/// project's tracker and announced to its webhooks, a merge's comment reaches the tracker
/// item, and nothing is pushed while a request waits.
async fn decisions_reach_trackers_and_webhooks(backend: Backend) {
    use crate::fakes::taiga::{fake_taiga, taiga_integration};
    let (fake, taiga, _) = fake_taiga(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = triage_project(&app, "ops").await;
    app.integration(&project, taiga_integration(&fake)).await;
    // A subscriber that never answers: its announcements stay in the queue to be read.
    let hook =
        json!({"type": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}, "secrets": {"signing_secret": "s"}});
    app.integration(&project, hook).await;

    let first = request(&app, &project, "Fix the checkout 500 error").await["id"].as_str().expect("id").to_string();
    let second =
        request(&app, &project, "The checkout fails with a 500 again").await["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(taiga.lock().expect("lock").tasks.is_empty(), "nothing is pushed before a decision");

    let accepted = app.post(&decide(&first, "accept"), json!({"title": "Fix the checkout error"})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let task = accepted.body["task_id"].as_str().expect("task").to_string();
    let mut links = Value::Null;
    for _ in 0..400 {
        links = app.get(&format!("/api/v1/tasks/{task}/links")).await.body;
        if links.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(links[0]["tracker"], "taiga", "{links}");
    assert_eq!(taiga.lock().expect("lock").tasks.len(), 1);
    assert_eq!(taiga.lock().expect("lock").tasks[0]["subject"], "Fix the checkout error");

    assert_eq!(app.post(&decide(&second, "merge"), json!({"task_id": task})).await.status, StatusCode::OK);
    let mut noted = Vec::new();
    for _ in 0..400 {
        noted = taiga.lock().expect("lock").history.clone();
        if !noted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        noted[0].1["comment"].as_str().is_some_and(|c| c.contains("The checkout fails with a 500 again")),
        "{noted:?}"
    );

    let jobs = app.get("/api/v1/jobs?limit=200").await.body;
    let announced: Vec<(String, Value)> = jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|j| j["kind"] == "webhook.announce")
        .map(|j| (j["payload"]["event"].as_str().unwrap_or_default().to_string(), j["payload"]["data"].clone()))
        .collect();
    assert!(
        announced.iter().any(|(e, d)| e == "task.created" && d["title"] == "Fix the checkout error"),
        "{announced:?}"
    );
    assert!(announced.iter().any(|(e, d)| e == "comment.created" && d["task_id"] == task.as_str()), "{announced:?}");
    assert_eq!(announced.iter().filter(|(e, _)| e == "task.created").count(), 1, "{announced:?}");
}
each_backend!(decisions_reach_trackers_and_webhooks);
