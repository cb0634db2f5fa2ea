//! One PostgreSQL `LISTEN` connection per purpose, passing each `NOTIFY` payload on until
//! its owner goes away. Word can be lost while the connection is down; the owner hears of
//! every gap (`on_gap`) and of every fresh start (`on_listening`) to make up for it.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::oneshot;

/// What a relay tells its owner; `Word` answers whether the owner still exists.
pub(super) trait Hearer: Send + 'static {
    /// A payload on the channel; `false` ends the relay (the owner is gone).
    fn word(&mut self, payload: &str) -> bool;
    /// The channel is being listened to from now on (first start or after a gap).
    fn listening(&mut self) {}
    /// The connection was lost: word sent from now until `listening` is not heard.
    fn gap(&mut self) {}
}

/// A relay started at most once for its owner; dropping the owner stops it.
#[derive(Default)]
pub(super) struct Listening(Mutex<Option<oneshot::Sender<()>>>);

impl Listening {
    /// Starts the relay on `channel` unless it runs already; `hearer` is built only then.
    pub(super) fn start<H: Hearer>(&self, pool: &PgPool, channel: &'static str, hearer: impl FnOnce() -> H) {
        let mut listening = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if listening.is_some() {
            return;
        }
        let (stop, stopped) = oneshot::channel();
        *listening = Some(stop);
        tokio::spawn(relay(pool.clone(), channel, hearer(), stopped));
    }
}

/// Listens on `channel` until `stopped` fires or the hearer says its owner is gone. On a
/// lost connection it starts again after a pause.
async fn relay(pool: PgPool, channel: &'static str, mut hearer: impl Hearer, mut stopped: oneshot::Receiver<()>) {
    loop {
        let listener = match PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(channel).await {
                Ok(()) => Ok(l),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let mut listener = match listener {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, channel, "cannot LISTEN; trying again");
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        hearer.listening();
        loop {
            let received = tokio::select! {
                _ = &mut stopped => return,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(n)) => {
                    if !hearer.word(n.payload()) {
                        return;
                    }
                }
                // The connection was lost: start over with a fresh one, so that the
                // owner hears exactly when listening resumed.
                Ok(None) => {
                    tracing::debug!(channel, "listener lost its connection; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, channel, "listener failed; reconnecting");
                    break;
                }
            }
        }
        hearer.gap();
    }
}
