//! Bounded waits for work done by the queue: handlers poll the store, so an outcome written
//! by any instance's worker is seen, not only this one's.

use std::time::Duration;

use tokio::time::Instant;

/// The pauses of one bounded wait: from 10 ms, doubling up to 200 ms, until `limit`.
pub(super) struct Settle {
    deadline: Instant,
    pause: Duration,
}

impl Settle {
    pub fn within(limit: Duration) -> Self {
        Settle { deadline: Instant::now() + limit, pause: Duration::from_millis(10) }
    }

    /// Pauses before the next look; false once the time is up (without pausing).
    pub async fn again(&mut self) -> bool {
        if Instant::now() >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(200));
        true
    }
}
