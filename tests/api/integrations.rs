//! Integration records: the contract's shape, secrets sealed at rest and never shown.

use reqwest::{Method, StatusCode};
use serde_json::json;
use taskbridge::domain::id::{IntegrationId, ProjectId};
use taskbridge::integrations::Integrations;
use taskbridge::store::{Store, StoreOptions};

use crate::helpers::{TestApp, both_backends};

const BOT_TOKEN: &str = "xoxb-1234-very-secret-token";
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";

async fn integrations_follow_the_contract(app: TestApp) {
    let project = app.project("chat").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    let res = app
        .post(
            &base,
            json!({"type": "slack", "name": "eng workspace",
                   "settings": {"api_base_url": "https://slack.com/api", "reaction": "ticket"},
                   "secrets": {"signing_secret": SIGNING, "bot_token": BOT_TOKEN}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.id();
    assert_eq!(res.body["type"], "slack");
    assert_eq!(res.body["name"], "eng workspace");
    assert_eq!(res.body["status"], "active");
    assert_eq!(
        res.body["settings"],
        json!({"api_base_url": "https://slack.com/api", "reaction": "ticket", "mode": "commands"})
    );
    assert_eq!(res.body["secrets_set"], json!(["bot_token", "signing_secret"]));
    assert_eq!(res.body["webhook_url"], format!("https://taskbridge.example/webhooks/slack/{id}"));
    assert!(!res.body.to_string().contains(BOT_TOKEN) && !res.body.to_string().contains(SIGNING));

    let got = app.get(&format!("{base}/{id}")).await;
    assert_eq!(got.body, res.body);
    let list = app.get(&base).await;
    assert_eq!(list.body["items"], json!([res.body]));

    // PATCH replaces what it names; null removes.
    let res = app
        .patch(
            &format!("{base}/{id}"),
            json!({"settings": {"mode": "all", "reaction": null}, "secrets": {"signing_secret": null, "bot_token": "xoxb-new"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["settings"], json!({"api_base_url": "https://slack.com/api", "mode": "all"}));
    assert_eq!(res.body["secrets_set"], json!(["bot_token"]));
    assert_eq!(res.body["name"], "eng workspace");
    assert!(!res.body.to_string().contains("xoxb-new"));

    // The adapters get the secrets back; the database row never holds them in clear.
    let config = taskbridge::config::Config::for_tests(&app.database_url, "unused-key-0123456789");
    let store = Store::connect(&app.database_url, &StoreOptions::default()).await.expect("store");
    let integrations = Integrations::new(store, config.cipher().expect("cipher"), "https://x", false);
    let tenant = &taskbridge::domain::tenant::default_tenant();
    let secrets =
        integrations.secrets(tenant, &ProjectId::from(&project), &IntegrationId::from(&id)).await.expect("secrets");
    assert_eq!(secrets["bot_token"], "xoxb-new");
    let raw: (String, Option<String>) = raw_row(&app.database_url, &id).await;
    assert!(!raw.0.contains("xoxb") && !raw.1.clone().unwrap_or_default().contains("xoxb"), "{raw:?}");
    assert!(raw.1.is_some());

    assert_eq!(app.delete(&format!("{base}/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{base}/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&base).await.body["items"], json!([]));
}
both_backends!(integrations_follow_the_contract);

async fn raw_row(url: &str, id: &str) -> (String, Option<String>) {
    let store_url = url.to_string();
    if store_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&store_url).await.expect("sqlite");
        sqlx::query_as("SELECT settings || secret_names, secrets FROM integrations WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row")
    } else {
        let pool = sqlx::PgPool::connect(&store_url).await.expect("pg");
        sqlx::query_as("SELECT settings || secret_names, secrets FROM integrations WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row")
    }
}

async fn bad_integrations_are_refused(app: TestApp) {
    let project = app.project("chat").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    for (body, status) in [
        (json!({"type": "myspace"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "slack", "secrets": {"auth_token": "x"}}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "slack", "secrets": {"bot_token": ""}}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "slack", "settings": {"mode": "everything"}}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "slack", "settings": {"smtp_host": "mail"}}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"type": "jira", "settings": {"site_url": "http://169.254.169.254/"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "slack", "settings": {"api_base_url": "http://127.0.0.1:9/api"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "slack", "settings": {"api_base_url": "file:///etc/passwd"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let res = app.post(&base, body.clone()).await;
        assert_eq!(res.status, status, "{body}: {}", res.body);
        assert_eq!(res.code(), "validation_failed");
    }
    assert_eq!(app.get(&base).await.body["items"], json!([]), "nothing was stored");

    let res = app.post(&base, json!({"type": "telegram", "secrets": {"bot_token": "123:abc"}})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app.post(&base, json!({"type": "telegram"})).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "one integration per type and project");
    let res = app.post("/api/v1/projects/nope/integrations", json!({"type": "slack"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/projects/nope/integrations").await.status, StatusCode::NOT_FOUND);
}
both_backends!(bad_integrations_are_refused);

async fn another_tenant_cannot_touch_integrations(app: TestApp) {
    let project = app.project("chat").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    let id = app.post(&base, json!({"type": "discord", "secrets": {"public_key": "ab".repeat(32)}})).await.id();
    let b = app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let b = app.with_key(&b);
    for (method, path, body) in [
        (Method::GET, base.clone(), None),
        (Method::POST, base.clone(), Some(json!({"type": "slack"}))),
        (Method::GET, format!("{base}/{id}"), None),
        (Method::PATCH, format!("{base}/{id}"), Some(json!({"name": "stolen"}))),
        (Method::DELETE, format!("{base}/{id}"), None),
    ] {
        let res = b.send(method.clone(), &path, body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert_eq!(app.get(&format!("{base}/{id}")).await.body["name"], "discord");
}
both_backends!(another_tenant_cannot_touch_integrations);

/// `admin rotate-key`'s core: every integration's secrets re-sealed with the new key in
/// one go; the old key no longer opens them. A secret the current key cannot open stops
/// the rotation before anything is written.
async fn secrets_are_resealed_with_a_new_key(app: TestApp) {
    let project = app.project("chat").await;
    let body = json!({"type": "slack", "secrets": {"bot_token": "xoxb-rotate-me", "signing_secret": "sign-me"}});
    let id = app.integration(&project, body).await;
    let telegram = app.integration(&project, json!({"type": "telegram", "secrets": {"bot_token": "123:tg"}})).await;
    let config = taskbridge::config::Config::for_tests(&app.database_url, "unused-key-0123456789");
    let old = config.cipher().expect("cipher");
    let new = taskbridge::integrations::Cipher::from_key(&"ab".repeat(32)).expect("new key");
    let store = Store::connect(&app.database_url, &StoreOptions::default()).await.expect("store");
    let rotated = taskbridge::integrations::rotate::rotate_key(&store, &old, &new).await.expect("rotated");
    assert_eq!(rotated, 2);
    let tenant = &taskbridge::domain::tenant::default_tenant();
    let with_new = Integrations::new(store.clone(), new.clone(), "https://x", false);
    assert_eq!(
        with_new.secrets(tenant, &ProjectId::from(&project), &IntegrationId::from(&id)).await.expect("opens")["bot_token"],
        "xoxb-rotate-me"
    );
    assert_eq!(
        with_new.secrets(tenant, &ProjectId::from(&project), &IntegrationId::from(&telegram)).await.expect("opens")["bot_token"],
        "123:tg"
    );
    let with_old = Integrations::new(store.clone(), old.clone(), "https://x", false);
    assert!(
        with_old.secrets(tenant, &ProjectId::from(&project), &IntegrationId::from(&id)).await.is_err(),
        "the old key opens nothing now"
    );

    // Rotating again from the old key: refused, nothing changed.
    let err = taskbridge::integrations::rotate::rotate_key(&store, &old, &new).await.expect_err("refused");
    assert!(err.to_string().contains("cannot be opened"), "{err}");
    assert_eq!(
        with_new.secrets(tenant, &ProjectId::from(&project), &IntegrationId::from(&id)).await.expect("still opens")["signing_secret"],
        "sign-me"
    );
}
both_backends!(secrets_are_resealed_with_a_new_key);

/// SMTP credentials never travel in clear: an e-mail integration that would send them
/// without TLS is refused when it is saved, naming the fields, and nothing changes.
async fn smtp_credentials_without_tls_are_refused_when_saved(app: TestApp) {
    let project = app.project("mail").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    let plain = json!({"type": "email", "settings": {"smtp_host": "mail.example", "smtp_user": "bot", "tls": "none",
                       "from_address": "tasks@example.org"}, "secrets": {"smtp_password": "pw-123456"}});
    let res = app.post(&base, plain).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.code(), "validation_failed");
    let message = res.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("settings.tls") && message.contains("secrets.smtp_password"), "{message}");
    let res = app
        .post(
            &base,
            json!({"type": "email", "settings": {"smtp_host": "m", "tls": false, "smtp_user": "bot"},
                                     "secrets": {"smtp_password": "pw"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "tls: false is no TLS either");
    for settings in [json!({"tls": "sometimes"}), json!({"smtp_port": 0}), json!({"smtp_port": "smtp"})] {
        let res = app.post(&base, json!({"type": "email", "settings": settings})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{settings}: {}", res.body);
    }
    assert_eq!(app.get(&base).await.body["items"], json!([]), "nothing was stored");

    // A relay on a trusted network without a login may go without TLS.
    let relay =
        app.integration(&project, json!({"type": "email", "settings": {"smtp_host": "relay", "tls": "none"}})).await;
    let one = format!("{base}/{relay}");
    let res = app.patch(&one, json!({"settings": {"smtp_user": "bot"}, "secrets": {"smtp_password": "pw-1"}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "credentials added to a plain relay: {}", res.body);
    let res = app
        .patch(&one, json!({"settings": {"smtp_user": "bot", "tls": "starttls"}, "secrets": {"smtp_password": "pw-1"}}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.patch(&one, json!({"settings": {"tls": "none"}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "TLS dropped under credentials: {}", res.body);
    let res = app.patch(&one, json!({"secrets": {"smtp_password": null}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "a user left without a password: {}", res.body);
    let kept = app.get(&one).await.body;
    assert_eq!(kept["settings"]["tls"], "starttls", "a refused change changed nothing");
    assert_eq!(kept["secrets_set"], json!(["smtp_password"]));
    let res = app
        .patch(&one, json!({"settings": {"tls": "none", "smtp_user": null}, "secrets": {"smtp_password": null}}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "back to a plain relay without credentials: {}", res.body);
}
both_backends!(smtp_credentials_without_tls_are_refused_when_saved);

/// The Confluence task sync's Jira settings are documented, so they are accepted (and checked).
async fn jira_takes_the_task_sync_settings(app: TestApp) {
    let project = app.project("sync").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    let jira = json!({"type": "jira", "settings": {"site_url": "https://acme.atlassian.net", "email": "bot@acme.example",
                      "task_issue_type": "Sub-task", "undo_status": "To Do"}, "secrets": {"api_token": "t0ken"}});
    let id = app.integration(&project, jira).await;
    let one = format!("{base}/{id}");
    let read = app.get(&one).await.body;
    assert_eq!(
        (read["settings"]["task_issue_type"].as_str(), read["settings"]["undo_status"].as_str()),
        (Some("Sub-task"), Some("To Do"))
    );
    assert_eq!(
        app.patch(&one, json!({"settings": {"undo_status": "Open"}})).await.body["settings"]["undo_status"],
        "Open"
    );
    for bad in [json!({"undo_status": ""}), json!({"task_issue_type": ["Task"]})] {
        let res = app.patch(&one, json!({"settings": bad})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    assert_eq!(app.get(&one).await.body["settings"]["undo_status"], "Open");
}
both_backends!(jira_takes_the_task_sync_settings);

/// Where a tenant's data and secrets go is an admin's decision: a member key reads
/// integrations (never their secrets) but cannot create, change, delete, disconnect or
/// install one, and a refused call changes nothing.
async fn member_keys_read_integrations_but_do_not_change_them(app: TestApp) {
    use reqwest::Method;
    let project = app.project("hooks").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    let hook = app
        .integration(
            &project,
            json!({"type": "webhook", "settings": {"url": "https://hooks.example.org/in"},
                   "secrets": {"signing_secret": "whsec-0123456789"}}),
        )
        .await;
    let one = format!("{base}/{hook}");
    let created = app.post("/api/v1/api-keys", json!({"name": "helper", "role": "member"})).await;
    let member = app.with_key(created.body["api_key"].as_str().expect("key"));

    let listed = member.send(Method::GET, &base, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let read = member.send(Method::GET, &one, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["secrets_set"], json!(["signing_secret"]));
    for body in [&listed.body, &read.body] {
        assert!(!body.to_string().contains("whsec-0123456789"), "no secret in a member's read: {body}");
    }

    let attempts = [
        (Method::POST, base.clone(), Some(json!({"type": "telegram", "secrets": {"bot_token": "123:abc"}}))),
        (Method::PATCH, one.clone(), Some(json!({"settings": {"url": "https://attacker.example/collect"}}))),
        (Method::PATCH, one.clone(), Some(json!({"secrets": {"signing_secret": "known-to-the-member"}}))),
        (Method::DELETE, one.clone(), None),
        (Method::POST, format!("{one}/disconnect"), Some(json!({}))),
        (Method::GET, format!("{base}/slack/install"), None),
    ];
    for (method, path, body) in attempts {
        let res = member.send(method.clone(), &path, body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path}: {}", res.body);
        assert_eq!(res.code(), "forbidden");
    }
    let after = app.get(&one).await.body;
    assert_eq!(after["settings"]["url"], "https://hooks.example.org/in", "the events still go where the admin said");
    assert_eq!(after["status"], "active");
    assert_eq!(app.get(&base).await.body["items"].as_array().map(Vec::len), Some(1), "nothing created or deleted");
    // The admin still can.
    let res = app.patch(&one, json!({"settings": {"url": "https://hooks.example.org/v2"}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}
both_backends!(member_keys_read_integrations_but_do_not_change_them);
