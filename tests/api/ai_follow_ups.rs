//! Follow-ups: an overdue task whose request came from a Telegram conversation gets a
//! reminder proposed there, sent only once a person approves it (or at once where the
//! project opted in), never twice for the same task and day; the scheduled check finds it
//! by itself.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::telegram::{SECRET, Seen as Sent, deliver, fake_telegram, update};
use crate::helpers::{Backend, TestApp, backdate, each_backend, execute_sql, set_time, spawn_app_with};

/// A project with a Telegram integration and a task made from a request in its group;
/// answers (project, task id).
async fn task_from_telegram(app: &TestApp, fake: &str, sent: &Sent) -> (String, String) {
    let project = app.project("ops").await;
    let telegram = json!({"type": "telegram", "settings": {"api_base_url": fake},
                          "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}});
    let integration = app.integration(&project, telegram).await;
    let request = update(727000001, "/task Fix the login page");
    assert_eq!(deliver(app, &integration, &request, Some(SECRET)).await.0, StatusCode::OK);
    assert_eq!(sent_count(sent, 1).await, 1, "the request is answered");
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}")).await.body;
    (project, tasks["items"][0]["id"].as_str().expect("task").to_string())
}

/// How many messages Telegram has, once it has `want` (or after five seconds), and a
/// moment later, so one too many shows.
async fn sent_count(sent: &Sent, want: usize) -> usize {
    for _ in 0..200 {
        if sent.lock().expect("lock").len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    still_sent(sent).await
}

/// How many messages Telegram has after the workers had a moment to send one more.
async fn still_sent(sent: &Sent) -> usize {
    tokio::time::sleep(Duration::from_millis(400)).await;
    sent.lock().expect("lock").len()
}

async fn check(app: &TestApp) -> Value {
    let res = app.post("/api/v1/ai/follow-ups", json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

/// Moves an action's making (its day and time) `days` back, as if proposed then.
async fn made_days_ago(app: &TestApp, action: &str, task: &str, days: i64) {
    let then = chrono::Utc::now() - chrono::Duration::days(days);
    let key = format!("follow-up:{task}:{}", then.date_naive());
    assert_eq!(execute_sql(app, "UPDATE ai_actions SET dedupe_key = $1 WHERE id = $2", &[&key, action]).await, 1);
    set_time(app, "ai_actions", "created_at", action, then).await;
}

/// Moves an action's decision back a day.
async fn decided_yesterday(app: &TestApp, action: &str) {
    set_time(app, "ai_actions", "decided_at", action, chrono::Utc::now() - chrono::Duration::days(1)).await;
}

async fn overdue_tasks_get_one_reminder_a_day_in_their_conversation(backend: Backend) {
    let (fake, sent) = fake_telegram().await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (project, task) = task_from_telegram(&app, &fake, &sent).await;
    let three_days_ago = (chrono::Utc::now().date_naive() - chrono::Duration::days(3)).to_string();
    let patched =
        app.patch(&format!("/api/v1/tasks/{task}"), json!({"due_date": three_days_ago, "assigned_to": "anap"})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    // Stale, but nothing can reach it: no conversation, and its assignee is no address.
    let stale =
        app.task(&project, json!({"title": "Migrate the wiki", "status": "in_progress", "assigned_to": "bo"})).await;
    let stale = stale["id"].as_str().expect("id").to_string();
    backdate(&app, &stale, 10).await;
    app.task(&project, json!({"title": "Plan the offsite", "due_date": "2099-01-01"})).await;

    let first = check(&app).await;
    assert_eq!(first["unreachable"], json!([stale]), "{first}");
    let a1 = first["actions"][0].as_str().expect("an action").to_string();
    assert_eq!(first["actions"].as_array().map(Vec::len), Some(1), "{first}");
    let action = app.get(&format!("/api/v1/ai/actions/{a1}")).await.body;
    assert_eq!((action["kind"].as_str(), action["status"].as_str()), (Some("send_follow_up"), Some("pending")));
    assert_eq!(action["proposed_by"], "follow-ups");
    assert_eq!(action["params"]["task_id"], json!(task));
    let message = action["params"]["message"].as_str().expect("message").to_string();
    assert!(
        message.starts_with(&format!("Reminder: \"Fix the login page\" was due on {three_days_ago} (3 day(s) ago)")),
        "{message}"
    );
    assert!(message.contains("@anap, is there a new date"), "{message}");

    // Proposed only: nothing is sent. Nothing more is proposed while it waits (even on a
    // later day), nor on the day it is rejected.
    assert_eq!(still_sent(&sent).await, 1);
    assert_eq!(check(&app).await["actions"], json!([]));
    made_days_ago(&app, &a1, &task, 2).await;
    assert_eq!(check(&app).await["actions"], json!([]), "it still waits");
    assert_eq!(app.post(&format!("/api/v1/ai/actions/{a1}/reject"), json!({})).await.body["status"], "rejected");
    assert_eq!(check(&app).await["actions"], json!([]), "rejected today");
    assert_eq!(still_sent(&sent).await, 1);

    // The next day: proposed again; approved a day later, it is sent into the request's
    // thread, and that day gets no second one.
    decided_yesterday(&app, &a1).await;
    let a2 = check(&app).await["actions"][0].as_str().expect("an action").to_string();
    made_days_ago(&app, &a2, &task, 1).await;
    let approved = app.post(&format!("/api/v1/ai/actions/{a2}/approve"), json!({})).await;
    assert_eq!(approved.body["status"], "executed", "{}", approved.body);
    assert_eq!(approved.body["result"]["delivery"]["platform"], "telegram", "{}", approved.body);
    assert_eq!(sent_count(&sent, 2).await, 2);
    let reminder = sent.lock().expect("lock")[1].1.clone();
    assert_eq!(reminder["chat_id"], -1001234567890i64);
    assert_eq!(reminder["message_thread_id"], 7);
    assert_eq!(reminder["reply_parameters"]["message_id"], 42);
    assert_eq!(reminder["text"], json!(message));
    assert_eq!(check(&app).await["actions"], json!([]), "one was sent today");

    // A project that opted in gets its reminders sent without asking; still once a day.
    decided_yesterday(&app, &a2).await;
    let opted = app.patch(&format!("/api/v1/projects/{project}"), json!({"auto_follow_ups": true})).await;
    assert_eq!(opted.body["auto_follow_ups"], true, "{}", opted.body);
    let a3 = check(&app).await["actions"][0].as_str().expect("an action").to_string();
    assert_eq!(sent_count(&sent, 3).await, 3);
    let auto = app.get(&format!("/api/v1/ai/actions/{a3}")).await.body;
    assert_eq!(
        (auto["status"].as_str(), auto["decided_by"].as_str()),
        (Some("executed"), Some("policy:auto_follow_ups"))
    );
    assert_eq!(check(&app).await["actions"], json!([]));
    assert_eq!(still_sent(&sent).await, 3);

    // A person can ask for one in the chat; it waits for approval like any action.
    let asked = app.post("/api/v1/ai/chat", json!({"message": "remind Fix the login page"})).await.body;
    assert_eq!(asked["proposed"][0]["kind"], "send_follow_up", "{asked}");
    let text = asked["proposed"][0]["params"]["message"].as_str().expect("message").to_string();
    assert!(text.starts_with("@anap, a reminder about \"Fix the login page\" (due "), "{text}");
    assert_eq!(still_sent(&sent).await, 3);
    let action = asked["actions"][0].as_str().expect("action");
    assert_eq!(app.post(&format!("/api/v1/ai/actions/{action}/approve"), json!({})).await.body["status"], "executed");
    assert_eq!(sent_count(&sent, 4).await, 4);
    assert_eq!(sent.lock().expect("lock")[3].1["text"], json!(text));
}
each_backend!(overdue_tasks_get_one_reminder_a_day_in_their_conversation);

async fn the_scheduled_check_finds_overdue_work_by_itself(backend: Backend) {
    let (fake, sent) = fake_telegram().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.follow_up_secs = 1;
    })
    .await
    else {
        return;
    };
    let (_, task) = task_from_telegram(&app, &fake, &sent).await;
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    app.patch(&format!("/api/v1/tasks/{task}"), json!({"due_date": yesterday})).await;
    let mut pending = Value::Null;
    for _ in 0..200 {
        pending = app.get("/api/v1/ai/actions?status=pending").await.body;
        if pending["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items = pending["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{pending}");
    assert_eq!(items[0]["params"]["task_id"], json!(task));
    // Later checks (one a second) add nothing and send nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.get("/api/v1/ai/actions").await.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(still_sent(&sent).await, 1);
}
each_backend!(the_scheduled_check_finds_overdue_work_by_itself);
