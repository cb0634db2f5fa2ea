//! Persistence behind one interface, over SQLite (embedded default), PostgreSQL or
//! (partly, see `docs/mariadb.md`) MySQL/MariaDB.
//!
//! Each query is written once and compiled for every backend by the `read!`/`write!`
//! macros, which keeps native column types on each side (an `AnyPool` would not); the
//! `query` functions put its text in the backend's dialect (`dialect`).

mod comments;
mod console;
pub mod coordinator;
mod decisions;
mod deliveries;
mod dialect;
mod group_commit;
mod heard_cache;
mod imports;
pub mod inspect;
mod integration_cache;
pub mod integrations;
mod jobs;
mod key_cache;
mod labels;
mod links;
mod mailboxes;
mod messages;
mod migrate;
mod notices;
pub mod oauth_states;
mod outcomes;
mod polls;
mod projects;
mod requesters;
pub mod sync_runs;
mod tasks;
mod teams;
mod tenants;
mod vectors;

use std::str::FromStr;
use std::time::Duration;

use crate::domain::id::TenantId;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{MySqlPool, PgPool, SqlitePool};

pub(crate) use dialect::{query, query_as, query_scalar};

pub use console::{ConsoleSession, Counts, IntegrationProblem};
pub use decisions::{MergeComment, OwnTask};
pub use deliveries::OUTCOME as OUTCOME_ANSWER;
pub use imports::ImportProgress;
pub use links::TaskLink;
pub use mailboxes::{MailboxMode, MailboxRead, MailboxState};
pub use messages::{Created, IntakeTurn, Outcome, ProjectIntake};
pub use outcomes::Watch;
pub use polls::{PollOutcome, PollState};
pub use sync_runs::{FinishedRun, NewChange, NewRun, RunFilter, SyncChange, SyncRun};
pub use tasks::Updated;
pub use tenants::Bootstrap;
pub use vectors::StoredVector;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error(
        "mysql:// (MySQL/MariaDB) is not supported yet: tenants, projects, jobs, requests and their outcomes \
         (triage too), their answers, tasks, labels, comments, integrations, OAuth states and task vectors work on it, but {0} do not; use sqlite:// or postgres:// (see \
         docs/mariadb.md)"
    )]
    MysqlIncomplete(&'static str),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("stored value is not valid: {0}")]
    Corrupt(String),
    #[error("random source failed: {0}")]
    Random(#[from] getrandom::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a failed write: a unique violation becomes a conflict naming `what`.
    pub(crate) fn on_write(err: sqlx::Error, what: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("{what} already exists"))
            }
            _ => StoreError::Database(err),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(Clone)]
enum Db {
    /// SQLite allows one writer at a time: writes share one connection (no lock
    /// contention between our own connections), reads use a pool.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
    /// MySQL 8 or MariaDB 10.6+ (the session settings they run with: `connect_mysql`).
    Mysql(MySqlPool),
}

/// Pool figures for `/metrics`.
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    outcomes: std::sync::Arc<outcomes::Outcomes>,
    /// The group commit of accepted messages, started on first use.
    accepts: std::sync::Arc<std::sync::OnceLock<group_commit::Accepts>>,
    /// Callers of recently presented API keys.
    keys: std::sync::Arc<key_cache::KeyCache>,
    /// Integrations that webhooks named lately.
    webhook_integrations: std::sync::Arc<integration_cache::IntegrationCache>,
}

/// Runs `$body` with `$pool` bound to the pool for reads, compiled once per backend.
macro_rules! read {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            crate::store::Db::Sqlite { read: $pool, .. } => $body,
            crate::store::Db::Postgres($pool) => $body,
            crate::store::Db::Mysql($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool for writes, compiled once per backend.
macro_rules! write {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            crate::store::Db::Sqlite { write: $pool, .. } => $body,
            crate::store::Db::Postgres($pool) => $body,
            crate::store::Db::Mysql($pool) => $body,
        }
    };
}

pub(crate) use {read, write};

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Connects to `mysql://` although not every store operation works there yet: for the
    /// tests of the parts that do. Never set from the configuration.
    pub unfinished_mysql: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 10, acquire_timeout: Duration::from_secs(5), unfinished_mysql: false }
    }
}

/// What does not work on MySQL/MariaDB yet, as the refusal names it.
const MYSQL_MISSING: &str = "tracker links and sync runs, imports, polls, mailboxes, teams, the console \
                             and the coordinator";

impl Store {
    /// The group commit of accepted messages, its committers started on this runtime.
    fn accepts(&self) -> &group_commit::Accepts {
        self.accepts.get_or_init(|| group_commit::Accepts::start(self.db.clone()))
    }

    /// Connects to `url` (`sqlite://path` or `postgres://…`) and runs the migrations.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        let store = if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // List queries combine optional filters; a generic plan chosen for one mix of
            // filters can be very wrong for another, so plan with the actual values.
            let opts = PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_custom_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(opts)
                .await?;
            Store {
                db: Db::Postgres(pool),
                outcomes: Default::default(),
                accepts: Default::default(),
                keys: std::sync::Arc::new(key_cache::shared()),
                webhook_integrations: std::sync::Arc::new(integration_cache::shared()),
            }
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            if !options.unfinished_mysql {
                return Err(StoreError::MysqlIncomplete(MYSQL_MISSING));
            }
            Self::connect_mysql(url, options).await?
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_sqlite(url: &str, options: &StoreOptions) -> Result<Self> {
        let parsed = SqliteConnectOptions::from_str(url)?;
        owner_only(parsed.get_filename())?;
        let base = parsed
            .synchronous(SqliteSynchronous::Normal)
            .pragma("cache_size", "-16384")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.clone().create_if_missing(true).journal_mode(SqliteJournalMode::Wal))
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 8))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.read_only(true))
            .await?;
        Ok(Store {
            db: Db::Sqlite { read, write },
            outcomes: Default::default(),
            accepts: Default::default(),
            keys: std::sync::Arc::new(key_cache::local()),
            webhook_integrations: std::sync::Arc::new(integration_cache::local()),
        })
    }

    /// MySQL or MariaDB, each connection set to behave as the shared query texts expect:
    /// standard string literals and quoted identifiers (`NO_BACKSLASH_ESCAPES`,
    /// `ANSI_QUOTES`; sqlx adds `PIPES_AS_CONCAT`), errors rather than silently clipped
    /// values (`STRICT_ALL_TABLES`), and PostgreSQL's isolation level, under which the
    /// queue's and the counters' statements were written (`READ COMMITTED`).
    async fn connect_mysql(url: &str, options: &StoreOptions) -> Result<Self> {
        let url = url.strip_prefix("mariadb:").map(|rest| format!("mysql:{rest}")).unwrap_or_else(|| url.to_string());
        let opts = MySqlConnectOptions::from_str(&url)?.charset("utf8mb4").collation("utf8mb4_unicode_ci");
        let pool = MySqlPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute(
                        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES')",
                    )
                    .await?;
                    // The statement both MariaDB and MySQL 8 know (their variables differ).
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Store {
            db: Db::Mysql(pool),
            outcomes: Default::default(),
            accepts: Default::default(),
            // No way to hear of another instance's changes: entries live one second, as on
            // an SQLite file that another process may share.
            keys: std::sync::Arc::new(key_cache::local()),
            webhook_integrations: std::sync::Arc::new(integration_cache::local()),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
            Db::Mysql(_) => Backend::Mysql,
        }
    }

    /// The pool when the backend is MySQL/MariaDB: for the statements written apart for it.
    fn mysql(&self) -> Option<&MySqlPool> {
        match &self.db {
            Db::Mysql(pool) => Some(pool),
            _ => None,
        }
    }

    /// A wait for the outcome of record `id` (a message, a sync run, an action): woken by
    /// [`Store::announce`] here or, on PostgreSQL, on any instance.
    pub fn watch(&self, id: &str) -> Watch {
        if let Db::Postgres(pool) = &self.db {
            self.outcomes.listen(pool);
        }
        Watch::new(self.outcomes.clone(), id)
    }

    /// Says that record `id` reached its outcome, after it was committed. Best effort: a
    /// waiter that misses it finds the outcome on its next look at the database.
    async fn announce(&self, id: &str) {
        self.outcomes.announce(id);
        if let Db::Postgres(pool) = &self.db
            && let Err(e) =
                crate::store::query("SELECT pg_notify($1, $2)").bind(outcomes::CHANNEL).bind(id).execute(pool).await
        {
            tracing::warn!(error = %e, "could not announce an outcome; waiters will poll");
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        read!(self, |pool| crate::store::query("SELECT 1").execute(pool).await.is_ok())
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &self.db {
            Db::Sqlite { read, write } => {
                PoolStats { size: read.size() + write.size(), idle: (read.num_idle() + write.num_idle()) as u32 }
            }
            Db::Postgres(pool) => PoolStats { size: pool.size(), idle: pool.num_idle() as u32 },
            Db::Mysql(pool) => PoolStats { size: pool.size(), idle: pool.num_idle() as u32 },
        }
    }

    /// Deletes one of the tenant's rows of `table` (dependent rows go by cascade);
    /// `NotFound` when the tenant has no such row.
    async fn delete_owned(&self, table: &'static str, tenant_id: &TenantId, id: &str) -> Result<()> {
        let sql = format!("DELETE FROM {table} WHERE id = $1 AND tenant_id = $2");
        let affected = write!(self, |pool| crate::store::query(&sql)
            .bind(id)
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected());
        if affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Refreshes the query planner's statistics (PostgreSQL `ANALYZE`, SQLite
    /// `PRAGMA optimize`): after a bulk load, plans are only as good as these.
    pub async fn optimize(&self) -> Result<()> {
        let sql = match self.backend() {
            Backend::Postgres => "ANALYZE",
            Backend::Sqlite => "PRAGMA optimize",
            // MySQL names its tables: the ones bulk loads fill.
            Backend::Mysql => "ANALYZE TABLE tasks, messages, jobs, task_links, comments, labels, task_labels",
        };
        write!(self, |pool| {
            crate::store::query(sql).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
            Db::Mysql(pool) => pool.close().await,
        }
    }
}

/// Makes the database file readable by its owner only, creating it so when it does not
/// exist yet: it holds every tenant's data. SQLite gives its WAL and shared-memory files the
/// database file's permissions; ones left by an earlier version are tightened too.
fn owner_only(path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let name = path.as_os_str().to_string_lossy();
        if name.is_empty() || name == ":memory:" {
            return Ok(());
        }
        let io = |e: std::io::Error| StoreError::Database(sqlx::Error::Io(e));
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{name}{suffix}"));
            match std::fs::metadata(&file) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
                }
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Turns a stored enum text back into its type, or reports the row as corrupt.
pub(crate) fn parse_enum<T>(column: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("{column} = {value:?}")))
}

/// An error as stored with a poll's outcome: at most 2,000 characters.
pub(crate) fn clipped(error: Option<&str>) -> Option<String> {
    error.map(|e| e.chars().take(2000).collect())
}

/// The current time at the precision both backends store (microseconds), so what a write
/// answers equals what a later read returns.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
