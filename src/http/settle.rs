//! Bounded waits for work done by the queue. A waiting request wakes when the store says
//! the record reached its outcome (on this instance or, on PostgreSQL, any other), and
//! also looks at the database now and then, so that word lost on the way only delays it.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::Watch;

/// The longest pause between two looks when no word comes.
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

/// Waits until `done(value)` or `limit` passes: `value` as it stands, then what `look` reads
/// each time word of the record comes or a pause (from 10 ms, doubling) passes.
pub(super) async fn until<T, E, Look, Fut>(
    watch: &Watch,
    limit: Duration,
    mut value: T,
    done: impl Fn(&T) -> bool,
    mut look: Look,
) -> Result<T, E>
where
    Look: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    let mut word = pin!(watch.word());
    word.as_mut().enable();
    while !done(&value) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::select! {
            _ = word.as_mut() => {}
            _ = tokio::time::sleep(pause.min(deadline - now)) => {}
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
        // Armed before the look: word sent while it reads is not missed.
        word.set(watch.word());
        word.as_mut().enable();
        value = look().await?;
    }
    Ok(value)
}
