//! `GET /docs/api`: the OpenAPI document as a page for people, rendered by the server from
//! the same document `/openapi.json` serves: every operation and schema is on it, and it
//! loads nothing from anywhere (no script at all).

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, both_backends};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `text` as it reads inside HTML: what maud escapes.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn the_reference_page_shows_every_operation_and_schema_of_the_document(app: TestApp) {
    let doc = app.request(Method::GET, "/openapi.json", None, None).await.body;
    // No key: the reference is as public as the document it shows.
    let res = app.raw().get(format!("{}/docs/api", app.base)).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(header("content-type").starts_with("text/html"), "{}", header("content-type"));
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    let page = res.text().await.expect("page");

    // Nothing runs and nothing is fetched from elsewhere.
    assert!(!page.contains("<script"), "the page has a script");
    for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import"] {
        assert!(!page.contains(attribute), "the page loads something from elsewhere: {attribute}");
    }
    assert!(page.contains("href=\"/openapi.json\""), "the page links the document itself");

    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            operations += 1;
            let id = op["operationId"].as_str().expect("operationId");
            let at =
                page.find(&format!("id=\"op-{id}\"")).unwrap_or_else(|| panic!("{method} {path} ({id}) is missing"));
            // The operation's own article: from its anchor to the next one.
            let rest = &page[at..];
            let article = &rest[..rest[1..].find("<article").map_or(rest.len(), |n| n + 1)];
            assert!(article.contains(&method.to_uppercase()), "{id}: its method");
            assert!(article.contains(&escaped(path)), "{id}: its path");
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("name");
                assert!(article.contains(&format!("<code>{}</code>", escaped(name))), "{id}: parameter {name}");
            }
            for status in op["responses"].as_object().expect("responses").keys() {
                assert!(article.contains(&format!("<code>{status}</code>")), "{id}: answer {status}");
            }
            if let Some(summary) = op["summary"].as_str() {
                assert!(article.contains(&escaped(summary)), "{id}: summary");
            }
        }
    }
    assert!(operations > 50, "the document has the API's operations ({operations})");

    // Every schema has its section, and every link to one lands on it.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for (name, schema) in schemas {
        assert!(page.contains(&format!("id=\"schema-{name}\"")), "schema {name} is missing");
        for field in schema["properties"].as_object().into_iter().flatten().map(|(f, _)| f) {
            assert!(page.contains(&format!("<code>{}</code>", escaped(field))), "{name}.{field}");
        }
    }
    for link in page.split("href=\"#schema-").skip(1) {
        let name = link.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "a link to an unknown schema {name}");
    }
    // The document's words are escaped, never taken as markup.
    assert!(page.contains("Authorization: Bearer &lt;key&gt;"));

    // It is a page, not an API route: another method is refused in the API's own words.
    let res = app.request(Method::POST, "/docs/api", None, Some(serde_json::json!({}))).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.code(), "method_not_allowed");
}
both_backends!(the_reference_page_shows_every_operation_and_schema_of_the_document);
