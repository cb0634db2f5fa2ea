//! The token bucket, and this instance's buckets kept in memory (bounded).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Rate;

/// One bucket: `tokens` left at `at`. It refills at the rate, up to the burst.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        Bucket { tokens: f64::from(rate.burst), at: now }
    }

    fn refilled(&self, rate: Rate, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst))
    }

    /// Takes a token if there is one; otherwise how long until there is.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let tokens = self.refilled(rate, now);
        self.at = now;
        if tokens >= 1.0 {
            self.tokens = tokens - 1.0;
            Ok(())
        } else {
            self.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / rate.per_second))
        }
    }

    /// A full bucket is the same as none: it can be forgotten.
    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        self.refilled(rate, now) >= f64::from(rate.burst)
    }
}

/// This instance's buckets by name, at most `capacity` of them.
#[derive(Debug)]
pub struct Buckets {
    buckets: HashMap<String, Bucket>,
    capacity: usize,
}

impl Buckets {
    pub fn new(capacity: usize) -> Self {
        Buckets { buckets: HashMap::new(), capacity: capacity.max(1) }
    }

    pub fn take(&mut self, name: &str, rate: Rate, now: Instant) -> Result<(), Duration> {
        if let Some(bucket) = self.buckets.get_mut(name) {
            return bucket.take(rate, now);
        }
        if self.buckets.len() >= self.capacity {
            self.make_room(rate, now);
        }
        let mut bucket = Bucket::full(rate, now);
        let taken = bucket.take(rate, now);
        self.buckets.insert(name.to_string(), bucket);
        taken
    }

    /// Forgets the full buckets; if every bucket is in use, the one untouched longest.
    fn make_room(&mut self, rate: Rate, now: Instant) {
        self.buckets.retain(|_, b| !b.is_full(rate, now));
        if self.buckets.len() >= self.capacity
            && let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone())
        {
            self.buckets.remove(&oldest);
        }
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate { per_second: 2.0, burst: 3 };

    #[test]
    fn a_burst_then_the_rate_then_a_wait_that_fits() {
        let start = Instant::now();
        let mut b = Bucket::full(RATE, start);
        for _ in 0..3 {
            assert_eq!(b.take(RATE, start), Ok(()));
        }
        let wait = b.take(RATE, start).expect_err("empty");
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later one token is back, and only one.
        let later = start + Duration::from_millis(500);
        assert_eq!(b.take(RATE, later), Ok(()));
        assert!(b.take(RATE, later).is_err());
        // Never more than the burst, however long it rests.
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(b.take(RATE, much_later), Ok(()));
        }
        assert!(b.take(RATE, much_later).is_err());
    }

    #[test]
    fn memory_stays_bounded_and_active_buckets_are_kept_first() {
        let start = Instant::now();
        let mut buckets = Buckets::new(3);
        for _ in 0..3 {
            assert!(buckets.take("busy", RATE, start).is_ok());
        }
        buckets.take("a", RATE, start).expect("fresh");
        buckets.take("b", RATE, start).expect("fresh");
        assert_eq!(buckets.len(), 3);
        // Later "a" and "b" have refilled and are forgotten to make room; "busy" is empty
        // again after its next take and stays, still limited.
        let later = start + Duration::from_millis(600);
        buckets.take("busy", RATE, later).expect("one token back");
        buckets.take("c", RATE, later).expect("fresh");
        assert_eq!(buckets.len(), 2);
        assert!(buckets.take("busy", RATE, later).is_err(), "kept, and still empty");
        // Every bucket in use: the one untouched longest goes.
        for name in ["d", "e", "f"] {
            buckets.take(name, RATE, later).expect("fresh");
            assert!(buckets.len() <= 3);
        }
    }
}
