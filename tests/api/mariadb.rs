//! MariaDB/MySQL as a store (`TEST_MYSQL_URL`): the parts that work there so far, tested
//! through the store itself, since the server does not start on it yet (docs/mariadb.md).
//! Each test gets a fresh database; with `TEST_MYSQL_URL` unset they pass without running,
//! and with it set but unreachable they fail.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use taskbridge::domain::id::TenantId;
use taskbridge::domain::list::Page;
use taskbridge::domain::message::NewMessageInput;
use taskbridge::domain::project::{NewProjectInput, ProjectPatchInput};
use taskbridge::domain::task::NewTaskInput;
use taskbridge::domain::tenant::{DEFAULT_TENANT_ID, NewApiKey, Role};
use taskbridge::jobs::{JobStatus, Lane, NewJob};
use taskbridge::store::{Bootstrap, Store, StoreError, StoreOptions};

use crate::helpers::{Backend, TestDb};

/// A fresh MariaDB database and the store over it, or `None` without `TEST_MYSQL_URL`.
async fn store(max_connections: u32) -> Option<(TestDb, String, Store)> {
    let (db, url) = TestDb::create(Backend::Mysql).await?;
    let options = StoreOptions { max_connections, unfinished_mysql: true, ..StoreOptions::default() };
    let store = Store::connect(&url, &options).await.expect("store connects and migrates");
    Some((db, url, store))
}

async fn project(store: &Store, tenant: &TenantId, name: &str) -> taskbridge::domain::project::Project {
    let new: NewProjectInput = serde_json::from_value(json!({"name": name})).expect("project input");
    store.create_project(tenant, &new.validate().expect("valid project")).await.expect("project created")
}

fn job(key: &str) -> NewJob {
    NewJob::new("test.job", key, json!({"key": key}))
}

#[tokio::test]
async fn mysql_urls_are_refused_while_the_backend_is_unfinished() {
    // Refused before any connection is tried: no database is needed.
    let err = Store::connect("mysql://root@127.0.0.1:1/none", &StoreOptions::default())
        .await
        .err()
        .expect("mysql:// is refused");
    assert!(matches!(err, StoreError::MysqlIncomplete(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("not supported yet") && message.contains("sync runs"), "names what is missing: {message}");
    let err = Store::connect("mariadb://root@127.0.0.1:1/none", &StoreOptions::default()).await.err();
    assert!(matches!(err, Some(StoreError::MysqlIncomplete(_))));
}

#[tokio::test]
async fn the_baseline_is_applied_once_and_recorded_as_every_migration_it_holds() {
    let Some((_db, url, store)) = store(2).await else { return };
    store.close().await;
    // A second start finds everything applied and changes nothing.
    let options = StoreOptions { unfinished_mysql: true, ..StoreOptions::default() };
    let again = Store::connect(&url, &options).await.expect("second start");
    again.close().await;
    let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("versions");
    assert_eq!(versions.first(), Some(&1));
    assert_eq!(versions.last(), Some(&34));
    let distinct: HashSet<i64> = versions.iter().copied().collect();
    assert_eq!(distinct.len(), versions.len(), "each version recorded once: {versions:?}");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'schema_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("tables");
    assert_eq!(tables, 29, "every table PostgreSQL has after migration 34");
}

#[tokio::test]
async fn tenants_keys_and_projects() {
    let Some((_db, _url, store)) = store(4).await else { return };
    assert!(matches!(
        store.bootstrap(Some("mariadb-admin-key-0123456789")).await.expect("bootstrap"),
        Bootstrap::Seeded
    ));
    assert!(matches!(store.bootstrap(Some("another-key-0123456789abc")).await.expect("again"), Bootstrap::Existing));
    let caller = store.authenticate("mariadb-admin-key-0123456789").await.expect("auth").expect("known key");
    assert_eq!(caller.tenant_id.as_str(), DEFAULT_TENANT_ID);
    assert_eq!(caller.role, Role::Admin);
    assert!(store.authenticate("another-key-0123456789abc").await.expect("auth").is_none());
    let (tenant, details_key) = store.caller_details(&caller).await.expect("details");
    assert_eq!(tenant.name, "default");
    assert_eq!(details_key.id, caller.key_id);

    // Keys: the last admin key stays.
    let default: TenantId = DEFAULT_TENANT_ID.to_string().into();
    let (member, member_secret) = store
        .create_api_key(&default, &NewApiKey { name: "bot".into(), role: Role::Member })
        .await
        .expect("member key");
    assert!(store.authenticate(&member_secret).await.expect("auth").is_some());
    let keys = store.list_api_keys(&default, &Page::first(10)).await.expect("keys");
    assert_eq!(keys.len(), 2);
    assert!(matches!(store.delete_api_key(&default, &caller.key_id).await, Err(StoreError::Conflict(_))));
    store.delete_api_key(&default, &member.id).await.expect("member key deleted");
    assert!(store.authenticate(&member_secret).await.expect("auth").is_none(), "a deleted key stops at once");

    // Projects, each tenant seeing only its own.
    let (other, _) = store.create_tenant("other").await.expect("tenant");
    let mine = project(&store, &default, "Website").await;
    assert_eq!(store.get_project(&default, &mine.id).await.expect("read back").name, "Website");
    assert!(matches!(store.get_project(&other.id, &mine.id).await, Err(StoreError::NotFound)));
    let patch: ProjectPatchInput =
        serde_json::from_value(json!({"name": "Web site", "deadline": "2027-01-31", "auto_follow_ups": true}))
            .expect("patch input");
    let updated = store.update_project(&default, &mine.id, &patch.validate().expect("patch")).await.expect("update");
    assert_eq!(updated.name, "Web site");
    assert_eq!(updated.deadline.map(|d| d.to_string()).as_deref(), Some("2027-01-31"));
    assert!(updated.auto_follow_ups);
    assert_eq!(updated.created_at, mine.created_at, "timestamps keep their microseconds");
    let second = project(&store, &default, "Mobile").await;
    let first_page = store.list_projects(&default, &Page::first(1)).await.expect("list");
    assert_eq!(first_page.len(), 2, "one more than asked for: the caller knows more follow");
    assert_eq!(store.find_project(&default, "Mobile").await.expect("by name").id, second.id);
    assert!(store.list_projects(&other.id, &Page::first(10)).await.expect("list").is_empty());
    store.delete_project(&default, &second.id).await.expect("delete");
    assert!(matches!(store.delete_project(&default, &second.id).await, Err(StoreError::NotFound)));
    let ids = store.tenant_ids("", 10).await.expect("tenant ids");
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_job_is_enqueued_once_claimed_leased_settled_and_retried() {
    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("jobs").await.expect("tenant");
    assert!(store.enqueue(&tenant.id, &job("once")).await.expect("enqueue"));
    assert!(!store.enqueue(&tenant.id, &job("once")).await.expect("again"), "one job per idempotency key");
    assert!(store.enqueue(&tenant.id, &job("ONCE")).await.expect("other case"), "keys compare byte-wise");

    let lease = Duration::from_secs(30);
    let first = store.claim_job(Lane::Work, lease).await.expect("claim").expect("a job");
    assert_eq!(first.attempts, 1);
    assert_eq!(first.tenant_id, tenant.id);
    assert!(store.claim_job(Lane::Intake, lease).await.expect("claim").is_none(), "lanes are apart");
    let second = store.claim_job(Lane::Work, lease).await.expect("claim").expect("the other job");
    assert_ne!(first.id, second.id);
    assert!(store.claim_job(Lane::Work, lease).await.expect("claim").is_none(), "both are leased");
    assert!(store.extend_lease(&first, lease).await.expect("extend"));

    assert!(store.complete_job(&first).await.expect("complete"));
    assert!(!store.complete_job(&first).await.expect("twice"), "settled once");
    let retry_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert!(store.fail_job(&second, "tracker said 503", Some(retry_at)).await.expect("fail"));
    let again = store.claim_job(Lane::Work, lease).await.expect("claim").expect("due again");
    assert_eq!((again.id.as_str(), again.attempts), (second.id.as_str(), 2));
    assert!(store.fail_job(&again, "gave up", None).await.expect("dead"));

    let dead = store.get_job(&tenant.id, &second.id).await.expect("get");
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("gave up"));
    let counts = store.unsettled_job_counts(&tenant.id).await.expect("counts");
    assert_eq!(counts, vec![("test.job".to_string(), JobStatus::Dead, 1)]);
    let retried = store.retry_job(&tenant.id, &second.id).await.expect("retry");
    assert_eq!((retried.status, retried.attempts), (JobStatus::Queued, 0));
    assert!(matches!(store.retry_job(&tenant.id, &second.id).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.retry_job(&tenant.id, "no-such-job").await, Err(StoreError::NotFound)));

    let all = store.list_jobs(&tenant.id, None, &Page::first(10)).await.expect("list");
    assert_eq!(all.len(), 2);
    let succeeded = store.list_jobs(&tenant.id, Some(JobStatus::Succeeded), &Page::first(10)).await.expect("list");
    assert_eq!(succeeded.len(), 1);
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(store.forget_succeeded_jobs("ONCE", later).await.expect("forget"), 0, "prefixes match byte-wise");
    assert_eq!(store.forget_succeeded_jobs("on", later).await.expect("forget"), 1);
    let totals: i64 = store.job_counts().await.expect("counts").iter().map(|(_, n)| n).sum();
    assert_eq!(totals, 1);
}

#[tokio::test]
async fn an_expired_lease_lets_another_worker_take_the_job() {
    let Some((_db, _url, store)) = store(2).await else { return };
    let (tenant, _) = store.create_tenant("leases").await.expect("tenant");
    store.enqueue(&tenant.id, &job("crash")).await.expect("enqueue");
    let crashed = store.claim_job(Lane::Work, Duration::from_millis(1)).await.expect("claim").expect("job");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store.claim_job(Lane::Work, Duration::from_secs(30)).await.expect("claim").expect("taken over");
    assert_eq!((taken.id.as_str(), taken.attempts), (crashed.id.as_str(), 2));
    assert!(!store.complete_job(&crashed).await.expect("late settle"), "the old lease settles nothing");
    assert!(store.complete_job(&taken).await.expect("settle"));
}

/// Many workers claiming at once (`FOR UPDATE SKIP LOCKED`): every job is handed out, and
/// none to two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_hand_each_job_to_one_worker() {
    const JOBS: usize = 300;
    const WORKERS: usize = 12;
    let Some((_db, _url, store)) = store(WORKERS as u32).await else { return };
    let (tenant, _) = store.create_tenant("queue").await.expect("tenant");
    for i in 0..JOBS {
        store.enqueue(&tenant.id, &job(&format!("job-{i}"))).await.expect("enqueue");
    }
    let store = Arc::new(store);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = store.claim_job(Lane::Work, Duration::from_secs(60)).await.expect("claim") {
                claimed.push(job.id.clone());
                assert!(store.complete_job(&job).await.expect("complete"), "the lease is this worker's");
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for worker in workers {
        let claimed = worker.await.expect("worker");
        busy += usize::from(!claimed.is_empty());
        all.extend(claimed);
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), JOBS, "every job claimed exactly once");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
    assert!(busy > 1, "claims ran side by side ({busy} workers got jobs)");
    let counts = store.job_counts().await.expect("counts");
    assert_eq!(counts, vec![("succeeded".to_string(), JOBS as i64)]);
}

/// `POST /api/v1/messages`'s write: the message and its processing job in one commit; a
/// platform's redelivery (same integration and event id) is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_are_written_with_their_jobs() {
    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("intake").await.expect("tenant");
    let project = project(&store, &tenant.id, "Support").await;
    let input: NewMessageInput = serde_json::from_value(json!({
        "text": "The invoice PDF is blank since Monday",
        "project_id": project.id.as_str(),
        "author": "ana",
        "thread_ref": "C1/1700000000.1"
    }))
    .expect("message input");
    let new = input.validate().expect("valid message");
    let id = taskbridge::domain::new_id();
    let process = NewJob::new("intake.process", format!("intake:{id}"), json!({"message_id": id}));
    let created = store.create_message(&tenant.id, &id, &new, &process).await.expect("accepted");
    let read = store.get_message(&tenant.id, &id).await.expect("read back");
    assert_eq!(read.text, new.text);
    assert_eq!(read.received_at, created.received_at);
    assert_eq!(read.thread_ref.as_deref(), Some("C1/1700000000.1"));
    let job = store.claim_job(Lane::Intake, Duration::from_secs(30)).await.expect("claim").expect("its job");
    assert_eq!(job.payload["message_id"], json!(id));

    // A message for a project that is not the tenant's is not written.
    let (stranger, _) = store.create_tenant("stranger").await.expect("tenant");
    let other_id = taskbridge::domain::new_id();
    let other_job = NewJob::new("intake.process", format!("intake:{other_id}"), json!({}));
    let refused = store.create_message(&stranger.id, &other_id, &new, &other_job).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(matches!(store.get_message(&tenant.id, &other_id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn tasks_are_created_with_labels_and_counted_by_status() {
    let Some((_db, url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("tasks").await.expect("tenant");
    let project = project(&store, &tenant.id, "Ops").await;
    let input: NewTaskInput = serde_json::from_value(json!({
        "project_id": project.id.as_str(),
        "title": "Rotate the TLS certificate",
        "priority": "high",
        "due_date": "2027-02-01",
        "labels": ["infra", "security"]
    }))
    .expect("task input");
    let created = store.create_task(&tenant.id, &input.validate().expect("valid task")).await.expect("created");
    let read = store.get_task(&tenant.id, &created.id).await.expect("read back");
    assert_eq!(read.title, "Rotate the TLS certificate");
    assert_eq!(read.labels, vec!["infra".to_string(), "security".to_string()]);
    assert_eq!(read.due_date.map(|d| d.to_string()).as_deref(), Some("2027-02-01"));
    assert_eq!(read.updated_at, created.updated_at);
    let (other, _) = store.create_tenant("other").await.expect("tenant");
    assert!(matches!(store.get_task(&other.id, &created.id).await, Err(StoreError::NotFound)));
    let foreign: NewTaskInput =
        serde_json::from_value(json!({"project_id": project.id.as_str(), "title": "Not yours"})).expect("input");
    let refused = store.create_task(&other.id, &foreign.validate().expect("valid")).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "a task only in the tenant's own projects");

    // The triggers keep the per-status counts.
    let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, CAST(SUM(tasks) AS SIGNED) FROM task_status_counts WHERE project_id = ? GROUP BY status",
    )
    .bind(project.id.as_str())
    .fetch_all(&mut conn)
    .await
    .expect("counts");
    assert_eq!(counted, vec![(read.status.as_str().to_string(), 1)]);
}

/// What intake writes after its decision: a new task with the request's outcome (only at
/// the project's current intake turn), or the request as a comment on the task it repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_becomes_a_task_or_a_comment_on_the_one_it_repeats() {
    use taskbridge::domain::message::{MessageStatus, TaskDraft};
    use taskbridge::domain::task::Priority;
    use taskbridge::store::{Created, Outcome};

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("intake").await.expect("tenant");
    let project = project(&store, &tenant.id, "Support").await;
    let mut accepted = Vec::new();
    for text in ["The export button does nothing", "the EXPORT  button does nothing"] {
        let input: NewMessageInput =
            serde_json::from_value(json!({"text": text, "project_id": project.id.as_str()})).expect("input");
        let id = taskbridge::domain::new_id();
        let job = NewJob::new("intake.process", format!("intake:{id}"), json!({"message_id": id}));
        store.create_message(&tenant.id, &id, &input.validate().expect("valid"), &job).await.expect("accepted");
        accepted.push(id);
    }
    let (first, second) = (&accepted[0], &accepted[1]);
    store.mark_processing(&tenant.id, first).await.expect("processing");
    assert_eq!(store.get_message(&tenant.id, first).await.expect("read").status, MessageStatus::Processing);

    let draft = TaskDraft {
        title: "Export button does nothing".into(),
        description: "Reported twice".into(),
        priority: Priority::High,
        due_date: None,
        labels: vec!["export".into()],
        assigned_to: None,
    };
    let outcome =
        Outcome { draft: &draft, candidates: &[], score: None, follow_up: None, on_created: &[], on_commented: None };
    let new_task: NewTaskInput = serde_json::from_value(json!({
        "project_id": project.id.as_str(), "title": draft.title, "priority": "high", "labels": ["export"]
    }))
    .expect("task input");
    let new_task = new_task.validate().expect("valid task");
    let turn = store.intake_turn(&tenant.id, &project.id).await.expect("turn");
    let Created::Task(task_id) =
        store.finish_created(&tenant.id, first, &new_task, &outcome, turn.turn, false).await.expect("created")
    else {
        panic!("the turn was current")
    };
    let done = store.get_message(&tenant.id, first).await.expect("read");
    assert_eq!((done.status, done.task_id.as_ref()), (MessageStatus::Created, Some(&task_id)));
    assert_eq!(store.get_task(&tenant.id, &task_id).await.expect("task").labels, vec!["export".to_string()]);
    // The same turn again is stale: another create committed since.
    let again = store.finish_created(&tenant.id, second, &new_task, &outcome, turn.turn, false).await;
    assert!(matches!(again, Ok(Created::Stale)), "{again:?}");
    assert!(
        matches!(
            store
                .finish_created(
                    &tenant.id,
                    first,
                    &new_task,
                    &outcome,
                    store.intake_turn(&tenant.id, &project.id).await.expect("turn").turn,
                    false
                )
                .await,
            Err(StoreError::Conflict(_))
        ),
        "no second task for one request"
    );

    let comment = store
        .finish_duplicate(&tenant.id, second, &task_id, "the EXPORT  button does nothing", Some("bo"), &outcome)
        .await
        .expect("merged");
    let merged = store.get_message(&tenant.id, second).await.expect("read");
    assert_eq!((merged.status, merged.task_id.as_ref()), (MessageStatus::Duplicate, Some(&task_id)));
    assert_eq!(merged.comment_id.as_deref(), Some(comment.as_str()));
    let requests = store.messages_for_task(tenant.id.as_str(), task_id.as_str(), 10).await.expect("requests");
    assert_eq!(requests.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), vec![first.as_str(), second.as_str()]);
    let repeated = store.repeated_draft(&tenant.id, &merged).await.expect("draft");
    assert_eq!(repeated.map(|d| d.title), Some(draft.title.clone()), "the same words' draft");
}

#[tokio::test]
async fn tasks_are_updated_listed_by_filter_and_sort_and_deleted() {
    use taskbridge::domain::list::TaskListParams;
    use taskbridge::domain::task::{TaskPatch, TaskStatus};
    use taskbridge::store::Updated;

    let Some((_db, url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("lists").await.expect("tenant");
    let project = project(&store, &tenant.id, "Ops").await;
    let mut ids = Vec::new();
    for (title, priority, due) in
        [("beta", "low", Some("2027-03-01")), ("Alpha", "high", None), ("gamma", "medium", Some("2027-01-01"))]
    {
        let input: NewTaskInput = serde_json::from_value(json!({
            "project_id": project.id.as_str(), "title": title, "priority": priority, "due_date": due
        }))
        .expect("input");
        ids.push(store.create_task(&tenant.id, &input.validate().expect("valid")).await.expect("task").id);
    }
    let list = |params: serde_json::Value| {
        let store = &store;
        let tenant = &tenant.id;
        async move {
            let params: TaskListParams = serde_json::from_value(params).expect("params");
            let query = params.validate().expect("valid query");
            store.list_tasks(tenant, &query).await.expect("list").into_iter().map(|t| t.title).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(json!({"sort": "due_date"})).await, vec!["gamma", "beta", "Alpha"], "no due date last");
    assert_eq!(list(json!({"sort": "-priority"})).await, vec!["Alpha", "gamma", "beta"]);
    assert_eq!(list(json!({"q": "ALP"})).await, vec!["Alpha"]);
    assert_eq!(list(json!({"priority": "low,medium", "limit": 1})).await.len(), 2, "one more than the page");

    let patch = TaskPatch { labels: Some(vec!["infra".into()]), ..TaskPatch::status(TaskStatus::Done) };
    let Updated::Task(done) = store.update_task_syncing(&tenant.id, &ids[0], &patch, &[], &[]).await.expect("updated")
    else {
        panic!("no links to change")
    };
    assert_eq!((done.status, done.labels.clone()), (TaskStatus::Done, vec!["infra".to_string()]));
    assert_eq!(list(json!({"status": "done"})).await, vec!["beta"]);
    let (other, _) = store.create_tenant("other").await.expect("tenant");
    assert!(matches!(store.update_task_syncing(&other.id, &ids[0], &patch, &[], &[]).await, Err(StoreError::NotFound)));
    let overdue = store
        .tasks_to_follow_up(
            &tenant.id,
            chrono::NaiveDate::from_ymd_opt(2027, 6, 1).expect("date"),
            chrono::Utc::now(),
            10,
        )
        .await
        .expect("follow-ups");
    assert_eq!(overdue.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), vec!["gamma"]);

    store.delete_task(&tenant.id, &ids[1]).await.expect("deleted");
    assert!(matches!(store.get_task(&tenant.id, &ids[1]).await, Err(StoreError::NotFound)));
    let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, CAST(SUM(tasks) AS SIGNED) FROM task_status_counts WHERE project_id = ?
         GROUP BY status ORDER BY status",
    )
    .bind(project.id.as_str())
    .fetch_all(&mut conn)
    .await
    .expect("counts");
    assert_eq!(counted, vec![("done".to_string(), 1), ("todo".to_string(), 1)], "moves and deletions counted");
}

#[tokio::test]
async fn labels_and_comments() {
    use taskbridge::domain::comment::NewComment;
    use taskbridge::domain::label::{LabelPatch, NewLabel};

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("labels").await.expect("tenant");
    let project = project(&store, &tenant.id, "Ops").await;
    let new = |name: &str| NewLabel { project_id: project.id.clone(), name: name.into(), color: "#336699".into() };
    let bug = store.create_label(&tenant.id, &new("bug")).await.expect("label");
    assert!(matches!(store.create_label(&tenant.id, &new("bug")).await, Err(StoreError::Conflict(_))));
    store.create_label(&tenant.id, &new("Bug")).await.expect("names compare byte-wise, as on the other backends");
    let (other, _) = store.create_tenant("other").await.expect("tenant");
    assert!(matches!(store.create_label(&other.id, &new("mine")).await, Err(StoreError::NotFound)));
    let patch = LabelPatch { name: Some("defect".into()), color: None };
    assert_eq!(store.update_label(&tenant.id, &bug.id, &patch).await.expect("renamed").name, "defect");
    assert_eq!(
        store.list_labels(&tenant.id, Some(project.id.as_str()), &Page::first(10)).await.expect("list").len(),
        2
    );
    store.delete_label(&tenant.id, &bug.id).await.expect("deleted");

    let input: NewTaskInput =
        serde_json::from_value(json!({"project_id": project.id.as_str(), "title": "Renew the domain"})).expect("input");
    let task = store.create_task(&tenant.id, &input.validate().expect("valid")).await.expect("task");
    let said = NewComment {
        task_id: task.id.clone(),
        content: "Registrar invoice is 100% paid".into(),
        author: Some("ana".into()),
        notify_requester: false,
    };
    let sync = NewJob::new("tracker.comment", format!("comment:{}", task.id.as_str()), json!({}));
    let comment = store.create_comment(&tenant.id, &taskbridge::domain::new_id(), &said, &sync).await.expect("comment");
    assert_eq!(store.get_comment(&tenant.id, &comment.id).await.expect("read").content, said.content);
    let edited = store.update_comment(&tenant.id, &comment.id, Some("Paid in full")).await.expect("edited");
    assert_eq!(edited.content, "Paid in full");
    let about = store.comments_about(&tenant.id, &[], &["full".to_string()], 5).await.expect("search");
    assert_eq!(about.len(), 1);
    assert_eq!(store.list_comments(&tenant.id, Some(task.id.as_str()), &Page::first(10)).await.expect("list").len(), 1);
    assert!(matches!(store.get_comment(&other.id, &comment.id).await, Err(StoreError::NotFound)));
    store.delete_comment(&tenant.id, &comment.id).await.expect("deleted");
    assert!(store.list_comments(&tenant.id, None, &Page::first(10)).await.expect("list").is_empty());
}

/// A project that triages: the request waits with its draft, then a person accepts one (a
/// task) and declines another; each decision is journaled and happens once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triaged_requests_are_accepted_or_declined_once() {
    use taskbridge::domain::message::{Decision, DecisionAction, MessageFilter, MessageStatus, TaskDraft};
    use taskbridge::domain::task::Priority;
    use taskbridge::store::Outcome;

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("triage").await.expect("tenant");
    let project = project(&store, &tenant.id, "Desk").await;
    let draft = TaskDraft {
        title: "Printer on floor 2 is jammed".into(),
        description: String::new(),
        priority: Priority::Medium,
        due_date: None,
        labels: vec![],
        assigned_to: None,
    };
    let outcome =
        Outcome { draft: &draft, candidates: &[], score: None, follow_up: None, on_created: &[], on_commented: None };
    let mut waiting = Vec::new();
    for text in ["Printer on floor 2 is jammed", "Can I get a new chair"] {
        let input: NewMessageInput =
            serde_json::from_value(json!({"text": text, "project_id": project.id.as_str()})).expect("input");
        let id = taskbridge::domain::new_id();
        let job = NewJob::new("intake.process", format!("intake:{id}"), json!({}));
        store.create_message(&tenant.id, &id, &input.validate().expect("valid"), &job).await.expect("accepted");
        store.finish_needs_triage(&tenant.id, &id, &outcome).await.expect("waits");
        waiting.push(id);
    }
    let filter = MessageFilter { status: Some(MessageStatus::NeedsTriage), ..MessageFilter::default() };
    assert_eq!(store.list_messages(&tenant.id, &filter, &Page::first(10)).await.expect("inbox").len(), 2);

    let decision = |action: DecisionAction, task_id: Option<taskbridge::domain::id::TaskId>| Decision {
        id: taskbridge::domain::new_id(),
        action,
        task_id,
        closed_task_id: None,
        comment_id: None,
        reason: None,
        decided_by_key_id: "key".into(),
        decided_by: "ana".into(),
        decided_at: taskbridge::store::now(),
    };
    let accept = decision(DecisionAction::Accept, Some(taskbridge::domain::id::TaskId::generate()));
    let task: NewTaskInput =
        serde_json::from_value(json!({"project_id": project.id.as_str(), "title": draft.title})).expect("input");
    let task = task.validate().expect("valid");
    store.decide_accept(&tenant.id, &waiting[0], &accept, &task, &[], None).await.expect("accepted");
    let again = store
        .decide_accept(
            &tenant.id,
            &waiting[0],
            &decision(DecisionAction::Accept, accept.task_id.clone()),
            &task,
            &[],
            None,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "decided once: {again:?}");
    let accepted = store.get_message(&tenant.id, &waiting[0]).await.expect("read");
    assert_eq!((accepted.status, accepted.task_id.clone()), (MessageStatus::Created, accept.task_id.clone()));
    assert_eq!(store.decisions_of(&tenant.id, &waiting[0]).await.expect("journal").len(), 1);
    let decline = decision(DecisionAction::Decline, None);
    store.decide_decline(&tenant.id, &waiting[1], &decline, None).await.expect("declined");
    assert_eq!(store.get_message(&tenant.id, &waiting[1]).await.expect("read").status, MessageStatus::Declined);
    assert_eq!(store.decision(&tenant.id, &decline.id).await.expect("journaled").action, DecisionAction::Decline);
    assert!(store.list_messages(&tenant.id, &filter, &Page::first(10)).await.expect("inbox").is_empty());
}

/// An answer in the requester's conversation: recorded once however often its job runs,
/// claimed for sending once, settled, and shown in the history beside the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_recorded_once_sent_once_and_shown_in_the_history() {
    use taskbridge::domain::delivery::{DeliveryStatus, NewDelivery};
    use taskbridge::domain::integration::IntegrationType;
    use taskbridge::store::OUTCOME_ANSWER;

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("answers").await.expect("tenant");
    let project = project(&store, &tenant.id, "Support").await;
    let input: NewMessageInput =
        serde_json::from_value(json!({"text": "VPN drops every hour", "project_id": project.id.as_str()}))
            .expect("input");
    let message_id = taskbridge::domain::new_id();
    let job = NewJob::new("intake.process", format!("intake:{message_id}"), json!({}));
    store.create_message(&tenant.id, &message_id, &input.validate().expect("valid"), &job).await.expect("accepted");
    let answer = NewDelivery {
        project_id: project.id.clone(),
        integration_id: taskbridge::domain::new_id().into(),
        platform: IntegrationType::Slack,
        message_id: Some(message_id.clone()),
        recipient: "U123".into(),
        subject: None,
        text: "Tracked as a task".into(),
        target: json!({"channel": "C1", "thread_ts": "1700000000.1"}),
    };
    let first = store.delivery_for_answer(&tenant.id, &answer, OUTCOME_ANSWER).await.expect("recorded");
    let again = store.delivery_for_answer(&tenant.id, &answer, OUTCOME_ANSWER).await.expect("recorded again");
    assert_eq!(first.id, again.id, "one answer per request and kind");
    let (_, target) = store.delivery(&tenant.id, &first.id).await.expect("read");
    assert_eq!(target["thread_ts"], json!("1700000000.1"));
    assert!(store.claim_delivery(&tenant.id, &first.id).await.expect("claim"));
    assert!(!store.claim_delivery(&tenant.id, &first.id).await.expect("claim again"), "sent once");
    store.finish_delivery(&tenant.id, &first.id, DeliveryStatus::Sent, None).await.expect("settled");
    assert_eq!(store.delivery(&tenant.id, &first.id).await.expect("read").0.status, DeliveryStatus::Sent);

    let send = NewJob::new("channel.send", format!("send:{}", first.id), json!({}));
    let other = NewDelivery { message_id: None, text: "Standalone".into(), ..answer.clone() };
    let sent = store.create_delivery(&tenant.id, &taskbridge::domain::new_id(), &other, &send).await.expect("created");
    assert_eq!(sent.status, DeliveryStatus::Queued);
    let history = store.history(&tenant.id, None, &Page::first(10)).await.expect("history");
    let directions: Vec<&str> = history.iter().map(|h| h.direction.as_str()).collect();
    assert_eq!(directions, vec!["out", "out", "in"], "newest first");
    assert_eq!(store.history(&tenant.id, Some("slack"), &Page::first(10)).await.expect("history").len(), 2);
}

/// Integrations: one per platform in a project, webhooks as many as wanted (PostgreSQL's
/// partial unique index, a stored column here); written back only if unchanged since read.
#[tokio::test]
async fn integrations_one_per_platform_and_written_back_only_if_unchanged() {
    use taskbridge::domain::integration::IntegrationType;
    use taskbridge::store::integrations::new_record;

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("integrations").await.expect("tenant");
    let project = project(&store, &tenant.id, "Chat").await;
    let slack = new_record(&project.id, IntegrationType::Slack, "Slack".into(), Default::default());
    store.create_integration(&tenant.id, &slack).await.expect("created");
    let second = new_record(&project.id, IntegrationType::Slack, "Slack again".into(), Default::default());
    assert!(matches!(store.create_integration(&tenant.id, &second).await, Err(StoreError::Conflict(_))));
    for name in ["hook one", "hook two"] {
        let hook = new_record(&project.id, IntegrationType::Webhook, name.into(), Default::default());
        store.create_integration(&tenant.id, &hook).await.expect("webhooks repeat");
    }
    let (other, _) = store.create_tenant("other").await.expect("tenant");
    let foreign = new_record(&project.id, IntegrationType::Discord, "Discord".into(), Default::default());
    assert!(matches!(store.create_integration(&other.id, &foreign).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_integrations(&tenant.id, &project.id).await.expect("list").len(), 3);
    let (owner, found) = store.integration_for_webhook(&slack.id).await.expect("by id");
    assert_eq!((owner, found.name.as_str()), (tenant.id.clone(), "Slack"));
    assert_eq!(store.active_integrations().await.expect("active").len(), 3);

    let read = store.get_integration(&tenant.id, &project.id, &slack.id).await.expect("read");
    let mut renamed = read.clone();
    renamed.name = "Slack (ops)".into();
    renamed.updated_at = taskbridge::store::now();
    assert!(store.save_integration_if_unchanged(&tenant.id, &renamed, read.updated_at).await.expect("saved"));
    let mut stale = renamed.clone();
    stale.name = "lost update".into();
    assert!(!store.save_integration_if_unchanged(&tenant.id, &stale, read.updated_at).await.expect("refused"));
    assert_eq!(store.get_integration(&tenant.id, &project.id, &slack.id).await.expect("read").name, "Slack (ops)");
    store.delete_integration(&tenant.id, &project.id, &slack.id).await.expect("deleted");
    assert!(matches!(store.integration_for_webhook(&slack.id).await, Err(StoreError::NotFound)));
}

/// OAuth states are taken once; a task's vector is kept, replaced, and refused for a task
/// that is gone.
#[tokio::test]
async fn oauth_states_are_taken_once_and_task_vectors_replaced() {
    use taskbridge::store::StoredVector;
    use taskbridge::store::oauth_states::StoredState;

    let Some((_db, _url, store)) = store(4).await else { return };
    let (tenant, _) = store.create_tenant("oauth").await.expect("tenant");
    let project = project(&store, &tenant.id, "Apps").await;
    let state = StoredState {
        tenant_id: tenant.id.clone(),
        project_id: project.id.clone(),
        key_id: "key".into(),
        provider: "slack".into(),
        verifier: Some("pkce-verifier".into()),
        extra: "{}".into(),
        expires_at: taskbridge::store::now() + chrono::Duration::minutes(10),
    };
    store.put_oauth_state("hash-of-state", &state).await.expect("kept");
    assert_eq!(store.take_oauth_state("hash-of-state").await.expect("taken"), Some(state));
    assert_eq!(store.take_oauth_state("hash-of-state").await.expect("taken again"), None, "once");

    let input: NewTaskInput =
        serde_json::from_value(json!({"project_id": project.id.as_str(), "title": "Embed me"})).expect("input");
    let task = store.create_task(&tenant.id, &input.validate().expect("valid")).await.expect("task");
    let vector = |model: &str, bytes: Vec<u8>| StoredVector {
        task_id: task.id.as_str().to_string(),
        model: model.into(),
        text_key: "k".into(),
        vector: bytes,
    };
    store.save_task_vector(&tenant.id, &vector("m1", vec![1, 2, 3, 4])).await.expect("kept");
    store.save_task_vector(&tenant.id, &vector("m2", vec![0, 0, 128, 63])).await.expect("replaced");
    let stored = store.task_vectors(&tenant.id, &[task.id.as_str()]).await.expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].model.as_str(), stored[0].vector.clone()), ("m2", vec![0, 0, 128, 63]));
    store.delete_task(&tenant.id, &task.id).await.expect("deleted");
    let gone = store.save_task_vector(&tenant.id, &vector("m3", vec![1])).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
}
