use reqwest::StatusCode;

use super::{Browser, other_tenant};
use crate::helpers::{ADMIN_KEY, Backend, TestApp, both_backends, spawn_app_with};

const PASSWORD: &str = "s3cret-taiga-pass";

async fn token_integrations_are_connected_changed_and_removed(app: TestApp) {
    let project = app.project("ops").await;
    let base = format!("/projects/{project}/integrations");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&base).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("No integrations yet — connect Slack or Jira"), "{}", page.html);
    assert!(page.html.contains("No OAuth app is configured"), "{}", page.html);
    // Forms generated from the shapes: Taiga asks for its settings and secrets.
    for field in [
        "name=\"setting.username\"",
        "name=\"setting.project_slug\"",
        "name=\"secret.password\"",
        "name=\"secret.webhook_key\"",
    ] {
        assert!(page.html.contains(field), "{field}");
    }
    assert!(!page.html.contains("secret.access_token"), "installed tokens are not asked for");

    // A refused form says why, in the API's words, inside that form.
    let page = browser
        .submit(&base, &base, &[("type", "webhook"), ("setting.url", "not a url"), ("secret.signing_secret", "whsec")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("settings: url:"), "{}", page.html);
    assert!(!page.html.contains("whsec"), "a secret is never sent back");

    let page = browser
        .submit(
            &base,
            &base,
            &[
                ("type", "taiga"),
                ("name", "<b>Taiga</b>"),
                ("setting.api_base_url", "https://taiga.example/api/v1"),
                ("setting.username", "bot"),
                ("setting.project_slug", "ops"),
                ("secret.password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, base.as_str()), "{}", page.html);
    let api = app.get(&format!("/api/v1/projects/{project}/integrations")).await.body;
    let taiga = api["items"][0].clone();
    let id = taiga["id"].as_str().expect("id").to_string();
    assert_eq!((taiga["type"].as_str(), taiga["settings"]["project_slug"].as_str()), (Some("taiga"), Some("ops")));

    let page = browser.get(&base).await;
    assert!(page.html.contains("&lt;b&gt;Taiga&lt;/b&gt;") && !page.html.contains("<b>Taiga</b>"), "{}", page.html);
    assert!(page.html.contains(&format!("value=\"{}\"", taiga["webhook_url"].as_str().expect("url"))), "{}", page.html);
    assert!(page.html.contains(&format!("data-copy=\"#webhook-{id}\"")), "copy button");
    assert!(page.html.contains("Webhooks, with the webhook key as its secret key"), "where to paste it");
    assert!(page.html.contains("<dt>Secrets set</dt><dd>password</dd>"), "{}", page.html);
    assert!(page.html.contains("Set — leave blank to keep it."), "{}", page.html);
    assert!(page.html.contains("never imported") && page.html.contains("not polled yet"), "{}", page.html);
    assert!(!page.html.contains(PASSWORD), "the secret is write-only");

    // Changing a setting keeps a secret left blank.
    let page = browser
        .submit(
            &base,
            &format!("{base}/{id}"),
            &[
                ("name", "Taiga"),
                ("setting.api_base_url", "https://taiga.example/api/v1"),
                ("setting.username", "robot"),
                ("setting.project_slug", "ops"),
                ("secret.password", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let got = app.get(&format!("/api/v1/projects/{project}/integrations/{id}")).await.body;
    assert_eq!(
        (got["settings"]["username"].as_str(), got["secrets_set"].clone()),
        (Some("robot"), serde_json::json!(["password"]))
    );

    // Another tenant: 404 pages, nothing changes.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert_eq!(stranger.get(&base).await.status, StatusCode::NOT_FOUND);
    for action in ["", "/disconnect", "/delete", "/import"] {
        let page = stranger.submit("/dashboard", &format!("{base}/{id}{action}"), &[("name", "mine")]).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{action}: {}", page.html);
    }
    let page = stranger.submit("/dashboard", &base, &[("type", "telegram"), ("secret.bot_token", "1:x")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);

    // A member reads, but cannot change.
    let member = app.post("/api/v1/api-keys", serde_json::json!({"name": "m"})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let mut reader = Browser::signed_in(&app, &member).await;
    let page = reader.get(&base).await;
    assert!(page.html.contains("needs an admin key") && !page.html.contains("secret.password"), "{}", page.html);
    assert_eq!(reader.submit(&base, &format!("{base}/{id}/delete"), &[]).await.status, StatusCode::FORBIDDEN);

    // Disconnect, then delete.
    let page = browser.submit(&base, &format!("{base}/{id}/disconnect"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let got = app.get(&format!("/api/v1/projects/{project}/integrations/{id}")).await.body;
    assert_eq!((got["status"].as_str(), got["secrets_set"].clone()), (Some("revoked"), serde_json::json!([])));
    let page = browser.submit(&base, &format!("{base}/{id}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/projects/{project}/integrations/{id}")).await.status, StatusCode::NOT_FOUND);
}
both_backends!(token_integrations_are_connected_changed_and_removed);

#[tokio::test]
async fn configured_providers_get_a_connect_button() {
    let oauth = taskbridge::oauth::OAuthSettings::from_env(|name| match name {
        "TASKBRIDGE_OAUTH_SLACK_CLIENT_ID" => Some("slack-client".into()),
        "TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET" => Some("slack-secret".into()),
        _ => None,
    });
    let app = spawn_app_with(Backend::Sqlite, move |c| c.oauth = oauth).await.expect("app");
    let project = app.project("ops").await;
    let base = format!("/projects/{project}/integrations");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&base).await;
    assert!(page.html.contains("Connect with Slack"), "{}", page.html);
    assert!(!page.html.contains("Connect with Discord"), "{}", page.html);
    assert!(page.html.contains("Not configured: DISCORD, TEAMS, ATLASSIAN, ZENDESK"), "{}", page.html);
    // The answer moves on to the provider by itself (a redirect would break `form-action 'self'`).
    let page = browser.submit(&base, &format!("{base}/connect/slack"), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("content=\"0;url=https://slack.com/oauth/v2/authorize?"), "{}", page.html);
    assert!(page.html.contains("state="), "{}", page.html);
    let page = browser.submit(&base, &format!("{base}/connect/discord"), &[]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("OAuth for discord is not configured"), "{}", page.html);
}

/// Teams installs may name the Microsoft tenant to sign in to, as the API's install takes
/// `ms_tenant`; a refused one is explained next to its field in the API's words.
#[tokio::test]
async fn the_teams_button_asks_for_the_microsoft_tenant() {
    let oauth = taskbridge::oauth::OAuthSettings::from_env(|name| match name {
        "TASKBRIDGE_OAUTH_TEAMS_CLIENT_ID" => Some("teams-client".into()),
        "TASKBRIDGE_OAUTH_TEAMS_CLIENT_SECRET" => Some("teams-secret".into()),
        _ => None,
    });
    let app = spawn_app_with(Backend::Sqlite, move |c| c.oauth = oauth).await.expect("app");
    let project = app.project("ops").await;
    let base = format!("/projects/{project}/integrations");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&base).await;
    assert!(
        page.html.contains("<label for=\"connect-teams-ms_tenant\">Microsoft tenant (optional) </label>")
            && page.html.contains("name=\"ms_tenant\""),
        "{}",
        page.html
    );

    let connect = format!("{base}/connect/teams");
    let page = browser.submit(&base, &connect, &[("ms_tenant", "contoso.onmicrosoft.com")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("url=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"),
        "{}",
        page.html
    );
    // Left blank: the server's default tenant.
    let page = browser.submit(&base, &connect, &[("ms_tenant", "")]).await;
    assert!(page.html.contains("url=https://login.microsoftonline.com/common/oauth2/v2.0/authorize?"), "{}", page.html);

    let page = browser.submit(&base, &connect, &[("ms_tenant", "contoso/../x")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    let api = app.get(&format!("/api/v1/projects/{project}/integrations/teams/install?ms_tenant=contoso/../x")).await;
    let words = api.body["error"]["message"].as_str().expect("the API's message").to_string();
    assert!(
        page.html
            .contains(&format!("<p class=\"error-message\" id=\"connect-teams-error\" role=\"alert\">{words}</p>")),
        "{words}: {}",
        page.html
    );
    assert!(
        page.html.contains("aria-invalid=\"true\" aria-describedby=\"connect-teams-hint connect-teams-error\""),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_and_only_to_admins() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.expect("app");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/api-keys").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("bootstrap admin") && page.html.contains("this session"), "{}", page.html);

    let page = browser.submit("/api-keys", "/api-keys", &[("name", "<i>CI</i>"), ("role", "member")]).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.html);
    let marker = "id=\"new-key\" type=\"text\" readonly value=\"";
    let start = page.html.find(marker).expect("the key, once") + marker.len();
    let key = page.html[start..].split('"').next().expect("key").to_string();
    assert!(key.starts_with("tb_"), "{key}");
    assert!(page.html.contains("&lt;i&gt;CI&lt;/i&gt;"), "{}", page.html);
    let me = app.with_key(&key).send(reqwest::Method::GET, "/api/v1/me", None).await;
    assert_eq!((me.status, me.body["role"].as_str()), (StatusCode::OK, Some("member")));
    assert!(!browser.get("/api-keys").await.html.contains(&key), "never shown again");

    let page = browser.submit("/api-keys", "/api-keys", &[("name", "x"), ("role", "owner")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("role: must be one of admin, member"), "{}", page.html);

    // A member has no keys page.
    let mut member = Browser::signed_in(&app, &key).await;
    assert!(!member.get("/dashboard").await.html.contains("href=\"/api-keys\""));
    assert_eq!(member.get("/api-keys").await.status, StatusCode::FORBIDDEN);

    // The last admin key stays; another key goes.
    let keys = app.get("/api/v1/api-keys").await.body;
    let id_of = |name: &str| {
        keys["items"]
            .as_array()
            .and_then(|k| k.iter().find(|k| k["name"] == name))
            .and_then(|k| k["id"].as_str())
            .expect("key")
            .to_string()
    };
    let page = browser.submit("/api-keys", &format!("/api-keys/{}/delete", id_of("bootstrap admin")), &[]).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    let page = browser.submit("/api-keys", &format!("/api-keys/{}/delete", id_of("<i>CI</i>")), &[]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/api-keys"));
    assert_eq!(member.get("/dashboard").await.status, StatusCode::UNAUTHORIZED, "its sessions end with it");
}

/// Zendesk and Confluence are polled and synced, never called back: their cards offer no
/// webhook URL to paste (its route answers 404 for them) and say how changes arrive instead;
/// a tracker that does call back (Jira) still offers its URL and where to paste it.
async fn only_integrations_that_call_back_offer_a_webhook_url(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    let api = format!("/api/v1/projects/{project}/integrations");
    let mut made = std::collections::HashMap::new();
    for (kind, settings) in [
        (
            "zendesk",
            serde_json::json!({"api_base_url": "http://127.0.0.1:9/api/v2", "subdomain": "acme",
                                        "email": "bot@acme.test"}),
        ),
        ("confluence", serde_json::json!({"site_url": "http://127.0.0.1:9", "email": "bot@acme.test"})),
        ("jira", serde_json::json!({"site_url": "http://127.0.0.1:9", "email": "bot@acme.test", "project_key": "OPS"})),
    ] {
        let body = serde_json::json!({"type": kind, "settings": settings, "secrets": {"api_token": "token-1"}});
        let res = app.post(&api, body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let url = res.body["webhook_url"].as_str().expect("webhook_url").to_string();
        made.insert(kind, (res.id(), url));
    }
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&format!("/projects/{project}/integrations")).await;
    assert_eq!(page.status, StatusCode::OK);
    for kind in ["zendesk", "confluence"] {
        let (id, url) = &made[kind];
        assert!(!page.html.contains(&format!("data-copy=\"#webhook-{id}\"")), "{kind}: no URL to copy");
        assert!(!page.html.contains(&format!("value=\"{url}\"")), "{kind}: no URL shown");
        let path = url.split_once("/webhooks/").map(|(_, p)| format!("/webhooks/{p}")).expect("path");
        let called = app.raw().post(format!("{}{path}", app.base)).body("{}").send().await.expect("sent");
        assert_eq!(called.status(), StatusCode::NOT_FOUND, "{kind}: the URL leads nowhere");
    }
    assert!(page.html.contains("Zendesk sends taskbridge nothing. Changes made in Zendesk come back by polling"));
    assert!(page.html.contains("Confluence sends taskbridge nothing. Its pages are read and written by the sync runs"));
    assert!(!page.html.contains("Apps and integrations → Webhooks"), "no Zendesk webhook to set up");
    assert!(!page.html.contains("In Confluence: Settings → Webhooks"), "no Confluence webhook to set up");
    let (jira, url) = &made["jira"];
    assert!(page.html.contains(&format!("data-copy=\"#webhook-{jira}\"")), "Jira's URL can be copied");
    assert!(
        page.html.contains(&format!("value=\"{url}\""))
            && page.html.contains("In Jira: Settings → System → WebHooks → URL.")
    );
}
crate::helpers::each_backend!(only_integrations_that_call_back_offer_a_webhook_url);
