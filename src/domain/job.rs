//! Jobs as data: what is queued, claimed and listed. The queue's table lives in the store
//! and its workers in `jobs`; both speak these types, neither imports the other for them.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::id::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its first run.
    Queued,
    /// Claimed by a worker whose lease has not expired.
    Running,
    Succeeded,
    /// The last attempt failed; another is scheduled at `run_at`.
    Failed,
    /// Given up: out of attempts, or a failure that retrying cannot fix.
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] =
        [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A job to enqueue. The idempotency key makes enqueueing the same work twice a no-op.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub max_attempts: i32,
    /// Not before this time (at once when `None`).
    pub run_at: Option<DateTime<Utc>>,
}

/// A kind of job, as a type: its name, its payload (the type itself, serialized) and the key
/// that makes queueing the same work twice a no-op. A kind is defined beside its handler;
/// producers build the value and queue [`NewJob::of`] it, and the workers' registry parses
/// the payload back into the same type before the handler sees it, so both ends are checked
/// by the compiler.
pub trait JobKind: Serialize + DeserializeOwned + Send + 'static {
    /// The name stored with the job and listed by the API.
    const KIND: &'static str;
    /// Attempts before the job is given up (`dead`).
    const MAX_ATTEMPTS: i32 = DEFAULT_MAX_ATTEMPTS;

    fn idempotency_key(&self) -> String;

    /// This job, ready to queue.
    fn job(&self) -> NewJob {
        NewJob::of(self)
    }
}

impl NewJob {
    /// A typed job, ready to queue.
    pub fn of<J: JobKind>(job: &J) -> Self {
        NewJob {
            kind: J::KIND,
            // A payload is a plain struct of strings and numbers: it always serializes.
            payload: serde_json::to_value(job).unwrap_or(serde_json::Value::Null),
            idempotency_key: job.idempotency_key(),
            max_attempts: J::MAX_ATTEMPTS,
            run_at: None,
        }
    }

    /// An untyped job (the queue's own tests); the application's jobs are [`JobKind`]s.
    pub fn new(kind: &'static str, idempotency_key: impl Into<String>, payload: serde_json::Value) -> Self {
        NewJob {
            kind,
            payload,
            idempotency_key: idempotency_key.into(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
        }
    }

    /// The same job, run no earlier than `at` (scheduled work such as polling).
    pub fn at(self, at: DateTime<Utc>) -> Self {
        NewJob { run_at: Some(at), ..self }
    }
}

pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// Which of an instance's worker pools runs a job. Turning a request into its outcome and
/// answering the requester never waits behind tracker pushes, syncs or deliveries, which
/// may be slow for reasons outside taskbridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Intake,
    Work,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Intake, Lane::Work];

    /// The lane of job kind `kind`: processing a request (`intake.*`), fetching what it
    /// links to and answering it are intake; everything else is work.
    pub fn of(kind: &str) -> Lane {
        match kind {
            "channel.fetch" | "channel.reply" => Lane::Intake,
            k if k.starts_with("intake.") => Lane::Intake,
            _ => Lane::Work,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Intake => "intake",
            Lane::Work => "work",
        }
    }
}

/// A job claimed by a worker: only the holder of `lease_token` may settle it.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub tenant_id: TenantId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_token: String,
}
