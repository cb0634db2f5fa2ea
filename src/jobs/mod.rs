//! The durable job queue: jobs live in the database, workers claim them with a lease,
//! failures are retried with exponential backoff and jitter (or after the delay a remote
//! service asked for), and a job that keeps failing ends `dead`, visible and replayable.
//! No business rules here: handlers are registered by the modules that own the work.

mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::domain::job::{ClaimedJob, DEFAULT_MAX_ATTEMPTS, Job, JobKind, JobStatus, Lane, NewJob};
pub use worker::{Handler, HandlerFuture, JobContext, Registry, Waker, WorkerOptions, Workers};

/// How a handler failed, which decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Transient: retry with backoff.
    #[error("{0}")]
    Retry(String),
    /// The remote side asked to wait (429 / 503 with `Retry-After`).
    #[error("{message} (retry after {after:?})")]
    RetryAfter { after: Duration, message: String },
    /// Retrying cannot help (bad payload, validation refused by a tracker, …).
    #[error("{0}")]
    Permanent(String),
    /// What the job works on no longer exists (a tracker answered 404, a record was
    /// deleted): permanent too, but a step that removes the thing counts it as done.
    #[error("{0}")]
    Gone(String),
}

impl JobError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, JobError::Permanent(_) | JobError::Gone(_))
    }
}

/// A record the job needs is gone for good; any other storage failure may pass.
impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => JobError::Gone(e.to_string()),
            other => JobError::Retry(other.to_string()),
        }
    }
}

/// The time slot `at` falls in, for work repeated every `interval` (slots count from the
/// epoch). Scheduled jobs name their slot in their idempotency key, so each runs once per
/// slot however many instances schedule it.
pub fn slot_of(at: DateTime<Utc>, interval: Duration) -> i64 {
    at.timestamp().div_euclid(interval.as_secs().max(1) as i64)
}

/// When slot `slot` of `interval` starts.
pub fn slot_start(slot: i64, interval: Duration) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(slot.saturating_mul(interval.as_secs().max(1) as i64), 0).unwrap_or_else(Utc::now)
}

/// The delay before attempt `attempt + 1`: exponential from 1 s, capped at one hour, with
/// "equal jitter" so that many failing jobs do not retry in lockstep.
pub fn backoff(attempt: i32, random: f64) -> Duration {
    let exp = 2f64.powi(attempt.clamp(0, 12) - 1).max(0.5);
    let base = exp.min(3600.0);
    Duration::from_secs_f64(base / 2.0 + base / 2.0 * random.clamp(0.0, 1.0))
}

/// A uniform random number in [0, 1) for jitter.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 1.0), Duration::from_secs(16));
        assert!(backoff(5, 0.0) >= Duration::from_secs(8));
        assert!(backoff(40, 1.0) <= Duration::from_secs(3600));
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
