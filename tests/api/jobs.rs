//! The durable queue on both backends: claims, leases, retries, dead letters.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use taskbridge::domain::id::TenantId;

static TENANT: std::sync::LazyLock<TenantId> = std::sync::LazyLock::new(taskbridge::domain::tenant::default_tenant);
use taskbridge::jobs::{JobError, JobStatus, Lane, NewJob, Registry, WorkerOptions, Workers};
use taskbridge::store::{Store, StoreOptions};

use crate::helpers::{Backend, TestDb};

async fn store(backend: Backend) -> Option<(TestDb, Store)> {
    let (db, url) = TestDb::create(backend).await?;
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("store");
    store.bootstrap(Some("jobs-test-admin-key-123456")).await.expect("bootstrap");
    Some((db, store))
}

fn fast(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        intake_concurrency: 1,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
    }
}

async fn wait_for(store: &Store, id: &str, status: JobStatus) -> taskbridge::jobs::Job {
    for _ in 0..400 {
        let job = store.get_job(&TENANT, id).await.expect("job");
        if job.status == status {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never reached {status:?}: {:?}", store.get_job(&TENANT, id).await);
}

async fn job_id(store: &Store, key: &str) -> String {
    let page = taskbridge::domain::list::Page::first(200);
    let jobs = store.list_jobs(&TENANT, None, &page).await.expect("list");
    jobs.into_iter().find(|j| j.idempotency_key == key).expect("enqueued").id
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, store) = super::store(crate::helpers::Backend::Sqlite).await.expect("sqlite");
                super::$name(store).await;
                drop(db);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((db, store)) = super::store(crate::helpers::Backend::Postgres).await {
                    super::$name(store).await;
                    drop(db);
                }
            }
        }
    };
}

async fn enqueueing_is_idempotent(store: Store) {
    let job = NewJob::new("test.noop", "same-key", json!({"n": 1}));
    assert!(store.enqueue(&TENANT, &job).await.expect("first"));
    assert!(!store.enqueue(&TENANT, &job).await.expect("second"));
    let jobs = store.list_jobs(&TENANT, None, &taskbridge::domain::list::Page::first(50)).await.expect("list");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Queued);
}
on_both!(enqueueing_is_idempotent);

async fn concurrent_claims_never_hand_out_a_job_twice(store: Store) {
    for i in 0..120 {
        store.enqueue(&TENANT, &NewJob::new("test.noop", format!("k{i}"), json!({}))).await.expect("enqueue");
    }
    let mut claimers = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(job) = store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim") {
                got.push(job.id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.expect("claimer"));
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 120, "every job claimed");
    assert_eq!(unique.len(), 120, "no job claimed twice");
}
on_both!(concurrent_claims_never_hand_out_a_job_twice);

async fn an_expired_lease_lets_another_worker_take_over(store: Store) {
    store.enqueue(&TENANT, &NewJob::new("test.noop", "lease", json!({}))).await.expect("enqueue");
    let first = store.claim_job(Lane::Work, Duration::from_millis(300)).await.expect("claim").expect("job");
    assert_eq!(first.attempts, 1);
    assert!(store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim").is_none(), "leased");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim").expect("taken over");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    // The first worker, back from the dead, can no longer settle it.
    assert!(!store.complete_job(&first).await.expect("complete"));
    assert!(store.complete_job(&second).await.expect("complete"));
    assert_eq!(store.get_job(&TENANT, &first.id).await.expect("job").status, JobStatus::Succeeded);
}
on_both!(an_expired_lease_lets_another_worker_take_over);

async fn failures_retry_with_backoff_then_die(store: Store) {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    let counter = runs.clone();
    registry.register("test.flaky", move |_ctx| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Err(JobError::Retry("remote said 500".into()))
        }
    });
    let mut job = NewJob::new("test.flaky", "flaky", json!({}));
    job.max_attempts = 2;
    store.enqueue(&TENANT, &job).await.expect("enqueue");
    let id = job_id(&store, "flaky").await;
    let workers = Workers::start(store.clone(), registry, fast(2));

    let failed = wait_for(&store, &id, JobStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("remote said 500"));
    assert!(failed.run_at > failed.updated_at, "the retry waits for its backoff");
    let dead = wait_for(&store, &id, JobStatus::Dead).await;
    assert_eq!(dead.attempts, 2);
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // A person can replay it.
    let replayed = store.retry_job(&TENANT, &id).await.expect("retry");
    assert_eq!(replayed.status, JobStatus::Queued);
    assert_eq!(replayed.attempts, 0);
    wait_for(&store, &id, JobStatus::Failed).await;
    workers.shutdown().await;
}
on_both!(failures_retry_with_backoff_then_die);

async fn retry_after_and_permanent_errors(store: Store) {
    let mut registry = Registry::default();
    registry.register("test.throttled", |_ctx| async {
        Err(JobError::RetryAfter { after: Duration::from_secs(120), message: "429 Too Many Requests".into() })
    });
    registry.register("test.invalid", |_ctx| async { Err(JobError::Permanent("field 'summary' is required".into())) });
    registry.register("test.panics", |_ctx| async {
        if Some(1).is_some() {
            panic!("handler bug");
        }
        Ok(())
    });
    registry.register("test.ok", |ctx| async move {
        assert_eq!(ctx.job.payload["n"], 7);
        Ok(())
    });
    for (kind, key) in [("test.throttled", "t"), ("test.invalid", "i"), ("test.panics", "p"), ("test.ok", "o")] {
        store.enqueue(&TENANT, &NewJob::new(kind, key, json!({"n": 7}))).await.expect("enqueue");
    }
    store.enqueue(&TENANT, &NewJob::new("test.unknown", "u", json!({}))).await.expect("enqueue");
    let workers = Workers::start(store.clone(), registry, fast(2));

    let throttled = wait_for(&store, &job_id(&store, "t").await, JobStatus::Failed).await;
    let wait = throttled.run_at - throttled.updated_at;
    assert!(wait >= chrono::Duration::seconds(119) && wait <= chrono::Duration::seconds(121), "{wait}");
    let invalid = wait_for(&store, &job_id(&store, "i").await, JobStatus::Dead).await;
    assert_eq!(invalid.attempts, 1);
    assert_eq!(invalid.last_error.as_deref(), Some("field 'summary' is required"));
    let panicked = wait_for(&store, &job_id(&store, "p").await, JobStatus::Failed).await;
    assert!(panicked.last_error.unwrap_or_default().contains("panicked"));
    wait_for(&store, &job_id(&store, "o").await, JobStatus::Succeeded).await;
    let unknown = wait_for(&store, &job_id(&store, "u").await, JobStatus::Dead).await;
    assert!(unknown.last_error.unwrap_or_default().contains("no handler"));
    workers.shutdown().await;
}
on_both!(retry_after_and_permanent_errors);

/// A job kind as the application defines one: its payload is a struct.
#[derive(serde::Serialize, serde::Deserialize)]
struct Greet {
    name: String,
    times: u32,
}

impl taskbridge::jobs::JobKind for Greet {
    const KIND: &'static str = "test.greet";
    const MAX_ATTEMPTS: i32 = 3;

    fn idempotency_key(&self) -> String {
        format!("greet:{}", self.name)
    }
}

async fn typed_jobs_carry_their_payload_and_refuse_another(store: Store) {
    use taskbridge::jobs::JobKind;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut registry = Registry::default();
    let into = seen.clone();
    registry.handle(move |_ctx, greet: Greet| {
        let into = into.clone();
        async move {
            into.lock().expect("lock").push((greet.name, greet.times));
            Ok(())
        }
    });
    let job = Greet { name: "ana".into(), times: 2 }.job();
    assert_eq!((job.kind, job.idempotency_key.as_str(), job.max_attempts), ("test.greet", "greet:ana", 3));
    assert_eq!(job.payload, json!({"name": "ana", "times": 2}));
    store.enqueue(&TENANT, &job).await.expect("enqueue");
    // A payload of another shape (written by an older version, say) fails for good, saying why.
    store.enqueue(&TENANT, &NewJob::new("test.greet", "bad", json!({"name": "bo"}))).await.expect("enqueue");
    let workers = Workers::start(store.clone(), registry, fast(2));
    wait_for(&store, &job_id(&store, "greet:ana").await, JobStatus::Succeeded).await;
    let bad = wait_for(&store, &job_id(&store, "bad").await, JobStatus::Dead).await;
    assert_eq!(bad.attempts, 1);
    assert!(bad.last_error.unwrap_or_default().contains("not a test.greet job"));
    assert_eq!(*seen.lock().expect("lock"), vec![("ana".to_string(), 2)]);
    workers.shutdown().await;
}
on_both!(typed_jobs_carry_their_payload_and_refuse_another);

async fn a_long_job_keeps_its_lease(store: Store) {
    let mut registry = Registry::default();
    registry.register("test.slow", |_ctx| async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok(())
    });
    store.enqueue(&TENANT, &NewJob::new("test.slow", "slow", json!({}))).await.expect("enqueue");
    let id = job_id(&store, "slow").await;
    let options = WorkerOptions {
        concurrency: 1,
        intake_concurrency: 1,
        lease: Duration::from_millis(900),
        poll_interval: Duration::from_millis(20),
    };
    let workers = Workers::start(store.clone(), registry, options);
    wait_for(&store, &id, JobStatus::Running).await;
    // Well past the lease, another worker still cannot take it: the running one renews it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim").is_none(), "still leased");
    let done = wait_for(&store, &id, JobStatus::Succeeded).await;
    assert_eq!(done.attempts, 1);
    workers.shutdown().await;
}
on_both!(a_long_job_keeps_its_lease);

/// Recurring work is forgotten once done and old: only succeeded jobs of that key prefix,
/// due before the cut-off, go (the prefix is literal, `_` included).
async fn old_succeeded_jobs_of_a_prefix_are_forgotten(store: Store) {
    let old = chrono::Utc::now() - chrono::Duration::days(2);
    for key in ["poll:a_1:1", "poll:a_1:2", "poll:a_1:3", "poll:ab1:1", "other:a_1:1"] {
        store.enqueue(&TENANT, &NewJob::new("test.noop", key, json!({"key": key})).at(old)).await.expect("enqueue");
    }
    let mut settled = 0;
    while let Some(job) = store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim") {
        if job.payload["key"] == "poll:a_1:3" {
            store.fail_job(&job, "broken", None).await.expect("dead");
        } else {
            store.complete_job(&job).await.expect("done");
        }
        settled += 1;
    }
    assert_eq!(settled, 5);
    store.enqueue(&TENANT, &NewJob::new("test.noop", "poll:a_1:9", json!({})).at(old)).await.expect("queued");
    let forgotten = store.forget_succeeded_jobs("poll:a_1:", chrono::Utc::now() - chrono::Duration::days(1)).await;
    assert_eq!(forgotten.expect("forget"), 2);
    let left: HashSet<String> = store
        .list_jobs(&TENANT, None, &taskbridge::domain::list::Page::first(50))
        .await
        .expect("list")
        .into_iter()
        .map(|j| j.idempotency_key)
        .collect();
    let expected: HashSet<String> =
        ["poll:a_1:3", "poll:ab1:1", "other:a_1:1", "poll:a_1:9"].map(str::to_string).into_iter().collect();
    assert_eq!(left, expected, "the dead, the queued and other prefixes stay");
    let recent = store.forget_succeeded_jobs("poll:ab1:", old - chrono::Duration::hours(1)).await.expect("forget");
    assert_eq!(recent, 0, "not older than the cut-off");
}
on_both!(old_succeeded_jobs_of_a_prefix_are_forgotten);

/// A request's processing runs in its own pool: with every work-lane worker busy on a slow
/// job (a tracker that does not answer), a request still reaches its outcome.
async fn intake_does_not_wait_behind_slow_work(store: Store) {
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    let held = release.clone();
    registry.register("tracker.push", move |_ctx| {
        let held = held.clone();
        async move {
            let _permit = held.acquire().await;
            Ok(())
        }
    });
    let counter = ran.clone();
    registry.register("intake.process", move |_ctx| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    store.enqueue(&TENANT, &NewJob::new("tracker.push", "slow-push", json!({}))).await.expect("enqueue");
    let workers = Workers::start(store.clone(), registry, fast(1));
    let push = job_id(&store, "slow-push").await;
    wait_for(&store, &push, JobStatus::Running).await;

    store.enqueue(&TENANT, &NewJob::new("intake.process", "request", json!({}))).await.expect("enqueue");
    let request = job_id(&store, "request").await;
    wait_for(&store, &request, JobStatus::Succeeded).await;
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(store.get_job(&TENANT, &push).await.expect("job").status, JobStatus::Running, "still held");

    release.add_permits(1);
    wait_for(&store, &push, JobStatus::Succeeded).await;
    workers.shutdown().await;
}
on_both!(intake_does_not_wait_behind_slow_work);
