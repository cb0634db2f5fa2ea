//! `/api-keys` (admins): list, create (the key shown once) and delete the tenant's keys.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};

use super::forms::{self, Errors};
use super::layout::{self, Section, csrf_field};
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::{NewApiKeyInput, Role};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::pages::paginate;
use crate::http::tenants::{new_key, remove_key, require_admin};

const ROLES: &[(&str, &str)] = &[("member", "Member"), ("admin", "Admin")];

pub async fn list(State(s): State<AppState>, session: Session, Query(params): Query<PageParams>) -> PageResult {
    keys_page(&s, &session, &params, None, &Errors::none(), StatusCode::OK).await
}

async fn keys_page(
    s: &AppState,
    session: &Session,
    params: &PageParams,
    created: Option<Markup>,
    errors: &Errors,
    status: StatusCode,
) -> PageResult {
    require_admin(&session.caller)?;
    let page = params.validate().map_err(ApiError::invalid_query)?;
    let items = s.store.list_api_keys(&session.caller.tenant_id, &page).await?;
    let (keys, next) = paginate(items, page.limit, |k| id_cursor(&k.id));
    let body = html! {
        h1 { "API keys" }
        @if let Some(created) = created { (created) }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Role" } th.optional { "Created" } th { span.muted { "Actions" } } } }
            tbody { @for k in &keys { tr {
                td { (k.name) @if k.id == session.caller.key_id { " " span.pill { "this session" } } }
                td { (k.role.as_str()) }
                td.optional { (k.created_at.format("%Y-%m-%d %H:%M")) " UTC" }
                td {
                    form.inline method="post" action=(format!("/api-keys/{}/delete", k.id)) data-confirm=(format!("Delete the key {}? Programs using it stop working.", k.name)) {
                        (csrf_field(session))
                        button.small.danger type="submit" aria-label=(format!("Delete the key {}", k.name)) { "Delete" }
                    }
                }
            } } }
        } }
        @if let Some(next) = next { p { a href=(format!("/api-keys?cursor={next}")) { "Next page" } } }
        h2 id="new" { "New key" }
        form.stack.card method="post" action="/api-keys" aria-labelledby="new" {
            (csrf_field(session))
            (forms::input("text", "name", "Name", "", errors, Some("What uses it, e.g. \"CI\" or \"Ana's laptop\"."), false))
            (forms::select("role", "Role", ROLES, "member", errors))
            div.actions { button type="submit" { "Create key" } }
        }
    };
    Ok((status, layout::page(session, Section::ApiKeys, "API keys", body)).into_response())
}

pub async fn create(State(s): State<AppState>, form: Form) -> PageResult {
    require_admin(&form.session.caller)?;
    let role = Role::parse(&form.text("role"))
        .ok_or_else(|| crate::domain::DomainError::invalid("role", "must be one of admin, member"));
    let input = role.map(|role| NewApiKeyInput { name: form.get("name").map(str::to_string), role: Some(role) });
    let params = PageParams::default();
    let created = match input {
        Ok(input) => new_key(&s, &form.session.caller, input).await,
        Err(err) => Err(err.into()),
    };
    match created {
        Ok((key, secret)) => {
            // Shown on this answer only: not a redirect, so the key is in no URL or history.
            let shown = html! {
                div.banner.ok role="status" {
                    p { strong { "Key " (key.name) " created." } " Copy it now: it is not shown again." }
                    div.actions {
                        label for="new-key" { "API key" }
                        input id="new-key" type="text" readonly value=(secret);
                        button.small.secondary type="button" data-copy="#new-key" { "Copy" }
                    }
                }
            };
            keys_page(&s, &form.session, &params, Some(shown), &Errors::none(), StatusCode::CREATED).await
        }
        Err(ApiError::Validation(_)) => {
            let err = NewApiKeyInput { name: form.get("name").map(str::to_string), role: None }
                .validate()
                .err()
                .unwrap_or_else(|| crate::domain::DomainError::invalid("role", "must be one of admin, member"));
            keys_page(&s, &form.session, &params, None, &Errors::from(err), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<String>, form: Form) -> PageResult {
    remove_key(&s, &form.session.caller, &id).await?;
    Ok(Redirect::to("/api-keys").into_response())
}
