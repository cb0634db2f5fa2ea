//! OAuth installs against a local fake of each provider's token endpoint (Slack, Discord,
//! Microsoft identity platform, Atlassian with its site list, Zendesk): the install URL's
//! parameters, the callback's success (tokens sealed: the raw row holds none) and every
//! error branch, refused states (replayed, expired, forged, another provider's, another
//! tenant's project), and the Redis-backed state store.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::oauth::OAuthSettings;

use crate::fakes::oauth::{REDIRECT_BASE, fake_provider};
use crate::helpers::{Backend, TestApp, spawn_app_with};

const FRONTEND: &str = "https://app.taskbridge.example";

/// Providers configured as an operator would, their token endpoints on the fake.
pub(crate) fn settings(fake: &str) -> OAuthSettings {
    let mut env: HashMap<String, String> = HashMap::new();
    for (name, id) in
        [("SLACK", "slack"), ("DISCORD", "discord"), ("TEAMS", "teams"), ("ATLASSIAN", "atl"), ("ZENDESK", "zd")]
    {
        let provider = name.to_lowercase();
        env.insert(format!("TASKBRIDGE_OAUTH_{name}_CLIENT_ID"), format!("{provider}-client"));
        env.insert(format!("TASKBRIDGE_OAUTH_{name}_CLIENT_SECRET"), format!("{id}-secret"));
    }
    let urls = [
        ("SLACK", format!("{fake}/slack/token")),
        ("DISCORD", format!("{fake}/discord/token")),
        ("TEAMS", format!("{fake}/teams/{{tenant}}/token")),
        ("ATLASSIAN", format!("{fake}/atlassian/token")),
        ("ZENDESK", format!("{fake}/zendesk/{{subdomain}}/token")),
    ];
    for (name, url) in urls {
        env.insert(format!("TASKBRIDGE_OAUTH_{name}_TOKEN_URL"), url);
    }
    env.insert("TASKBRIDGE_OAUTH_SLACK_REVOKE_URL".into(), format!("{fake}/slack/revoke"));
    env.insert("TASKBRIDGE_OAUTH_DISCORD_REVOKE_URL".into(), format!("{fake}/discord/revoke"));
    env.insert("TASKBRIDGE_OAUTH_ZENDESK_REVOKE_URL".into(), format!("{fake}/zendesk/{{subdomain}}/revoke"));
    env.insert("TASKBRIDGE_OAUTH_ATLASSIAN_RESOURCES_URL".into(), format!("{fake}/atlassian/resources"));
    env.insert("TASKBRIDGE_OAUTH_TEAMS_TENANT".into(), "contoso.onmicrosoft.com".into());
    env.insert("TASKBRIDGE_OAUTH_SLACK_SIGNING_SECRET".into(), "slack-app-signing-secret".into());
    OAuthSettings::from_env(|k| env.get(k).cloned())
}

async fn spawn(backend: Backend, fake: &str, redis: Option<String>) -> Option<TestApp> {
    let settings = settings(fake);
    spawn_app_with(backend, move |c| {
        c.oauth = settings;
        c.allow_private_urls = true;
        c.redis_url = redis.map(taskbridge::config::Secret::new);
    })
    .await
}

/// The install URL for `kind` (200 expected), its query as a map.
pub(crate) async fn install(
    app: &TestApp,
    project: &str,
    kind: &str,
    query: &str,
) -> (String, HashMap<String, String>) {
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/{kind}/install{query}")).await;
    assert_eq!(res.status, StatusCode::OK, "{kind}: {}", res.body);
    let url = res.body["oauth_url"].as_str().expect("oauth_url").to_string();
    let params = url.split_once('?').map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect());
    (url, params.unwrap_or_default())
}

/// The browser coming back: where the callback sends it.
pub(crate) async fn callback(app: &TestApp, kind: &str, query: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res =
        client.get(format!("{}/api/public/integrations/{kind}/callback{query}", app.base)).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::FOUND, "{kind}{query}");
    res.headers()["location"].to_str().expect("location").to_string()
}

fn failed(kind: &str, code: &str) -> String {
    format!("{FRONTEND}/dashboard?integration={kind}&status=error&error={code}")
}

/// Where a successful install sends the browser: the overview, naming the provider and the
/// workspace (team, guild, site, account or Microsoft tenant) the fakes answer for it.
fn succeeded(kind: &str) -> String {
    let workspace = match kind {
        "slack" => "Slack+Softball+Team",
        "discord" => "Ops+Guild",
        "atlassian" => "Acme",
        "zendesk" => "acme",
        _ => "",
    };
    match workspace {
        "" => format!("{FRONTEND}/dashboard?integration={kind}&status=success"),
        w => format!("{FRONTEND}/dashboard?integration={kind}&status=success&workspace={w}"),
    }
}

async fn integration(app: &TestApp, project: &str, kind: &str) -> Value {
    let list = app.get(&format!("/api/v1/projects/{project}/integrations")).await.body;
    list["items"].as_array().and_then(|i| i.iter().find(|i| i["type"] == kind).cloned()).unwrap_or(Value::Null)
}

/// The stored row of an integration, settings and sealed secrets as text.
async fn raw_row(app: &TestApp, id: &str) -> String {
    let sql = "SELECT settings || secret_names || COALESCE(secrets, '') FROM integrations WHERE id = $1";
    if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await.expect("row")
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await.expect("row")
    }
}

async fn every_provider_installs(backend: Backend) {
    let (fake, shared) = fake_provider().await;
    let Some(app) = spawn(backend, &fake, None).await else { return };
    let project = app.project("ops").await;

    // Slack: the bot scopes, comma-separated; no PKCE.
    let (url, q) = install(&app, &project, "slack", "").await;
    assert!(url.starts_with("https://slack.com/oauth/v2/authorize?"), "{url}");
    assert_eq!(q["client_id"], "slack-client");
    assert_eq!(q["redirect_uri"], format!("{REDIRECT_BASE}/slack/callback"));
    assert!(q["scope"].contains("chat:write") && q["scope"].contains("channels:history") && q["scope"].contains(','));
    assert_eq!(q["state"].len(), 43, "256 random bits, base64url");
    assert!(!q.contains_key("code_challenge"));
    let location = callback(&app, "slack", &format!("?code=good-code&state={}", q["state"])).await;
    assert_eq!(location, succeeded("slack"));
    let slack = integration(&app, &project, "slack").await;
    assert_eq!(slack["status"], "active", "{slack}");
    // What the install is about is sealed with the tokens, shown when the integration is read.
    let read =
        app.get(&format!("/api/v1/projects/{project}/integrations/{}", slack["id"].as_str().expect("id"))).await.body;
    let about = &read["installation"];
    assert_eq!(
        (about["team_id"].as_str(), about["team_name"].as_str()),
        (Some("T9TK3CUKW"), Some("Slack Softball Team"))
    );
    assert_eq!(about["bot_user_id"], "U0KRQLJ9H");
    assert_eq!(about["scopes"], "chat:write,commands");
    assert_eq!(about["installed_by"].as_str().map(str::len), Some(36), "{read}");
    assert!(about["installed_at"].is_string());
    assert!(
        slack["installation"].is_null() && slack["settings"]["team_id"].is_null(),
        "lists show no metadata: {slack}"
    );
    let set = slack["secrets_set"].to_string();
    assert!(set.contains("bot_token") && set.contains("signing_secret") && set.contains("webhook_url"), "{set}");
    let raw = raw_row(&app, slack["id"].as_str().expect("id")).await;
    assert!(!raw.contains("xoxb") && !raw.contains("secret-hook") && !raw.contains("slack-app-signing"), "{raw}");
    assert!(
        !raw.contains("T9TK3CUKW") && !raw.contains("Softball") && !raw.contains("U0KRQLJ9H"),
        "metadata sealed: {raw}"
    );
    assert!(!slack.to_string().contains("xoxb"), "answers never show a token");

    // Discord: bot permissions; Basic client authentication on the token request.
    let (url, q) = install(&app, &project, "discord", "").await;
    assert!(url.starts_with("https://discord.com/oauth2/authorize?"), "{url}");
    assert_eq!((q["response_type"].as_str(), q["permissions"].as_str()), ("code", "274877975552"));
    assert!(q["scope"].split(' ').any(|s| s == "bot"));
    assert_eq!(callback(&app, "discord", &format!("?code=good-code&state={}", q["state"])).await, succeeded("discord"));
    let discord = integration(&app, &project, "discord").await;
    let read =
        app.get(&format!("/api/v1/projects/{project}/integrations/{}", discord["id"].as_str().expect("id"))).await.body;
    assert_eq!(read["installation"]["guild_id"], "290926798626357250");
    assert!(!raw_row(&app, discord["id"].as_str().expect("id")).await.contains("Ops Guild"));
    assert!(discord["settings"]["expires_at"].is_string(), "{discord}");

    // Teams: the configured Microsoft tenant in the path, PKCE S256.
    let (url, q) = install(&app, &project, "teams", "").await;
    assert!(
        url.starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"),
        "{url}"
    );
    assert_eq!((q["code_challenge_method"].as_str(), q["response_mode"].as_str()), ("S256", "query"));
    shared.lock().expect("lock").challenges.push(q["code_challenge"].clone());
    assert_eq!(callback(&app, "teams", &format!("?code=good-code&state={}", q["state"])).await, succeeded("teams"));
    let teams = integration(&app, &project, "teams").await["id"].as_str().expect("id").to_string();
    let read = app.get(&format!("/api/v1/projects/{project}/integrations/{teams}")).await.body;
    assert_eq!(read["installation"]["ms_tenant"], "contoso.onmicrosoft.com", "{read}");

    // Atlassian: audience and consent; the site's cloud id found, Jira and Confluence both made.
    let (url, q) = install(&app, &project, "atlassian", "").await;
    assert!(url.starts_with("https://auth.atlassian.com/authorize?"), "{url}");
    assert_eq!((q["audience"].as_str(), q["prompt"].as_str()), ("api.atlassian.com", "consent"));
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    assert_eq!(
        callback(&app, "atlassian", &format!("?code=good-code&state={}", q["state"])).await,
        succeeded("atlassian")
    );
    for kind in ["jira", "confluence"] {
        let made = integration(&app, &project, kind).await;
        let read = app
            .get(&format!("/api/v1/projects/{project}/integrations/{}", made["id"].as_str().expect("id")))
            .await
            .body;
        assert_eq!(read["installation"]["cloud_id"], "1324a887-45db-1bf4-1e99-ef0ff456d421", "{read}");
        assert_eq!(read["installation"]["site_url"], "https://acme.atlassian.net");
        assert!(!raw_row(&app, made["id"].as_str().expect("id")).await.contains("1324a887"), "the cloud id is sealed");
        assert!(made["secrets_set"].to_string().contains("refresh_token"));
        assert!(!raw_row(&app, made["id"].as_str().expect("id")).await.contains("atl-oauth"));
    }

    // Until an admin names its Jira project, new tasks are not pushed to that Jira.
    app.task(&project, json!({"title": "Nothing to push yet"})).await;
    let jobs = app.get("/api/v1/jobs?limit=200").await.body;
    let pushes = jobs["items"].as_array().expect("jobs").iter().filter(|j| j["kind"] == "tracker.push").count();
    assert_eq!(pushes, 0, "{jobs}");

    // Zendesk: the account is required; PKCE.
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/zendesk/install")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/zendesk/install?subdomain=ac%2Fme")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let (url, q) = install(&app, &project, "zendesk", "?subdomain=Acme").await;
    assert!(url.starts_with("https://acme.zendesk.com/oauth/authorizations/new?"), "{url}");
    shared.lock().expect("lock").challenges.push(q["code_challenge"].clone());
    assert_eq!(callback(&app, "zendesk", &format!("?code=good-code&state={}", q["state"])).await, succeeded("zendesk"));
    let zendesk = integration(&app, &project, "zendesk").await;
    let read =
        app.get(&format!("/api/v1/projects/{project}/integrations/{}", zendesk["id"].as_str().expect("id"))).await.body;
    assert_eq!(read["installation"]["subdomain"], "acme", "{read}");

    // The replaced system's route, naming the tenant: the caller's own only.
    let b = app.post("/api/v1/tenants", json!({"name": "B"})).await.body;
    let (b_id, b_key) = (b["id"].as_str().expect("id"), b["api_key"].as_str().expect("key"));
    let b_project =
        app.with_key(b_key).send(reqwest::Method::POST, "/api/v1/projects", Some(json!({"name": "b"}))).await.id();
    let legacy =
        |tenant: &str, project: &str| format!("/v1/tenants/{tenant}/projects/{project}/integrations/slack/install");
    let res = app.with_key(b_key).send(reqwest::Method::GET, &legacy(b_id, &b_project), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body["oauth_url"].as_str().is_some_and(|u| u.contains("state=")));
    assert_eq!(app.get(&legacy(b_id, &b_project)).await.status, StatusCode::NOT_FOUND, "not the caller's tenant");
    assert_eq!(app.get(&legacy(b_id, &project)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(shared.lock().expect("lock").requests.len(), 5, "one token request per install");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_installs_sqlite() {
    every_provider_installs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_installs_postgres() {
    every_provider_installs(Backend::Postgres).await;
}

async fn failures_redirect_with_their_code(backend: Backend) {
    let (fake, _shared) = fake_provider().await;
    let Some(app) = spawn(backend, &fake, None).await else { return };
    let project = app.project("ops").await;
    let state = |q: &HashMap<String, String>| q["state"].clone();

    let (_, q) = install(&app, &project, "slack", "").await;
    let denied = format!("?error=access_denied&state={}", state(&q));
    assert_eq!(callback(&app, "slack", &denied).await, failed("slack", "slack_oauth_denied"));
    assert_eq!(callback(&app, "slack", &format!("?state={}", state(&q))).await, failed("slack", "missing_code"));
    assert_eq!(callback(&app, "slack", "?code=good-code").await, failed("slack", "missing_state"));
    assert_eq!(callback(&app, "slack", "?code=good-code&state=forged-state").await, failed("slack", "invalid_state"));
    assert_eq!(callback(&app, "slack", "").await, failed("slack", "missing_code"));

    // A code the provider refuses; the state is used up by that attempt.
    let (_, q) = install(&app, &project, "slack", "").await;
    let bad = format!("?code=bad-code&state={}", state(&q));
    assert_eq!(callback(&app, "slack", &bad).await, failed("slack", "token_exchange_failed"));
    assert_eq!(
        callback(&app, "slack", &format!("?code=good-code&state={}", state(&q))).await,
        failed("slack", "invalid_state")
    );

    // Replayed after a success.
    let (_, q) = install(&app, &project, "slack", "").await;
    let good = format!("?code=good-code&state={}", state(&q));
    assert_eq!(callback(&app, "slack", &good).await, succeeded("slack"));
    assert_eq!(callback(&app, "slack", &good).await, failed("slack", "invalid_state"));

    // Another provider's state.
    let (_, q) = install(&app, &project, "discord", "").await;
    let crossed = format!("?code=good-code&state={}", state(&q));
    assert_eq!(callback(&app, "slack", &crossed).await, failed("slack", "invalid_state"));

    // Expired: ten minutes are up.
    let (_, q) = install(&app, &project, "slack", "").await;
    let sql = "UPDATE oauth_states SET expires_at = $1";
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        sqlx::query(sql).bind(past).execute(&pool).await.expect("update");
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        sqlx::query(sql).bind(past).execute(&pool).await.expect("update");
    }
    assert_eq!(
        callback(&app, "slack", &format!("?code=good-code&state={}", state(&q))).await,
        failed("slack", "invalid_state")
    );

    // The project went away between install and callback: nothing can be saved.
    let doomed = app.project("doomed").await;
    let (_, q) = install(&app, &doomed, "slack", "").await;
    assert_eq!(app.delete(&format!("/api/v1/projects/{doomed}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        callback(&app, "slack", &format!("?code=good-code&state={}", state(&q))).await,
        failed("slack", "storage_failed")
    );

    // Names that end up in a credentialed URL are plain: no path or query smuggled in.
    let zendesk =
        json!({"type": "zendesk", "settings": {"subdomain": "evil.example/x?"}, "secrets": {"api_token": "t"}});
    let res = app.post(&format!("/api/v1/projects/{project}/integrations"), zendesk).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    // Unknown provider in the callback; the redirect still only goes to the front end.
    let unknown = callback(&app, "myspace", "?code=x&state=y").await;
    assert!(
        unknown.starts_with(&format!("{FRONTEND}/dashboard?")) && unknown.ends_with("error=unknown_integration"),
        "{unknown}"
    );

    // Installs: another tenant's project, a member key, an unconfigured or unknown type.
    let b_key =
        app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let foreign = app
        .with_key(&b_key)
        .send(reqwest::Method::GET, &format!("/api/v1/projects/{project}/integrations/slack/install"), None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    let member = app.post("/api/v1/api-keys", json!({"name": "m", "role": "member"})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let res = app
        .with_key(&member)
        .send(reqwest::Method::GET, &format!("/api/v1/projects/{project}/integrations/slack/install"), None)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    // An unknown type is a bad request (400), on the v1 route and the replaced framework's.
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/myspace/install")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(res.body["error"]["code"], "unsupported_integration", "{}", res.body);
    assert!(res.body["error"]["message"].as_str().is_some_and(|m| m.contains("\"myspace\"")), "{}", res.body);
    let tenant = app.get("/api/v1/me").await.body["tenant"]["id"].as_str().expect("tenant").to_string();
    let res = app.get(&format!("/v1/tenants/{tenant}/projects/{project}/integrations/myspace/install")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(res.body["error"]["code"], "unsupported_integration", "{}", res.body);
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/slack/install")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_redirect_with_their_code_sqlite() {
    failures_redirect_with_their_code(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_redirect_with_their_code_postgres() {
    failures_redirect_with_their_code(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_provider_is_refused() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.expect("app");
    let project = app.project("ops").await;
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/slack/install")).await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "oauth_not_configured"), "{}", res.body);
}

/// With `TASKBRIDGE_REDIS_URL`, states live in Redis: the same flow, single use there too.
/// Needs `TEST_REDIS_URL` (which `.ci/run` sets); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_can_live_in_redis() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else { return };
    let (fake, _shared) = fake_provider().await;
    let app = spawn(Backend::Sqlite, &fake, Some(redis)).await.expect("app");
    let project = app.project("ops").await;
    let (_, q) = install(&app, &project, "slack", "").await;
    let good = format!("?code=good-code&state={}", q["state"]);
    assert_eq!(callback(&app, "slack", &good).await, succeeded("slack"));
    assert_eq!(callback(&app, "slack", &good).await, failed("slack", "invalid_state"));
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_states").fetch_one(&pool).await.expect("count");
    assert_eq!(kept, 0, "nothing in the database");
    assert_eq!(integration(&app, &project, "slack").await["status"], "active");
}

/// Polls the project's integration of `kind` until `done` holds; ten seconds at most.
async fn until(app: &TestApp, project: &str, kind: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        last = integration(app, project, kind).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{kind} never got there: {last}");
}

/// Tokens are refreshed before they expire, by the queue, with the rotated refresh token
/// kept; a refused refresh marks the integration `error` with the reason. Atlassian's one
/// token serves Jira and Confluence: one refresh updates both.
async fn tokens_are_refreshed_before_they_expire(backend: Backend) {
    let (fake, shared) = fake_provider().await;
    // Tokens lasting five minutes and a few seconds: due for refresh a few seconds from now.
    shared.lock().expect("lock").expires_in = Some(302);
    let Some(app) = spawn(backend, &fake, None).await else { return };
    let project = app.project("ops").await;
    for kind in ["discord", "atlassian"] {
        let (_, q) = install(&app, &project, kind, "").await;
        assert_eq!(callback(&app, kind, &format!("?code=good-code&state={}", q["state"])).await, succeeded(kind));
    }
    // Jira disconnected before the first refresh: Confluence's share of the token is still
    // refreshed, and Jira is left be.
    let jira = integration(&app, &project, "jira").await["id"].as_str().expect("id").to_string();
    let res = app.post(&format!("/api/v1/projects/{project}/integrations/{jira}/disconnect"), json!({})).await;
    assert_eq!(res.body["status"], "revoked", "{}", res.body);
    let installed = integration(&app, &project, "discord").await;
    let first_expiry = installed["settings"]["expires_at"].as_str().expect("expiry").to_string();
    let expiry = chrono::DateTime::parse_from_rfc3339(&first_expiry).expect("rfc 3339");
    assert!(expiry > chrono::Utc::now() + chrono::Duration::seconds(290), "{first_expiry}");

    let refreshed = until(&app, &project, "discord", |i| i["settings"]["refreshed_at"].is_string()).await;
    assert!(chrono::Utc::now() < expiry, "refreshed before the first token expired");
    assert_ne!(refreshed["settings"]["expires_at"], json!(first_expiry), "{refreshed}");
    // The next refresh presents the rotated token, which the provider refuses: visible.
    let failed = until(&app, &project, "discord", |i| i["status"] == "error").await;
    let why = failed["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("token refresh failed") && why.contains("invalid_grant"), "{why}");
    assert!(!why.contains("discord-oauth"), "no token in the reason: {why}");

    let confluence = until(&app, &project, "confluence", |i| i["status"] == "error").await;
    assert!(confluence["settings"]["refreshed_at"].is_string(), "{confluence}");
    let jira = integration(&app, &project, "jira").await;
    assert_eq!((jira["status"].as_str(), jira["secrets_set"].clone()), (Some("revoked"), json!([])), "{jira}");
    let presented = shared.lock().expect("lock").refreshes.clone();
    let discord: Vec<&String> = presented.iter().filter(|r| r.starts_with("discord")).collect();
    assert_eq!(discord, ["discord-oauth-refresh", "discord-oauth-refresh-2"], "rotated token kept");
    let atlassian: Vec<&String> = presented.iter().filter(|r| r.starts_with("atl")).collect();
    assert_eq!(
        atlassian[..2],
        ["atl-oauth-refresh", "atl-oauth-refresh-1"],
        "one refresh of the shared token, then the next"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire_sqlite() {
    tokens_are_refreshed_before_they_expire(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire_postgres() {
    tokens_are_refreshed_before_they_expire(Backend::Postgres).await;
}

/// Disconnecting revokes the token at the provider where it allows, deletes the secrets and
/// leaves the record `revoked` until it is installed again; deleting revokes too.
async fn disconnect_revokes_and_forgets(backend: Backend) {
    let (fake, shared) = fake_provider().await;
    let Some(app) = spawn(backend, &fake, None).await else { return };
    let project = app.project("ops").await;
    let connect = async |kind: &str, query: &str| {
        let (_, q) = install(&app, &project, kind, query).await;
        if let Some(challenge) = q.get("code_challenge") {
            shared.lock().expect("lock").challenges.push(challenge.clone());
        }
        assert_eq!(callback(&app, kind, &format!("?code=good-code&state={}", q["state"])).await, succeeded(kind));
        integration(&app, &project, kind).await["id"].as_str().expect("id").to_string()
    };
    let slack = connect("slack", "").await;
    let path = |id: &str| format!("/api/v1/projects/{project}/integrations/{id}");

    let member = app.post("/api/v1/api-keys", json!({"name": "m", "role": "member"})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let res = app.with_key(&member).send(reqwest::Method::POST, &format!("{}/disconnect", path(&slack)), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let res = app.post(&format!("{}/disconnect", path(&slack)), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!((res.body["status"].as_str(), res.body["secrets_set"].clone()), (Some("revoked"), json!([])));
    assert_eq!(res.body["last_error"], Value::Null, "{}", res.body);
    assert_eq!(shared.lock().expect("lock").revoked, [("slack".to_string(), "xoxb-17653672481-oauth-bot".to_string())]);
    assert!(!raw_row(&app, &slack).await.contains("xoxb"));
    // Installed again: the same record, active.
    assert_eq!(connect("slack", "").await, slack);
    assert_eq!(integration(&app, &project, "slack").await["status"], "active");

    // Deleting revokes as well.
    let discord = connect("discord", "").await;
    assert_eq!(app.delete(&path(&discord)).await.status, StatusCode::NO_CONTENT);
    assert!(shared.lock().expect("lock").revoked.contains(&("discord".into(), "discord-oauth-access".into())));

    // A provider that cannot be told: disconnected all the same, and the reason is shown.
    let zendesk = connect("zendesk", "?subdomain=acme").await;
    let res = app.post(&format!("{}/disconnect", path(&zendesk)), json!({})).await;
    assert_eq!(res.body["status"], "revoked", "{}", res.body);
    assert!(res.body["last_error"].as_str().is_some_and(|e| e.contains("503")), "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_revokes_and_forgets_sqlite() {
    disconnect_revokes_and_forgets(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_revokes_and_forgets_postgres() {
    disconnect_revokes_and_forgets(Backend::Postgres).await;
}
