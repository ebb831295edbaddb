//! In-memory rate limits (reporting-api §1.12, callhome §7).
//!
//! Keys are principals, user names or installations, never IP addresses.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

/// Token buckets: `rate` tokens per second up to `burst`.
pub struct TokenBuckets {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, f64)>>,
}

impl TokenBuckets {
    /// Buckets with the given refill rate and size.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key` at `now_s` (seconds, fractional); on refusal, the seconds to wait.
    pub fn take(&self, key: &str, now_s: f64) -> Result<(), u64> {
        let mut map = self.buckets.lock();
        if map.len() > 100_000 {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, (tokens, at)| *tokens + (now_s - *at) * rate < burst);
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((self.burst, now_s));
        *tokens = (*tokens + (now_s - *at).max(0.0) * self.rate).min(self.burst);
        *at = now_s;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// Counts events per key in a sliding window (failed logins, license calls).
pub struct WindowCounter {
    limit: u32,
    window_s: i64,
    events: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl WindowCounter {
    /// At most `limit` events per `window_s` seconds per key.
    pub fn new(limit: u32, window_s: i64) -> Self {
        Self { limit, window_s, events: Mutex::new(HashMap::new()) }
    }

    /// The seconds to wait when `key` is at its limit at `now_s`.
    pub fn blocked(&self, key: &str, now_s: i64) -> Option<u64> {
        let mut map = self.events.lock();
        let q = map.get_mut(key)?;
        while q.front().is_some_and(|t| *t <= now_s - self.window_s) {
            q.pop_front();
        }
        (q.len() as u32 >= self.limit).then(|| q.front().map_or(1, |t| (t + self.window_s - now_s).max(1) as u64))
    }

    /// Records one event.
    pub fn record(&self, key: &str, now_s: i64) {
        let mut map = self.events.lock();
        if map.len() > 100_000 {
            let w = self.window_s;
            map.retain(|_, q| q.back().is_some_and(|t| *t > now_s - w));
        }
        map.entry(key.to_string()).or_default().push_back(now_s);
    }

    /// Records one event unless the key is at its limit.
    pub fn try_record(&self, key: &str, now_s: i64) -> Result<(), u64> {
        if let Some(wait) = self.blocked(key, now_s) {
            return Err(wait);
        }
        self.record(key, now_s);
        Ok(())
    }
}

/// Caps how many reports one principal runs at once.
pub struct ConcurrencyCap {
    limit: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// Releases a report slot when dropped.
pub struct Slot {
    key: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.running.lock();
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

impl ConcurrencyCap {
    /// At most `limit` at once per key.
    pub fn new(limit: usize) -> Self {
        Self { limit, running: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// A slot, or None when the key already runs `limit` reports.
    pub fn try_acquire(&self, key: &str) -> Option<Slot> {
        let mut map = self.running.lock();
        let n = map.entry(key.to_string()).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot { key: key.to_string(), running: self.running.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let b = TokenBuckets::new(10.0, 50.0);
        for _ in 0..50 {
            assert!(b.take("p", 0.0).is_ok());
        }
        assert_eq!(b.take("p", 0.0), Err(1));
        assert!(b.take("p", 0.1).is_ok());
        assert!(b.take("other", 0.1).is_ok());
    }

    #[test]
    fn window_counter_blocks_at_limit_and_expires() {
        let w = WindowCounter::new(3, 900);
        for t in 0..3 {
            assert!(w.try_record("u", t).is_ok());
        }
        assert_eq!(w.blocked("u", 10), Some(890));
        assert_eq!(w.blocked("u", 901), None);
    }

    #[test]
    fn concurrency_cap_releases_on_drop() {
        let c = ConcurrencyCap::new(1);
        let s = c.try_acquire("p");
        assert!(s.is_some());
        assert!(c.try_acquire("p").is_none());
        drop(s);
        assert!(c.try_acquire("p").is_some());
    }
}
