//! The HTTP API: routers, middleware, errors and the OpenAPI document. Handlers are thin:
//! they validate through the domain and call the store.

mod comments;
pub mod console;
mod coordinator;
pub mod cors;
mod deliveries;
pub mod error;
mod extract;
mod health;
mod imports;
mod integrations;
mod jobs;
mod labels;
mod legacy;
mod links;
mod messages;
mod metrics;
mod oauth;
mod openapi;
mod pages;
mod projects;
mod settle;
mod sync;
mod tasks;
mod tenants;
mod triage;
mod voice;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router, middleware};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::intake::Intake;
use crate::integrations::Integrations;
use crate::store::Store;
use error::ApiError;
pub use extract::BodyLimit;
pub use metrics::{ConnectionMetrics, Metrics};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub intake: Arc<Intake>,
    /// Wakes this instance's idle workers when it has just enqueued work.
    pub wake_workers: Arc<crate::jobs::Waker>,
    /// The longest a `?wait=true` request waits for an outcome.
    pub message_wait: Duration,
    /// The longest a sync request waits for its run.
    pub sync_wait: Duration,
    /// How often trackers are polled (off when `None`).
    pub tracker_poll: Option<Duration>,
    /// How often mailboxes are polled, when they are.
    pub mailbox_poll: Option<Duration>,
    /// Tells this instance's mailbox IDLE watchers about a new or changed mailbox.
    pub mailbox_watch: crate::intake::mailbox::idle::Nudge,
    /// Speech to text, when a server is configured.
    pub transcriber: Option<crate::voice::Transcriber>,
    /// Outbound connections.
    pub outbound: crate::outbound::Outbound,
    /// The Bot Framework keys Microsoft Teams webhooks are checked against.
    pub bot: Arc<crate::channels::botframework::BotFramework>,
    /// Largest upload (voice recordings), which is larger than the JSON body limit.
    pub max_upload_bytes: usize,
    pub integrations: Integrations,
    pub oauth: Arc<crate::oauth::OAuth>,
    pub coordinator: Arc<crate::coordinator::Coordinator>,
    /// How the web console's sessions behave.
    pub console: console::Settings,
    /// Rate limits per API key and per webhook integration.
    pub limiter: crate::limits::Limiter,
    /// Which other origins' front ends may call the API.
    pub cors: cors::Cors,
}

impl AppState {
    /// A state over `store` with the builtin model, default duplicate settings and no
    /// workers to wake: for in-process use such as tests and tools.
    pub fn with_defaults(store: Store) -> Self {
        let llm = Arc::new(crate::llm::WithFallback::new(Arc::new(crate::llm::Builtin)));
        let dedup = crate::dedup::Finder::new(store.clone(), crate::dedup::Settings::default());
        let mut key = [0u8; 32];
        let _ = getrandom::fill(&mut key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let cipher = crate::integrations::Cipher::from_key(&hex).expect("a 32-byte key is valid");
        let integrations = Integrations::new(store.clone(), cipher, "http://localhost", true);
        let outbound = crate::outbound::Outbound::new(None, true, Duration::from_secs(20))
            .expect("the default outbound configuration is valid");
        let bot = crate::channels::ChannelClients::new(outbound.clone()).bot;
        AppState {
            oauth: crate::oauth::OAuth::new(
                crate::oauth::OAuthSettings::from_env(|_| None),
                crate::oauth::state::States::Database(store.clone()),
                store.clone(),
                integrations.clone(),
                outbound.operator.clone(),
                "http://localhost",
                "http://localhost",
            ),
            integrations,
            coordinator: crate::coordinator::Coordinator::new(store.clone(), llm.clone()),
            intake: Intake::new(store.clone(), llm, dedup),
            store,
            metrics: Metrics::new(),
            wake_workers: Default::default(),
            message_wait: Duration::from_secs(10),
            sync_wait: Duration::from_secs(300),
            tracker_poll: None,
            mailbox_poll: None,
            mailbox_watch: Default::default(),
            transcriber: None,
            outbound,
            bot,
            max_upload_bytes: 25 * 1024 * 1024,
            console: console::Settings::default(),
            limiter: crate::limits::Limiter::off(),
            cors: cors::Cors::default(),
        }
    }
}

/// Every route, with its OpenAPI description collected as it is registered, so the
/// document cannot miss one.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::render))
        .routes(routes!(tenants::me))
        .routes(routes!(tenants::create_tenant))
        .routes(routes!(tenants::create_key, tenants::list_keys))
        .routes(routes!(tenants::delete_key))
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(projects::get_project, projects::update_project, projects::delete_project))
        .routes(routes!(tasks::create_task, tasks::list_tasks))
        .routes(routes!(tasks::get_task, tasks::update_task, tasks::delete_task))
        .routes(routes!(tasks::set_task_status))
        .routes(routes!(links::task_links))
        .routes(routes!(imports::start_import, imports::import_progress))
        .routes(routes!(imports::poll_state))
        .routes(routes!(integrations::mailbox_state))
        .routes(routes!(legacy::zendesk::list_tickets))
        .routes(routes!(sync::sync_confluence_tasks))
        .routes(routes!(legacy::sync::legacy_sync_task))
        .routes(routes!(sync::undo_run))
        .routes(routes!(legacy::sync::legacy_undo_sync_task))
        .routes(routes!(sync::get_run))
        .routes(routes!(sync::list_runs))
        .routes(routes!(sync::sync_jira_project))
        .routes(routes!(legacy::sync::legacy_sync_project))
        .routes(routes!(comments::create_comment, comments::list_comments))
        .routes(routes!(comments::get_comment, comments::update_comment, comments::delete_comment))
        .routes(routes!(labels::create_label, labels::list_labels))
        .routes(routes!(labels::get_label, labels::update_label, labels::delete_label))
        .routes(routes!(messages::create_message, messages::list_messages))
        .routes(routes!(messages::get_message))
        .routes(routes!(messages::retry_message))
        .routes(routes!(triage::accept))
        .routes(routes!(triage::merge))
        .routes(routes!(triage::decline))
        .routes(routes!(triage::unmerge))
        .routes(routes!(triage::decisions))
        .routes(routes!(coordinator::analyze))
        .routes(routes!(legacy::coordinator::legacy_analyze))
        .routes(routes!(coordinator::suggestions))
        .routes(routes!(legacy::coordinator::legacy_suggestions))
        .routes(routes!(coordinator::chat))
        .routes(routes!(legacy::coordinator::legacy_chat))
        .routes(routes!(coordinator::get_conversation))
        .routes(routes!(coordinator::list_actions))
        .routes(routes!(legacy::coordinator::legacy_list_actions))
        .routes(routes!(coordinator::get_action))
        .routes(routes!(coordinator::approve_action))
        .routes(routes!(coordinator::reject_action))
        .routes(routes!(coordinator::check_follow_ups))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(legacy::teams_taiga::teams_message))
        .routes(routes!(legacy::teams_taiga::taiga_create_task))
        .routes(routes!(legacy::teams_taiga::create_task_with_team))
        .routes(routes!(legacy::teams_taiga::team_by_task))
        .routes(routes!(webhooks::receive))
        .routes(routes!(deliveries::send_message))
        .routes(routes!(legacy::deliveries::send_whatsapp))
        .routes(routes!(legacy::deliveries::send_telegram))
        .routes(routes!(legacy::deliveries::send_email))
        .routes(routes!(deliveries::history))
        .routes(routes!(legacy::deliveries::legacy_history))
        .merge(
            // Uploads are bounded by the handler (`max_upload_bytes`), not the JSON limit.
            OpenApiRouter::new()
                .routes(routes!(voice::transcribe))
                .routes(routes!(legacy::voice::legacy_transcribe))
                .layer(DefaultBodyLimit::disable()),
        )
        .routes(routes!(integrations::create_integration, integrations::list_integrations))
        .routes(routes!(integrations::disconnect_integration))
        .routes(routes!(oauth::install_url))
        .routes(routes!(legacy::oauth::legacy_install_url))
        .routes(routes!(oauth::callback))
        .routes(routes!(
            integrations::get_integration,
            integrations::update_integration,
            integrations::delete_integration
        ))
        .routes(routes!(legacy::pm::legacy_list_projects, legacy::pm::legacy_create_project))
        .routes(routes!(
            legacy::pm::legacy_get_project,
            legacy::pm::legacy_update_project,
            legacy::pm::legacy_delete_project
        ))
        .routes(routes!(legacy::pm::legacy_list_tasks, legacy::pm::legacy_create_task))
        .routes(routes!(legacy::pm::legacy_get_task, legacy::pm::legacy_update_task, legacy::pm::legacy_delete_task))
        .routes(routes!(legacy::pm::legacy_set_task_status))
        .routes(routes!(legacy::pm::legacy_list_comments, legacy::pm::legacy_create_comment))
        .routes(routes!(
            legacy::pm::legacy_get_comment,
            legacy::pm::legacy_update_comment,
            legacy::pm::legacy_delete_comment
        ))
}

/// The OpenAPI document of [`api_router`].
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().split_for_parts().1;
    openapi::complete(&mut doc);
    doc
}

/// The complete application: routes, OpenAPI, and the middleware every request passes.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    let max_upload_bytes = state.max_upload_bytes;
    let cors = state.cors.layer();
    let (router, mut doc) = api_router().split_for_parts();
    openapi::complete(&mut doc);
    let doc = Arc::new(doc);
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(console::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);

    let sensitive: Arc<[HeaderName]> = Arc::from([
        header::AUTHORIZATION,
        header::COOKIE,
        HeaderName::from_static("x-api-key"),
        HeaderName::from_static("x-taskbridge-secret"),
    ]);
    // The replaced systems' clients call routes with and without a trailing slash: it is
    // dropped before routing, so every route answers the same either way.
    let router = Router::new().fallback_service(ServiceBuilder::new().map_request(trim_trailing_slash).service(router));
    // Outside everything else: preflights are answered before routing and authentication,
    // and every answer (errors and 429s too) carries the headers a browser needs to read it.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(SetSensitiveRequestHeadersLayer::from_shared(sensitive))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn(move |req: Request, next: middleware::Next| {
                let limit = if is_upload(req.uri().path()) { max_upload_bytes } else { max_body_bytes };
                refuse_declared_oversize(req, next, limit)
            }))
            .layer(Extension(BodyLimit(max_body_bytes)))
            .layer(DefaultBodyLimit::max(max_body_bytes)),
    )
}

/// The request with its path's trailing slashes dropped (`/` stays). The called URI stays
/// readable as `OriginalUri`, which webhook signatures are checked over.
fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return req;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    let Ok(pq) = path_and_query.parse() else { return req };
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        let original = axum::extract::OriginalUri(req.uri().clone());
        req.extensions_mut().insert(original);
        *req.uri_mut() = uri;
    }
    req
}

/// The span of one request: everything logged while serving it carries the request id.
/// The path is logged without its query string, headers not at all.
fn request_span(req: &Request) -> tracing::Span {
    let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path())
}

/// Answers 413 at once when the declared length is over the limit, before reading a byte
/// of the body; bodies without a length are cut off while they are read.
/// The routes that take file uploads.
fn is_upload(path: &str) -> bool {
    path.ends_with("/voice/transcribe")
}

async fn refuse_declared_oversize(req: Request, next: middleware::Next, limit: usize) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return ApiError::PayloadTooLarge(limit).into_response();
    }
    next.run(req).await
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("handler panicked".into()).into_response()
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
