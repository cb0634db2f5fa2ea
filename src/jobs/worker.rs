//! Workers: claim, run the registered handler, settle the job. Several run per instance;
//! any number of instances may share one database.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{ClaimedJob, JobError, JobKind, Lane, backoff, jitter};
use crate::store::Store;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// What a handler gets: the job, and the store to act through.
#[derive(Clone)]
pub struct JobContext {
    pub job: ClaimedJob,
    pub store: Store,
}

pub type Handler = Arc<dyn Fn(JobContext) -> HandlerFuture + Send + Sync>;

/// Handlers by job kind, filled in by the modules that own the work.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    pub fn register<F, Fut>(&mut self, kind: &'static str, handler: F)
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(kind, Arc::new(move |ctx| Box::pin(handler(ctx))));
    }

    /// Registers the handler of job kind `J`: it gets the payload parsed back into `J`; a
    /// payload that does not parse fails the job for good (retrying cannot fix it).
    pub fn handle<J, F, Fut>(&mut self, handler: F)
    where
        J: JobKind,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(
            J::KIND,
            Arc::new(move |ctx: JobContext| match serde_json::from_value::<J>(ctx.job.payload.clone()) {
                Ok(payload) => Box::pin(handler(ctx, payload)) as HandlerFuture,
                Err(e) => {
                    let why = format!("the payload is not a {} job: {e}", J::KIND);
                    Box::pin(async move { Err(JobError::Permanent(why)) })
                }
            }),
        );
    }

    fn get(&self, kind: &str) -> Option<&Handler> {
        self.handlers.get(kind)
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs of the work lane (tracker pushes, syncs, deliveries, …) run at once by this instance.
    pub concurrency: usize,
    /// Jobs of the intake lane (requests to their outcome, answers) run at once by this
    /// instance; at least one.
    pub intake_concurrency: usize,
    /// How long a claim lasts without being renewed before another worker may take the job.
    /// A running job's lease is renewed every third of it, so only a dead worker's job is
    /// taken over, within one lease.
    pub lease: Duration,
    /// How often an idle worker looks for work (enqueues in this instance wake it at once).
    pub poll_interval: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 4,
            intake_concurrency: 4,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Wakes idle workers of a lane when this instance queued work for it (other instances'
/// work is found by polling).
#[derive(Default)]
pub struct Waker {
    intake: Notify,
    work: Notify,
}

impl Waker {
    fn of(&self, lane: Lane) -> &Notify {
        match lane {
            Lane::Intake => &self.intake,
            Lane::Work => &self.work,
        }
    }

    /// Work was queued for `lane`.
    pub fn wake(&self, lane: Lane) {
        self.of(lane).notify_one();
    }

    /// Work was queued for both lanes (say a decision's answer and its tracker push).
    pub fn wake_all(&self) {
        self.intake.notify_one();
        self.work.notify_one();
    }

    fn wake_every_worker(&self) {
        self.intake.notify_waiters();
        self.work.notify_waiters();
    }
}

/// The running workers of one instance: a pool per lane.
pub struct Workers {
    wake: Arc<Waker>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Workers {
    pub fn start(store: Store, registry: Registry, options: WorkerOptions) -> Self {
        let wake = Arc::new(Waker::default());
        let (stop, stopped) = watch::channel(false);
        let registry = Arc::new(registry);
        let mut tasks = JoinSet::new();
        for lane in Lane::ALL {
            let size = match lane {
                Lane::Intake => options.intake_concurrency,
                Lane::Work => options.concurrency,
            };
            for n in 0..size.max(1) {
                let worker = Worker {
                    n,
                    lane,
                    store: store.clone(),
                    registry: registry.clone(),
                    options: options.clone(),
                    wake: wake.clone(),
                    stopped: stopped.clone(),
                };
                tasks.spawn(worker.run());
            }
        }
        Workers { wake, stop, tasks }
    }

    pub fn waker(&self) -> Arc<Waker> {
        self.wake.clone()
    }

    /// Stops claiming and waits for the jobs in hand to be settled.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.wake.wake_every_worker();
        while self.tasks.join_next().await.is_some() {}
    }
}

struct Worker {
    n: usize,
    lane: Lane,
    store: Store,
    registry: Arc<Registry>,
    options: WorkerOptions,
    wake: Arc<Waker>,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        tracing::debug!(worker = self.n, lane = self.lane.as_str(), "job worker started");
        while !*self.stopped.borrow() {
            match self.store.claim_job(self.lane, self.options.lease).await {
                Ok(Some(job)) => {
                    // There may be more: a sibling looks, and wakes the next in turn.
                    self.wake.wake(self.lane);
                    self.execute(job).await
                }
                Ok(None) => self.idle().await,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed");
                    self.idle().await;
                }
            }
        }
    }

    async fn idle(&mut self) {
        // One worker per lane polls for other instances' work; the rest wait to be woken
        // (rarely polling), so a large idle pool costs the database little.
        let poll = if self.n == 0 { self.options.poll_interval } else { self.options.poll_interval * 10 };
        tokio::select! {
            () = self.wake.of(self.lane).notified() => {}
            () = tokio::time::sleep(poll) => {}
            _ = self.stopped.changed() => {}
        }
    }

    async fn execute(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts);
        self.execute_in_span(job).instrument(span).await;
    }

    async fn execute_in_span(&self, job: ClaimedJob) {
        if job.attempts > job.max_attempts {
            // Its lease expired more often than it may be attempted: a job that crashes its
            // worker must not be retried forever.
            self.settle(&job, Err(JobError::Permanent("attempts exhausted (lease expired)".into()))).await;
            return;
        }
        let outcome = match self.registry.get(&job.kind) {
            Some(handler) => {
                let ctx = JobContext { job: job.clone(), store: self.store.clone() };
                // Its own task, so a panicking handler fails the job instead of the worker.
                let run = tokio::spawn(handler(ctx).in_current_span());
                self.heartbeat(&job, run)
                    .await
                    .unwrap_or_else(|e| Err(JobError::Retry(format!("handler panicked: {e}"))))
            }
            None => Err(JobError::Permanent(format!("no handler for job kind {}", job.kind))),
        };
        self.settle(&job, outcome).await;
    }

    /// Waits for the handler, extending the lease while it runs so that a long job is
    /// never taken over by another worker as long as this one is alive.
    async fn heartbeat(
        &self,
        job: &ClaimedJob,
        mut run: tokio::task::JoinHandle<Result<(), JobError>>,
    ) -> Result<Result<(), JobError>, tokio::task::JoinError> {
        let mut beat = tokio::time::interval(self.options.lease / 3);
        beat.tick().await;
        loop {
            tokio::select! {
                outcome = &mut run => return outcome,
                _ = beat.tick() => match self.store.extend_lease(job, self.options.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Another worker holds it now (this one stalled past the lease): stop,
                        // rather than run the same job twice at once.
                        run.abort();
                        return Ok(Err(JobError::Retry("lease lost while running".into())));
                    }
                    Err(e) => tracing::warn!(error = %e, "could not extend the job's lease"),
                },
            }
        }
    }

    async fn settle(&self, job: &ClaimedJob, outcome: Result<(), JobError>) {
        let settled = match &outcome {
            Ok(()) => self.store.complete_job(job).await,
            Err(err) => {
                let retry_at = match err {
                    JobError::Permanent(_) | JobError::Gone(_) => None,
                    _ if job.attempts >= job.max_attempts => None,
                    JobError::RetryAfter { after, .. } => Some(*after),
                    JobError::Retry(_) => Some(backoff(job.attempts, jitter())),
                }
                .map(|d| crate::store::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1)));
                match retry_at {
                    Some(at) => {
                        tracing::warn!(error = %err, retry_at = %at, "job failed; will retry")
                    }
                    None => tracing::error!(error = %err, "job is dead"),
                }
                self.store.fail_job(job, &err.to_string(), retry_at).await
            }
        };
        match settled {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job_id = %job.id, "lease lost before the job was settled"),
            Err(e) => tracing::error!(job_id = %job.id, error = %e, "could not settle job"),
        }
    }
}
