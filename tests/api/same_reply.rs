//! Asking the requester (issue 21 item 4): a possible duplicate's answer in its thread names
//! the likely task and offers to merge; a reply of *same* there by the requester (or the
//! platform's button) merges it once, however often the platform delivers the reply, with
//! the journaled, undoable merge a person makes; anything else changes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with};

const GERMAN: &str = "Translate the pricing page into German";

async fn wait_for<T: Clone>(seen: &Arc<Mutex<Vec<T>>>, n: usize) -> Vec<T> {
    for _ in 0..400 {
        if seen.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen.lock().expect("lock").clone()
}

/// The only request the project has had, once intake is done with it.
async fn the_request(app: &TestApp, project: &str) -> Value {
    for _ in 0..400 {
        let list = app.get(&format!("/api/v1/messages?project_id={project}")).await.body;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if let Some(m) =
            items.first().filter(|m| !["queued", "processing"].contains(&m["status"].as_str().unwrap_or("")))
        {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no request was processed");
}

/// Waits until message `id` has `status` (or gives up and returns it as it is).
async fn message_with(app: &TestApp, id: &str, status: &str) -> Value {
    let mut m = Value::Null;
    for _ in 0..400 {
        m = app.get(&format!("/api/v1/messages/{id}")).await.body;
        if m["status"] == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    m
}

async fn comments_of(app: &TestApp, task: &str) -> Vec<String> {
    let res = app.get(&format!("/api/v1/comments?task_id={task}&limit=200")).await;
    let items = res.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|c| c["content"].as_str().map(str::to_string)).collect()
}

/// What settles: jobs still queued or running are given time to finish.
async fn settle(app: &TestApp) {
    for _ in 0..200 {
        let jobs = app.get("/api/v1/jobs?limit=200").await.body;
        let busy =
            jobs["items"].as_array().into_iter().flatten().any(|j| j["status"] == "queued" || j["status"] == "running");
        if !busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

mod slack {
    use super::*;
    use taskbridge::channels::slack::sign;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    pub const THREAD: &str = "1767225599.000100";

    pub async fn deliver(app: &TestApp, integration: &str, body: String, form: bool) -> StatusCode {
        let ts = chrono::Utc::now().timestamp().to_string();
        let content_type = if form { "application/x-www-form-urlencoded" } else { "application/json" };
        app.raw()
            .post(format!("{}/webhooks/slack/{integration}", app.base))
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign(SECRET, &ts, body.as_bytes()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent")
            .status()
    }

    /// A message event: `text` by `user` at `ts`, in the request's thread.
    pub fn in_thread(event_id: &str, kind: &str, user: &str, ts: &str, text: &str) -> String {
        json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": event_id, "event_time": 1,
               "event": {"type": kind, "channel": "C0LAN2Q65", "user": user, "text": text, "ts": ts,
                         "thread_ts": THREAD, "event_ts": ts, "channel_type": "channel"}})
        .to_string()
    }

    /// The request that starts the thread: it may repeat the German translation task.
    pub fn ask_for_japanese() -> Value {
        json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": "Ev1", "event_time": 1,
               "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR",
                         "text": "<@U0BOT> Translate the pricing page into Japanese", "ts": THREAD, "event_ts": THREAD}})
    }

    pub fn posted(seen: &[(String, axum::http::HeaderMap, Value)]) -> Vec<Value> {
        seen.iter().filter(|(method, _, _)| method == "chat.postMessage").map(|(_, _, b)| b.clone()).collect()
    }

    pub async fn app(backend: Backend) -> Option<(TestApp, String, String, crate::fakes::slack::Seen)> {
        let app = spawn_app_with(backend, |c| c.allow_private_urls = true).await?;
        let (fake, seen) = crate::fakes::slack::fake_slack().await;
        let project = app.project("slack").await;
        let integration = app
            .integration(
                &project,
                json!({"type": "slack", "settings": {"api_base_url": format!("{fake}/api")},
                       "secrets": {"signing_secret": SECRET, "bot_token": "xoxb-test"}}),
            )
            .await;
        Some((app, project, integration, seen))
    }
}

/// Slack: the question in the thread, strangers and chatter change nothing, the requester's
/// *same* (delivered three times) merges once and is answered "Added to …"; a later *same*
/// does nothing; the merge is journaled as the requester's and can be undone.
async fn same_in_a_slack_thread_merges_once(backend: Backend) {
    use slack::*;
    let Some((app, project, integration, seen)) = slack::app(backend).await else { return };
    let german = app.task(&project, json!({"title": GERMAN})).await["id"].as_str().expect("id").to_string();
    let mention = ask_for_japanese();
    assert_eq!(deliver(&app, &integration, mention.to_string(), false).await, StatusCode::OK);

    // The question, in the requester's thread, naming the likely task, with a button.
    let question = posted(&wait_for(&seen, 1).await)[0].clone();
    let request = the_request(&app, &project).await;
    assert_eq!(request["status"], "possible_duplicate", "{request}");
    let id = request["id"].as_str().expect("id").to_string();
    let own = request["task_id"].as_str().expect("own task").to_string();
    let text = question["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Created task “"), "{text}");
    assert!(text.contains(&format!("Looks like “{GERMAN}”")) && text.contains(&german), "{text}");
    assert!(text.contains("reply *same* to add your request there"), "{text}");
    assert_eq!(question["thread_ts"], THREAD, "{question}");
    assert_eq!(question["blocks"][1]["elements"][0]["action_id"], "same", "{question}");
    assert_eq!(question["blocks"][1]["elements"][0]["value"], id.as_str(), "{question}");

    // Someone else's "same", and the requester's chatter, are not answers.
    let stranger = in_thread("Ev2", "message", "U0STRANGER", "1767225600.000200", "same");
    assert_eq!(deliver(&app, &integration, stranger, false).await, StatusCode::OK);
    let chatter = in_thread("Ev3", "message", "U061F7AUR", "1767225601.000300", "same here, and the footer too");
    assert_eq!(deliver(&app, &integration, chatter, false).await, StatusCode::OK);
    settle(&app).await;
    assert_eq!(app.get(&format!("/api/v1/messages/{id}")).await.body["status"], "possible_duplicate");
    assert!(comments_of(&app, &german).await.is_empty());

    // The requester answers; Slack delivers it again, and as a mention too.
    let same = in_thread("Ev4", "message", "U061F7AUR", "1767225602.000400", "*Same*");
    for body in [same.clone(), same, in_thread("Ev5", "app_mention", "U061F7AUR", "1767225602.000400", "<@U0BOT> same")]
    {
        assert_eq!(deliver(&app, &integration, body, false).await, StatusCode::OK);
    }
    let merged = message_with(&app, &id, "duplicate").await;
    assert_eq!(merged["status"], "duplicate", "{merged}");
    assert_eq!(merged["task_id"], german.as_str());
    assert_eq!(merged["decision"]["action"], "merge");
    assert_eq!(merged["decision"]["decided_by_key_id"], "requester", "{merged}");
    assert!(merged["decision"]["decided_by"].as_str().is_some_and(|b| b.contains("U061F7AUR")), "{merged}");
    settle(&app).await;
    let added: Vec<String> = comments_of(&app, &german).await;
    assert_eq!(added.len(), 1, "merged once: {added:?}");
    assert!(added[0].contains("into Japanese"), "{added:?}");
    assert_eq!(app.get(&format!("/api/v1/tasks/{own}")).await.body["status"], "done", "its own task is closed");
    let answers = posted(&seen.lock().expect("lock").clone());
    assert_eq!(answers.len(), 2, "{answers:?}");
    let text = answers[1]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with(&format!("Added to “{GERMAN}”")), "{text}");
    assert_eq!(answers[1]["thread_ts"], THREAD);
    assert!(answers[1].get("blocks").is_none(), "no question this time");

    // Answered after the decision (the button, a late "same"): nothing changes or is said.
    let button = json!({"type": "block_actions", "user": {"id": "U061F7AUR"}, "trigger_id": "1.2.3",
                        "channel": {"id": "C0LAN2Q65"},
                        "container": {"type": "message", "channel_id": "C0LAN2Q65", "message_ts": "1767225599.500000",
                                      "thread_ts": THREAD},
                        "message": {"type": "message", "ts": "1767225599.500000", "thread_ts": THREAD},
                        "actions": [{"action_id": "same", "value": id, "type": "button", "action_ts": "1767225700.1"}]});
    let form = serde_urlencoded::to_string([("payload", button.to_string())]).expect("form");
    assert_eq!(deliver(&app, &integration, form, true).await, StatusCode::OK);
    let late = in_thread("Ev6", "message", "U061F7AUR", "1767225603.000500", "same");
    assert_eq!(deliver(&app, &integration, late, false).await, StatusCode::OK);
    settle(&app).await;
    assert_eq!(comments_of(&app, &german).await.len(), 1);
    assert_eq!(posted(&seen.lock().expect("lock").clone()).len(), 2);
    let journal = app.get(&format!("/api/v1/messages/{id}/decisions")).await;
    assert_eq!(journal.body["items"].as_array().map(Vec::len), Some(1), "one decision: {}", journal.body);

    // Undoable like any merge: the request is its own task again.
    let undone = app.post(&format!("/api/v1/messages/{id}/unmerge"), json!({})).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    assert_eq!(undone.body["task_id"], own.as_str());
    assert!(comments_of(&app, &german).await.is_empty());
}
each_backend!(same_in_a_slack_thread_merges_once);

/// Slack: the button under the question merges, pressed by the requester only.
async fn the_slack_button_merges(backend: Backend) {
    use slack::*;
    let Some((app, project, integration, seen)) = slack::app(backend).await else { return };
    let german = app.task(&project, json!({"title": GERMAN})).await["id"].as_str().expect("id").to_string();
    let mention = ask_for_japanese();
    deliver(&app, &integration, mention.to_string(), false).await;
    wait_for(&seen, 1).await;
    let id = the_request(&app, &project).await["id"].as_str().expect("id").to_string();
    let press = |user: &str, at: &str| {
        let payload = json!({"type": "block_actions", "user": {"id": user}, "trigger_id": "1.2.3",
                             "channel": {"id": "C0LAN2Q65"},
                             "container": {"type": "message", "channel_id": "C0LAN2Q65",
                                           "message_ts": "1767225599.500000", "thread_ts": THREAD},
                             "message": {"type": "message", "ts": "1767225599.500000", "thread_ts": THREAD},
                             "actions": [{"action_id": "same", "value": id, "type": "button", "action_ts": at}]});
        serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form")
    };
    assert_eq!(deliver(&app, &integration, press("U0STRANGER", "1767225700.1"), true).await, StatusCode::OK);
    settle(&app).await;
    assert_eq!(app.get(&format!("/api/v1/messages/{id}")).await.body["status"], "possible_duplicate");
    assert_eq!(deliver(&app, &integration, press("U061F7AUR", "1767225701.1"), true).await, StatusCode::OK);
    let merged = message_with(&app, &id, "duplicate").await;
    assert_eq!((&merged["status"], &merged["task_id"]), (&json!("duplicate"), &json!(german)), "{merged}");
    let answers = posted(&wait_for(&seen, 2).await);
    assert!(answers[1]["text"].as_str().is_some_and(|t| t.starts_with("Added to")), "{answers:?}");
}
each_backend!(the_slack_button_merges);

mod telegram {
    use super::*;

    pub const ANA: i64 = 123456789;

    /// A text in the Ops team chat: message `message_id` from `user` (`username`).
    pub fn text(update_id: i64, message_id: i64, user: (i64, &str), text: &str) -> Value {
        json!({"update_id": update_id, "message": {"message_id": message_id, "date": 1767225600,
            "from": {"id": user.0, "is_bot": false, "first_name": user.1, "username": user.1},
            "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Ops team"}, "text": text}})
    }

    /// A press of the button under the bot's answer 43, which replied to request `request`.
    pub fn press(update_id: i64, query: &str, user: (i64, &str), request: i64) -> Value {
        json!({"update_id": update_id, "callback_query": {"id": query, "chat_instance": "-42",
            "from": {"id": user.0, "is_bot": false, "first_name": user.1, "username": user.1},
            "message": {"message_id": 43, "date": 1767225601, "from": {"id": 1, "is_bot": true, "first_name": "Bot"},
                        "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Ops team"},
                        "text": "Created task …",
                        "reply_to_message": {"message_id": request, "date": 1767225600,
                            "from": {"id": ANA, "is_bot": false, "first_name": "anap"},
                            "chat": {"id": -1001234567890i64, "type": "supergroup"}, "text": "/task …"}},
            "data": "same"}})
    }
}

/// Telegram: the question (with its button), strangers ignored, the requester's *same*
/// delivered twice merges once; the button pressed after the decision changes nothing; a
/// second request merges by the button.
async fn same_in_a_telegram_chat_merges_once(backend: Backend) {
    use crate::fakes::telegram::{SECRET, deliver, fake_telegram};
    use telegram::*;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_telegram().await;
    let project = app.project("telegram").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await;
    let german = app.task(&project, json!({"title": GERMAN})).await["id"].as_str().expect("id").to_string();
    let ana = (ANA, "anap");
    let request = text(1, 42, ana, "/task Translate the pricing page into Japanese");
    assert_eq!(deliver(&app, &integration, &request, Some(SECRET)).await.0, StatusCode::OK);

    let question = wait_for(&seen, 1).await[0].1.clone();
    let asked = the_request(&app, &project).await;
    assert_eq!(asked["status"], "possible_duplicate", "{asked}");
    let id = asked["id"].as_str().expect("id").to_string();
    let text_of = |v: &Value| v["text"].as_str().unwrap_or_default().to_string();
    assert!(text_of(&question).contains(&format!("Looks like “{GERMAN}”")), "{question}");
    assert!(text_of(&question).contains("reply *same*"), "{question}");
    assert_eq!(question["reply_parameters"]["message_id"], 42);
    assert_eq!(question["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "same", "{question}");

    // Not the requester, or not *same*: nothing happens.
    assert_eq!(deliver(&app, &integration, &text(2, 44, (987, "bob"), "same"), Some(SECRET)).await.0, StatusCode::OK);
    let (status, ack) = deliver(&app, &integration, &press(3, "q-bob", (987, "bob"), 42), Some(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ack["method"], "answerCallbackQuery", "the press is answered: {ack}");
    assert_eq!(deliver(&app, &integration, &text(4, 45, ana, "thanks!"), Some(SECRET)).await.0, StatusCode::OK);
    settle(&app).await;
    assert_eq!(app.get(&format!("/api/v1/messages/{id}")).await.body["status"], "possible_duplicate");

    // The requester's *same*, delivered twice by Telegram.
    let same = text(5, 46, ana, "same");
    for _ in 0..2 {
        assert_eq!(deliver(&app, &integration, &same, Some(SECRET)).await.0, StatusCode::OK);
    }
    let merged = message_with(&app, &id, "duplicate").await;
    assert_eq!((&merged["status"], &merged["task_id"]), (&json!("duplicate"), &json!(german)), "{merged}");
    assert_eq!(merged["decision"]["decided_by_key_id"], "requester");
    let sent = wait_for(&seen, 2).await;
    assert!(text_of(&sent[1].1).starts_with(&format!("Added to “{GERMAN}”")), "{sent:?}");
    assert_eq!(sent[1].1["reply_parameters"]["message_id"], 42, "in the requester's thread");

    // The button pressed after the decision: acknowledged, nothing changes.
    let (status, ack) = deliver(&app, &integration, &press(6, "q-ana", ana, 42), Some(SECRET)).await;
    assert_eq!((status, &ack["method"]), (StatusCode::OK, &json!("answerCallbackQuery")), "{ack}");
    settle(&app).await;
    assert_eq!(comments_of(&app, &german).await.len(), 1, "merged once");
    assert_eq!(seen.lock().expect("lock").len(), 2, "nothing more said");

    // Another possible duplicate, answered with the button.
    let upgrade = app.task(&project, json!({"title": "Upgrade the billing database to PostgreSQL 16"})).await;
    let newer = text(7, 50, ana, "/task Upgrade the billing database to PostgreSQL 17");
    deliver(&app, &integration, &newer, Some(SECRET)).await;
    wait_for(&seen, 3).await;
    let asked = the_request(&app, &project).await;
    assert_eq!(asked["status"], "possible_duplicate", "{asked}");
    let second = asked["id"].as_str().expect("id").to_string();
    assert_eq!(deliver(&app, &integration, &press(8, "q-ana-2", ana, 50), Some(SECRET)).await.0, StatusCode::OK);
    let merged = message_with(&app, &second, "duplicate").await;
    assert_eq!((&merged["status"], &merged["task_id"]), (&json!("duplicate"), &upgrade["id"]), "{merged}");
}
each_backend!(same_in_a_telegram_chat_merges_once);

/// Tenant and integration safety: a *same* through another tenant's (or another
/// integration's) webhook never reaches the request, even from the same chat and name.
async fn answers_stay_with_their_integration(backend: Backend) {
    use crate::fakes::telegram::{SECRET, deliver, fake_telegram};
    use telegram::*;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_telegram().await;
    let body = json!({"type": "telegram", "settings": {"api_base_url": fake},
                      "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}});
    let project = app.project("ours").await;
    let ours = app.integration(&project, body.clone()).await;
    app.task(&project, json!({"title": GERMAN})).await;
    let res = app.post("/api/v1/tenants", json!({"name": "other"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let other_key = res.body["api_key"].as_str().expect("key").to_string();
    let other = app.with_key(&other_key);
    let other_project = other.send(Method::POST, "/api/v1/projects", Some(json!({"name": "theirs"}))).await.id();
    let path = format!("/api/v1/projects/{other_project}/integrations");
    let theirs = other.send(Method::POST, &path, Some(body)).await.id();

    let ana = (ANA, "anap");
    deliver(&app, &ours, &text(1, 42, ana, "/task Translate the pricing page into Japanese"), Some(SECRET)).await;
    wait_for(&seen, 1).await;
    let id = the_request(&app, &project).await["id"].as_str().expect("id").to_string();
    assert_eq!(deliver(&app, &theirs, &text(2, 46, ana, "same"), Some(SECRET)).await.0, StatusCode::OK);
    assert_eq!(deliver(&app, &theirs, &press(3, "q", ana, 42), Some(SECRET)).await.0, StatusCode::OK);
    settle(&app).await;
    assert_eq!(app.get(&format!("/api/v1/messages/{id}")).await.body["status"], "possible_duplicate");
}
each_backend!(answers_stay_with_their_integration);

mod discord {
    use super::*;

    pub const CHANNEL: &str = "1200000000000000002";
    pub const ANA: (&str, &str) = ("1000000000000000006", "ana");

    /// The `/task` command `id` by Ana, answered through its token `token`.
    pub fn command(id: &str, token: &str, text: &str) -> Value {
        json!({"id": id, "application_id": "1234567890123456789", "type": 2, "token": token, "version": 1,
               "guild_id": "1100000000000000004", "channel_id": CHANNEL,
               "data": {"id": "1250000000000000003", "name": "task", "type": 1,
                        "options": [{"name": "title", "type": 3, "value": text}]},
               "member": {"user": {"id": ANA.0, "username": ANA.1}}})
    }

    /// A click (interaction `id`) by `user` on the button `custom_id` under the bot's answer.
    pub fn click(id: &str, user: (&str, &str), custom_id: &str) -> Value {
        json!({"id": id, "application_id": "1234567890123456789", "type": 3, "token": format!("tok-{id}"),
               "version": 1, "guild_id": "1100000000000000004", "channel_id": CHANNEL,
               "message": {"id": "1400000000000000001", "channel_id": CHANNEL, "content": "Created task …",
                           "author": {"id": "1234567890123456789", "username": "taskbridge", "bot": true},
                           "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": custom_id,
                                                                    "label": "Same — add my request there"}]}]},
               "data": {"custom_id": custom_id, "component_type": 2},
               "member": {"user": {"id": user.0, "username": user.1}}})
    }
}

/// Discord: the question is the deferred command's answer with a *same* button naming the
/// request; another person's click is refused to them alone and changes nothing; the
/// requester's click (delivered twice) takes the button off and merges once, answered
/// "Added to …" in the channel; a click after a decision, the requester's or a person's,
/// changes nothing.
async fn the_discord_button_merges_once(backend: Backend) {
    use crate::discord::deliver;
    use crate::fakes::discord::fake_discord;
    use discord::*;
    use ed25519_dalek::SigningKey;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_discord().await;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let project = app.project("discord").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "discord", "settings": {"api_base_url": fake},
                   "secrets": {"public_key": crate::discord::hex(key.verifying_key().as_bytes()), "bot_token": "Bot-x"}}),
        )
        .await;
    let german = app.task(&project, json!({"title": GERMAN})).await["id"].as_str().expect("id").to_string();
    let asked = command("1300000000000000005", "tok-15-min", "Translate the pricing page into Japanese");
    let (status, ack) = deliver(&app, &integration, &key, &asked, false).await;
    assert_eq!((status, &ack), (StatusCode::OK, &json!({"type": 5})));

    // The question edits the deferred answer and carries the button.
    let (app_id, token, question) = wait_for(&seen, 1).await[0].clone();
    assert_eq!((app_id.as_str(), token.as_str()), ("1234567890123456789", "tok-15-min"));
    let request = the_request(&app, &project).await;
    assert_eq!(request["status"], "possible_duplicate", "{request}");
    let id = request["id"].as_str().expect("id").to_string();
    let text = question["content"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("Looks like “{GERMAN}”")) && text.contains(&german), "{text}");
    assert!(text.contains("press *Same* to add your request there"), "{text}");
    let row = &question["components"][0];
    assert_eq!(row["type"], 1, "an action row: {question}");
    let button = &row["components"][0];
    assert_eq!((&button["type"], &button["style"]), (&json!(2), &json!(1)), "{button}");
    let custom_id = format!("same:{id}");
    assert_eq!(button["custom_id"], custom_id.as_str(), "{button}");

    // Someone else's click: refused to them alone; nothing changes.
    let (status, refused) = deliver(
        &app,
        &integration,
        &key,
        &click("1300000000000000010", ("1000000000000000099", "bob"), &custom_id),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&refused["type"], &refused["data"]["flags"]), (&json!(4), &json!(64)), "{refused}");
    assert!(refused["data"]["content"].as_str().is_some_and(|t| t.contains("Only the person who asked")));
    settle(&app).await;
    assert_eq!(app.get(&format!("/api/v1/messages/{id}")).await.body["status"], "possible_duplicate");
    assert!(comments_of(&app, &german).await.is_empty());
    assert_eq!(seen.lock().expect("lock").len(), 1, "nothing said in the channel");

    // The requester's click, delivered twice: the button goes, the request is merged once.
    let mine = click("1300000000000000011", ANA, &custom_id);
    for _ in 0..2 {
        let (status, updated) = deliver(&app, &integration, &key, &mine, false).await;
        assert_eq!((status, updated), (StatusCode::OK, json!({"type": 7, "data": {"components": []}})));
    }
    let merged = message_with(&app, &id, "duplicate").await;
    assert_eq!((&merged["status"], &merged["task_id"]), (&json!("duplicate"), &json!(german)), "{merged}");
    assert_eq!(merged["decision"]["decided_by_key_id"], "requester", "{merged}");
    settle(&app).await;
    let added = comments_of(&app, &german).await;
    assert_eq!(added.len(), 1, "merged once: {added:?}");
    let sent = seen.lock().expect("lock").clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!((sent[1].0.as_str(), sent[1].1.as_str()), (format!("channels/{CHANNEL}").as_str(), "Bot Bot-x"));
    assert!(sent[1].2["content"].as_str().is_some_and(|t| t.starts_with(&format!("Added to “{GERMAN}”"))), "{sent:?}");
    assert!(sent[1].2.get("components").is_none(), "no question this time: {sent:?}");

    // Clicked again after the decision: the button goes, nothing else happens.
    let (status, late) = deliver(&app, &integration, &key, &click("1300000000000000012", ANA, &custom_id), false).await;
    assert_eq!((status, &late["type"]), (StatusCode::OK, &json!(7)), "{late}");
    settle(&app).await;
    assert_eq!(comments_of(&app, &german).await.len(), 1);
    assert_eq!(seen.lock().expect("lock").len(), 2);
    let journal = app.get(&format!("/api/v1/messages/{id}/decisions")).await;
    assert_eq!(journal.body["items"].as_array().map(Vec::len), Some(1), "one decision: {}", journal.body);

    // Another possible duplicate, merged by a person into a task of their choice: the
    // requester's click afterwards leaves it there.
    let upgrade = app.task(&project, json!({"title": "Upgrade the billing database to PostgreSQL 16"})).await;
    let chosen = app.task(&project, json!({"title": "Plan the quarterly maintenance window"})).await;
    let newer = command("1300000000000000020", "tok-2", "Upgrade the billing database to PostgreSQL 17");
    deliver(&app, &integration, &key, &newer, false).await;
    wait_for(&seen, 3).await;
    let asked = the_request(&app, &project).await;
    assert_eq!(asked["status"], "possible_duplicate", "{asked}");
    assert_eq!(asked["candidates"][0]["task_id"], upgrade["id"], "{asked}");
    let second = asked["id"].as_str().expect("id").to_string();
    let decided = app.post(&format!("/api/v1/messages/{second}/merge"), json!({"task_id": chosen["id"]})).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let (status, late) =
        deliver(&app, &integration, &key, &click("1300000000000000021", ANA, &format!("same:{second}")), false).await;
    assert_eq!((status, &late["type"]), (StatusCode::OK, &json!(7)), "{late}");
    settle(&app).await;
    let after = app.get(&format!("/api/v1/messages/{second}")).await.body;
    assert_eq!((&after["status"], &after["task_id"]), (&json!("duplicate"), &chosen["id"]), "{after}");
    let upgrade_id = upgrade["id"].as_str().expect("id");
    assert!(comments_of(&app, upgrade_id).await.is_empty(), "not merged into the candidate");
    let journal = app.get(&format!("/api/v1/messages/{second}/decisions")).await;
    assert_eq!(journal.body["items"].as_array().map(Vec::len), Some(1), "the person's only: {}", journal.body);
}
each_backend!(the_discord_button_merges_once);
