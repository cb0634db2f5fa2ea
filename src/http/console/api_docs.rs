//! The API reference as a page, `GET /docs/api`: the document `/openapi.json` serves,
//! rendered on the server for people to read (operations by tag with their parameters,
//! bodies and answers; then every schema). No script, nothing fetched from elsewhere.

use std::sync::LazyLock;

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::assets;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The page, rendered once: the document is fixed when the binary is built.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let doc = serde_json::to_value(crate::http::openapi_document()).unwrap_or(Value::Null);
    render(&doc).into_string()
});

pub async fn page() -> Response {
    Html(PAGE.as_str()).into_response()
}

/// One operation of the document.
struct Operation<'a> {
    path: &'a str,
    method: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        match self.op["operationId"].as_str() {
            Some(id) => format!("op-{id}"),
            None => format!("op-{}-{}", self.method, slug(self.path)),
        }
    }

    /// The operation's summary, else its id in words (`list_tasks`: "list tasks").
    fn title(&self) -> String {
        match self.op["summary"].as_str() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => self.op["operationId"].as_str().unwrap_or_default().replace('_', " "),
        }
    }

    fn public(&self) -> bool {
        self.op
            .get("security")
            .is_some_and(|s| s.as_array().is_some_and(|a| a.iter().any(|r| r == &serde_json::json!({}))))
    }
}

fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The operations of one tag.
struct Group<'a> {
    tag: String,
    description: Option<String>,
    operations: Vec<Operation<'a>>,
}

/// The operations grouped by their first tag: the tags in the document's order, then those
/// it does not list (and untagged ones, as "other"), then the replaced systems' aliases.
fn by_tag(doc: &Value) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(Group {
                tag: t["name"].as_str()?.to_string(),
                description: t["description"].as_str().map(str::to_string),
                operations: Vec::new(),
            })
        })
        .collect();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let tag = op["tags"][0].as_str().unwrap_or("other");
                let index = match groups.iter().position(|g| g.tag == tag) {
                    Some(i) => i,
                    None => {
                        groups.push(Group { tag: tag.to_string(), description: None, operations: Vec::new() });
                        groups.len() - 1
                    }
                };
                groups[index].operations.push(Operation { path, method, op });
            }
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    // The replaced systems' aliases come last, after the tags the document does not list.
    if let Some(i) = groups.iter().position(|g| g.tag == "legacy") {
        let legacy = groups.remove(i);
        groups.push(legacy);
    }
    groups
}

fn render(doc: &Value) -> Markup {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let version = doc["info"]["version"].as_str().unwrap_or_default();
    let groups = by_tag(doc);
    let schemas = doc["components"]["schemas"].as_object();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "API reference · " (title) }
                link rel="stylesheet" href=(assets::url("console.css"));
            }
            body.api-docs {
                a.skip href="#main" { "Skip to content" }
                header.top { a.brand href="/dashboard" { (title) } }
                main id="main" {
                    h1 { "API reference" }
                    p { (title) " " (version) ", OpenAPI " (doc["openapi"].as_str().unwrap_or_default())
                        ". The same document as JSON: " a href="/openapi.json" { code { "/openapi.json" } } "." }
                    @if let Some(description) = doc["info"]["description"].as_str() { p { (description) } }
                    p { "Send the API key as " code { "Authorization: Bearer <key>" } " or " code { "X-API-Key: <key>" }
                        " on every operation not marked " em { "no key" } ". Errors answer "
                        code { "{\"error\": {\"code\", \"message\"}}" } "; lists answer "
                        code { "{\"items\": [...], \"next_cursor\"}" } "." }
                    nav.api-toc aria-label="Operations" {
                        h2 { "Contents" }
                        ul {
                            @for group in &groups {
                                li {
                                    a href=(format!("#tag-{}", slug(&group.tag))) { (group.tag) }
                                    " (" (group.operations.len()) ")"
                                }
                            }
                            @if schemas.is_some() { li { a href="#schemas" { "Schemas" } } }
                        }
                    }
                    @for group in &groups {
                        section id=(format!("tag-{}", slug(&group.tag))) {
                            h2 { (group.tag) }
                            @if let Some(d) = &group.description { p { (d) } }
                            @for op in &group.operations { (operation(op)) }
                        }
                    }
                    @if let Some(schemas) = schemas {
                        section id="schemas" {
                            h2 { "Schemas" }
                            @for (name, schema) in schemas { (named_schema(name, schema)) }
                        }
                    }
                }
            }
        }
    }
}

fn operation(op: &Operation<'_>) -> Markup {
    let parameters = op.op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        article.api-op id=(op.anchor()) {
            h3 {
                span.api-method { (op.method.to_uppercase()) } " " code { (op.path) }
            }
            p.api-title {
                (op.title())
                @if op.public() { " · " em { "no key" } }
            }
            @if let Some(d) = op.op["description"].as_str() { p { (d) } }
            @if !parameters.is_empty() {
                h4 { "Parameters" }
                table {
                    thead { tr { th { "name" } th { "in" } th { "type" } th { "required" } th { "description" } } }
                    tbody {
                        @for p in parameters {
                            tr {
                                td { code { (p["name"].as_str().unwrap_or_default()) } }
                                td { (p["in"].as_str().unwrap_or_default()) }
                                td { (type_of(&p["schema"])) }
                                td { @if p["required"].as_bool() == Some(true) { "yes" } @else { "no" } }
                                td { (p["description"].as_str().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            @if let Some(body) = op.op.get("requestBody") {
                h4 { "Request body" @if body["required"].as_bool() != Some(true) { " (optional)" } }
                @if let Some(d) = body["description"].as_str() { p { (d) } }
                (content(&body["content"]))
            }
            h4 { "Responses" }
            dl.api-responses {
                @if let Some(responses) = op.op["responses"].as_object() {
                    @for (status, response) in responses {
                        dt { code { (status) } }
                        dd {
                            @if let Some(d) = response["description"].as_str().filter(|d| !d.is_empty()) {
                                (d) " "
                            }
                            (content(&response["content"]))
                        }
                    }
                }
            }
        }
    }
}

/// A body's media types and their schemas.
fn content(content: &Value) -> Markup {
    html! {
        @if let Some(media) = content.as_object() {
            @for (kind, m) in media {
                span.api-media { code { (kind) } ": " (type_of(&m["schema"])) " " }
            }
        }
    }
}

/// A schema in a few words, its references linked to their schemas.
fn type_of(schema: &Value) -> Markup {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return html! { a href=(format!("#schema-{name}")) { (name) } };
    }
    for (key, word) in [("oneOf", "one of"), ("anyOf", "any of"), ("allOf", "all of")] {
        if let Some(options) = schema[key].as_array() {
            return html! {
                (word) " "
                @for (i, option) in options.iter().enumerate() {
                    @if i > 0 { " | " }
                    (type_of(option))
                }
            };
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return html! {
            @for (i, v) in values.iter().enumerate() {
                @if i > 0 { " | " }
                code { (v) }
            }
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let nullable = types.contains(&"null");
    let main: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
    html! {
        @if main == ["array"] {
            "array of " (type_of(&schema["items"]))
        } @else if main == ["object"] && schema["properties"].is_object() {
            "object {"
            @for (i, (name, _)) in schema["properties"].as_object().into_iter().flatten().enumerate() {
                @if i > 0 { ", " }
                code { (name) }
            }
            "}"
        } @else if main.is_empty() {
            "any"
        } @else {
            (main.join(" or "))
            @if let Some(format) = schema["format"].as_str() { " (" (format) ")" }
        }
        @if nullable { " or null" }
    }
}

fn named_schema(name: &str, schema: &Value) -> Markup {
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    html! {
        article.api-schema id=(format!("schema-{name}")) {
            h3 { code { (name) } }
            @if let Some(d) = schema["description"].as_str() { p { (d) } }
            @if let Some(properties) = schema["properties"].as_object() {
                table {
                    thead { tr { th { "field" } th { "type" } th { "required" } th { "description" } } }
                    tbody {
                        @for (field, property) in properties {
                            tr {
                                td { code { (field) } }
                                td { (type_of(property)) }
                                td { @if required.contains(&field.as_str()) { "yes" } @else { "no" } }
                                td { (property["description"].as_str().unwrap_or_default()) }
                            }
                        }
                    }
                }
            } @else {
                p { (type_of(schema)) }
            }
        }
    }
}
