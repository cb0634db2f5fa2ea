//! Buckets in Redis: one hash per bucket (`tokens`, `ms`), changed by a Lua script that
//! refills and takes in one atomic step on the server's clock, so instances whose clocks
//! differ still agree. A bucket expires once it would be full again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Rate;
use crate::redis::{Redis, Script};

/// Answers 0 when a token was taken, else the milliseconds until one is back.
const TAKE: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"#;

/// A check waits at most this long for Redis before the request passes unchecked.
const TIMEOUT: Duration = Duration::from_millis(500);
/// After a failure, Redis is left alone this long (requests pass unchecked meanwhile), so
/// a Redis that hangs does not slow every request.
const PAUSE: Duration = Duration::from_secs(1);
/// At most one warning in this long.
const WARN_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Shared {
    redis: Redis,
    script: Arc<Script>,
    trouble: Arc<Mutex<Trouble>>,
}

#[derive(Default)]
struct Trouble {
    paused_until: Option<Instant>,
    warned_at: Option<Instant>,
}

impl Shared {
    pub fn new(redis: &Redis) -> Self {
        Shared { redis: redis.with_timeout(TIMEOUT), script: Arc::new(Script::new(TAKE)), trouble: Arc::default() }
    }

    /// `Ok(Ok)` a token was taken, `Ok(Err(wait))` none is left, `Err` Redis failed (logged).
    pub async fn take(&self, name: &str, rate: Rate) -> Result<Result<(), Duration>, ()> {
        if self.trouble.lock().is_ok_and(|t| t.paused_until.is_some_and(|until| Instant::now() < until)) {
            return Err(());
        }
        let key = format!("taskbridge:rate:{name}");
        let args = [rate.per_second.to_string(), rate.burst.to_string()];
        match self.redis.eval_integer(&self.script, &[&key], &[&args[0], &args[1]]).await {
            Ok(0) => Ok(Ok(())),
            Ok(ms) => Ok(Err(Duration::from_millis(ms.unsigned_abs()))),
            Err(e) => {
                let now = Instant::now();
                if let Ok(mut trouble) = self.trouble.lock() {
                    trouble.paused_until = Some(now + PAUSE);
                    if trouble.warned_at.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
                        trouble.warned_at = Some(now);
                        tracing::warn!(error = %e, redis = %self.redis.address(),
                            "rate limits are not checked: Redis cannot be reached (requests pass until it answers)");
                    }
                }
                Err(())
            }
        }
    }
}
