//! The coordinator's analysis: a workspace seeded with known problems, and the analysis
//! finds exactly those, each with its evidence.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backdate, both_backends};

fn days_from_today(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

async fn analysis_finds_exactly_the_known_problems(app: TestApp) {
    let beta = app.post("/api/v1/projects", json!({"name": "Beta launch", "deadline": days_from_today(-2)})).await.id();
    let ops = app.project("ops").await;
    let id = |t: Value| t["id"].as_str().expect("id").to_string();
    let ship = id(app.task(&beta, json!({"title": "Ship the beta", "assigned_to": "cy"})).await);
    let cert = id(app
        .task(
            &ops,
            json!({"title": "Renew the certificate", "assigned_to": "ana",
                                       "due_date": days_from_today(-3)}),
        )
        .await);
    let migrate = id(app
        .task(&ops, json!({"title": "Migrate the database", "assigned_to": "cy", "status": "in_progress"}))
        .await);
    backdate(&app, &migrate, 10).await;
    let outage = id(app.task(&ops, json!({"title": "Fix the login outage", "priority": "high"})).await);
    let runbook = id(app
        .task(
            &ops,
            json!({"title": "Write the runbook", "assigned_to": "bo", "time_estimate": 60,
                                          "time_spent": 180}),
        )
        .await);
    app.task(&ops, json!({"title": "Tidy the wiki", "assigned_to": "bo", "due_date": days_from_today(5)})).await;
    let mut dee = Vec::new();
    for n in 0..7 {
        dee.push(id(app.task(&ops, json!({"title": format!("Review PR {n}"), "assigned_to": "dee"})).await));
    }
    // Done work is never a problem, however late it was.
    app.task(&ops, json!({"title": "Old release", "status": "done", "due_date": days_from_today(-30)})).await;

    let res = app.post("/api/v1/ai/analyze", json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let findings = res.body["findings"].as_array().expect("findings");
    let found: Vec<(&str, Vec<&str>)> = findings
        .iter()
        .map(|f| {
            let ids =
                f["task_ids"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            (f["kind"].as_str().unwrap_or_default(), ids)
        })
        .collect();
    let mut dee_ids: Vec<&str> = dee.iter().map(String::as_str).collect();
    let listed_dee = found.iter().find(|(k, _)| *k == "overloaded").map(|(_, ids)| ids.clone()).unwrap_or_default();
    dee_ids.sort_unstable();
    let mut listed_sorted = listed_dee.clone();
    listed_sorted.sort_unstable();
    assert_eq!(listed_sorted, dee_ids, "the overloaded finding lists dee's open tasks");
    let kinds: Vec<(&str, Vec<&str>)> =
        found.iter().map(|(k, ids)| (*k, if *k == "overloaded" { vec!["dee's"] } else { ids.clone() })).collect();
    assert_eq!(
        kinds,
        [
            ("overdue", vec![cert.as_str()]),
            ("stale", vec![migrate.as_str()]),
            ("overloaded", vec!["dee's"]),
            ("unassigned_high_priority", vec![outage.as_str()]),
            ("project_at_risk", vec![ship.as_str()]),
            ("over_estimate", vec![runbook.as_str()]),
        ],
        "{}",
        res.body
    );
    let by_kind = |kind: &str| findings.iter().find(|f| f["kind"] == kind).cloned().unwrap_or_default();
    assert_eq!(by_kind("overdue")["evidence"]["days_overdue"], 3);
    assert_eq!(by_kind("overdue")["assignee"], "ana");
    assert!(by_kind("stale")["evidence"]["days_since_update"].as_i64().is_some_and(|d| d >= 9));
    assert_eq!(by_kind("overloaded")["assignee"], "dee");
    assert_eq!(by_kind("overloaded")["evidence"]["open_tasks"], 7);
    assert_eq!(by_kind("project_at_risk")["project_id"], json!(beta));
    assert_eq!(by_kind("project_at_risk")["evidence"]["days_past_deadline"], 2);
    assert_eq!(by_kind("over_estimate")["evidence"]["ratio"], 3.0);
    assert!(findings.iter().all(|f| f["recommendation"].as_str().is_some_and(|r| !r.is_empty())));
    assert_eq!(res.body["tasks_analyzed"], 13);
    let summary = res.body["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("6 finding(s) across 13 open task(s)"), "{summary}");

    // One project: only its own problems.
    let scoped = app.post("/ai/analyze", json!({"project_id": beta})).await;
    assert_eq!(scoped.status, StatusCode::OK, "{}", scoped.body);
    let kinds: Vec<&str> =
        scoped.body["findings"].as_array().expect("findings").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, ["project_at_risk"]);
    assert_eq!(app.post("/api/v1/ai/analyze", json!({"project_id": "nope"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post("/api/v1/ai/analyze", json!({"scope": "all"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The latest analyses' follow-ups: proposed, nothing sent.
    let listed = app.get("/api/v1/ai/suggestions").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["analysis_id"], res.body["id"], "the workspace analysis, not the project one");
    let actions: Vec<&str> = listed.body["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert_eq!(actions, ["remind", "remind", "rebalance", "assign", "replan", "re_estimate"]);
    assert!(
        listed.body["suggestions"][0]["message"].as_str().is_some_and(|m| m.starts_with("@ana: ")),
        "{}",
        listed.body
    );
    let beta_only = app.get(&format!("/ai/suggestions?project_id={beta}")).await;
    assert_eq!(beta_only.body["analysis_id"], scoped.body["id"], "{}", beta_only.body);
    assert_eq!(beta_only.body["suggestions"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/api/v1/ai/suggestions?project_id=nope").await.status, StatusCode::NOT_FOUND);

    // Another tenant sees a workspace of its own: empty.
    let b_key =
        app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let other = app.with_key(&b_key).send(reqwest::Method::POST, "/api/v1/ai/analyze", Some(json!({}))).await;
    assert_eq!(other.body["findings"], json!([]), "{}", other.body);
    let missing =
        app.with_key(&b_key).send(reqwest::Method::POST, "/api/v1/ai/analyze", Some(json!({"project_id": beta}))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let theirs = app.with_key(&b_key).send(reqwest::Method::GET, "/api/v1/ai/suggestions", None).await;
    assert_eq!((theirs.status, theirs.body["suggestions"].clone()), (StatusCode::OK, json!([])), "{}", theirs.body);
}
both_backends!(analysis_finds_exactly_the_known_problems);
