//! The console in a real headless Chromium, driven over WebDriver (chromedriver) against the
//! real binary: sign in, a project, a task created, edited and moved on the board, Slack
//! connected through OAuth against a local fake provider, an OAuth failure explained, Taiga
//! connected through its form with its secret never shown again, then disconnected and
//! deleted through their confirmations, an API key created and shown once, sign out. Signing
//! in and moving a task on the board are done by keyboard alone (Tab, typing, Enter), and
//! every page is checked at a phone's width (390 px) for sideways scrolling. Requests: one
//! posted through Slack's signed webhook appears in the open inbox without a reload; a
//! possible duplicate is merged from its page (M, Enter) and the fake Slack hears it in the
//! thread; a request of a triage project (chosen on the project's form) is accepted with an
//! edited title (A, typing, Enter).
//!
//! The WebDriver client is the few commands this needs, spoken over the HTTP client the tests
//! already use. With `TEST_BROWSER` set (CI sets it) a missing browser fails the test;
//! without it the test says so and does nothing. With `SCREENSHOT_DIR` set, each page is
//! saved there as a PNG (the README's pictures come from `docs/screenshots/`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

const KEY: &str = "tb_browser-test-admin-key-0123456789";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const TAIGA_PASSWORD: &str = "taiga-password-never-shown";
/// WebDriver's codes for the Tab and Enter keys.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

struct Driver {
    http: reqwest::Client,
    base: String,
    chromedriver: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

fn found(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

impl Driver {
    /// chromedriver on a free loopback port, with one headless Chromium session.
    async fn start() -> Option<Driver> {
        let required = std::env::var_os("TEST_BROWSER").is_some();
        if !found("chromedriver") || !found("chromium") {
            assert!(!required, "TEST_BROWSER is set but chromium or chromedriver is missing");
            eprintln!(
                "chromium or chromedriver is missing (apt-get install chromium chromium-driver): browser test not run"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let chromedriver = Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver =
            Driver { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}"), chromedriver };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver.http.get(format!("{}/status", driver.base)).send().await;
            if let Ok(res) = ready
                && res.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--no-first-run", "--disable-extensions"]}}}});
        let session = driver.command(reqwest::Method::POST, "/session", Some(caps)).await;
        let id = session["sessionId"].as_str().expect("session id").to_string();
        driver.base = format!("{}/session/{id}", driver.base);
        Some(driver)
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        req = req.json(&body.unwrap_or_else(|| json!({})));
        let res = req.send().await.expect("webdriver answers");
        let status = res.status();
        let value: Value = res.json().await.expect("webdriver json");
        assert!(status.is_success(), "webdriver {path}: {value}");
        value["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.http.get(format!("{}{path}", self.base)).send().await.expect("webdriver answers");
        let status = res.status();
        let value: Value = res.json().await.expect("webdriver json");
        assert!(status.is_success(), "webdriver {path}: {value}");
        value["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_string()
    }

    async fn source(&self) -> String {
        self.get("/source").await.as_str().unwrap_or_default().to_string()
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let res = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("webdriver answers");
            let ok = res.status().is_success();
            let value: Value = res.json().await.expect("json");
            if ok {
                return value["value"][ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("element {css}: {value}"))
                    .to_string();
            }
            assert!(Instant::now() < deadline, "no element {css} on {}: {value}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{id}/clear"), None).await;
        self.command(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{id}/click"), None).await;
    }

    /// Waits until the page's address contains `part` (after a click that navigates).
    async fn wait_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url().await;
            if url.contains(part) && self.ready().await {
                return;
            }
            assert!(Instant::now() < deadline, "still at {url}, waiting for {part}: {}", self.source().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page shows `text`.
    async fn wait_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            assert!(Instant::now() < deadline, "{text:?} not on {}: {source}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page no longer shows `text`.
    async fn wait_gone(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.source().await.contains(text) {
            assert!(Instant::now() < deadline, "{text:?} still on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn ready(&self) -> bool {
        let state = self
            .command(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.readyState", "args": []})),
            )
            .await;
        state == "complete"
    }

    /// No alert is open (an unescaped `<script>alert(1)</script>` would have opened one).
    async fn no_alert(&self) {
        let res = self.http.get(format!("{}/alert/text", self.base)).send().await.expect("answers");
        assert_eq!(res.status().as_u16(), 404, "an alert is open: {}", res.text().await.unwrap_or_default());
    }

    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("SCREENSHOT_DIR") else { return };
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("base64")).expect("png");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), bytes).expect("screenshot written");
    }

    /// Runs `script` in the page; its return value.
    async fn script(&self, script: &str) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Presses and releases keys as a keyboard would (WebDriver key actions), e.g. TAB, ENTER
    /// or the characters of a text.
    async fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                [json!({"type": "keyDown", "value": k.to_string()}), json!({"type": "keyUp", "value": k.to_string()})]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", Some(body)).await;
    }

    /// Presses Tab until the focused element is the one `css` names (at most `max` times):
    /// it is reachable by keyboard in the page's own order.
    async fn tab_to(&self, css: &str, max: usize) {
        let focused = format!("return document.activeElement === document.querySelector({})", json!(css));
        for _ in 0..max {
            self.keys(TAB).await;
            if self.script(&focused).await == true {
                return;
            }
        }
        panic!("{css} not reached with {max} presses of Tab on {}", self.url().await);
    }

    /// The text of the open `confirm()` dialog; accepts it or dismisses it.
    async fn answer_confirm(&self, accept: bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let res = self.http.get(format!("{}/alert/text", self.base)).send().await.expect("answers");
            if res.status().is_success() {
                break res.json::<Value>().await.expect("json")["value"].as_str().unwrap_or_default().to_string();
            }
            assert!(Instant::now() < deadline, "no confirmation was asked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let answer = if accept { "/alert/accept" } else { "/alert/dismiss" };
        self.command(reqwest::Method::POST, answer, None).await;
        text
    }

    /// At a phone's width the page scrolls only downwards: nothing sticks out sideways.
    async fn fits_the_width(&self) {
        let sizes = self
            .script("var d = document.documentElement; return [d.scrollWidth, d.clientWidth, window.innerWidth]")
            .await;
        let (scroll, client, inner) = (sizes[0].as_i64(), sizes[1].as_i64(), sizes[2].as_i64());
        assert!(inner.is_some_and(|w| w <= 400), "the window is a phone's width: {sizes}");
        if scroll > client {
            // Name what sticks out, to say where to look.
            let wide = self
                .script(
                    "var w = document.documentElement.clientWidth; return Array.prototype.slice.call(\
                     document.querySelectorAll('body *')).filter(function (e) { return e.getBoundingClientRect().right > w ; }).sort(function (a, b) { return b.getBoundingClientRect().right - a.getBoundingClientRect().right; \
                     }).slice(0, 8).map(function (e) { return e.tagName + '.' + e.className + ' ' + \
                     Math.round(e.getBoundingClientRect().right); })",
                )
                .await;
            panic!("{} scrolls sideways at a phone's width: {sizes}; sticking out: {wide}", self.url().await);
        }
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// A Slack stand-in: its authorize page sends the browser straight back with a code, its
/// token endpoint answers for a workspace.
async fn fake_slack() -> String {
    #[derive(serde::Deserialize)]
    struct Authorize {
        redirect_uri: String,
        state: String,
    }
    async fn authorize(Query(q): Query<Authorize>) -> impl IntoResponse {
        let query = serde_urlencoded::to_string([("code", "good-code"), ("state", q.state.as_str())]).expect("query");
        Redirect::to(&format!("{}?{query}", q.redirect_uri))
    }
    async fn token(State(()): State<()>, body: String) -> axum::Json<Value> {
        let ok = body.contains("code=good-code") && body.contains("client_secret=slack-secret");
        axum::Json(if ok {
            json!({"ok": true, "access_token": "xoxb-browser-test", "token_type": "bot", "scope": "chat:write",
                   "bot_user_id": "U1", "app_id": "A1", "team": {"id": "T1", "name": "Acme Workspace"}})
        } else {
            json!({"ok": false, "error": "invalid_code"})
        })
    }
    let app = axum::Router::new().route("/authorize", get(authorize)).route("/token", post(token)).with_state(());
    crate::helpers::serve(app).await
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Creates something through the API with the admin key; its id.
async fn create(api: &reqwest::Client, url: &str, body: Value) -> String {
    let res = api.post(url).bearer_auth(KEY).json(&body).send().await.expect("post");
    assert_eq!(res.status().as_u16(), 201, "{url}");
    res.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()
}

/// A mention of the bot in a Slack channel, delivered to the integration's webhook as Slack
/// signs it.
async fn slack_event(api: &reqwest::Client, base: &str, integration: &str, event_id: &str, ts: &str, text: &str) {
    let body = json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": event_id, "event_time": 1,
                      "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR", "text": text,
                                "ts": ts, "event_ts": ts}})
    .to_string();
    let now = chrono::Utc::now().timestamp().to_string();
    let res = api
        .post(format!("{base}/webhooks/slack/{integration}"))
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", taskbridge::channels::slack::sign(SLACK_SECRET, &now, body.as_bytes()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status().as_u16(), 200, "the signed event is taken");
}

/// The first message the fake Slack was asked to post whose text starts with `start`.
async fn slack_said(seen: &crate::fakes::slack::Seen, start: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let posted = seen.lock().expect("lock").iter().find_map(|(method, _, body)| {
            (method == "chat.postMessage" && body["text"].as_str().is_some_and(|t| t.starts_with(start)))
                .then(|| body.clone())
        });
        if let Some(body) = posted {
            return body;
        }
        assert!(Instant::now() < deadline, "Slack was never told {start:?}: {:?}", seen.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads `url` with the admin key until `done` holds for its JSON (a form's effect, after the
/// browser sent it).
async fn until(api: &reqwest::Client, url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Value = api.get(url).bearer_auth(KEY).send().await.expect("get").json().await.expect("json");
        if done(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "{url} never got there: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_console_in_chromium() {
    let Some(driver) = Driver::start().await else { return };
    let slack = fake_slack().await;
    let dir = std::env::temp_dir().join(format!("taskbridge-browser-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (authorize, token) = (format!("{slack}/authorize"), format!("{slack}/token"));
    let mut app = crate::binary::start(
        &dir,
        &[
            ("TASKBRIDGE_API_KEY", KEY),
            ("TASKBRIDGE_LOG", "warn"),
            ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true"),
            ("TASKBRIDGE_OAUTH_SLACK_CLIENT_ID", "slack-client"),
            ("TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET", "slack-secret"),
            ("TASKBRIDGE_OAUTH_SLACK_AUTHORIZE_URL", &authorize),
            ("TASKBRIDGE_OAUTH_SLACK_TOKEN_URL", &token),
        ],
    );
    app.wait_healthy().await;
    let base = app.base.clone();
    let api = reqwest::Client::new();

    // Signing in: the address of the service leads to the sign-in page.
    driver.goto(&format!("{base}/")).await;
    driver.wait_url("/sign-in").await;
    driver.wait_text("Sign in to taskbridge").await;
    driver.screenshot("sign-in").await;
    // By keyboard alone: Tab to the key's field, type it, Enter.
    driver.tab_to("#key", 5).await;
    driver.keys(KEY).await;
    driver.keys(ENTER).await;
    driver.wait_url("/dashboard").await;
    driver.wait_text("Tasks by status").await;

    // A project.
    driver.goto(&format!("{base}/projects")).await;
    driver.fill("#f-name", "Website relaunch").await;
    driver.fill("#f-description", "The new public website, live before the spring campaign.").await;
    driver.fill("#f-deadline", "03/31/2027").await;
    driver.click("form[action='/projects'] button[type=submit]").await;
    driver.wait_text("Edit project").await;
    let project = driver.url().await.rsplit('/').next().expect("project id").to_string();
    let got: Value = api
        .get(format!("{base}/api/v1/projects/{project}"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (got["name"].as_str(), got["deadline"].as_str()),
        (Some("Website relaunch"), Some("2027-03-31")),
        "{got}"
    );

    // Tasks: one created with a hostile title, which stays text.
    driver.goto(&format!("{base}/tasks?project_id={project}")).await;
    for (title, priority) in [("Write the launch announcement", "medium"), ("Move DNS to the new host", "high")] {
        driver.fill("#f-title", title).await;
        driver.click(&format!("#f-priority option[value='{priority}']")).await;
        driver.click("form[method=post][action='/tasks'] button[type=submit]").await;
        driver.wait_text("Details").await;
        driver.goto(&format!("{base}/tasks?project_id={project}")).await;
    }
    driver.fill("#f-title", "<script>alert(1)</script> Fix the login form").await;
    driver.fill("#f-labels", "frontend, bug").await;
    driver.click("form[method=post][action='/tasks'] button[type=submit]").await;
    driver.wait_text("Details").await;
    driver.no_alert().await;
    let task = driver.url().await.rsplit('/').next().expect("task id").to_string();
    // Edited on its page.
    driver.fill("#f-assigned_to", "ana").await;
    driver.fill("#f-description", "Users with a long e-mail address cannot sign in.").await;
    driver.click(&format!("form[action='/tasks/{task}'] button[type=submit]")).await;
    driver.wait_text("value=\"ana\"").await;
    driver.fill("#f-content", "Reproduced on Firefox and Chromium.").await;
    driver.click(&format!("form[action='/tasks/{task}/comments'] button[type=submit]")).await;
    driver.wait_text("Reproduced on Firefox and Chromium.").await;
    driver.no_alert().await;
    driver.goto(&format!("{base}/tasks/{task}")).await;
    driver.wait_text("Reproduced on Firefox and Chromium.").await;
    driver.screenshot("task").await;
    driver.goto(&format!("{base}/tasks?project_id={project}")).await;
    driver.wait_text("Fix the login form").await;
    driver.no_alert().await;
    driver.screenshot("tasks").await;

    // Moved on the board, by keyboard: Tab to the task's button, Enter.
    driver.goto(&format!("{base}/board?project_id={project}")).await;
    driver.wait_text("In progress").await;
    driver.tab_to(&format!("form[action='/tasks/{task}/status'] button"), 40).await;
    driver.keys(ENTER).await;
    let got = until(&api, &format!("{base}/api/v1/tasks/{task}"), |t| t["status"] == "in_progress").await;
    assert_eq!(got["assigned_to"].as_str(), Some("ana"), "{got}");
    driver.wait_url("/board").await;
    driver.no_alert().await;
    driver.screenshot("board").await;

    // Requests. One arrives through Slack's signed webhook while the inbox is open and shows
    // up without a reload; a possible duplicate is compared and merged from its page by
    // keyboard, and Slack is told in the requester's thread.
    let (slack_api, slack_seen) = crate::fakes::slack::fake_slack().await;
    let slack_settings = json!({"api_base_url": format!("{slack_api}/api")});
    let slack_secrets = json!({"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test"});
    let web_chat = create(
        &api,
        &format!("{base}/api/v1/projects/{project}/integrations"),
        json!({"type": "slack", "name": "Web team chat", "settings": slack_settings, "secrets": slack_secrets}),
    )
    .await;
    slack_event(&api, &base, &web_chat, "Ev1", "1767225599.000100", "<@U0BOT> Translate the pricing page into German")
        .await;
    let listed = format!("{base}/api/v1/messages?project_id={project}");
    let german = until(&api, &listed, |l| l["items"][0]["status"] == "created").await["items"][0].clone();
    driver.goto(&format!("{base}/requests?project_id={project}")).await;
    driver.wait_text("Translate the pricing page into German").await;
    driver.script("window.stillTheSamePage = true").await;
    slack_event(
        &api,
        &base,
        &web_chat,
        "Ev2",
        "1767225700.000200",
        "<@U0BOT> Translate the pricing page into Japanese",
    )
    .await;
    let japanese = until(&api, &listed, |l| {
        l["items"].as_array().is_some_and(|i| i.len() == 2)
            && !["queued", "processing"].contains(&l["items"][0]["status"].as_str().unwrap_or("queued"))
    })
    .await["items"][0]
        .clone();
    assert_eq!(japanese["status"], "possible_duplicate", "{japanese}");
    let japanese_id = japanese["id"].as_str().expect("id").to_string();
    driver.wait_text("Translate the pricing page into Japanese").await;
    driver.wait_text("Compare and merge").await;
    assert_eq!(driver.script("return window.stillTheSamePage === true").await, true, "no reload: the feed brought it");
    driver.no_alert().await;
    driver.screenshot("requests").await;
    driver.click(&format!("tr[data-id='{japanese_id}'] td:last-child a[href='/requests/{japanese_id}']")).await;
    driver.wait_text("Tasks it may repeat").await;
    let german_task = german["task_id"].as_str().expect("task").to_string();
    driver.wait_text(&format!("value=\"{german_task}\" checked")).await;
    driver.screenshot("request-possible-duplicate").await;
    // M moves to the merge's choice (the best candidate, checked); Enter merges.
    driver.keys("m").await;
    let on_choice = "var e = document.activeElement; return e.name === 'task_id' ? e.value : null";
    assert_eq!(driver.script(on_choice).await, json!(german_task), "M moved to the merge's choice");
    driver.keys(ENTER).await;
    driver.wait_url("decided=1").await;
    driver.wait_text("Merged: the request was added to the task.").await;
    let said = slack_said(&slack_seen, "Added to “").await;
    assert_eq!(said["thread_ts"], "1767225700.000200", "in the requester's thread: {said}");
    assert!(said["text"].as_str().is_some_and(|t| t.contains(&german_task)), "{said}");

    // A project that triages: chosen on its form; a request waits there and is accepted with
    // an edited title from its page (A moves to the draft's title, Enter accepts).
    driver.goto(&format!("{base}/projects")).await;
    driver.fill("#f-name", "Support desk").await;
    driver.click("#f-intake_mode option[value='triage']").await;
    driver.click("form[action='/projects'] button[type=submit]").await;
    driver.wait_text("Edit project").await;
    let support = driver.url().await.rsplit('/').next().expect("project id").to_string();
    let got = until(&api, &format!("{base}/api/v1/projects/{support}"), |_| true).await;
    assert_eq!(got["intake_mode"], "triage", "{got}");
    create(&api, &format!("{base}/api/v1/tasks"), json!({"project_id": support, "title": "Fix the invoice export"}))
        .await;
    let support_chat = create(
        &api,
        &format!("{base}/api/v1/projects/{support}/integrations"),
        json!({"type": "slack", "name": "Support chat", "settings": {"api_base_url": format!("{slack_api}/api")},
               "secrets": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test"}}),
    )
    .await;
    slack_event(
        &api,
        &base,
        &support_chat,
        "Ev3",
        "1767225800.000300",
        "<@U0BOT> the invoice export fails for March, please fix it by Friday",
    )
    .await;
    let waiting = until(&api, &format!("{base}/api/v1/messages?project_id={support}&status=needs_triage"), |l| {
        l["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await["items"][0]
        .clone();
    let waiting_id = waiting["id"].as_str().expect("id").to_string();
    driver.goto(&format!("{base}/requests?status=needs_triage")).await;
    driver.click(&format!("a.button[href='/requests/{waiting_id}']")).await;
    driver.wait_text("Accept and create the task").await;
    driver.wait_text("Fix the invoice export").await;
    driver.no_alert().await;
    driver.screenshot("request-triage").await;
    driver.keys("a").await;
    assert_eq!(driver.script("return document.activeElement.id").await, "f-title", "A moved to the draft's title");
    driver.fill("#f-title", "Invoice export fails for March").await;
    driver.keys(ENTER).await;
    driver.wait_url("decided=1").await;
    driver.wait_text("Accepted: the task was created.").await;
    let accepted = until(&api, &format!("{base}/api/v1/messages/{waiting_id}"), |m| m["status"] == "created").await;
    let made =
        until(&api, &format!("{base}/api/v1/tasks/{}", accepted["task_id"].as_str().expect("task")), |_| true).await;
    assert_eq!(made["title"], "Invoice export fails for March", "{made}");
    let said = slack_said(&slack_seen, "Tracked as “Invoice export fails for March”").await;
    assert_eq!(said["thread_ts"], "1767225800.000300", "in the requester's thread: {said}");

    // Slack through OAuth: to the provider and back to the overview with the result.
    driver.goto(&format!("{base}/projects/{project}/integrations")).await;
    driver.click(&format!("form[action='/projects/{project}/integrations/connect/slack'] button")).await;
    driver.wait_url("status=success").await;
    driver.wait_text("Slack is connected").await;
    assert!(driver.source().await.contains("Acme Workspace"));
    driver.screenshot("overview-oauth-success").await;
    // A refused install explains itself.
    driver.goto(&format!("{base}/api/public/integrations/slack/callback?error=access_denied")).await;
    driver.wait_text("Connecting Slack failed.").await;
    assert!(driver.source().await.contains("cancelled or refused at Slack"));
    driver.screenshot("overview-oauth-error").await;

    // Taiga through its form; the password is never shown again.
    driver.goto(&format!("{base}/projects/{project}/integrations")).await;
    driver.click("details:has(#new-taiga-name) > summary").await;
    driver.fill("#new-taiga-name", "Taiga (web team)").await;
    driver.fill("#new-taiga-api_base_url", "https://taiga.example.org/api/v1").await;
    driver.fill("#new-taiga-username", "taskbridge-bot").await;
    driver.fill("#new-taiga-project_slug", "website").await;
    driver.fill("#new-taiga-password", TAIGA_PASSWORD).await;
    driver.click("details:has(#new-taiga-name) button[type=submit]").await;
    let source = driver.wait_text("Taiga (web team)").await;
    assert!(!source.contains(TAIGA_PASSWORD), "the secret is write-only");
    assert!(source.contains("<dt>Secrets set</dt><dd>password</dd>"), "{source}");
    driver.screenshot("integrations").await;

    // Disconnecting asks first: dismissed, nothing changes; accepted, the secrets are gone.
    let listed = until(&api, &format!("{base}/api/v1/projects/{project}/integrations"), |_| true).await;
    let taiga = listed["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["type"] == "taiga"))
        .and_then(|i| i["id"].as_str())
        .expect("the Taiga integration")
        .to_string();
    let taiga_url = format!("{base}/api/v1/projects/{project}/integrations/{taiga}");
    let form = format!("form[action='/projects/{project}/integrations/{taiga}");
    driver.click(&format!("{form}/disconnect'] button")).await;
    let question = driver.answer_confirm(false).await;
    assert!(question.starts_with("Disconnect Taiga (web team)?"), "{question}");
    let got = until(&api, &taiga_url, |_| true).await;
    assert_eq!((got["status"].as_str(), got["secrets_set"].clone()), (Some("active"), json!(["password"])), "{got}");
    driver.click(&format!("{form}/disconnect'] button")).await;
    driver.answer_confirm(true).await;
    until(&api, &taiga_url, |i| i["status"] == "revoked" && i["secrets_set"] == json!([])).await;
    driver.wait_text("pill revoked").await;
    // Deleting asks too; accepted, it is gone.
    driver.click(&format!("{form}/delete'] button")).await;
    let question = driver.answer_confirm(true).await;
    assert!(question.starts_with("Delete Taiga (web team)? This cannot be undone."), "{question}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.get(&taiga_url).bearer_auth(KEY).send().await.expect("get").status() != 404 {
        assert!(Instant::now() < deadline, "the integration was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver.wait_gone("Taiga (web team)").await;

    driver.goto(&format!("{base}/dashboard")).await;
    driver.wait_text("Tasks by status").await;
    driver.screenshot("overview").await;
    // Readable at a phone's width too: no page scrolls sideways.
    driver.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844}))).await;
    for (path, text) in [
        ("/dashboard".to_string(), "Tasks by status"),
        (format!("/board?project_id={project}"), "In progress"),
        (format!("/tasks?project_id={project}"), "New task"),
        (format!("/tasks/{task}"), "Comments"),
        ("/projects".to_string(), "Website relaunch"),
        (format!("/projects/{project}"), "Edit project"),
        (format!("/projects/{project}/integrations"), "Connect with a token"),
        ("/api-keys".to_string(), "New key"),
        ("/jobs".to_string(), "Filter jobs"),
        (format!("/requests?project_id={project}"), "Every request received"),
        (format!("/requests/{japanese_id}"), "Tasks it may repeat"),
        (format!("/requests/{waiting_id}"), "Tasks it may repeat"),
    ] {
        driver.goto(&format!("{base}{path}")).await;
        driver.wait_text(text).await;
        driver.fits_the_width().await;
        if path.starts_with("/board") {
            driver.screenshot("board-phone").await;
        }
    }
    driver.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": 1280, "height": 1000}))).await;

    // An API key: created, shown once, working, never shown again.
    driver.goto(&format!("{base}/api-keys")).await;
    driver.wait_text("bootstrap admin").await;
    driver.fill("#f-name", "CI pipeline").await;
    driver.click("#f-role option[value='member']").await;
    driver.click("form[action='/api-keys'] button[type=submit]").await;
    driver.wait_text("id=\"new-key\"").await;
    let new_key = driver.script("return document.getElementById('new-key').value").await;
    let new_key = new_key.as_str().expect("the new key").to_string();
    assert!(new_key.starts_with("tb_"), "{new_key}");
    driver.screenshot("api-keys").await;
    let me = api.get(format!("{base}/api/v1/me")).bearer_auth(&new_key).send().await.expect("me");
    assert_eq!(me.status().as_u16(), 200);
    assert_eq!(me.json::<Value>().await.expect("json")["role"], "member");
    driver.goto(&format!("{base}/api-keys")).await;
    let source = driver.wait_text("CI pipeline").await;
    assert!(!source.contains(&new_key), "shown once only");
    driver.goto(&format!("{base}/projects")).await;
    driver.wait_text("Website relaunch").await;
    driver.screenshot("projects").await;

    // Signing out: the pages are gone.
    driver.click("form[action='/sign-out'] button").await;
    driver.wait_url("/sign-in").await;
    driver.goto(&format!("{base}/tasks/{task}")).await;
    driver.wait_url("/sign-in").await;
    assert!(!driver.source().await.contains("Fix the login form"));

    driver.quit().await;
    assert!(app.terminate().success());
}

/// A webhook subscriber that refuses its first delivery for good (410) and takes the rest.
async fn refuses_once() -> String {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook = post(move || {
        let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        async move { if first { axum::http::StatusCode::GONE } else { axum::http::StatusCode::OK } }
    });
    crate::helpers::serve(axum::Router::new().route("/hook", hook)).await
}

/// The sync and jobs pages in Chromium: a Confluence task sync against the fake Atlassian
/// site started from the console and undone from its run page through the confirmation
/// (the pages are as before in the fake), and a delivery that was given up retried from the
/// jobs page until it is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_syncs_undoes_and_retries_in_chromium() {
    use crate::fakes::atlassian::{fake_site, macro_for, task, tasks};
    let Some(driver) = Driver::start().await else { return };
    let (site_url, site) = fake_site(|site| {
        site.add(
            "100",
            None,
            "Release plan",
            format!(
                "<p>{}</p>\n{}",
                macro_for("WP-1"),
                tasks(&[
                    task(1, "incomplete", "Write the release notes"),
                    task(2, "incomplete", "Draft the API FAIL"),
                    task(3, "incomplete", "   "),
                ])
            ),
        );
        site.add("101", Some("100"), "Checklist", tasks(&[task(1, "incomplete", "Book the room")]));
        site.work_package("WP-1", None);
    })
    .await;
    let dir = std::env::temp_dir().join(format!("taskbridge-browser-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut app = crate::binary::start(
        &dir,
        &[("TASKBRIDGE_API_KEY", KEY), ("TASKBRIDGE_LOG", "warn"), ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true")],
    );
    app.wait_healthy().await;
    let base = app.base.clone();
    let api = reqwest::Client::new();
    let project = create(&api, &format!("{base}/api/v1/projects"), json!({"name": "Release"})).await;
    for (kind, settings) in [
        ("jira", json!({"site_url": site_url, "email": "bot@acme.test", "project_key": "WP"})),
        ("confluence", json!({"site_url": site_url, "email": "bot@acme.test"})),
    ] {
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        create(&api, &format!("{base}/api/v1/projects/{project}/integrations"), body).await;
    }

    driver.goto(&format!("{base}/sign-in")).await;
    driver.fill("#key", KEY).await;
    driver.keys(ENTER).await;
    driver.wait_url("/dashboard").await;

    // A Confluence task sync, started from the sync page.
    driver.goto(&format!("{base}/sync")).await;
    driver.wait_text("Confluence tasks to Jira").await;
    driver.click(&format!("#f-project_id option[value='{project}']")).await;
    driver.fill("#f-confluence_page_urls", &format!("{site_url}/wiki/spaces/OPS/pages/100/Release+plan")).await;
    driver.fill("#f-request_user", "ana").await;
    driver.fill("#f-days_to_due_date", "7").await;
    driver.click("form[action='/sync/confluence-tasks'] button[type=submit]").await;
    driver.wait_url("/sync/runs/").await;
    let source = driver.wait_text("<span class=\"pill done\">done</span>").await;
    assert!(source.contains("Summary contains a forbidden word."), "the failure's error is shown");
    assert!(source.contains("Skipped</span> Empty Task"), "a skipped task says why");
    let run_url = driver.url().await;
    driver.screenshot("sync-run").await;
    {
        let s = site.lock().expect("lock");
        assert_eq!(s.creates, 2, "the notes and the room");
        for page in ["100", "101"] {
            assert_eq!(s.pages[page].versions.len(), 2, "page {page} rewritten");
        }
    }

    // Undone from its page, through the confirmation.
    driver.click("a.button[href$='/undo']").await;
    driver.wait_text("The undo puts back what the run changed:").await;
    let source = driver.source().await;
    assert!(source.contains("<code>100</code>: back to version 1, as before the run"), "{source}");
    driver.screenshot("sync-undo").await;
    driver.click("form[action$='/undo'] button.danger").await;
    driver.wait_url("undone=1").await;
    driver.wait_text("Undone: page restored to version 1; issue moved to Backlog").await;
    driver.screenshot("sync-undone").await;
    {
        let s = site.lock().expect("lock");
        for page in ["100", "101"] {
            let p = &s.pages[page];
            assert_eq!(p.versions.last().map(|v| &v.body), p.versions.first().map(|v| &v.body), "page {page} restored");
        }
        assert_eq!(s.issues.iter().filter(|i| i["fields"]["status"]["name"] == "Backlog").count(), 2);
    }
    driver.goto(&run_url).await;
    driver.wait_text("its undo run").await;
    driver.goto(&format!("{base}/sync")).await;
    driver.wait_text("2 success · 1 failed · 1 skipped").await;
    driver.screenshot("sync").await;

    // A webhook delivery given up, retried from the jobs page.
    let subscriber = refuses_once().await;
    // In a project of its own: the release project's tasks would also go to its Jira.
    let news = create(&api, &format!("{base}/api/v1/projects"), json!({"name": "News"})).await;
    create(
        &api,
        &format!("{base}/api/v1/projects/{news}/integrations"),
        json!({"type": "webhook", "name": "audit", "settings": {"url": format!("{subscriber}/hook")},
               "secrets": {"signing_secret": "whsec-browser"}}),
    )
    .await;
    create(&api, &format!("{base}/api/v1/tasks"), json!({"project_id": news, "title": "Announce the release"})).await;
    let dead = until(&api, &format!("{base}/api/v1/jobs?status=dead"), |l| {
        l["items"].as_array().is_some_and(|items| !items.is_empty())
    })
    .await;
    let job = dead["items"][0]["id"].as_str().expect("a dead job").to_string();
    driver.goto(&format!("{base}/jobs?status=dead")).await;
    driver.wait_text("the webhook receiver answered HTTP 410").await;
    driver.no_alert().await;
    driver.screenshot("jobs").await;
    driver.click(&format!("form[action='/jobs/{job}/retry'] button")).await;
    driver.wait_url("retried=").await;
    driver.wait_text("Queued again").await;
    let done = until(&api, &format!("{base}/api/v1/jobs?status=succeeded&limit=200"), |l| {
        l["items"].as_array().is_some_and(|items| items.iter().any(|j| j["id"] == job.as_str()))
    })
    .await;
    let retried = done["items"].as_array().and_then(|items| items.iter().find(|j| j["id"] == job.as_str()).cloned());
    assert_eq!(retried.map(|j| j["attempts"].clone()), Some(json!(1)), "made on its fresh first attempt");

    // Readable at a phone's width too.
    driver.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844}))).await;
    for (url, text) in [
        (format!("{base}/sync"), "Mirror a Jira project"),
        (run_url.clone(), "Journal"),
        (format!("{run_url}/undo"), "The undo puts back"),
        (format!("{base}/jobs"), "Waiting, running and given up"),
    ] {
        driver.goto(&url).await;
        driver.wait_text(text).await;
        driver.fits_the_width().await;
    }
    driver.quit().await;
    assert!(app.terminate().success());
}

/// The AI coordinator in Chromium (builtin model): an analysis of a project read with its
/// findings; a chat that proposes a change, approved from the conversation, the result
/// shown and made in the task. Then a task's tracker state on its page (its push to the
/// fake Taiga) undone from there. The pages at a phone's width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_asks_the_coordinator_and_approves_in_chromium() {
    let Some(driver) = Driver::start().await else { return };
    let dir = std::env::temp_dir().join(format!("taskbridge-browser-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut app = crate::binary::start(
        &dir,
        &[("TASKBRIDGE_API_KEY", KEY), ("TASKBRIDGE_LOG", "warn"), ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true")],
    );
    app.wait_healthy().await;
    let base = app.base.clone();
    let api = reqwest::Client::new();
    let project = create(&api, &format!("{base}/api/v1/projects"), json!({"name": "Website relaunch"})).await;
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(2)).to_string();
    let tasks = format!("{base}/api/v1/tasks");
    let login =
        create(&api, &tasks, json!({"project_id": project, "title": "Fix the login form", "priority": "high"})).await;
    create(
        &api,
        &tasks,
        json!({"project_id": project, "title": "Renew the TLS certificate", "assigned_to": "ana", "due_date": yesterday}),
    )
    .await;
    create(&api, &tasks, json!({"project_id": project, "title": "Write the launch post", "assigned_to": "cy"})).await;

    driver.goto(&format!("{base}/sign-in")).await;
    driver.fill("#key", KEY).await;
    driver.keys(ENTER).await;
    driver.wait_url("/dashboard").await;

    // An analysis of the project, read with its evidence and recommendations.
    driver.goto(&format!("{base}/coordinator")).await;
    driver.wait_text("Ask the coordinator").await;
    driver.click(&format!("#f-analyze-project option[value='{project}']")).await;
    driver.click("form[action='/coordinator/analyze'] button[type=submit]").await;
    driver.wait_url("/coordinator/analyses/").await;
    driver.wait_text("Analysis of Website relaunch").await;
    let source = driver.wait_text("past its due date").await;
    assert!(source.contains("High priority, nobody has it"), "{source}");
    driver.screenshot("coordinator-analysis").await;

    // A chat: a question answered from the tasks, then a change asked for and proposed.
    driver.goto(&format!("{base}/coordinator")).await;
    driver.fill("#f-message", "What is overdue?").await;
    driver.click(&format!("#f-chat-project option[value='{project}']")).await;
    driver.click("form.chat button[type=submit]").await;
    driver.wait_url("/coordinator/conversations/").await;
    driver.wait_text("Renew the TLS certificate</a>").await;
    driver
        .fill("#f-message", "assign Fix the login form to ana; set the priority of Write the launch post to high")
        .await;
    driver.click("form.chat button[type=submit]").await;
    driver.wait_text("→ <strong>ana</strong>").await;
    let conversation = driver.url().await;
    driver.no_alert().await;
    driver.screenshot("coordinator-chat").await;
    let pending = until(&api, &format!("{base}/api/v1/ai/actions?status=pending"), |l| {
        l["items"].as_array().is_some_and(|items| items.len() == 2)
    })
    .await;
    let assign = pending["items"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["kind"] == "assign"))
        .and_then(|a| a["id"].as_str())
        .expect("the assignment waits")
        .to_string();
    let task = until(&api, &format!("{base}/api/v1/tasks/{login}"), |_| true).await;
    assert_eq!(task["assigned_to"], Value::Null, "nothing changes before a person approves");

    // Approved from the conversation: carried out, the result shown.
    driver.click(&format!("form[action='/coordinator/actions/{assign}/approve'] button")).await;
    driver.wait_url("decided=1").await;
    driver.wait_text("Approved and carried out.").await;
    driver.wait_text("Approved by the API key").await;
    driver.screenshot("coordinator-action").await;
    until(&api, &format!("{base}/api/v1/tasks/{login}"), |t| t["assigned_to"] == "ana").await;
    driver.goto(&conversation).await;
    driver.wait_text("carried out").await;
    driver.goto(&format!("{base}/coordinator")).await;
    driver.wait_text("Decided lately").await;
    driver.screenshot("coordinator").await;

    // A task's changes in its tracker, on its page: pushed to the fake Taiga, then undone
    // from there through the run's confirmation.
    let (taiga, shared, _) = crate::fakes::taiga::fake_taiga(&[]).await;
    let ops = create(&api, &format!("{base}/api/v1/projects"), json!({"name": "Operations"})).await;
    create(&api, &format!("{base}/api/v1/projects/{ops}/integrations"), crate::fakes::taiga::taiga_integration(&taiga))
        .await;
    let task = create(&api, &tasks, json!({"project_id": ops, "title": "Brief the support team"})).await;
    let runs = format!("{base}/api/v1/sync-runs?task_id={task}&kind=tracker-push");
    let pushed = until(&api, &runs, |l| l["items"][0]["status"].as_str().is_some_and(|s| s != "running")).await;
    let push = pushed["items"][0]["id"].as_str().expect("the push").to_string();
    assert_eq!(shared.lock().expect("lock").tasks.len(), 1, "pushed to the fake Taiga");
    let task_url = format!("{base}/tasks/{task}");
    driver.goto(&task_url).await;
    driver.wait_text("Changes in trackers").await;
    driver.wait_text("Pushed to a tracker").await;
    driver.script("var h = document.getElementById('tracker-changes'); if (h) { h.scrollIntoView(); }").await;
    driver.screenshot("task-tracker-state").await;
    driver.click(&format!("a[href='/sync/runs/{push}/undo']")).await;
    driver.wait_text("The undo puts back what the run changed:").await;
    driver.click("form[action$='/undo'] button.danger").await;
    driver.wait_url("undone=1").await;
    driver.goto(&task_url).await;
    driver.wait_text(">undone</a>").await;

    driver.command(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844}))).await;
    for (url, text) in [
        (task_url.clone(), "Changes in trackers"),
        (format!("{base}/coordinator"), "Waiting for a decision"),
        (conversation.clone(), "Go on"),
        (format!("{base}/coordinator/actions/{assign}"), "Approved by"),
    ] {
        driver.goto(&url).await;
        driver.wait_text(text).await;
        driver.fits_the_width().await;
    }
    driver.quit().await;
    assert!(app.terminate().success());
}
