//! Group commit of accepted messages: messages accepted at the same moment are written, each
//! with its processing job, in one transaction and one commit instead of one each. Each is
//! answered only after the commit that holds it (persist before acknowledge). Nothing waits
//! for company: a batch is whatever queued up while the previous one was being written, so
//! a lone message is written at once and a busy instance commits many per turn.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Db, Result, StoreError, write};
use crate::domain::id::TenantId;
use crate::domain::job::NewJob;
use crate::domain::message::NewMessage;

/// The most messages one transaction holds.
const MOST_PER_BATCH: usize = 256;
/// Messages waiting for their turn before accepting waits for room.
const QUEUE: usize = 4096;

/// A message to persist with its job, and who waits for the commit.
pub(super) struct Pending {
    pub tenant_id: TenantId,
    pub id: String,
    pub new: NewMessage,
    pub job: NewJob,
    pub now: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

type Answer = oneshot::Sender<Result<()>>;

/// The queue of messages to commit, and the committers that write it.
pub(super) struct Accepts {
    queue: mpsc::Sender<(Pending, Answer)>,
    writer: Writer,
}

/// Writes batches; what the `write!` macro needs.
#[derive(Clone)]
struct Writer {
    db: Db,
}

impl Accepts {
    /// Starts the committers on the current runtime: one where the database has one writer
    /// (SQLite), a few on PostgreSQL, whose transactions commit side by side.
    pub fn start(db: Db) -> Self {
        let committers = match db {
            Db::Sqlite { .. } => 1,
            Db::Postgres(_) | Db::Mysql(_) => 4,
        };
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        let writer = Writer { db };
        for _ in 0..committers {
            tokio::spawn(commit_in_turn(writer.clone(), receiver.clone()));
        }
        Accepts { queue, writer }
    }

    /// Persists the message with its job; returns once they are committed.
    pub async fn accept(&self, pending: Pending) -> Result<()> {
        let (answer, committed) = oneshot::channel();
        match self.queue.send((pending, answer)).await {
            Ok(()) => match committed.await {
                Ok(outcome) => outcome,
                // The committer went with its runtime mid-batch: the message may or may
                // not be written, and the caller cannot tell which.
                Err(_) => Err(StoreError::Conflict("the write was interrupted; send the message again".into())),
            },
            // No committer on this runtime (it ended): write this one alone.
            Err(mpsc::error::SendError((pending, _))) => self.writer.write_one(&pending).await,
        }
    }
}

/// Takes what has queued up (at most [`MOST_PER_BATCH`]), writes it in one transaction and
/// answers each; when the transaction fails, each message is written on its own, so one bad
/// message cannot fail the others.
async fn commit_in_turn(writer: Writer, receiver: Arc<Mutex<mpsc::Receiver<(Pending, Answer)>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MOST_PER_BATCH).await == 0 {
                return;
            }
        }
        let (pending, answers): (Vec<Pending>, Vec<Answer>) = batch.into_iter().unzip();
        match writer.write_batch(&pending).await {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = answer.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = pending.len(), "a group commit failed: writing each alone");
                for (one, answer) in pending.iter().zip(answers) {
                    let _ = answer.send(writer.write_one(one).await);
                }
            }
        }
    }
}

impl Writer {
    /// Writes one message and its job in a transaction of its own.
    async fn write_one(&self, pending: &Pending) -> Result<()> {
        self.write_batch(std::slice::from_ref(pending)).await?.pop().unwrap_or(Ok(()))
    }

    /// Writes the messages and their jobs in one transaction of two statements (all the
    /// messages, then the jobs of those written): each message's outcome, or the
    /// transaction's failure (then nothing was written). A message not written is a
    /// platform's redelivery of an event already received, or one for no such project.
    async fn write_batch(&self, batch: &[Pending]) -> Result<Vec<Result<()>>> {
        if let Db::Mysql(pool) = &self.db {
            return write_batch_mysql(pool, batch).await;
        }
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            // VALUES names its columns column1, column2, … on both backends.
            let mut messages = sqlx::QueryBuilder::new(
                "INSERT INTO messages (id, tenant_id, project_id, text, author, source, channel, thread_ref,
                                       received_at, status, created_at, updated_at, integration_id, external_id,
                                       reply_to, text_key)
                 SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, 'queued',
                        column10, column10, column11, column12, column13, column14
                 FROM (",
            );
            messages.push_values(batch, |mut row, p| {
                let (new, origin) = (&p.new, p.new.origin.as_ref());
                row.push_bind(p.id.as_str())
                    .push_bind(&p.tenant_id)
                    .push_bind(&new.project_id)
                    .push_bind(new.text.as_str())
                    .push_bind(new.author.as_deref())
                    .push_bind(new.source.as_str())
                    .push_bind(new.channel.as_deref())
                    .push_bind(new.thread_ref.as_deref())
                    .push_bind(p.received_at)
                    .push_bind(p.now)
                    .push_bind(origin.map(|o| o.integration_id.clone()))
                    .push_bind(origin.map(|o| o.external_id.clone()))
                    .push_bind(origin.map(|o| o.reply_to.to_string()))
                    .push_bind(crate::domain::message::text_key(&new.text));
            });
            messages.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = v.column3 AND p.tenant_id = v.column2)
                 ON CONFLICT (integration_id, external_id) DO NOTHING RETURNING id",
            );
            let written: std::collections::HashSet<String> =
                messages.build_query_scalar::<String>().fetch_all(&mut *tx).await?.into_iter().collect();
            let kept: Vec<&Pending> = batch.iter().filter(|p| written.contains(&p.id)).collect();
            if !kept.is_empty() {
                let mut jobs = sqlx::QueryBuilder::new(
                    "INSERT INTO jobs (id, tenant_id, kind, payload, idempotency_key, status, attempts, max_attempts,
                                       run_at, created_at, updated_at, lane) ",
                );
                jobs.push_values(&kept, |mut row, p| {
                    let job = &p.job;
                    row.push_bind(crate::domain::new_id())
                        .push_bind(&p.tenant_id)
                        .push_bind(job.kind)
                        .push_bind(job.payload.to_string())
                        .push_bind(job.idempotency_key.as_str())
                        .push("'queued'")
                        .push("0")
                        .push_bind(job.max_attempts)
                        .push_bind(job.run_at.unwrap_or(p.now))
                        .push_bind(p.now)
                        .push_bind(p.now)
                        .push_bind(crate::domain::job::Lane::of(job.kind).as_str());
                });
                jobs.push(" ON CONFLICT (idempotency_key) DO NOTHING");
                jobs.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(batch
                .iter()
                .map(|p| match (written.contains(&p.id), &p.new.origin) {
                    (true, _) => Ok(()),
                    (false, Some(_)) => Err(StoreError::Conflict("this event was already received".into())),
                    (false, None) => Err(StoreError::NotFound),
                })
                .collect())
        })
    }
}

/// [`Writer::write_batch`] on MySQL, which has neither `INSERT … RETURNING` nor a `VALUES`
/// list that a `SELECT` can name columns of: each message is one statement whose affected
/// rows say whether it was written, all in the batch's one transaction.
async fn write_batch_mysql(pool: &sqlx::MySqlPool, batch: &[Pending]) -> Result<Vec<Result<()>>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for p in batch {
        let (new, origin) = (&p.new, p.new.origin.as_ref());
        let written = crate::store::query(
            "INSERT IGNORE INTO messages (id, tenant_id, project_id, text, author, source, channel, thread_ref,
                                          received_at, status, created_at, updated_at, integration_id, external_id,
                                          reply_to, text_key)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, $12, $13, $14, $15
             FROM projects p WHERE p.id = $16 AND p.tenant_id = $17",
        )
        .bind(p.id.as_str())
        .bind(&p.tenant_id)
        .bind(&new.project_id)
        .bind(new.text.as_str())
        .bind(new.author.as_deref())
        .bind(new.source.as_str())
        .bind(new.channel.as_deref())
        .bind(new.thread_ref.as_deref())
        .bind(p.received_at)
        .bind(p.now)
        .bind(p.now)
        .bind(origin.map(|o| o.integration_id.clone()))
        .bind(origin.map(|o| o.external_id.clone()))
        .bind(origin.map(|o| o.reply_to.to_string()))
        .bind(crate::domain::message::text_key(&new.text))
        .bind(&new.project_id)
        .bind(&p.tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        outcomes.push(match (written, origin) {
            (true, _) => {
                let _ = super::jobs::enqueue_job!(&mut *tx, &p.tenant_id, &p.job, p.now);
                Ok(())
            }
            (false, Some(_)) => Err(StoreError::Conflict("this event was already received".into())),
            (false, None) => Err(StoreError::NotFound),
        });
    }
    tx.commit().await?;
    Ok(outcomes)
}
