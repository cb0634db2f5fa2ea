//! Chat with the coordinator (builtin provider): answers grounded in the workspace that
//! cite the tasks they use, and chat commands that only ever propose actions; an action
//! changes something only once a person approves it, and a rejected one never does.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends, execute_sql, set_time, titled};

fn days_from_today(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

async fn chat(app: &TestApp, body: Value) -> Value {
    let res = app.post("/api/v1/ai/chat", body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn chat_answers_from_the_workspace_and_cites_its_tasks(app: TestApp) {
    let beta = app.project("Beta launch").await;
    let ops = app.project("Operations").await;
    let login = app
        .task(&beta, json!({"title": "Fix login for the beta", "priority": "high", "labels": ["blocker"]}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let copy =
        app.task(&beta, json!({"title": "Beta landing page copy", "priority": "low", "assigned_to": "cy"})).await["id"]
            .as_str()
            .expect("id")
            .to_string();
    let cert = app
        .task(&ops, json!({"title": "Renew the certificate", "assigned_to": "Ana", "due_date": days_from_today(0)}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.task(&ops, json!({"title": "Plan the offsite", "assigned_to": "Ana", "due_date": days_from_today(40)})).await;

    let week = chat(&app, json!({"message": "What does Ana have this week?"})).await;
    assert_eq!(ids(&week["cited_task_ids"]), std::slice::from_ref(&cert), "{week}");
    let answer = week["answer"].as_str().expect("answer");
    assert!(answer.contains("Renew the certificate") && answer.contains(&cert), "{answer}");
    assert!(!answer.contains("offsite"), "{answer}");
    assert_eq!(week["actions"], json!([]));
    assert_eq!(week["answered_by"], "builtin");

    // The same conversation continues; blocked and high-priority work comes first.
    let conversation = week["conversation_id"].as_str().expect("conversation").to_string();
    let blocking = chat(&app, json!({"message": "What is blocking the beta?", "conversation_id": conversation})).await;
    assert_eq!(blocking["conversation_id"], json!(conversation));
    assert_eq!(ids(&blocking["cited_task_ids"]), [login.clone(), copy.clone()], "{blocking}");

    // A comment is part of what a task is about.
    app.post("/api/v1/comments", json!({"task_id": cert, "content": "the vendor portal needs a new CSR"})).await;
    let csr = chat(&app, json!({"message": "anything on the vendor portal"})).await;
    assert_eq!(ids(&csr["cited_task_ids"]), std::slice::from_ref(&cert), "{csr}");

    let kept = app.get(&format!("/api/v1/ai/conversations/{conversation}")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let turns = kept.body["turns"].as_array().expect("turns");
    let roles: Vec<&str> = turns.iter().filter_map(|t| t["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(turns[2]["content"], "What is blocking the beta?");
    assert_eq!(ids(&turns[3]["cited_task_ids"]), [login, copy]);

    // Scoped to a project: only its tasks.
    let scoped = chat(&app, json!({"message": "what does Ana have this week?", "project_id": beta})).await;
    assert_eq!(scoped["cited_task_ids"], json!([]), "{scoped}");

    // Bad input changes nothing and says why.
    for body in [json!({}), json!({"message": "  "}), json!({"message": "hi", "tone": "friendly"})] {
        let res = app.post("/api/v1/ai/chat", body.clone()).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{body}");
    }
    let res = app.post("/ai/chat", json!({"message": "hi", "conversation_id": "nope"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(
        app.post("/ai/chat", json!({"message": "hi", "project_id": "nope"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/v1/ai/conversations/nope").await.status, StatusCode::NOT_FOUND);

    // Another tenant cannot read or continue the conversation.
    let b = app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let theirs = app.with_key(&b).send(Method::GET, &format!("/api/v1/ai/conversations/{conversation}"), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let cont = app
        .with_key(&b)
        .send(Method::POST, "/api/v1/ai/chat", Some(json!({"message": "hi", "conversation_id": conversation})))
        .await;
    assert_eq!(cont.status, StatusCode::NOT_FOUND);
}
both_backends!(chat_answers_from_the_workspace_and_cites_its_tasks);

/// Puts an executed action back as a worker that died just before recording its outcome
/// would have left it, lets the job run again, and answers the action once it is settled.
async fn run_again_after_a_crash(app: &TestApp, action: &str) -> Value {
    execute_sql(app, "UPDATE ai_actions SET status = 'approved', result = NULL WHERE id = $1", &[action]).await;
    let key = format!("ai-action:{action}");
    let requeued = execute_sql(
        app,
        "UPDATE jobs SET status = 'queued', lease_token = NULL, locked_until = NULL WHERE idempotency_key = $1",
        &[&key],
    )
    .await;
    assert_eq!(requeued, 1);
    let mut again = Value::Null;
    for _ in 0..400 {
        again = app.get(&format!("/api/v1/ai/actions/{action}")).await.body;
        if again["status"] != "approved" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    again
}

async fn chat_commands_propose_actions_that_wait_for_approval(app: TestApp) {
    let ops = app.project("Operations").await;
    let task = |v: Value| v["id"].as_str().expect("id").to_string();
    let login = task(app.task(&ops, json!({"title": "Fix login"})).await);
    let cert = task(app.task(&ops, json!({"title": "Renew the certificate"})).await);
    let gone = task(app.task(&ops, json!({"title": "Old chore"})).await);

    let message = format!(
        "assign \"Fix login\" to @ana\nmark Renew the certificate as done\ncreate task Write the release notes\n\
         comment on Fix login: SSO is ready; set the priority of {gone} to high\nmark Nothing like this as done"
    );
    let proposed = chat(&app, json!({"message": message, "project_id": ops})).await;
    let actions = ids(&proposed["actions"]);
    assert_eq!(actions.len(), 5, "{proposed}");
    let kinds: Vec<&str> =
        proposed["proposed"].as_array().expect("proposed").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(kinds, ["assign", "set_status", "create_task", "comment", "set_priority"]);
    assert!(proposed["proposed"].as_array().expect("proposed").iter().all(|a| a["status"] == "pending"));
    assert_eq!(proposed["proposed"][0]["params"], json!({"task_id": login, "assigned_to": "ana"}));
    assert_eq!(proposed["proposed"][0]["proposed_by"], "builtin");
    let answer = proposed["answer"].as_str().expect("answer");
    assert!(answer.contains("no open task is titled \"Nothing like this\""), "{answer}");
    let (assign, done, create, comment, priority) = (&actions[0], &actions[1], &actions[2], &actions[3], &actions[4]);

    // Nothing has changed yet.
    let fix = app.get(&format!("/api/v1/tasks/{login}")).await.body;
    assert_eq!(fix["assigned_to"], Value::Null);
    assert_eq!(app.get(&format!("/api/v1/tasks/{cert}")).await.body["status"], "todo");
    let pending = app.get("/api/v1/ai/actions?status=pending").await;
    assert_eq!(pending.status, StatusCode::OK, "{}", pending.body);
    assert_eq!(pending.body["items"].as_array().map(Vec::len), Some(5));
    let page = app.get("/ai/actions?limit=2").await.body;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let next = page["next_cursor"].as_str().expect("cursor");
    let rest = app.get(&format!("/ai/actions?limit=2&cursor={next}")).await.body;
    assert_eq!(rest["items"][0]["id"], json!(create), "newest first: {rest}");

    // Rejection changes nothing, and a decision is made once.
    let rejected = app.post(&format!("/api/v1/ai/actions/{done}/reject"), json!({})).await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    assert!(rejected.body["decided_by"].as_str().is_some_and(|d| d.starts_with("key:")), "{}", rejected.body);
    for verb in ["approve", "reject"] {
        let again = app.post(&format!("/api/v1/ai/actions/{done}/{verb}"), json!({})).await;
        assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "conflict"), "{}", again.body);
    }
    assert_eq!(app.get(&format!("/api/v1/tasks/{cert}")).await.body["status"], "todo");

    // Approval carries the action out through the normal paths and records who decided.
    let approved = app.post(&format!("/api/v1/ai/actions/{assign}/approve"), json!({})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["status"], "executed", "{}", approved.body);
    assert_eq!(approved.body["decided_by"], rejected.body["decided_by"]);
    assert_eq!(approved.body["result"]["task"]["assigned_to"], "ana");
    assert_eq!(app.get(&format!("/api/v1/tasks/{login}")).await.body["assigned_to"], "ana");

    let created = app.post(&format!("/api/v1/ai/actions/{create}/approve"), json!({})).await;
    assert_eq!(created.body["status"], "executed", "{}", created.body);
    let new_task = created.body["result"]["task"]["id"].as_str().expect("new task").to_string();
    let fetched = app.get(&format!("/api/v1/tasks/{new_task}")).await.body;
    assert_eq!(
        (fetched["title"].as_str(), fetched["project_id"].as_str()),
        (Some("Write the release notes"), Some(ops.as_str()))
    );

    // A worker that died after creating the task but before recording the outcome: the
    // job runs again and finds the task instead of creating a second one.
    let again = run_again_after_a_crash(&app, create).await;
    assert_eq!(again["status"], "executed", "{again}");
    assert_eq!(again["result"]["task"]["id"], json!(new_task));
    assert_eq!(titled(&app, &ops, "Write the release notes").await, 1);

    let commented = app.post(&format!("/api/v1/ai/actions/{comment}/approve"), json!({})).await;
    assert_eq!(commented.body["status"], "executed", "{}", commented.body);
    let comments = app.get(&format!("/api/v1/comments?task_id={login}")).await.body;
    assert_eq!(comments["items"][0]["content"], "SSO is ready", "{comments}");
    assert_eq!(comments["items"][0]["author"], "taskbridge AI");
    // The same for a comment: written once however often its job runs.
    assert_eq!(run_again_after_a_crash(&app, comment).await["status"], "executed");
    let comments = app.get(&format!("/api/v1/comments?task_id={login}")).await.body;
    assert_eq!(comments["items"].as_array().map(Vec::len), Some(1), "{comments}");

    // Its task deleted in between: the approved action fails and says why.
    assert_eq!(app.delete(&format!("/api/v1/tasks/{gone}")).await.status, StatusCode::NO_CONTENT);
    let failed = app.post(&format!("/api/v1/ai/actions/{priority}/approve"), json!({})).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.body);
    assert!(failed.body["error"].as_str().is_some_and(|e| e.contains("no longer exists")), "{}", failed.body);

    let listed = app.get("/api/v1/ai/actions?status=executed").await.body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3), "{listed}");
    let res = app.get("/api/v1/ai/actions?status=maybe").await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{}", res.body);
    assert_eq!(app.post("/api/v1/ai/actions/nope/approve", json!({})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/ai/actions/{assign}")).await.body["status"], "executed");

    // Another tenant can neither see nor decide this tenant's actions.
    let b = app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let pending_id = {
        let again = chat(&app, json!({"message": "close Fix login", "project_id": ops})).await;
        ids(&again["actions"]).remove(0)
    };
    let foreign = app.with_key(&b).send(Method::POST, &format!("/api/v1/ai/actions/{pending_id}/approve"), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let theirs = app.with_key(&b).send(Method::GET, "/api/v1/ai/actions", None).await;
    assert_eq!(theirs.body["items"], json!([]));
    assert_eq!(app.get(&format!("/api/v1/tasks/{login}")).await.body["status"], "todo");
}
both_backends!(chat_commands_propose_actions_that_wait_for_approval);

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn answer_of(v: &Value) -> &str {
    v["answer"].as_str().expect("answer")
}

/// Everyday questions read without a model: a person's plate, load, time and changes, and
/// "I don't know" rather than a wrong reading.
async fn chat_understands_everyday_questions_without_a_model(app: TestApp) {
    let ops = app.project("Operations").await;
    let id = |v: Value| v["id"].as_str().expect("id").to_string();
    // Ana has twelve open tasks, two of them overdue, and one done; Bob and Cy two each.
    let mut ana = Vec::new();
    for (i, topic) in ["contract", "invoice", "audit", "roadmap", "hiring", "budget", "offsite", "vendor", "report"]
        .iter()
        .chain(&["training", "backup", "license"])
        .enumerate()
    {
        let due = match i {
            0 | 1 => Some(days_from_today(-3)),
            2 => Some(days_from_today(20)),
            _ => None,
        };
        ana.push(id(app
            .task(&ops, json!({"title": format!("Review the {topic}"), "assigned_to": "Ana", "due_date": due}))
            .await));
    }
    let overdue = sorted(ana[..2].to_vec());
    app.task(&ops, json!({"title": "Old Ana chore", "assigned_to": "Ana", "status": "done"})).await;
    let bob = vec![
        id(app.task(&ops, json!({"title": "Patch the servers", "assigned_to": "bob"})).await),
        id(app.task(&ops, json!({"title": "Rotate the keys", "assigned_to": "bob"})).await),
    ];
    for title in ["Plan the party", "Order laptops"] {
        app.task(&ops, json!({"title": title, "assigned_to": "cy"})).await;
    }

    // The issue's own example: Ana's open tasks, all of them, cited, and no "plate" anywhere.
    for question in
        ["What does ana have on her plate?", "what is @Ana working on", "ana's tasks", "show me tasks for Ana"]
    {
        let plate = chat(&app, json!({"message": question})).await;
        assert_eq!(sorted(ids(&plate["cited_task_ids"])), sorted(ana.clone()), "{question}: {plate}");
        let answer = answer_of(&plate);
        assert!(answer.starts_with("Open tasks assigned to Ana (12):"), "{question}: {answer}");
        assert!(!answer.contains("plate") && !answer.contains("past their due date"), "{answer}");
        assert!(!answer.contains("Old Ana chore") && !answer.contains("Patch the servers"), "{answer}");
        assert_eq!(plate["actions"], json!([]));
    }
    // A person and a time together.
    let late = chat(&app, json!({"message": "ana's overdue tasks"})).await;
    assert_eq!(sorted(ids(&late["cited_task_ids"])), overdue, "{late}");

    // A pronoun in the same conversation refers to the person named before.
    let conversation = late["conversation_id"].as_str().expect("conversation").to_string();
    let hers =
        chat(&app, json!({"message": "and what is due in 3 weeks for her?", "conversation_id": conversation})).await;
    assert_eq!(sorted(ids(&hers["cited_task_ids"])), sorted(ana[..3].to_vec()), "{hers}");

    // Load: Ana carries six times the team's median.
    let load = chat(&app, json!({"message": "Who has too much work?"})).await;
    let answer = answer_of(&load);
    assert!(answer.starts_with("Ana has 12 open tasks against a team median of 2"), "{answer}");
    assert!(answer.contains("Open tasks per person: Ana 12, bob 2, cy 2."), "{answer}");
    assert_eq!(sorted(ids(&load["cited_task_ids"])), sorted(ana.clone()), "{load}");
    let busy = chat(&app, json!({"message": "how busy is bob?"})).await;
    assert!(answer_of(&busy).starts_with("bob has 2 open task(s) against a team median of 2: not too much."), "{busy}");
    assert_eq!(sorted(ids(&busy["cited_task_ids"])), sorted(bob.clone()), "{busy}");

    // Changes: everything so far is three days old; then one task moves, one is done and
    // one is new.
    let old = chrono::Utc::now() - chrono::Duration::days(3);
    let listed = app.get("/api/v1/tasks?limit=200").await.body;
    for task in listed["items"].as_array().expect("items") {
        let task_id = task["id"].as_str().expect("id");
        set_time(&app, "tasks", "updated_at", task_id, old).await;
        set_time(&app, "tasks", "created_at", task_id, old).await;
    }
    let moved = app.patch(&format!("/api/v1/tasks/{}", ana[5]), json!({"status": "in_progress"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let closed = app.patch(&format!("/api/v1/tasks/{}", bob[0]), json!({"status": "done"})).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let new = id(app.task(&ops, json!({"title": "Write the changelog", "assigned_to": "cy"})).await);
    let changes = chat(&app, json!({"message": "What changed since yesterday?"})).await;
    assert_eq!(
        sorted(ids(&changes["cited_task_ids"])),
        sorted(vec![ana[5].clone(), bob[0].clone(), new.clone()]),
        "{changes}"
    );
    let answer = answer_of(&changes);
    assert!(answer.starts_with("Tasks changed since "), "{answer}");
    assert!(answer.contains("Write the changelog") && answer.contains("now done"), "{answer}");
    let created = chat(&app, json!({"message": "what was created since yesterday"})).await;
    assert_eq!(ids(&created["cited_task_ids"]), [new], "{created}");
    let done = chat(&app, json!({"message": "what got done yesterday?"})).await;
    assert_eq!(ids(&done["cited_task_ids"]), [bob[0].clone()], "{done}");

    // Not understood: said so, with questions that work, and nothing cited.
    for question in ["What is the airspeed velocity of an unladen swallow?", "hello", "what is dave working on?"] {
        let lost = chat(&app, json!({"message": question})).await;
        let answer = answer_of(&lost);
        assert!(answer.starts_with("I don't know how to answer that yet"), "{question}: {answer}");
        assert!(
            answer.contains("Who has too much work?") && answer.contains("What changed since yesterday?"),
            "{answer}"
        );
        assert_eq!(lost["cited_task_ids"], json!([]), "{question}: {lost}");
        assert_eq!(lost["actions"], json!([]));
    }
    let dave = chat(&app, json!({"message": "what is dave working on?"})).await;
    assert!(
        answer_of(&dave).contains("nobody called \"dave\" has tasks here (people with tasks: Ana, bob, cy)"),
        "{dave}"
    );
}
both_backends!(chat_understands_everyday_questions_without_a_model);
