//! How many calls a run keeps in flight against one platform: up to the integration's
//! `max_in_flight`; when the platform answers 429 or 503 with `Retry-After`, every call of the
//! run waits the pause out and the limit halves, then grows back by one per success. A pause
//! too long to wait in place gives the job back to the queue, which waits it out instead.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::jobs::JobError;

/// The most an integration may ask for.
pub const MAX_IN_FLIGHT: usize = 64;
/// The longest pause waited in place; a longer one ends the attempt (the queue retries).
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// How often one call is tried again after a pause before the attempt ends.
const RETRIES_PER_CALL: u32 = 5;

pub struct Pace {
    permits: Semaphore,
    max: usize,
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Permits taken out of circulation as they come back (the limit fell below what was held).
    owed: usize,
    /// Until when every call waits (the platform's `Retry-After`).
    paused_until: Option<Instant>,
}

impl Pace {
    /// `max` calls in flight at most (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, MAX_IN_FLIGHT);
        Pace { permits: Semaphore::new(max), max, state: Mutex::new(State { limit: max, owed: 0, paused_until: None }) }
    }

    /// The limit right now.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Runs `call` within the limit; `call(true)` is a try after a pause, which must find
    /// again what the earlier try may have done.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, JobError>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T, JobError>>,
    {
        let mut tries = 0;
        loop {
            self.wait_out_pause().await;
            let permit = self.permits.acquire().await.map_err(|_| JobError::Retry("the run was stopped".into()))?;
            let result = call(tries > 0).await;
            match result {
                Err(JobError::RetryAfter { after, message }) => {
                    self.slow_down(after);
                    self.give_back(permit);
                    tries += 1;
                    if after > LONGEST_PAUSE || tries > RETRIES_PER_CALL {
                        return Err(JobError::RetryAfter { after, message });
                    }
                }
                other => {
                    if other.is_ok() {
                        self.speed_up();
                    }
                    self.give_back(permit);
                    return other;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another call panicked; the counts stay usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn wait_out_pause(&self) {
        loop {
            let until = self.lock().paused_until;
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// One pause for a burst of refusals: the limit halves when a pause begins, not per refusal.
    fn slow_down(&self, after: Duration) {
        let mut state = self.lock();
        let now = Instant::now();
        let pausing = state.paused_until.is_some_and(|until| until > now);
        let until = now + after.min(LONGEST_PAUSE);
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
        if !pausing && state.limit > 1 {
            let cut = state.limit - state.limit / 2;
            state.limit -= cut;
            let forgotten = self.permits.forget_permits(cut);
            state.owed += cut - forgotten;
        }
    }

    fn speed_up(&self) {
        let mut state = self.lock();
        if state.limit < self.max {
            state.limit += 1;
            if state.owed > 0 {
                state.owed -= 1;
            } else {
                self.permits.add_permits(1);
            }
        }
    }

    fn give_back(&self, permit: SemaphorePermit<'_>) {
        let mut state = self.lock();
        if state.owed > 0 {
            state.owed -= 1;
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn refused(after_ms: u64) -> JobError {
        JobError::RetryAfter { after: Duration::from_millis(after_ms), message: "429".into() }
    }

    #[tokio::test]
    async fn keeps_at_most_the_limit_in_flight() {
        let pace = Pace::new(3);
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let calls = (0..10).map(|_| {
            pace.run(|_| async {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, JobError>(())
            })
        });
        for r in futures_util::future::join_all(calls).await {
            r.expect("call");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refusal_pauses_every_call_halves_the_limit_and_retries() {
        let pace = Arc::new(Pace::new(8));
        let refusals = AtomicUsize::new(0);
        let started = Instant::now();
        let result = pace
            .run(|again| {
                let first = refusals.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    match (first, again) {
                        (true, false) => Err(refused(200)),
                        (false, true) => Ok("done"),
                        other => panic!("unexpected try {other:?}"),
                    }
                }
            })
            .await;
        assert_eq!(result.expect("retried"), "done");
        assert!(started.elapsed() >= Duration::from_millis(200), "the pause was waited out");
        // Halved by the refusal, one back for the success.
        assert_eq!(pace.limit(), 5);
        // Another call during a pause waits too.
        pace.slow_down(Duration::from_millis(100));
        let before = Instant::now();
        pace.run(|_| async { Ok::<_, JobError>(()) }).await.expect("call");
        assert!(before.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_long_pause_or_a_refusing_platform_ends_the_attempt() {
        let long = Pace::new(4).run(|_| async { Err::<(), _>(refused(120_000)) }).await;
        assert!(matches!(long, Err(JobError::RetryAfter { .. })), "not waited in place");
        let pace = Pace::new(4);
        let tries = AtomicUsize::new(0);
        let always = pace
            .run(|_| {
                tries.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(refused(10)) }
            })
            .await;
        assert!(matches!(always, Err(JobError::RetryAfter { .. })));
        assert_eq!(tries.load(Ordering::SeqCst), RETRIES_PER_CALL as usize + 1);
        assert_eq!(pace.limit(), 1, "never below one");
    }

    #[tokio::test]
    async fn the_limit_grows_back_to_its_maximum() {
        let pace = Pace::new(4);
        pace.slow_down(Duration::from_millis(1));
        assert_eq!(pace.limit(), 2);
        for _ in 0..5 {
            pace.run(|_| async { Ok::<_, JobError>(()) }).await.expect("call");
        }
        assert_eq!(pace.limit(), 4);
        assert_eq!(pace.permits.available_permits(), 4);
    }
}
