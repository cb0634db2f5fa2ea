use reqwest::{Method, StatusCode};
use serde_json::json;

use taskbridge::config::Config;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, TestDb, both_backends, each_backend, spawn_configured};

async fn a_key_is_required_and_checked(app: TestApp) {
    let res = app.request(Method::GET, "/api/v1/projects", None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.code(), "unauthorized");
    assert_eq!(res.headers["www-authenticate"], "Bearer");

    let res = app.request(Method::GET, "/api/v1/projects", Some("tb_not-a-real-key"), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.code(), "unauthorized");

    // Both ways of presenting a key work.
    let bearer = app.request(Method::GET, "/api/v1/projects", Some(&app.key), None).await;
    assert_eq!(bearer.status, StatusCode::OK);
    let header = app
        .raw()
        .get(format!("{}/api/v1/projects", app.base))
        .header("X-API-Key", &app.key)
        .send()
        .await
        .expect("sent");
    assert_eq!(header.status(), StatusCode::OK);
    // Another scheme is not a key.
    let basic = app
        .raw()
        .get(format!("{}/api/v1/projects", app.base))
        .header("Authorization", format!("Basic {}", app.key))
        .send()
        .await
        .expect("sent");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}
both_backends!(a_key_is_required_and_checked);

async fn keys_are_shown_once_and_can_be_revoked(app: TestApp) {
    let created = app.post("/api/v1/api-keys", json!({"name": "ci", "role": "member"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let member_key = created.body["api_key"].as_str().expect("key shown").to_string();
    assert_eq!(created.body["role"], "member");

    // Listing never shows a secret.
    let list = app.get("/api/v1/api-keys").await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|k| k.get("api_key").is_none() && k.get("key_hash").is_none()));
    assert!(!list.body.to_string().contains(&member_key));

    // A member works with data but cannot manage keys or tenants.
    let member = app.with_key(&member_key);
    assert_eq!(member.send(Method::GET, "/api/v1/projects", None).await.status, StatusCode::OK);
    let res = member.send(Method::POST, "/api/v1/api-keys", Some(json!({}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.code(), "forbidden");
    let res = member.send(Method::POST, "/api/v1/tenants", Some(json!({"name": "x"}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Revoked keys stop working at once.
    let res = app.delete(&format!("/api/v1/api-keys/{}", created.id())).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(member.send(Method::GET, "/api/v1/projects", None).await.status, StatusCode::UNAUTHORIZED);
    let res = app.delete(&format!("/api/v1/api-keys/{}", created.id())).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
both_backends!(keys_are_shown_once_and_can_be_revoked);

async fn the_last_admin_key_cannot_be_deleted(app: TestApp) {
    let list = app.get("/api/v1/api-keys").await;
    let own = list.body["items"][0]["id"].as_str().expect("id").to_string();
    let res = app.delete(&format!("/api/v1/api-keys/{own}")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.code(), "conflict");
    assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::OK);

    // With a second admin key the first may go.
    let second = app.post("/api/v1/api-keys", json!({"role": "admin"})).await;
    let second_key = second.body["api_key"].as_str().expect("key").to_string();
    let res = app.delete(&format!("/api/v1/api-keys/{own}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::UNAUTHORIZED);
    let res = app.with_key(&second_key).send(Method::GET, "/api/v1/projects", None).await;
    assert_eq!(res.status, StatusCode::OK);
}
both_backends!(the_last_admin_key_cannot_be_deleted);

async fn tenants_are_created_by_the_default_admin_only(app: TestApp) {
    let res = app.post("/api/v1/tenants", json!({"name": "Acme"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["name"], "Acme");
    let acme_key = res.body["api_key"].as_str().expect("first key").to_string();

    // The new tenant's admin manages its own keys but creates no tenants.
    let acme = app.with_key(&acme_key);
    let res = acme.send(Method::POST, "/api/v1/tenants", Some(json!({"name": "Other"}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = acme.send(Method::POST, "/api/v1/api-keys", Some(json!({"name": "bot"}))).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = acme.send(Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(res.body["items"].as_array().map(Vec::len), Some(2));

    let res = app.post("/api/v1/tenants", json!({"name": "  "})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(tenants_are_created_by_the_default_admin_only);

/// A key learns its tenant, its role and the project the aliases act on.
async fn a_key_knows_its_tenant_and_default_project(app: TestApp) {
    let me = app.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["tenant"]["id"], "00000000-0000-7000-8000-000000000001");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["key"]["role"], "admin");
    assert!(me.body["key"].get("api_key").is_none() && !me.body.to_string().contains(&app.key), "no secret");
    let default_project = me.body["default_project"]["id"].as_str().expect("default project").to_string();
    assert_eq!(me.body["default_project"]["name"], "Inbox");
    assert_eq!(app.get("/api/v1/me/").await.body, me.body, "asked again: the same project, not another");
    // It is the project the replaced systems' routes act on.
    let task = app.post("/taiga/create-task", json!({"title": "Where does this go?"})).await;
    assert_eq!(task.body["project_id"], default_project.as_str());

    let res = app.post("/api/v1/tenants", json!({"name": "Acme"})).await;
    let acme_id = res.body["id"].as_str().expect("tenant").to_string();
    let acme = app.with_key(res.body["api_key"].as_str().expect("key"));
    let member = acme.send(Method::POST, "/api/v1/api-keys", Some(json!({"name": "bot", "role": "member"}))).await;
    let member = app.with_key(member.body["api_key"].as_str().expect("key"));
    let theirs = member.send(Method::GET, "/api/v1/me", None).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert_eq!(
        (theirs.body["tenant"]["id"].as_str(), theirs.body["tenant"]["name"].as_str()),
        (Some(acme_id.as_str()), Some("Acme"))
    );
    assert_eq!((theirs.body["role"].as_str(), theirs.body["key"]["name"].as_str()), (Some("member"), Some("bot")));
    assert_ne!(theirs.body["default_project"]["id"], default_project.as_str(), "each tenant has its own");
    let acme_projects = acme.send(Method::GET, "/api/v1/projects", None).await.body;
    assert_eq!(acme_projects["items"][0]["id"], theirs.body["default_project"]["id"]);

    assert_eq!(app.request(Method::GET, "/api/v1/me", None, None).await.status, StatusCode::UNAUTHORIZED);
}
both_backends!(a_key_knows_its_tenant_and_default_project);

/// Two instances on one database: a key revoked through one stops working on the other,
/// although the other has just accepted it (and may keep recent callers in memory).
async fn a_revoked_key_stops_working_on_every_instance(backend: Backend) {
    let Some((db, url)) = TestDb::create(backend).await else { return };
    let first = spawn_configured(db, Config::for_tests(&url, ADMIN_KEY), backend).await;
    let second = spawn_configured(TestDb::Borrowed, Config::for_tests(&url, ADMIN_KEY), backend).await;
    let created = first.post("/api/v1/api-keys", json!({"name": "ci", "role": "member"})).await;
    let key = created.body["api_key"].as_str().expect("key shown").to_string();
    for _ in 0..20 {
        let res = second.with_key(&key).send(Method::GET, "/api/v1/projects", None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }

    let res = first.delete(&format!("/api/v1/api-keys/{}", created.id())).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(first.with_key(&key).send(Method::GET, "/api/v1/projects", None).await.status, StatusCode::UNAUTHORIZED);
    // The other instance hears of it within moments: well before any cached caller
    // would expire on PostgreSQL (30 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = second.with_key(&key).send(Method::GET, "/api/v1/projects", None).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(std::time::Instant::now() < deadline, "the revoked key still works on the second instance");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(second);
    first.stop().await;
}
each_backend!(a_revoked_key_stops_working_on_every_instance);
