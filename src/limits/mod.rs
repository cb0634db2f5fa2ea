//! Rate limits: a token bucket per API key and per webhook integration. The buckets live in
//! Redis when one is configured, so every instance draws from the same ones (one Lua
//! script takes a token atomically), and in this instance's memory otherwise. When Redis
//! cannot be reached the limits fail open: requests pass unchecked, a warning is logged
//! and [`Limiter::unchecked`] counts them, because refusing every request while a cache is
//! down would be worse than a flood.

mod bucket;
mod shared;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

pub use bucket::{Bucket, Buckets};

use crate::redis::Redis;

/// The most buckets kept in memory (a few MB); the full ones, then the least recently
/// used, make room.
const MEMORY_BUCKETS: usize = 100_000;

/// A sustained rate (tokens per second) and a burst (the bucket's size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// The rate from its two settings; `None` (no limit) when either is off.
    pub fn from_settings(limit: Setting, burst: Setting) -> Option<Rate> {
        match (limit.0, burst.0) {
            (Some(per_second), Some(burst)) => Some(Rate { per_second, burst: burst.clamp(1.0, 1e9) as u32 }),
            _ => None,
        }
    }
}

/// A limit setting as configured: a positive number, or off (`0`, `off`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting(pub Option<f64>);

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("off"),
        }
    }
}

/// Reads a rate (requests per second, fractions allowed): `0` or `off` turns it off.
pub fn parse_rate(raw: &str) -> Result<Setting, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(Setting(None));
    }
    match raw.parse::<f64>() {
        Ok(0.0) => Ok(Setting(None)),
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Setting(Some(v))),
        _ => Err("a number of requests per second above 0, or 0 or off for no limit".into()),
    }
}

/// Reads a burst (whole requests): `0` or `off` turns the limit off.
pub fn parse_burst(raw: &str) -> Result<Setting, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(Setting(None));
    }
    match raw.parse::<u32>() {
        Ok(0) => Ok(Setting(None)),
        Ok(v) => Ok(Setting(Some(f64::from(v)))),
        Err(_) => Err("a whole number of requests, or 0 or off for no limit".into()),
    }
}

/// What is limited: each has its own rate and its own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Requests made with one API key.
    ApiKey,
    /// Deliveries to one webhook integration.
    Webhook,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ApiKey => "api_key",
            Scope::Webhook => "webhook",
        }
    }
}

/// A request over its limit, and when the next one would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Clone)]
pub struct Limiter {
    api_key: Option<Rate>,
    webhook: Option<Rate>,
    backend: Backend,
    unchecked: Counter,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<Buckets>>),
    Redis(shared::Shared),
}

impl Limiter {
    /// Buckets in this instance's memory.
    pub fn in_memory(api_key: Option<Rate>, webhook: Option<Rate>) -> Self {
        let backend = Backend::Memory(Arc::new(Mutex::new(Buckets::new(MEMORY_BUCKETS))));
        Limiter { api_key, webhook, backend, unchecked: Counter::default() }
    }

    /// Buckets in Redis, shared by every instance using it.
    pub fn shared(api_key: Option<Rate>, webhook: Option<Rate>, redis: &Redis) -> Self {
        Limiter { api_key, webhook, backend: Backend::Redis(shared::Shared::new(redis)), unchecked: Counter::default() }
    }

    /// No limits at all.
    pub fn off() -> Self {
        Limiter::in_memory(None, None)
    }

    /// Counts in `counter` the requests let through unchecked because Redis failed.
    pub fn counting_unchecked_in(mut self, counter: Counter) -> Self {
        self.unchecked = counter;
        self
    }

    pub fn rate(&self, scope: Scope) -> Option<Rate> {
        match scope {
            Scope::ApiKey => self.api_key,
            Scope::Webhook => self.webhook,
        }
    }

    /// Takes a token from `id`'s bucket in `scope`.
    pub async fn check(&self, scope: Scope, id: &str) -> Result<(), Limited> {
        let Some(rate) = self.rate(scope) else { return Ok(()) };
        let name = format!("{}:{id}", scope.as_str());
        match &self.backend {
            Backend::Memory(buckets) => {
                let Ok(mut buckets) = buckets.lock() else { return Ok(()) };
                buckets.take(&name, rate, Instant::now()).map_err(|retry_after| Limited { retry_after })
            }
            Backend::Redis(shared) => match shared.take(&name, rate).await {
                Ok(taken) => taken.map_err(|retry_after| Limited { retry_after }),
                Err(()) => {
                    self.unchecked.inc();
                    Ok(())
                }
            },
        }
    }
}
