//! A run's steps carried out several at a time: at most `width` in flight, each journaling its
//! own outcome. After a step fails (a pause too long to wait in place, the store gone), no
//! further step starts, the ones in flight finish and are journaled, and the failure ends the
//! attempt: the queue retries it and the journal skips what is done.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;

use crate::jobs::JobError;

/// Runs `step` for every item, `width` at a time; the outcomes in the order they ended.
pub async fn run<I, T, F, Fut>(width: usize, items: I, step: F) -> Result<Vec<T>, JobError>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<T, JobError>>,
{
    let stopped = AtomicBool::new(false);
    let (step, stopped) = (&step, &stopped);
    let ended: Vec<Result<Option<T>, JobError>> = futures_util::stream::iter(items)
        .map(|item| async move {
            if stopped.load(Ordering::Acquire) {
                return Ok(None);
            }
            let outcome = step(item).await;
            if outcome.is_err() {
                stopped.store(true, Ordering::Release);
            }
            outcome.map(Some)
        })
        .buffer_unordered(width.max(1))
        .collect()
        .await;
    let mut done = Vec::with_capacity(ended.len());
    let mut failure = None;
    for outcome in ended {
        match outcome {
            Ok(Some(value)) => done.push(value),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// [`run`], with the outcomes in the order of the items rather than the order they ended.
pub async fn run_in_order<I, T, F, Fut>(width: usize, items: I, step: F) -> Result<Vec<T>, JobError>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<T, JobError>>,
{
    let step = &step;
    let mut done =
        run(width, items.into_iter().enumerate(), |(i, item)| async move { Ok((i, step(item).await?)) }).await?;
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, outcome)| outcome).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_step_runs_within_the_width() {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut done = run(4, 0..20, |i| {
            let (now, most) = (&now, &most);
            async move {
                most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10 * (i % 3) + 1)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            }
        })
        .await
        .expect("all done");
        done.sort();
        assert_eq!(done, (0..20).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failure_stops_new_steps_and_lets_those_in_flight_finish() {
        let finished = AtomicUsize::new(0);
        let outcome = run(3, 0..100, |i| {
            let finished = &finished;
            async move {
                if i == 1 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    return Err(JobError::Retry("the store is gone".into()));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(i)
            }
        })
        .await;
        assert!(matches!(outcome, Err(JobError::Retry(_))));
        // Steps 0 and 2 were in flight with the failing one and finished; none started after.
        assert_eq!(finished.load(Ordering::SeqCst), 2);
    }
}
