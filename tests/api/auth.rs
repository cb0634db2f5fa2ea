use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, both_backends};

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
