//! A look at a database without changing it (`taskbridge doctor`): does it answer, and how
//! far are its migrations. Nothing is created, migrated or written.

use std::str::FromStr;
use std::time::Duration;

use sqlx::{ConnectOptions, Connection, Row};

use super::{Backend, Result, StoreError, migrate};

/// What a database holds, seen from this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// An SQLite file that does not exist yet: created at first start.
    Missing,
    /// The database answers; `pending` migrations are applied at the next start, and
    /// `unknown` ones were applied by a newer binary.
    Present { applied: usize, pending: usize, unknown: usize },
}

/// The backend `url` names and what its database holds; an error when it cannot be reached.
pub async fn inspect(url: &str, timeout: Duration) -> Result<(Backend, Schema)> {
    let work = async {
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
            let file = options.get_filename();
            let name = file.as_os_str().to_string_lossy();
            if name != ":memory:" && !name.is_empty() && !file.exists() {
                return Ok((Backend::Sqlite, Schema::Missing));
            }
            let mut conn = options.connect().await?;
            let has_table =
                sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
                    .fetch_optional(&mut conn)
                    .await?
                    .is_some();
            let mut applied = Vec::new();
            if has_table {
                for row in sqlx::query("SELECT version FROM schema_migrations").fetch_all(&mut conn).await? {
                    applied.push(row.try_get::<i64, _>(0)?);
                }
            }
            conn.close().await?;
            Ok((Backend::Sqlite, schema(&applied)))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
            let has_table: bool = sqlx::query("SELECT to_regclass('schema_migrations') IS NOT NULL")
                .fetch_one(&mut conn)
                .await?
                .try_get(0)?;
            let mut applied = Vec::new();
            if has_table {
                for row in sqlx::query("SELECT version FROM schema_migrations").fetch_all(&mut conn).await? {
                    applied.push(row.try_get::<i64, _>(0)?);
                }
            }
            conn.close().await?;
            Ok((Backend::Postgres, schema(&applied)))
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Err(StoreError::MysqlIncomplete(super::MYSQL_MISSING))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s", timeout.as_secs()),
        )))
    })?
}

fn schema(applied: &[i64]) -> Schema {
    let (pending, unknown) = migrate::pending_and_unknown(applied);
    Schema::Present { applied: migrate::known() - pending, pending, unknown }
}
