//! Word that a record reached its outcome (a message processed, a sync run ended, an
//! approved action carried out), so that a request waiting for it answers at once instead
//! of on its next look at the database.
//!
//! In one process a record's waiters are woken directly. On PostgreSQL the word also goes
//! through `NOTIFY`, and each instance that has waiters listens, so an outcome written by
//! another instance's worker wakes them too. Word can be lost (a listener reconnecting, a
//! SQLite file shared by two processes): waiters still look at the database now and then,
//! so a lost word only makes an answer later, never wrong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sqlx::PgPool;
use tokio::sync::Notify;

/// The PostgreSQL channel the word travels on; the payload is the record's id.
pub(super) const CHANNEL: &str = "taskbridge_outcome";

/// The records some request of this process waits for, each with how many wait.
#[derive(Default)]
pub(super) struct Outcomes {
    waiting: Mutex<HashMap<String, (Arc<Notify>, usize)>>,
    /// The PostgreSQL listener, once one runs for this store; dropping it stops it.
    listening: super::notices::Listening,
}

impl Outcomes {
    /// Wakes the waiters of `id`, if this process has any.
    pub(super) fn announce(&self, id: &str) {
        let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((notify, _)) = waiting.get(id) {
            notify.notify_waiters();
        }
    }

    fn register(&self, id: &str) -> Arc<Notify> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let entry = waiting.entry(id.to_string()).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        entry.0.clone()
    }

    fn unregister(&self, id: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = waiting.get_mut(id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                waiting.remove(id);
            }
        }
    }

    /// Starts this store's PostgreSQL listener, once; it ends when the store is dropped.
    pub(super) fn listen(self: &Arc<Self>, pool: &PgPool) {
        self.listening.start(pool, CHANNEL, || Waiters(Arc::downgrade(self)));
    }
}

/// Passes each `NOTIFY` on to this process's waiters; what was said while the
/// connection was down is found by polling.
struct Waiters(Weak<Outcomes>);

impl super::notices::Hearer for Waiters {
    fn word(&mut self, payload: &str) -> bool {
        match self.0.upgrade() {
            Some(o) => {
                o.announce(payload);
                true
            }
            None => false,
        }
    }
}

/// One request's wait for a record's outcome. Armed before the caller's look at the
/// database, so word sent between that look and the wait is not missed.
pub struct Watch {
    outcomes: Arc<Outcomes>,
    id: String,
    notify: Arc<Notify>,
}

impl Watch {
    pub(super) fn new(outcomes: Arc<Outcomes>, id: &str) -> Self {
        let notify = outcomes.register(id);
        Watch { outcomes, id: id.to_string(), notify }
    }

    /// A wait that counts word sent from now on: `enable` it, look at the database, then
    /// await it.
    pub fn word(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.outcomes.unregister(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn word_wakes_every_waiter_of_the_record_and_no_other() {
        let outcomes = Arc::new(Outcomes::default());
        let a1 = Watch::new(outcomes.clone(), "a");
        let a2 = Watch::new(outcomes.clone(), "a");
        let b = Watch::new(outcomes.clone(), "b");
        let (w1, w2, wb) = (a1.word(), a2.word(), b.word());
        tokio::pin!(w1, w2, wb);
        w1.as_mut().enable();
        w2.as_mut().enable();
        wb.as_mut().enable();
        outcomes.announce("a");
        tokio::time::timeout(Duration::from_secs(1), w1).await.expect("first waiter woken");
        tokio::time::timeout(Duration::from_secs(1), w2).await.expect("second waiter woken");
        assert!(tokio::time::timeout(Duration::from_millis(50), wb).await.is_err(), "b was not announced");
    }

    #[test]
    fn a_record_is_forgotten_when_its_last_waiter_goes() {
        let outcomes = Arc::new(Outcomes::default());
        let first = Watch::new(outcomes.clone(), "a");
        let second = Watch::new(outcomes.clone(), "a");
        drop(first);
        assert_eq!(outcomes.waiting.lock().unwrap().len(), 1);
        drop(second);
        assert!(outcomes.waiting.lock().unwrap().is_empty());
    }
}
