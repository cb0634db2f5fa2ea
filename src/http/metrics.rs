//! Prometheus metrics: requests by route and status, latency, database pool, client
//! connections.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::ApiError;
use crate::jobs::JobStatus;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_size: Gauge,
    pool_idle: Gauge,
    llm_fallbacks: Counter,
    jobs: Family<JobLabels, Gauge>,
    connections: ConnectionMetrics,
    rate_limited: Family<LimitedLabels, Counter>,
    rate_limits_unchecked: Counter,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitedLabels {
    /// `api_key` or `webhook`.
    scope: &'static str,
    /// The webhook's platform; `api` for API keys.
    platform: &'static str,
    /// `429`, or `told` when the platform would not retry and the person was told instead.
    answer: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The figures of the accept loop (`crate::serve`), which updates them.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    refused: Counter,
    timed_out: Family<ReasonLabels, Counter>,
}

impl ConnectionMetrics {
    pub fn opened(&self) {
        self.open.inc();
    }

    pub fn closed(&self) {
        self.open.dec();
    }

    /// A connection turned away at the connection cap.
    pub fn refused(&self) {
        self.refused.inc();
    }

    /// A connection closed by a timeout: `header` or `idle`.
    pub fn timed_out(&self, reason: &'static str) {
        self.timed_out.get_or_create(&ReasonLabels { reason }).inc();
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("taskbridge");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("db_pool_connections", "Open database connections", pool_size.clone());
        registry.register("db_pool_idle_connections", "Idle database connections", pool_idle.clone());
        let llm_fallbacks = Counter::default();
        registry.register(
            "llm_fallbacks",
            "Drafts written by the builtin rules because the configured model failed",
            llm_fallbacks.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register("jobs", "Jobs in the queue by status", jobs.clone());
        let connections = ConnectionMetrics::default();
        registry.register("http_connections", "Open client connections", connections.open.clone());
        registry.register(
            "http_connections_refused",
            "Client connections turned away at the connection cap (TASKBRIDGE_MAX_CONNECTIONS)",
            connections.refused.clone(),
        );
        registry.register(
            "http_connection_timeouts",
            "Client connections closed for a request head not finished in time (header) or for sitting unused (idle)",
            connections.timed_out.clone(),
        );
        let rate_limited = Family::<LimitedLabels, Counter>::default();
        registry.register(
            "rate_limited_requests",
            "Requests turned away over a rate limit, by scope (api_key, webhook), platform and answer (429, told)",
            rate_limited.clone(),
        );
        let rate_limits_unchecked = Counter::default();
        registry.register(
            "rate_limit_unchecked_requests",
            "Requests let through without a rate-limit check because Redis could not be reached",
            rate_limits_unchecked.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            pool_size,
            pool_idle,
            llm_fallbacks,
            jobs,
            connections,
            rate_limited,
            rate_limits_unchecked,
        })
    }

    /// The figures the accept loop updates.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
    }

    /// The counter the language model's fallback increments.
    pub fn llm_fallbacks(&self) -> Counter {
        self.llm_fallbacks.clone()
    }

    /// The counter the rate limiter increments when Redis fails and it lets a request pass.
    pub fn rate_limits_unchecked(&self) -> Counter {
        self.rate_limits_unchecked.clone()
    }

    /// A request turned away over a rate limit.
    pub fn rate_limited(&self, scope: crate::limits::Scope, platform: &'static str, told: bool) {
        let answer = if told { "told" } else { "429" };
        self.rate_limited.get_or_create(&LimitedLabels { scope: scope.as_str(), platform, answer }).inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_string(), route: route.to_string(), status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method: method.to_string(), route: route.to_string() })
            .observe(seconds);
    }
}

/// Records every request under its route template (never the raw path, which would
/// make one series per id).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(req).await;
    state.metrics.observe(&method, &route, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = state.store.pool_stats();
    state.metrics.pool_size.set(i64::from(stats.size));
    state.metrics.pool_idle.set(i64::from(stats.idle));
    // Queue depth, read at scrape time so it counts jobs of every instance.
    // Every status is set, to 0 when none is in it: a status that emptied must not keep
    // the figure of an earlier scrape.
    match state.store.job_counts().await {
        Ok(counts) => {
            for status in JobStatus::ALL {
                let n = counts.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
                state.metrics.jobs.get_or_create(&JobLabels { status: status.as_str().to_string() }).set(n);
            }
        }
        Err(e) => {
            // Unknown is not zero: the queue's figures are left out of this scrape.
            state.metrics.jobs.clear();
            tracing::warn!(error = %e, "could not count the jobs for /metrics");
        }
    }
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &state.metrics.registry)
        .map_err(|e| ApiError::Internal(format!("metrics encoding: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response())
}
