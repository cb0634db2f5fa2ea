//! Start-up: connect, migrate, bootstrap the default tenant, bind, serve until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::dedup::Finder;
use crate::http::{self, AppState, Metrics};
use crate::intake::Intake;
use crate::integrations::Integrations;
use crate::jobs::{Registry, WorkerOptions, Workers};
use crate::llm::WithFallback;
use crate::store::{Bootstrap, Store, StoreError, StoreOptions};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("encryption key: {0}")]
    Crypto(#[from] crate::integrations::CryptoError),
    #[error("outbound connections: {0}")]
    Outbound(#[from] crate::outbound::OutboundError),
    #[error("TASKBRIDGE_REDIS_URL: {0}")]
    Redis(String),
    #[error("TASKBRIDGE_CORS_ORIGINS: {0}")]
    Cors(String),
    #[error("TASKBRIDGE_DEDUP_THRESHOLD / TASKBRIDGE_DEDUP_SUGGEST_AT: {0}")]
    Bands(#[from] crate::domain::DomainError),
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    workers: Option<Workers>,
    /// IDLE watchers of mailboxes, when this instance runs workers and IDLE is on.
    watchers: Option<crate::intake::mailbox::idle::Watchers>,
    max_body_bytes: usize,
    limits: crate::serve::Limits,
    grace: Duration,
    bootstrap: Bootstrap,
}

impl Application {
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let cors = crate::http::cors::Cors::new(&config.cors_origins).map_err(StartupError::Cors)?;
        let options = StoreOptions { max_connections: config.db_max_connections, ..StoreOptions::default() };
        let store = Store::connect(&config.database_url, &options).await?;
        let bootstrap = store.bootstrap(config.api_key.as_ref().map(|k| k.expose())).await?;
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| StartupError::Bind { addr: config.addr, source })?;
        let metrics = Metrics::new();
        let llm = Arc::new(WithFallback::new(config.llm_provider().build()).counting_in(metrics.llm_fallbacks()));
        let dedup = Finder::with_semantic(store.clone(), config.duplicate_bands()?, config.semantic());
        let coordinator = crate::coordinator::Coordinator::new(store.clone(), llm.clone());
        let intake = Intake::new(store.clone(), llm, dedup);
        let mut registry = Registry::default();
        intake.register(&mut registry);
        crate::coordinator::actions::register(&mut registry);
        crate::coordinator::follow_up::register(&mut registry, config.follow_ups());
        crate::coordinator::follow_up::start(&store, config.follow_ups()).await?;
        let integrations =
            Integrations::new(store.clone(), config.cipher()?, &config.public_url(), config.allow_private_urls);
        let outbound = crate::outbound::Outbound::new(
            config.extra_ca_file.as_deref(),
            config.allow_private_urls,
            Duration::from_secs(config.outbound_timeout_secs.max(1)),
        )?;
        let channel_clients = crate::channels::ChannelClients::new(outbound.clone())
            .with_bot_framework(crate::channels::botframework::BotUrls {
                openid: config.botframework_openid_url.as_deref(),
                token: config.botframework_token_url.as_deref(),
                service: config.botframework_service_url.as_deref(),
            })
            .with_slack_response_hosts(&config.slack_response_url_hosts)
            .with_transcriber(config.transcriber());
        crate::channels::register(&mut registry, integrations.clone(), channel_clients.clone());
        crate::intake::deferred::register(&mut registry, integrations.clone(), channel_clients.clone());
        let mut mailboxes = None;
        if let Some(interval) = config.mailbox_poll() {
            let shared: crate::intake::mailbox::Shared = Arc::new((integrations.clone(), channel_clients.clone()));
            crate::intake::mailbox::register(&mut registry, shared.clone(), interval);
            crate::intake::mailbox::schedule_all(&store, interval).await?;
            mailboxes = Some(shared);
        }
        let trackers = crate::trackers::Trackers::new(integrations.clone(), outbound.http.clone());
        crate::tasks::register(&mut registry, &trackers);
        crate::sync::register(
            &mut registry,
            integrations.clone(),
            outbound.http.clone(),
            &trackers,
            config.tracker_poll(),
        );
        if let Some(interval) = config.tracker_poll() {
            crate::sync::poll::schedule_all(&store, interval).await?;
        }
        crate::events::register(&mut registry, integrations.clone(), outbound.http.clone());
        let redis = match &config.redis_url {
            Some(url) => Some(crate::redis::Redis::parse(url.expose()).map_err(StartupError::Redis)?),
            None => None,
        };
        let limiter = config.limiter(redis.as_ref()).counting_unchecked_in(metrics.rate_limits_unchecked());
        let states = match redis {
            Some(redis) => crate::oauth::state::States::Redis(redis),
            None => crate::oauth::state::States::Database(store.clone()),
        };
        let oauth = crate::oauth::OAuth::new(
            config.oauth.clone(),
            states,
            store.clone(),
            integrations.clone(),
            // Only the operator's OAuth endpoints are called (see `Outbound`).
            outbound.operator.clone(),
            &config.public_url(),
            &config.frontend_url(),
        );
        crate::oauth::refresh::register(&mut registry, oauth.clone());
        let options = WorkerOptions {
            concurrency: config.workers,
            intake_concurrency: config.intake_workers,
            lease: Duration::from_secs(config.job_lease_secs.max(1)),
            poll_interval: Duration::from_millis(config.job_poll_ms.max(1)),
        };
        let workers = (config.workers > 0).then(|| Workers::start(store.clone(), registry, options));
        let wake_workers = workers.as_ref().map(Workers::waker).unwrap_or_default();
        let watchers = match (&workers, mailboxes, config.mailbox_idle()) {
            (Some(_), Some(shared), Some(options)) => {
                Some(crate::intake::mailbox::idle::Watchers::start(store.clone(), shared, options))
            }
            _ => None,
        };
        let mailbox_watch = watchers.as_ref().map(|w| w.nudge()).unwrap_or_default();
        let state = AppState {
            coordinator,
            oauth,
            integrations,
            store,
            metrics,
            intake,
            wake_workers,
            message_wait: Duration::from_secs(config.message_wait_secs),
            sync_wait: Duration::from_secs(config.sync_wait_secs),
            tracker_poll: config.tracker_poll(),
            mailbox_poll: config.mailbox_poll(),
            mailbox_watch,
            transcriber: config.transcriber(),
            outbound,
            bot: channel_clients.bot,
            max_upload_bytes: config.max_upload_bytes,
            console: config.console(),
            limiter,
            cors,
        };
        Ok(Application {
            listener,
            state,
            workers,
            watchers,
            max_body_bytes: config.max_body_bytes,
            limits: config.connection_limits(),
            grace: Duration::from_secs(config.shutdown_grace_secs),
            bootstrap,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for up to
    /// the grace period.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartupError> {
        let store = self.state.store.clone();
        let connections = self.state.metrics.connections();
        let router = http::app(self.state, self.max_body_bytes);
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let server = crate::serve::serve(self.listener, router, self.limits, connections, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let grace = self.grace;
        let deadline = async move {
            while !*stopping_rx.borrow() {
                if stopping_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(grace).await;
        };
        let outcome = tokio::select! {
            () = server => Ok(()),
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over; dropping unfinished requests");
                Ok(())
            }
        };
        if let Some(watchers) = self.watchers {
            // Every IDLE ended and its mailbox let go, so another instance's watcher or the polls take over.
            if tokio::time::timeout(grace, watchers.shutdown()).await.is_err() {
                tracing::warn!("mailbox watchers did not finish within the grace period");
            }
        }
        if let Some(workers) = self.workers {
            // Jobs in hand are settled before the database goes; others wait for the next start.
            if tokio::time::timeout(grace, workers.shutdown()).await.is_err() {
                tracing::warn!("workers did not finish within the grace period; their jobs will run again");
            }
        }
        // SQLite keeps its planner statistics current only when asked; a stop is a good moment.
        if store.backend() == crate::store::Backend::Sqlite
            && let Err(e) = store.optimize().await
        {
            tracing::warn!(error = %e, "could not refresh planner statistics");
        }
        store.close().await;
        outcome
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
