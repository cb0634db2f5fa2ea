//! `/projects/{id}/integrations`: a project's integrations, OAuth installs, forms for the
//! token-based types generated from the shapes the API validates, disconnect and delete,
//! trackers' import and polling state, and how mailboxes are read. Secrets are write-only:
//! the page names the ones set, never their values.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::layout::{self, Section, csrf_field};
use super::overview::provider_name;
use super::session::Form;
use super::{PageResult, Session};
use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::integration::{Integration, IntegrationPatchInput, IntegrationType, NewIntegrationInput, setting};
use crate::domain::project::Project;
use crate::http::AppState;
use crate::http::error::{ApiError, NotFoundExt};
use crate::http::oauth::InstallParams;
use crate::oauth::Provider;
use crate::store::{MailboxMode, MailboxState};

/// The types a form can create, in the order shown.
const TYPES: &[IntegrationType] = &[
    IntegrationType::Taiga,
    IntegrationType::Jira,
    IntegrationType::Confluence,
    IntegrationType::Zendesk,
    IntegrationType::Telegram,
    IntegrationType::Whatsapp,
    IntegrationType::Email,
    IntegrationType::Slack,
    IntegrationType::Discord,
    IntegrationType::MsTeams,
    IntegrationType::Webhook,
];

/// Secrets an OAuth install writes by itself; forms do not ask for them.
const INSTALLED_SECRETS: &[&str] = &["access_token", "refresh_token"];

fn type_name(kind: IntegrationType) -> &'static str {
    match kind {
        IntegrationType::Slack => "Slack",
        IntegrationType::Discord => "Discord",
        IntegrationType::MsTeams => "Microsoft Teams",
        IntegrationType::Telegram => "Telegram",
        IntegrationType::Whatsapp => "WhatsApp (Twilio)",
        IntegrationType::Email => "E-mail",
        IntegrationType::Zendesk => "Zendesk",
        IntegrationType::Taiga => "Taiga",
        IntegrationType::Jira => "Jira (API token)",
        IntegrationType::Confluence => "Confluence (API token)",
        IntegrationType::Webhook => "Outgoing webhook",
    }
}

/// What an integration's card says about its webhook URL, in one line.
enum WebhookUse {
    /// Where to paste it on the platform.
    Paste(&'static str),
    /// Why there is nothing to paste (the route answers 404 for this kind).
    Unused(&'static str),
}

fn webhook_use(kind: IntegrationType) -> WebhookUse {
    use WebhookUse::{Paste, Unused};
    match kind {
        IntegrationType::Slack => {
            Paste("In your Slack app: Event Subscriptions → Request URL (and Slash Commands → Request URL).")
        }
        IntegrationType::Discord => {
            Paste("In the Discord developer portal: your application → Interactions Endpoint URL.")
        }
        IntegrationType::MsTeams => {
            Paste("In the Azure bot: Configuration → Messaging endpoint (or a Teams outgoing webhook's callback URL).")
        }
        IntegrationType::Telegram => {
            Paste("Register it with the Bot API's setWebhook, passing the secret token as secret_token.")
        }
        IntegrationType::Whatsapp => {
            Paste("In the Twilio console: your WhatsApp sender → \"A message comes in\" webhook.")
        }
        IntegrationType::Email => {
            Paste("In your inbound mail service: the route or parse webhook that receives your address's mail.")
        }
        IntegrationType::Zendesk => Unused(
            "None to paste: Zendesk sends taskbridge nothing. Changes made in Zendesk come back by polling \
             (every TASKBRIDGE_TRACKER_POLL_SECS seconds).",
        ),
        IntegrationType::Taiga => {
            Paste("In Taiga: project Admin → Integrations → Webhooks, with the webhook key as its secret key.")
        }
        IntegrationType::Jira => Paste("In Jira: Settings → System → WebHooks → URL."),
        IntegrationType::Confluence => Unused(
            "None to paste: Confluence sends taskbridge nothing. Its pages are read and written by the \
             sync runs started on this project's Sync page.",
        ),
        IntegrationType::Webhook => Unused("None: taskbridge sends task events to the URL you configure."),
    }
}

fn is_chat(kind: IntegrationType) -> bool {
    matches!(
        kind,
        IntegrationType::Slack
            | IntegrationType::Discord
            | IntegrationType::MsTeams
            | IntegrationType::Telegram
            | IntegrationType::Whatsapp
            | IntegrationType::Email
    )
}

/// The settings a form asks for: the type's own, the platform's base URL, and for chats
/// whether every message or only commands become requests.
fn setting_fields(kind: IntegrationType) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = kind.setting_names().to_vec();
    if kind != IntegrationType::Webhook {
        names.push("api_base_url");
    }
    if is_chat(kind) {
        names.push("mode");
    }
    names
}

fn secret_fields(kind: IntegrationType) -> Vec<&'static str> {
    kind.secret_names().iter().copied().filter(|n| !INSTALLED_SECRETS.contains(n)).collect()
}

fn label(name: &str) -> String {
    match name {
        "api_base_url" => "API base URL (optional)".into(),
        "url" => "URL".into(),
        "mode" => "Which messages become requests".into(),
        other => {
            let words = other.replace('_', " ");
            let mut chars = words.chars();
            chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        }
    }
}

/// An error met by one form, shown in that form.
struct Failed {
    /// The type of the create form, or the id of the integration whose form it was.
    form: String,
    message: String,
}

pub async fn list(State(s): State<AppState>, session: Session, Path(project_id): Path<ProjectId>) -> PageResult {
    page(&s, &session, &project_id, None, StatusCode::OK).await
}

async fn page(
    s: &AppState,
    session: &Session,
    project_id: &ProjectId,
    failed: Option<Failed>,
    status: StatusCode,
) -> PageResult {
    let tenant = &session.caller.tenant_id;
    let project = s.store.get_project(tenant, project_id).await.or_not_found("project")?;
    let integrations = s.integrations.list(tenant, project_id).await.map_err(ApiError::from)?;
    let mut trackers = Vec::new();
    for i in integrations.iter().filter(|i| crate::trackers::is_tracker(i.kind)) {
        let poll = s.store.poll_state(tenant, &i.id).await?;
        let import = s.store.import_progress(tenant, &i.id).await?;
        trackers.push((i.id.clone(), poll, import));
    }
    let mut mailboxes = Vec::new();
    for i in
        integrations.iter().filter(|i| i.kind == IntegrationType::Email && setting(&i.settings, "imap_host").is_some())
    {
        mailboxes.push((i.id.clone(), s.store.mailbox_state(tenant, &i.id).await?));
    }
    let admin = session.caller.is_admin();
    let configured = s.oauth.configured();
    let failed_for = |form: &str| failed.as_ref().filter(|f| f.form == form).map(|f| f.message.clone());
    let body = html! {
        p { a href=(format!("/projects/{}", project.id)) { "← " (project.name) } }
        h1 { "Integrations of " (project.name) }
        @if integrations.is_empty() {
            p.empty { "No integrations yet — connect Slack or Jira below, and requests from the chat become tasks in the tracker." }
        }
        @for i in &integrations {
            @let mailbox = mailboxes.iter().find(|(id, _)| *id == i.id).map(|(_, state)| state);
            (integration_card(session, &project, i, trackers.iter().find(|(id, ..)| *id == i.id), mailbox, admin, failed_for(&i.id)))
        }
        h2 { "Connect with one click" }
        @if !admin {
            p.muted { "Connecting and changing integrations needs an admin key." }
        } @else {
            @if configured.is_empty() {
                p.empty { "No OAuth app is configured. Set " code { "TASKBRIDGE_OAUTH_SLACK_CLIENT_ID" } " and "
                    code { "TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET" } " (likewise DISCORD, TEAMS, ATLASSIAN, ZENDESK) and restart to connect with a button." }
            } @else {
                div.actions {
                    @for provider in &configured {
                        (connect_button(session, &project, *provider, failed_for(provider.as_str())))
                    }
                }
                @let missing: Vec<&str> = crate::oauth::providers::ALL.iter().filter(|p| !configured.contains(p)).map(|p| p.env_name()).collect();
                @if !missing.is_empty() {
                    p.muted { "Not configured: " (missing.join(", ")) " — set TASKBRIDGE_OAUTH_<NAME>_CLIENT_ID and _CLIENT_SECRET to add them." }
                }
            }
            h2 { "Connect with a token" }
            @for kind in TYPES {
                (create_form(session, &project, *kind, failed_for(kind.as_str())))
            }
        }
    };
    Ok((status, layout::page(session, Section::Projects, &format!("Integrations of {}", project.name), body))
        .into_response())
}

/// The detail an install of `provider` may ask for: (form field, label, placeholder,
/// required, hint). The API's install takes the same field as a query parameter.
fn install_detail(provider: Provider) -> Option<(&'static str, &'static str, &'static str, bool, &'static str)> {
    match provider {
        Provider::Zendesk => Some(("subdomain", "Zendesk account", "acme (for acme.zendesk.com)", true, "")),
        Provider::Teams => Some((
            "ms_tenant",
            "Microsoft tenant (optional)",
            "contoso.onmicrosoft.com or the directory id",
            false,
            "Blank: the server's TASKBRIDGE_OAUTH_TEAMS_TENANT, else any work or school account (common).",
        )),
        _ => None,
    }
}

fn connect_button(session: &Session, project: &Project, provider: Provider, failed: Option<String>) -> Markup {
    let id = |what: &str| format!("connect-{}-{what}", provider.as_str());
    html! {
        form.inline method="post" action=(format!("/projects/{}/integrations/connect/{}", project.id, provider.as_str())) {
            (csrf_field(session))
            @if let Some((name, label, placeholder, required, hint)) = install_detail(provider) {
                @let described: Vec<String> = [(!hint.is_empty()).then(|| id("hint")), failed.as_ref().map(|_| id("error"))].into_iter().flatten().collect();
                label for=(id(name)) { (label) " " }
                input id=(id(name)) type="text" name=(name) placeholder=(placeholder) required[required]
                    aria-invalid=[failed.as_ref().map(|_| "true")]
                    aria-describedby=[(!described.is_empty()).then(|| described.join(" "))];
                " "
                button type="submit" { "Connect with " (provider_name(provider.as_str())) }
                @if !hint.is_empty() { p.hint id=(id("hint")) { (hint) } }
            } @else {
                button type="submit" { "Connect with " (provider_name(provider.as_str())) }
            }
            @if let Some(message) = &failed { p.error-message id=(id("error")) role="alert" { (message) } }
        }
    }
}

fn integration_card(
    session: &Session,
    project: &Project,
    i: &Integration,
    tracker: Option<&(IntegrationId, Option<crate::store::PollState>, Option<crate::store::ImportProgress>)>,
    mailbox: Option<&Option<MailboxState>>,
    admin: bool,
    failed: Option<String>,
) -> Markup {
    let base = format!("/projects/{}/integrations/{}", project.id, i.id);
    let url_id = format!("webhook-{}", i.id);
    html! {
        section.card aria-labelledby=(format!("i-{}", i.id)) {
            h2 id=(format!("i-{}", i.id)) { (i.name) " " span.muted { "(" (type_name(i.kind)) ")" } " " span class=(format!("pill {}", i.status.as_str())) { (i.status.as_str()) } }
            @if let Some(error) = &i.last_error { p.error-message { "Last error: " (error) } }
            dl.facts {
                dt { "Secrets set" }
                dd { @if i.secrets_set.is_empty() { "none" } @else { (i.secrets_set.join(", ")) } }
                @if let Some(why) = &i.cannot_send {
                    dt { "Posting" }
                    dd.error-message { (why) }
                }
                @if i.kind != IntegrationType::Webhook {
                    @match webhook_use(i.kind) {
                        WebhookUse::Paste(hint) => {
                            dt { label for=(url_id) { "Webhook URL" } }
                            dd {
                                div.actions {
                                    input id=(url_id) type="text" readonly value=(i.webhook_url);
                                    button.small.secondary type="button" data-copy=(format!("#{url_id}")) { "Copy" }
                                }
                                p.hint { (hint) }
                            }
                        }
                        WebhookUse::Unused(why) => {
                            dt { "Webhook URL" }
                            dd { p.hint { (why) } }
                        }
                    }
                }
                @if let Some(state) = mailbox {
                    dt { "Mailbox" }
                    dd { (mailbox_facts(state.as_ref())) }
                }
                @if let Some((_, poll, import)) = tracker {
                    dt { "Polling" }
                    dd {
                        @match poll {
                            Some(p) => { (p.polls) " polls, last " (p.last_polled_at.format("%Y-%m-%d %H:%M")) " UTC; " (p.changed) " tasks followed the tracker, " (p.imported) " items imported"
                                @if let Some(e) = &p.last_error { " — last error: " (e) } },
                            None => "not polled yet",
                        }
                    }
                    dt { "Import" }
                    dd {
                        @match import {
                            Some(p) => { (p.status) ": " (p.imported) " imported, " (p.skipped) " already linked, " (p.pages) " pages"
                                @if let Some(e) = &p.error { " — " (e) } },
                            None => "never imported",
                        }
                        form.inline method="post" action=(format!("{base}/import")) {
                            (csrf_field(session))
                            " " button.small.secondary type="submit" { "Import the tracker's items" }
                        }
                    }
                }
            }
            @if admin {
                details open[failed.is_some()] {
                    summary { "Change settings or secrets" }
                    form.stack method="post" action=(base) {
                        (csrf_field(session))
                        @if let Some(message) = &failed { p.error-message role="alert" { (message) } }
                        (fields(&i.id, i.kind, Some(&i.name), &i.settings, &i.secrets_set))
                        div.actions { button type="submit" { "Save" } }
                    }
                }
                div.actions {
                    form.inline method="post" action=(format!("{base}/disconnect")) data-confirm=(format!("Disconnect {}? Its secrets are deleted and its token revoked.", i.name)) {
                        (csrf_field(session))
                        button.small.secondary type="submit" { "Disconnect" }
                    }
                    form.inline method="post" action=(format!("{base}/delete")) data-confirm=(format!("Delete {}? This cannot be undone.", i.name)) {
                        (csrf_field(session))
                        button.small.danger type="submit" { "Delete" }
                    }
                }
            }
        }
    }
}

/// How reading a mailbox stands: how it is read, when it last went well and badly, what it took.
fn mailbox_facts(state: Option<&MailboxState>) -> Markup {
    let at = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    html! {
        @match state {
            None => "not read yet",
            Some(m) => {
                @if m.mode == MailboxMode::Idle { "Waiting for mail (IMAP IDLE)" } @else { "Polled" }
                "; last read " (at(&m.last_polled_at)) ", last success "
                @match &m.last_success_at { Some(t) => (at(t)), None => "never" }
                "; " (m.taken) " messages taken in " (m.polls) " reads; UIDVALIDITY " (m.uid_validity) ", last UID " (m.last_uid) "."
                @if let (Some(error), Some(when)) = (&m.last_error, &m.last_error_at) {
                    @let current = m.last_success_at.is_none_or(|ok| ok < *when);
                    p class=(if current { "error-message" } else { "muted" }) {
                        "Last error (" (at(when)) @if !current { ", since recovered" } "): " (error)
                    }
                }
            }
        }
    }
}

/// The name, settings and secrets of a form for `kind`; secrets never carry a value.
fn fields(
    prefix: &str,
    kind: IntegrationType,
    name: Option<&str>,
    settings: &Map<String, Value>,
    secrets_set: &[String],
) -> Markup {
    let id = |field: &str| format!("{prefix}-{field}");
    html! {
        div.field {
            label for=(id("name")) { "Name" }
            input id=(id("name")) type="text" name="name" value=(name.unwrap_or_default());
        }
        @for setting in setting_fields(kind) {
            @let current = settings.get(setting).map(|v| match v { Value::String(s) => s.clone(), other => other.to_string() }).unwrap_or_default();
            div.field {
                label for=(id(setting)) { (label(setting)) }
                @if setting == "mode" {
                    select id=(id(setting)) name="setting.mode" {
                        option value="commands" selected[current != "all"] { "Only commands (/task …)" }
                        option value="all" selected[current == "all"] { "Every message" }
                    }
                } @else {
                    input id=(id(setting)) type="text" name=(format!("setting.{setting}")) value=(current);
                }
            }
        }
        @for secret in secret_fields(kind) {
            @let set = secrets_set.iter().any(|s| s == secret);
            div.field {
                label for=(id(secret)) { (label(secret)) }
                input id=(id(secret)) type="password" name=(format!("secret.{secret}")) autocomplete="off"
                    aria-describedby=(id(&format!("{secret}-state")));
                p.hint id=(id(&format!("{secret}-state"))) { @if set { "Set — leave blank to keep it." } @else { "Not set." } }
            }
        }
    }
}

fn create_form(session: &Session, project: &Project, kind: IntegrationType, failed: Option<String>) -> Markup {
    html! {
        details.card open[failed.is_some()] {
            summary { (type_name(kind)) }
            form.stack method="post" action=(format!("/projects/{}/integrations", project.id)) {
                (csrf_field(session))
                input type="hidden" name="type" value=(kind.as_str());
                @if let Some(message) = &failed { p.error-message role="alert" { (message) } }
                (fields(&format!("new-{}", kind.as_str()), kind, None, &Map::new(), &[]))
                div.actions { button type="submit" { "Connect " (type_name(kind)) } }
            }
        }
    }
}

fn require_admin(session: &Session) -> Result<(), ApiError> {
    if session.caller.is_admin() { Ok(()) } else { Err(ApiError::Forbidden("this needs an admin key")) }
}

/// The settings and secrets a form sent; blank settings are `null` (removed) when `blank_clears`.
fn posted(form: &Form, kind: IntegrationType, blank_clears: bool) -> (Map<String, Value>, Map<String, Value>) {
    let mut settings = Map::new();
    for name in setting_fields(kind) {
        match form.get(&format!("setting.{name}")).map(str::trim) {
            Some(v) if !v.is_empty() => {
                settings.insert(name.into(), Value::String(v.into()));
            }
            Some(_) if blank_clears => {
                settings.insert(name.into(), Value::Null);
            }
            _ => {}
        }
    }
    let mut secrets = Map::new();
    for name in secret_fields(kind) {
        if let Some(v) = form.get(&format!("secret.{name}")).filter(|v| !v.trim().is_empty()) {
            secrets.insert(name.into(), Value::String(v.into()));
        }
    }
    (settings, secrets)
}

/// A refused change is shown in its form; other failures are error pages.
async fn refused(s: &AppState, session: &Session, project_id: &ProjectId, form: String, err: ApiError) -> PageResult {
    match err {
        ApiError::Validation(message) | ApiError::Conflict(message) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            page(s, session, project_id, Some(Failed { form, message }), status).await
        }
        ApiError::BadRequest { message, .. } => {
            page(s, session, project_id, Some(Failed { form, message }), StatusCode::BAD_REQUEST).await
        }
        other => Err(other.into()),
    }
}

pub async fn create(State(s): State<AppState>, Path(project_id): Path<ProjectId>, form: Form) -> PageResult {
    require_admin(&form.session)?;
    let raw = form.text("type");
    let kind = IntegrationType::parse(&raw)
        .ok_or_else(|| crate::domain::DomainError::invalid("type", format!("{raw:?} is not an integration type")))?;
    let (settings, secrets) = posted(&form, kind, false);
    let input = NewIntegrationInput { kind, name: form.get("name").map(str::to_string), settings, secrets };
    match crate::http::integrations::create(&s, &form.session.caller, &project_id, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/projects/{project_id}/integrations")).into_response()),
        Err(err) => refused(&s, &form.session, &project_id, kind.as_str().into(), err).await,
    }
}

pub async fn update(
    State(s): State<AppState>,
    Path((project_id, id)): Path<(ProjectId, IntegrationId)>,
    form: Form,
) -> PageResult {
    require_admin(&form.session)?;
    let caller = &form.session.caller;
    let current = s.integrations.get(&caller.tenant_id, &project_id, &id).await;
    let current = current.map_err(ApiError::from).map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("integration"),
        other => other,
    })?;
    let (settings, secrets) = posted(&form, current.kind, true);
    let patch = IntegrationPatchInput { name: form.get("name").map(str::to_string), settings, secrets };
    match crate::http::integrations::update(&s, caller, &project_id, &id, patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/projects/{project_id}/integrations")).into_response()),
        Err(err) => refused(&s, &form.session, &project_id, id.into_string(), err).await,
    }
}

pub async fn disconnect(
    State(s): State<AppState>,
    Path((project_id, id)): Path<(ProjectId, IntegrationId)>,
    form: Form,
) -> PageResult {
    require_admin(&form.session)?;
    crate::http::integrations::disconnect(&s, &form.session.caller, &project_id, &id).await?;
    Ok(Redirect::to(&format!("/projects/{project_id}/integrations")).into_response())
}

pub async fn delete(
    State(s): State<AppState>,
    Path((project_id, id)): Path<(ProjectId, IntegrationId)>,
    form: Form,
) -> PageResult {
    require_admin(&form.session)?;
    crate::http::integrations::delete(&s, &form.session.caller, &project_id, &id).await?;
    Ok(Redirect::to(&format!("/projects/{project_id}/integrations")).into_response())
}

pub async fn import(
    State(s): State<AppState>,
    Path((project_id, id)): Path<(ProjectId, IntegrationId)>,
    form: Form,
) -> PageResult {
    match crate::http::imports::start(&s, &form.session.caller, &project_id, &id).await {
        Ok(_) => Ok(Redirect::to(&format!("/projects/{project_id}/integrations")).into_response()),
        Err(ApiError::NotFound(_)) => Err(ApiError::not_found("integration").into()),
        Err(err) => refused(&s, &form.session, &project_id, id.into_string(), err).await,
    }
}

/// Starts an OAuth install: the browser goes on to the provider, and comes back to the overview.
pub async fn connect(
    State(s): State<AppState>,
    Path((project_id, provider)): Path<(ProjectId, String)>,
    form: Form,
) -> PageResult {
    let params = InstallParams {
        subdomain: form.get("subdomain").map(str::to_string),
        ms_tenant: form.get("ms_tenant").map(str::to_string),
    };
    match crate::http::oauth::install(&s, &form.session.caller, &project_id, &provider, params).await {
        Ok(answer) => Ok(continue_to(&provider, &answer.0.oauth_url).into_response()),
        Err(err @ (ApiError::NotFound(_) | ApiError::Forbidden(_))) => Err(err.into()),
        Err(err) => refused(&s, &form.session, &project_id, provider, err).await,
    }
}

/// The page that sends the browser on to the provider. Not a redirect: the policy's
/// `form-action 'self'` would stop a form's answer from leading to another origin, while a
/// page of this origin may move on by itself.
fn continue_to(provider: &str, url: &str) -> Markup {
    let name = provider_name(provider);
    layout::bare(
        &format!("Continue to {name}"),
        html! {
            meta http-equiv="refresh" content=(format!("0;url={url}"));
            h1 { "Continue to " (name) }
            p { "Approve taskbridge's access at " (name) "; you come back to the overview afterwards." }
            p { a.button href=(url) { "Continue to " (name) } }
        },
    )
}
