//! The AI coordinator's pages: an analysis run from the console and read with its evidence
//! and recommendations; a chat kept turn by turn with its cited tasks linked; the actions
//! it proposes decided once from the page (a second decision is 409, naming who decided),
//! through the same service as the API. Every page is the tenant's alone, every form needs
//! the session's CSRF token, and whatever a person or a model wrote stays text.

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::llm::Provider;

use super::{Browser, Page, other_tenant};
use crate::helpers::{ADMIN_KEY, Backend, TestApp, both_backends, each_backend};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn days_from_today(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

/// The id at the end of a redirect to `prefix{id}` (a fragment or query cut off).
fn id_after(page: &Page, prefix: &str) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let rest = page.location().strip_prefix(prefix).unwrap_or_else(|| panic!("{} is not {prefix}…", page.location()));
    rest.split(['#', '?']).next().unwrap_or_default().to_string()
}

/// The tenant's actions in `status`, as the API lists them.
async fn actions(app: &TestApp, status: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/ai/actions?status={status}")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["items"].as_array().expect("items").clone()
}

async fn an_analysis_is_run_and_read_from_the_console(app: TestApp) {
    let ops = app.project("Ops").await;
    let late = id(&app
        .task(
            &ops,
            json!({"title": "Patch <b>the</b> proxy & co", "assigned_to": "ana", "due_date": days_from_today(-3)}),
        )
        .await);
    let nobody = id(&app.task(&ops, json!({"title": "Rotate the keys", "priority": "high"})).await);

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/coordinator").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<a href=\"/coordinator\" aria-current=\"page\">Coordinator</a>"), "{}", page.html);
    assert!(page.html.contains("No action waits for a decision."), "{}", page.html);
    assert!(page.html.contains(&format!("<option value=\"{ops}\">Ops</option>")), "{}", page.html);

    // Without the session's token nothing is analysed.
    let refused = browser.post("/coordinator/analyze", &[("project_id", ops.as_str())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let refused = browser.post("/coordinator/analyze", &[("csrf", "forged"), ("project_id", ops.as_str())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    let done = browser.submit("/coordinator", "/coordinator/analyze", &[("project_id", ops.as_str())]).await;
    let analysis = id_after(&done, "/coordinator/analyses/");
    let page = browser.get(done.location()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>Analysis of Ops</h1>"), "{}", page.html);
    // The same findings as the API's, with the figures behind them and what to do.
    let api = app.post("/api/v1/ai/analyze", json!({"project_id": ops})).await.body;
    let kinds: Vec<&str> =
        api["findings"].as_array().expect("findings").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, ["overdue", "unassigned_high_priority"], "{api}");
    assert!(page.html.contains("<span class=\"pill high\">Overdue</span>"), "{}", page.html);
    assert!(page.html.contains("High priority, nobody has it"), "{}", page.html);
    assert!(page.html.contains("<dt>days overdue</dt><dd>3</dd>"), "{}", page.html);
    // What a person wrote stays text, in the recommendation and in the task's link.
    assert!(
        page.html.contains("&quot;Patch &lt;b&gt;the&lt;/b&gt; proxy &amp; co&quot; is 3 day(s) past its due date"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!("<a href=\"/tasks/{late}\">Patch &lt;b&gt;the&lt;/b&gt; proxy &amp; co</a>")),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<b>the</b>"), "{}", page.html);
    assert!(page.html.contains(&format!("<a href=\"/tasks/{nobody}\">Rotate the keys</a>")), "{}", page.html);

    // The whole workspace; both are listed as earlier analyses.
    let whole = browser.submit("/coordinator", "/coordinator/analyze", &[("project_id", "")]).await;
    let workspace = id_after(&whole, "/coordinator/analyses/");
    let page = browser.get(whole.location()).await;
    assert!(page.html.contains("<h1>Analysis of the whole workspace</h1>"), "{}", page.html);
    let page = browser.get("/coordinator").await;
    assert!(page.html.contains(&format!("<a href=\"/coordinator/analyses/{analysis}\">Ops</a>")), "{}", page.html);
    assert!(
        page.html.contains(&format!("<a href=\"/coordinator/analyses/{workspace}\">The whole workspace</a>")),
        "{}",
        page.html
    );
    // A project that is not there is not found.
    let missing = browser.submit("/coordinator", "/coordinator/analyze", &[("project_id", "nope")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.html);
    assert_eq!(browser.get("/coordinator/analyses/nope").await.status, StatusCode::NOT_FOUND);

    // Another tenant can neither read these analyses nor analyse this project.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let theirs = stranger.get(&format!("/coordinator/analyses/{analysis}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.html);
    assert!(!theirs.html.contains("Patch"), "{}", theirs.html);
    let page = stranger.get("/coordinator").await;
    assert!(!page.html.contains(&analysis) && !page.html.contains(&workspace), "{}", page.html);
    let other = stranger.submit("/coordinator", "/coordinator/analyze", &[("project_id", ops.as_str())]).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.html);
    // Signed out, there is no page.
    assert_eq!(Browser::new(&app).get("/coordinator").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        Browser::new(&app).get(&format!("/coordinator/analyses/{analysis}")).await.status,
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(an_analysis_is_run_and_read_from_the_console);

async fn a_chat_proposes_actions_that_are_decided_once_from_the_page(app: TestApp) {
    let ops = app.project("Ops").await;
    let login = id(&app.task(&ops, json!({"title": "Fix login"})).await);
    app.task(&ops, json!({"title": "Renew the certificate"})).await;
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;

    // Asked from the coordinator's page: the conversation is kept and shown at its answer.
    let message = "mark Fix login as done\ncreate task <script>alert(\"owned\")</script> notes";
    let asked = browser
        .submit("/coordinator", "/coordinator/chat", &[("message", message), ("project_id", ops.as_str())])
        .await;
    let conversation = id_after(&asked, "/coordinator/conversations/");
    assert!(asked.location().ends_with("#latest"), "{}", asked.location());
    let page = browser.get(&format!("/coordinator/conversations/{conversation}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains(
            "mark Fix login as done\ncreate task &lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; notes"
        ),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<script>alert"), "{}", page.html);
    // The task the answer is about is linked to its page.
    assert!(page.html.contains(&format!("<li><a href=\"/tasks/{login}\">Fix login</a>")), "{}", page.html);
    // Both proposals wait, each saying what it would change.
    let pending = actions(&app, "pending").await;
    assert_eq!(pending.len(), 2, "{pending:?}");
    let of_kind = |kind: &str| {
        pending.iter().find(|a| a["kind"] == kind).map(id).unwrap_or_else(|| panic!("{kind}: {pending:?}"))
    };
    let (done, create) = (of_kind("set_status"), of_kind("create_task"));
    assert!(
        page.html.contains("<dt>Status</dt><dd><span class=\"was\">todo</span> → <strong>done</strong></dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<dt>Title</dt><dd><strong>&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; notes</strong>"),
        "{}",
        page.html
    );
    for action in [&done, &create] {
        assert!(page.html.contains(&format!("action=\"/coordinator/actions/{action}/approve\"")), "{}", page.html);
        assert!(page.html.contains(&format!("action=\"/coordinator/actions/{action}/reject\"")), "{}", page.html);
    }
    let listed = browser.get("/coordinator").await;
    assert!(listed.html.contains(&format!("href=\"/coordinator/actions/{done}\"")), "{}", listed.html);
    assert!(
        listed.html.contains(&format!("href=\"/coordinator/conversations/{conversation}\">mark Fix login as done</a>")),
        "{}",
        listed.html
    );

    // Without the session's token nothing is decided.
    let approve = format!("/coordinator/actions/{done}/approve");
    assert_eq!(browser.post(&approve, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.post(&approve, &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    // Another tenant finds neither the conversation nor the actions, and decides nothing.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert_eq!(stranger.get(&format!("/coordinator/conversations/{conversation}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("/coordinator/actions/{done}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.submit("/coordinator", &approve, &[]).await.status, StatusCode::NOT_FOUND);
    let reject = format!("/coordinator/actions/{done}/reject");
    assert_eq!(stranger.submit("/coordinator", &reject, &[]).await.status, StatusCode::NOT_FOUND);
    let theirs = stranger
        .submit(
            "/coordinator",
            "/coordinator/chat",
            &[("message", "what is overdue?"), ("conversation_id", conversation.as_str())],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.html);
    let page = stranger.get("/coordinator").await;
    assert!(
        page.html.contains("No action waits for a decision.") && !page.html.contains(&conversation),
        "{}",
        page.html
    );
    assert_eq!(actions(&app, "pending").await.len(), 2, "nothing was decided");
    assert_eq!(app.get(&format!("/api/v1/tasks/{login}")).await.body["status"], "todo");

    // Approved from the page: carried out, and the page shows by whom, when and the result.
    let decided = browser.submit(&format!("/coordinator/actions/{done}"), &approve, &[]).await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.html);
    assert_eq!(decided.location(), format!("/coordinator/actions/{done}?decided=1"));
    let page = browser.get(decided.location()).await;
    assert!(page.html.contains("Approved and carried out."), "{}", page.html);
    assert!(page.html.contains("Approved by the API key “bootstrap admin” at <time"), "{}", page.html);
    assert!(page.html.contains(&format!("Done: <a href=\"/tasks/{login}\">Fix login</a>")), "{}", page.html);
    assert!(!page.html.contains(&approve), "no second decision is offered: {}", page.html);
    assert_eq!(app.get(&format!("/api/v1/tasks/{login}")).await.body["status"], "done");

    // A second decision either way changes nothing: 409, with the first decision shown.
    for second in [&reject, &approve] {
        let again = browser.submit("/coordinator", second, &[]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
        assert!(
            again.html.contains("Nothing was changed.</strong> This action is already executed."),
            "{}",
            again.html
        );
        assert!(again.html.contains("Approved by the API key “bootstrap admin”"), "{}", again.html);
    }
    let api = app.post(&format!("/api/v1/ai/actions/{done}/reject"), json!({})).await;
    assert_eq!(api.status, StatusCode::CONFLICT, "the API answers the same: {}", api.body);

    // Rejected: nothing is made, and the page says who rejected it.
    let rejected = browser.submit("/coordinator", &format!("/coordinator/actions/{create}/reject"), &[]).await;
    let page = browser.get(rejected.location()).await;
    assert!(page.html.contains("Rejected: nothing changes."), "{}", page.html);
    assert!(page.html.contains("Rejected by the API key “bootstrap admin” at"), "{}", page.html);
    let again = browser.submit("/coordinator", &format!("/coordinator/actions/{create}/approve"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert!(again.html.contains("This action is already rejected."), "{}", again.html);
    let tasks = app.get(&format!("/api/v1/tasks?project_id={ops}")).await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(2), "no task was made: {tasks}");
    let page = browser.get("/coordinator").await;
    assert!(page.html.contains("No action waits for a decision."), "{}", page.html);
    assert!(page.html.contains("<h2 id=\"decided-h\">Decided lately</h2>"), "{}", page.html);

    // The conversation goes on; a message the service refuses is the form again, in its words.
    let more = browser
        .submit(
            &format!("/coordinator/conversations/{conversation}"),
            "/coordinator/chat",
            &[("message", "what is open?"), ("conversation_id", conversation.as_str()), ("project_id", "")],
        )
        .await;
    assert_eq!(id_after(&more, "/coordinator/conversations/"), conversation);
    let page = browser.get(&format!("/coordinator/conversations/{conversation}")).await;
    assert_eq!(page.html.matches("<li class=\"turn ").count(), 4, "{}", page.html);
    assert!(page.html.contains("<li class=\"turn assistant\" id=\"latest\">"), "{}", page.html);
    assert!(page.html.contains("carried out"), "the proposals show what became of them: {}", page.html);
    let empty = browser
        .submit("/coordinator", "/coordinator/chat", &[("message", "  "), ("conversation_id", conversation.as_str())])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.html);
    assert!(empty.html.contains("message: must not be empty"), "{}", empty.html);
    assert_eq!(browser.get("/coordinator/conversations/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/coordinator/actions/nope").await.status, StatusCode::NOT_FOUND);
}
both_backends!(a_chat_proposes_actions_that_are_decided_once_from_the_page);

/// What a model says and proposes is shown as text, never as markup, however it is worded.
async fn what_a_model_writes_stays_text(backend: Backend) {
    let (base, script) = crate::ai_model::fake_model().await;
    let Some(app) = crate::llm::with_provider(backend, Provider::Openai, &base).await else { return };
    let ops = app.project("Ops").await;
    let login = id(&app.task(&ops, json!({"title": "Fix login"})).await);
    script.then(crate::ai_model::openai_reply(
        Some(&format!("<img src=x onerror=alert(1)> The login fix [{login}] is stuck.")),
        &[("comment", json!({"task_id": login, "content": "<script>steal()</script> ping"}))],
    ));
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let asked = browser.submit("/coordinator", "/coordinator/chat", &[("message", "why is login stuck?")]).await;
    let conversation = id_after(&asked, "/coordinator/conversations/");
    let page = browser.get(&format!("/coordinator/conversations/{conversation}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("&lt;img src=x onerror=alert(1)&gt; The login fix"), "{}", page.html);
    assert!(
        page.html.contains("<blockquote class=\"said\">&lt;script&gt;steal()&lt;/script&gt; ping</blockquote>"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<img src=x") && !page.html.contains("<script>steal"), "{}", page.html);
    assert!(page.html.contains("proposed by the language model (openai)"), "{}", page.html);
    assert!(page.html.contains(&format!("<li><a href=\"/tasks/{login}\">Fix login</a>")), "{}", page.html);
    // The API reads the same conversation.
    let api = app.get(&format!("/api/v1/ai/conversations/{conversation}")).await;
    assert_eq!(api.body["turns"][1]["cited_task_ids"], json!([login]), "{}", api.body);
}
each_backend!(what_a_model_writes_stays_text);
