//! The requester hears back (issue 25): a task made from a conversation tells the people who
//! asked for it (its own request and every duplicate merged into it) in their threads, once
//! per change, of what the project chose to tell — done and deleted, comments written for
//! them, by default — whether the change was made here or mirrored from a tracker; against
//! local fakes of Telegram's Bot API, Slack's Web API and Taiga.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::slack::fake_slack;
use crate::fakes::taiga::{fake_taiga, taiga_integration};
use crate::fakes::telegram::{SECRET, deliver, fake_telegram, update};
use crate::helpers::{Backend, TestApp, spawn_app_with};

const OPS_CHAT: i64 = -1001234567890;
const BO_CHAT: i64 = -1009876543210;

/// Waits until every request has been processed and every answer and notification sent
/// (each is queued before the change that causes it is acknowledged), so what a fake has
/// not received by then is never sent.
async fn settled(app: &TestApp) {
    let busy = |j: &&Value| {
        ["intake.process", "channel.reply", "requester.notify"].contains(&j["kind"].as_str().unwrap_or_default())
            && !["succeeded", "dead"].contains(&j["status"].as_str().unwrap_or_default())
    };
    for _ in 0..400 {
        let jobs = app.get("/api/v1/jobs?limit=200").await.body;
        if jobs["items"].as_array().is_some_and(|items| !items.iter().any(|j| busy(&j))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the queue did not settle: {}", app.get("/api/v1/jobs?limit=200").await.body);
}

/// What the fake Bot API has been sent: (chat, replied-to message, thread, text).
fn telegram_sent(seen: &crate::fakes::telegram::Seen) -> Vec<(Value, Value, Value, String)> {
    seen.lock()
        .expect("lock")
        .iter()
        .map(|(_, b)| {
            let text = b["text"].as_str().unwrap_or_default().to_string();
            (b["chat_id"].clone(), b["reply_parameters"]["message_id"].clone(), b["message_thread_id"].clone(), text)
        })
        .collect()
}

/// Bo asks in his own group, in message 77, for the same work as Ana.
fn bos_update(id: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": 77, "date": 1767225700,
        "from": {"id": 555, "is_bot": false, "first_name": "Bo", "username": "bo"},
        "chat": {"id": BO_CHAT, "type": "group", "title": "Facilities"}, "text": text}})
}

/// A project connected to Telegram (a fake Bot API, whose messages are in `seen`), with
/// `settings` for the project.
async fn telegram_project(
    backend: Backend,
    settings: Value,
) -> Option<(TestApp, String, String, crate::fakes::telegram::Seen)> {
    let app = spawn_app_with(backend, |c| c.allow_private_urls = true).await?;
    let (fake, seen) = fake_telegram().await;
    let mut body = json!({"name": "ops"});
    body.as_object_mut().expect("object").extend(settings.as_object().cloned().unwrap_or_default());
    let res = app.post("/api/v1/projects", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let project = res.id();
    let integration = app
        .integration(
            &project,
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await;
    Some((app, project, integration, seen))
}

/// The task made from Ana's Telegram request `text`, once it is answered.
async fn task_from_telegram(app: &TestApp, integration: &str, update_id: i64, text: &str) -> String {
    assert_eq!(deliver(app, integration, &update(update_id, text), Some(SECRET)).await.0, StatusCode::OK);
    settled(app).await;
    let tasks = app.get("/api/v1/tasks").await.body;
    tasks["items"][0]["id"].as_str().expect("a task").to_string()
}

async fn requesters_hear_back(backend: Backend) {
    let Some((app, _project, integration, seen)) = telegram_project(backend, json!({})).await else { return };
    let text = "/task Replace the broken projector in meeting room 4";
    let task_id = task_from_telegram(&app, &integration, 727100001, text).await;
    // Bo asks for the same work: merged into Ana's task, and told so.
    assert_eq!(deliver(&app, &integration, &bos_update(727100002, text), Some(SECRET)).await.0, StatusCode::OK);
    settled(&app).await;
    let answers = telegram_sent(&seen);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers[1].3.starts_with("Already tracked as"), "{answers:?}");
    let link = format!("/api/v1/tasks/{task_id}");

    // Done through the API: each requester is told once, in their own thread, with the link.
    let res = app.patch(&link, json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    settled(&app).await;
    let told = telegram_sent(&seen)[2..].to_vec();
    assert_eq!(told.len(), 2, "{told:?}");
    let ana = told.iter().find(|t| t.0 == json!(OPS_CHAT)).expect("Ana told");
    assert_eq!((&ana.1, &ana.2), (&json!(42), &json!(7)), "in reply to her request, in its thread");
    assert!(ana.3.starts_with("Update on “Replace the broken projector in meeting room 4”: it is done."), "{ana:?}");
    assert!(ana.3.ends_with(&link), "{ana:?}");
    let bo = told.iter().find(|t| t.0 == json!(BO_CHAT)).expect("Bo, who asked again, told");
    assert_eq!((&bo.1, &bo.3), (&json!(77), &ana.3));

    // The same change again changes nothing and tells nothing; neither does a change the
    // project does not tell (a due date, by default).
    for patch in [json!({"status": "done"}), json!({"due_date": "2026-12-24"})] {
        let res = app.patch(&link, patch).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    settled(&app).await;
    assert_eq!(telegram_sent(&seen).len(), 4, "{:?}", telegram_sent(&seen));

    // A comment written for the requesters reaches their threads; an ordinary one does not.
    let comment = json!({"task_id": task_id, "content": "Installed a new one, the remote is in the drawer",
                         "author": "Carla", "notify_requester": true});
    assert_eq!(app.post("/api/v1/comments", comment).await.status, StatusCode::CREATED);
    let internal = json!({"task_id": task_id, "content": "Invoice filed under facilities"});
    assert_eq!(app.post("/api/v1/comments", internal).await.status, StatusCode::CREATED);
    settled(&app).await;
    let told = telegram_sent(&seen)[4..].to_vec();
    assert_eq!(told.len(), 2, "{told:?}");
    for (_, _, _, text) in &told {
        let said = "Carla commented on “Replace the broken projector in meeting room 4”: Installed a new one, the \
                    remote is in the drawer\n";
        assert!(text.starts_with(said) && text.ends_with(&link), "{text}");
    }

    // Deleted: the requesters are told the work will not be done.
    assert_eq!(app.delete(&link).await.status, StatusCode::NO_CONTENT);
    settled(&app).await;
    let told = telegram_sent(&seen)[6..].to_vec();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|t| t.3.contains("was closed without being done")), "{told:?}");
    // Each notification is in the conversation history, as every answer is.
    let history = app.get("/api/v1/history?limit=50").await.body;
    let out = history["items"].as_array().expect("items").iter().filter(|i| i["direction"] == "out").count();
    assert_eq!(out, 8, "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requesters_hear_back_sqlite() {
    requesters_hear_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requesters_hear_back_postgres() {
    requesters_hear_back(Backend::Postgres).await;
}

/// A project chooses what it tells (validated; nothing changed by a bad setting), here on
/// Slack: only due dates and assignees, not the end of the work.
async fn the_project_chooses_what_is_told(backend: Backend) {
    const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_slack().await;

    for bad in [
        json!({"name": "x", "notify_requester_on": ["done", "exploded"]}),
        json!({"name": "x", "notify_requester_on": "done"}),
    ] {
        let res = app.post("/api/v1/projects", bad).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    }
    let made = app.post("/api/v1/projects", json!({"name": "slack"})).await;
    assert_eq!(made.body["notify_requester_on"], json!(["done", "deleted", "comment"]), "the default");
    let project = made.id();
    let path = format!("/api/v1/projects/{project}");
    let res = app.patch(&path, json!({"name": "renamed", "notify_requester_on": ["due_date", "nope"]})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body["error"]["message"].as_str().unwrap_or_default().contains("nope"), "{}", res.body);
    let kept = app.get(&path).await.body;
    assert_eq!(
        (kept["name"].clone(), kept["notify_requester_on"].clone()),
        (json!("slack"), json!(["done", "deleted", "comment"]))
    );
    let res = app.patch(&path, json!({"notify_requester_on": ["assigned", "due_date", "due_date"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(app.get(&path).await.body["notify_requester_on"], json!(["due_date", "assigned"]));

    let integration = app
        .integration(
            &project,
            json!({"type": "slack", "settings": {"api_base_url": format!("{fake}/api")},
                   "secrets": {"signing_secret": SIGNING, "bot_token": "xoxb-test"}}),
        )
        .await;
    let event = json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": "EvN1", "event_time": 1,
        "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR",
                  "text": "<@UBOT> please renew the wildcard TLS certificate", "ts": "1767225599.000100"}})
    .to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let res = app
        .raw()
        .post(format!("{}/webhooks/slack/{integration}", app.base))
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", taskbridge::channels::slack::sign(SIGNING, &ts, event.as_bytes()))
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    settled(&app).await;
    assert_eq!(seen.lock().expect("lock").len(), 1, "the request's answer");
    let task_id = app.get("/api/v1/tasks").await.body["items"][0]["id"].as_str().expect("task").to_string();
    let link = format!("/api/v1/tasks/{task_id}");

    // Done is not told here; a comment for the requester neither (the project left it out).
    assert_eq!(app.patch(&link, json!({"status": "done"})).await.status, StatusCode::OK);
    let comment = json!({"task_id": task_id, "content": "done", "notify_requester": true});
    assert_eq!(app.post("/api/v1/comments", comment).await.status, StatusCode::CREATED);
    settled(&app).await;
    assert_eq!(seen.lock().expect("lock").len(), 1, "{:?}", seen.lock().expect("lock"));

    // A new due date and an assignee, in one change: one message saying both, in the thread.
    let res = app.patch(&link, json!({"due_date": "2026-12-30", "assigned_to": "ana"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    settled(&app).await;
    let calls = seen.lock().expect("lock").clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (method, headers, body) = &calls[1];
    assert_eq!(method, "chat.postMessage");
    assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer xoxb-test"));
    assert_eq!((&body["channel"], &body["thread_ts"]), (&json!("C0LAN2Q65"), &json!("1767225599.000100")));
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.contains("it is now due 2026-12-30; ana is on it."), "{text}");
    assert!(text.contains(&link), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_chooses_what_is_told_sqlite() {
    the_project_chooses_what_is_told(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_chooses_what_is_told_postgres() {
    the_project_chooses_what_is_told(Backend::Postgres).await;
}

/// A task closed in Taiga (its webhook) is done here, and its requester is told, once.
async fn a_change_mirrored_from_a_tracker_is_told(backend: Backend) {
    let Some((app, project, integration, seen)) = telegram_project(backend, json!({})).await else { return };
    let (fake, _taiga, _) = fake_taiga(&[]).await;
    let mut taiga = taiga_integration(&fake);
    taiga["secrets"]["webhook_key"] = json!("taiga-webhook-key");
    let taiga = app.integration(&project, taiga).await;
    let task_id =
        task_from_telegram(&app, &integration, 727200001, "/task Order toner for the 3rd floor printer").await;
    let mut linked = Value::Null;
    for _ in 0..400 {
        linked = app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body;
        if linked.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let external: i64 = linked[0]["external_id"].as_str().and_then(|e| e.parse().ok()).expect("pushed to Taiga");

    let closed = json!({"action": "change", "type": "task", "by": {"username": "anap"}, "date": "2030-01-01T10:00:00Z",
        "data": {"id": external, "ref": 1, "subject": "x", "status": {"id": 12, "name": "Closed", "slug": "closed", "is_closed": true}},
        "change": {"diff": {"status": {"from": "New", "to": "Closed"}}}})
    .to_string();
    let signature = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"taiga-webhook-key").expect("key");
        mac.update(closed.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    // Taiga delivers it twice: the second finds the task done already and tells nothing.
    for _ in 0..2 {
        let res = app
            .raw()
            .post(format!("{}/webhooks/taiga/{taiga}", app.base))
            .header("content-type", "application/json")
            .header("X-TAIGA-WEBHOOK-SIGNATURE", &signature)
            .body(closed.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}")).await.body["status"], "done");
    settled(&app).await;
    let sent = telegram_sent(&seen);
    assert_eq!(sent.len(), 2, "the answer, then the news: {sent:?}");
    assert_eq!((&sent[1].0, &sent[1].1), (&json!(OPS_CHAT), &json!(42)));
    assert!(sent[1].3.starts_with("Update on “Order toner for the 3rd floor printer”: it is done."), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_mirrored_from_a_tracker_is_told_sqlite() {
    a_change_mirrored_from_a_tracker_is_told(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_mirrored_from_a_tracker_is_told_postgres() {
    a_change_mirrored_from_a_tracker_is_told(Backend::Postgres).await;
}

/// The task made from the project's one request, once the request is answered.
async fn the_task(app: &TestApp) -> String {
    settled(app).await;
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    tasks["items"][0]["id"].as_str().expect("a task").to_string()
}

/// Marks `task_id` done and waits for what that sends.
async fn mark_done(app: &TestApp, task_id: &str) {
    let res = app.patch(&format!("/api/v1/tasks/{task_id}"), json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    settled(app).await;
}

/// A WhatsApp requester hears back through Twilio, on the number that asked.
async fn a_whatsapp_requester_hears_back(backend: Backend) {
    use crate::whatsapp::{ACCOUNT, TOKEN, deliver, encode, message};
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = crate::fakes::twilio::fake_twilio().await;
    let project = app.project("whatsapp").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "whatsapp", "settings": {"api_base_url": fake, "account_sid": ACCOUNT,
                   "from_number": "+14155238886"}, "secrets": {"auth_token": TOKEN}}),
        )
        .await;
    let integration = created.id();
    let url = created.body["webhook_url"].as_str().expect("webhook_url").to_string();
    let fields = message("SM0a1b2c3d4e", "the badge reader at door B rejects every card, please fix");
    let signature = taskbridge::channels::whatsapp::sign(TOKEN, &url, &fields);
    assert_eq!(deliver(&app, &integration, encode(&fields), Some(signature)).await.0, StatusCode::OK);
    let task_id = the_task(&app).await;
    assert_eq!(seen.lock().expect("lock").sent.len(), 1, "the first answer");

    mark_done(&app, &task_id).await;
    let sent = seen.lock().expect("lock").sent.clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let field = |name: &str| sent[1].2.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!((field("To"), field("From")), ("whatsapp:+34600111222".into(), "whatsapp:+14155238886".into()));
    assert!(field("Body").starts_with("Update on “"), "{}", field("Body"));
    assert!(field("Body").contains(": it is done.") && field("Body").ends_with(&format!("/api/v1/tasks/{task_id}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_requester_hears_back_sqlite() {
    a_whatsapp_requester_hears_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_requester_hears_back_postgres() {
    a_whatsapp_requester_hears_back(Backend::Postgres).await;
}

/// An e-mail requester hears back by mail, threaded under the request, through a real SMTP
/// server.
async fn an_email_requester_hears_back(backend: Backend) {
    use crate::email::{ALTERNATIVE, SECRET, post_mail};
    use crate::fakes::smtp::{self, SmtpServer};
    let smtp = SmtpServer::start("tasks@taskbridge.example", "smtp-password-1").await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(smtp::ca_file());
    })
    .await
    else {
        return;
    };
    let project = app.project("email").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "email", "settings": {"smtp_host": "localhost", "smtp_port": smtp.port, "tls": "starttls",
                   "smtp_user": "tasks@taskbridge.example", "from_address": "tasks@taskbridge.example"},
                   "secrets": {"inbound_secret": SECRET, "smtp_password": "smtp-password-1"}}),
        )
        .await;
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, Some(("header", SECRET))).await, StatusCode::OK);
    let task_id = the_task(&app).await;
    assert_eq!(smtp.wait_for(1).await.len(), 1, "the first answer");

    mark_done(&app, &task_id).await;
    let sent = smtp.wait_for(2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["rcpt_tos"], json!(["ana@example.org"]));
    let data = sent[1]["data"].as_str().expect("data");
    let mail = mail_parser::MessageParser::default().parse(data.as_bytes()).expect("a parseable mail");
    assert_eq!(mail.in_reply_to().as_text(), Some("c0ffee42-1@example.org"), "threaded under the request");
    let body = mail.body_text(0).expect("a text body");
    assert!(body.starts_with("Update on “") && body.contains(": it is done."), "{body}");
    assert!(body.trim_end().ends_with(&format!("/api/v1/tasks/{task_id}")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_requester_hears_back_sqlite() {
    an_email_requester_hears_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_requester_hears_back_postgres() {
    an_email_requester_hears_back(Backend::Postgres).await;
}

/// A Teams requester hears back from the bot, as a reply to the request's activity.
async fn a_teams_requester_hears_back(backend: Backend) {
    use crate::teams_bot::{APP_ID, CONVERSATION, activity, claims, deliver};
    let (fake, seen) = crate::fakes::microsoft::fake_microsoft().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.botframework_openid_url = Some(format!("{fake}/openid"));
        c.botframework_token_url = Some(format!("{fake}/token"));
    })
    .await
    else {
        return;
    };
    let project = app.project("teams").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "teams", "settings": {"app_id": APP_ID}, "secrets": {"app_password": "bot-password-1"}}),
        )
        .await;
    let service_url = format!("{fake}/");
    let request = activity("1767225600123", &service_url, "<at>TaskBot</at> archive the old wiki", true, "channel");
    let token = crate::fakes::microsoft::jwt(claims(&service_url), "test-key-1");
    assert_eq!(deliver(&app, &integration, &request, Some(&token)).await, StatusCode::OK);
    let task_id = the_task(&app).await;
    assert_eq!(seen.lock().expect("lock").posts.len(), 1, "the first answer");

    mark_done(&app, &task_id).await;
    let posts = seen.lock().expect("lock").posts.clone();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let (path, auth, body) = &posts[1];
    assert_eq!(
        (path.as_str(), auth.as_str()),
        (format!("{CONVERSATION}|1767225600123").as_str(), "Bearer bot-token-1")
    );
    assert_eq!(body["replyToId"], "1767225600123");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Update on “") && text.contains(": it is done."), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_requester_hears_back_sqlite() {
    a_teams_requester_hears_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_requester_hears_back_postgres() {
    a_teams_requester_hears_back(Backend::Postgres).await;
}

/// A task closed in Taiga and found by polling (no webhook) is done here, and its requester
/// is told once, however many polls follow.
async fn a_change_found_by_polling_is_told(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.tracker_poll_secs = 1;
    })
    .await
    else {
        return;
    };
    let (telegram, seen) = fake_telegram().await;
    let project = app.project("ops").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "telegram", "settings": {"api_base_url": telegram},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await;
    let (fake, taiga, _) = fake_taiga(&[]).await;
    app.integration(&project, taiga_integration(&fake)).await;
    let task_id =
        task_from_telegram(&app, &integration, 727300001, "/task Replace the flickering lights in the lobby").await;
    let mut external = None;
    for _ in 0..400 {
        let linked = app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body;
        external = linked[0]["external_id"].as_str().and_then(|e| e.parse::<i64>().ok());
        if external.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let external = external.expect("pushed to Taiga");
    {
        let mut f = taiga.lock().expect("lock");
        let item = f.tasks.iter_mut().find(|t| t["id"] == external).expect("the item in Taiga");
        item["status"] = json!(12);
        item["is_closed"] = json!(true);
        item["modified_date"] = json!(crate::fakes::taiga::taiga_time());
    }
    let mut status = Value::Null;
    for _ in 0..400 {
        status = app.get(&format!("/api/v1/tasks/{task_id}")).await.body["status"].clone();
        if status == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "done", "the poll mirrored Taiga's status");
    settled(&app).await;
    // Two more polls see the same closed item: nothing more is told.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    settled(&app).await;
    let sent = telegram_sent(&seen);
    assert_eq!(sent.len(), 2, "the answer, then the news once: {sent:?}");
    assert_eq!((&sent[1].0, &sent[1].1), (&json!(OPS_CHAT), &json!(42)));
    assert!(sent[1].3.starts_with("Update on “Replace the flickering lights in the lobby”: it is done."), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_found_by_polling_is_told_sqlite() {
    a_change_found_by_polling_is_told(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_found_by_polling_is_told_postgres() {
    a_change_found_by_polling_is_told(Backend::Postgres).await;
}
