//! Versioned migrations, one tree per backend, applied at start.
//!
//! MySQL/MariaDB came later: its tree starts with one baseline file equal to the
//! PostgreSQL schema after [`MYSQL_BASELINE`], recorded as all the migrations up to it,
//! and has a file of its own for each migration after it.

use super::{Db, Result, Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// `None` for the migrations the MySQL baseline holds.
    mysql: Option<&'static str>,
}

/// One migration: its number and the file name shared by both backends' trees.
macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $file, ".sql")),
            mysql: None,
        }
    };
    // A migration after the MySQL baseline: MySQL's tree has the same file.
    ($version:literal, $file:literal, mysql) => {
        Migration {
            mysql: Some(include_str!(concat!("../../migrations/mysql/", $file, ".sql"))),
            ..migration!($version, $file)
        }
    };
}

/// The last migration the MySQL baseline holds.
const MYSQL_BASELINE: i64 = 34;
const MYSQL_BASELINE_SQL: &str = include_str!("../../migrations/mysql/0034_baseline.sql");

/// Every migration after the baseline has a MySQL file (checked when compiling).
const fn mysql_tree_complete() -> bool {
    let mut i = 0;
    while i < MIGRATIONS.len() {
        if MIGRATIONS[i].version > MYSQL_BASELINE && MIGRATIONS[i].mysql.is_none() {
            return false;
        }
        i += 1;
    }
    true
}
const _: () = assert!(mysql_tree_complete(), "a migration after the MySQL baseline needs migrations/mysql/…");

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_init"),
    migration!(2, "0002_list_indexes"),
    migration!(3, "0003_jobs_messages"),
    migration!(4, "0004_teams"),
    migration!(5, "0005_integrations"),
    migration!(6, "0006_message_sources"),
    migration!(7, "0007_deliveries"),
    migration!(8, "0008_task_links"),
    migration!(9, "0009_tracker_imports"),
    migration!(10, "0010_sync_runs"),
    migration!(11, "0011_tracker_polls"),
    migration!(12, "0012_push_runs"),
    migration!(13, "0013_run_tasks"),
    migration!(14, "0014_oauth_states"),
    migration!(15, "0015_ai_analyses"),
    migration!(16, "0016_ai_chat"),
    migration!(17, "0017_webhook_subscribers"),
    migration!(18, "0018_intake_turns"),
    migration!(19, "0019_console_sessions"),
    migration!(20, "0020_duplicate_bands"),
    migration!(21, "0021_task_status_counts"),
    migration!(22, "0022_triage"),
    migration!(23, "0023_merge_comments"),
    migration!(24, "0024_notify_requester"),
    migration!(25, "0025_inbox_filters"),
    migration!(26, "0026_thread_replies"),
    migration!(27, "0027_mailbox_polls"),
    migration!(29, "0029_job_lanes"),
    migration!(30, "0030_task_vectors"),
    migration!(32, "0032_mailbox_idle"),
    migration!(34, "0034_sync_run_counts"),
];

/// Any fixed number: it names the lock that keeps instances from migrating at once.
const PG_MIGRATION_LOCK: i64 = 0x7461_736b_6272;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// The name of MySQL's lock that keeps instances from migrating at once.
const MYSQL_MIGRATION_LOCK: &str = "taskbridge_migrations";

/// Applies the migrations `$conn` has not seen yet, each in its own transaction.
macro_rules! apply {
    ($conn:expr, $field:ident) => {{
        use sqlx::{Connection, Row};
        let conn = $conn;
        sqlx::raw_sql(CREATE_TABLE).execute(&mut *conn).await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
            let fail = |source| StoreError::Migration { version: m.version, source };
            let mut tx = conn.begin().await.map_err(fail)?;
            sqlx::raw_sql(m.$field).execute(&mut *tx).await.map_err(fail)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
        Ok::<(), StoreError>(())
    }};
}

impl Store {
    pub(super) async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite { write, .. } => {
                // The single write connection already serialises migrations.
                let mut conn = write.acquire().await?;
                apply!(&mut *conn, sqlite)
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)").bind(PG_MIGRATION_LOCK).execute(&mut *conn).await?;
                let outcome = async { apply!(&mut *conn, postgres) }.await;
                sqlx::query("SELECT pg_advisory_unlock($1)").bind(PG_MIGRATION_LOCK).execute(&mut *conn).await?;
                outcome
            }
            Db::Mysql(pool) => {
                let mut conn = pool.acquire().await?;
                let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 600)")
                    .bind(MYSQL_MIGRATION_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                if locked != Some(1) {
                    return Err(StoreError::Conflict("another instance held the migration lock for 10 minutes".into()));
                }
                let outcome = apply_mysql(&mut conn).await;
                sqlx::query("SELECT RELEASE_LOCK(?)").bind(MYSQL_MIGRATION_LOCK).execute(&mut *conn).await?;
                outcome
            }
        }
    }
}

/// MySQL's migrations. Its DDL commits as it goes (no transaction can hold it), so each
/// file is written to be run again after a failure part-way: `CREATE TABLE IF NOT EXISTS`,
/// indexes inside their tables. The baseline is recorded as every migration it holds.
async fn apply_mysql(conn: &mut sqlx::MySqlConnection) -> Result<()> {
    use sqlx::Row;
    sqlx::raw_sql(CREATE_TABLE).execute(&mut *conn).await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<std::result::Result<_, _>>()?;
    let record = |m: &'static Migration| {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            .bind(m.version)
            .bind(m.name)
            .bind(chrono::Utc::now().to_rfc3339())
    };
    if !applied.iter().any(|v| *v <= MYSQL_BASELINE) {
        let fail = |source| StoreError::Migration { version: MYSQL_BASELINE, source };
        sqlx::raw_sql(MYSQL_BASELINE_SQL).execute(&mut *conn).await.map_err(fail)?;
        // Recorded all at once: a start that finds some of them finds the baseline whole.
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail)?;
        for m in MIGRATIONS.iter().filter(|m| m.version <= MYSQL_BASELINE) {
            record(m).execute(&mut *tx).await.map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        tracing::info!(version = MYSQL_BASELINE, "applied the MySQL baseline");
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > MYSQL_BASELINE && !applied.contains(&m.version)) {
        let fail = |source| StoreError::Migration { version: m.version, source };
        if let Some(sql) = m.mysql {
            sqlx::raw_sql(sql).execute(&mut *conn).await.map_err(fail)?;
        }
        record(m).execute(&mut *conn).await.map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

/// The migrations this binary knows.
pub(super) fn known() -> usize {
    MIGRATIONS.len()
}

/// The versions among `applied` that this binary does not know (a newer binary's).
pub(super) fn pending_and_unknown(applied: &[i64]) -> (usize, usize) {
    let pending = MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)).count();
    let unknown = applied.iter().filter(|v| !MIGRATIONS.iter().any(|m| m.version == **v)).count();
    (pending, unknown)
}
