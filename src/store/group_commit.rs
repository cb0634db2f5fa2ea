//! Group commit of accepted messages: messages accepted at the same moment are written, each
//! with its processing job, in one transaction and one commit instead of one each. Each is
//! answered only after the commit that holds it (persist before acknowledge). Nothing waits
//! for company: a batch is whatever queued up while the previous one was being written, so
//! a lone message is written at once and a busy instance commits many per turn.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::jobs::enqueue_job;
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
            Db::Postgres(_) => 4,
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
            Err(mpsc::error::SendError((pending, _))) => {
                let mut outcomes = self.writer.write_batch(std::slice::from_ref(&pending)).await?;
                outcomes.pop().unwrap_or(Ok(()))
            }
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
                    let outcome =
                        writer.write_batch(std::slice::from_ref(one)).await.and_then(|mut o| o.pop().unwrap_or(Ok(())));
                    let _ = answer.send(outcome);
                }
            }
        }
    }
}

impl Writer {
    /// Writes the messages and their jobs in one transaction: each message's outcome, or the
    /// transaction's failure (then nothing was written).
    async fn write_batch(&self, batch: &[Pending]) -> Result<Vec<Result<()>>> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for p in batch {
                let (new, origin) = (&p.new, p.new.origin.as_ref());
                let inserted = sqlx::query(
                    "INSERT INTO messages (id, tenant_id, project_id, text, author, source, channel, thread_ref,
                                           received_at, status, created_at, updated_at, integration_id, external_id,
                                           reply_to, text_key)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10, $11, $12, $13, $14
                     WHERE EXISTS (SELECT 1 FROM projects WHERE id = $3 AND tenant_id = $2)
                     ON CONFLICT (integration_id, external_id) DO NOTHING",
                )
                .bind(&p.id)
                .bind(&p.tenant_id)
                .bind(&new.project_id)
                .bind(&new.text)
                .bind(&new.author)
                .bind(&new.source)
                .bind(&new.channel)
                .bind(&new.thread_ref)
                .bind(p.received_at)
                .bind(p.now)
                .bind(origin.map(|o| o.integration_id.as_str()))
                .bind(origin.map(|o| o.external_id.as_str()))
                .bind(origin.map(|o| o.reply_to.to_string()))
                .bind(crate::domain::message::text_key(&new.text))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // A platform's redelivery of an event already received, or no such project.
                    outcomes.push(Err(match origin {
                        Some(_) => StoreError::Conflict("this event was already received".into()),
                        None => StoreError::NotFound,
                    }));
                    continue;
                }
                let _ = enqueue_job!(&mut *tx, &p.tenant_id, &p.job, p.now);
                outcomes.push(Ok(()));
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }
}
