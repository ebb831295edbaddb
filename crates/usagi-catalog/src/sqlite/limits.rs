//! Rate limits and leases in process memory.
//!
//! One process owns an SQLite catalog's data directory (admin commands never limit), so its
//! limits need not be shared, and keeping them here spares every API request a write.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::limits::{live_events, window_wait, Bucket, IDLE_BUCKET_SECONDS};

/// Buckets, windows and leases by key.
#[derive(Default)]
pub(super) struct MemoryLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
    windows: Mutex<HashMap<String, Window>>,
    leases: Mutex<HashMap<String, Vec<Lease>>>,
}

/// A key's events (seconds) and when the last of them leaves its window.
#[derive(Default)]
struct Window {
    events: Vec<i64>,
    until: i64,
}

struct Lease {
    holder: String,
    expires: Instant,
}

/// A map lock; a panic while holding one leaves nothing half-written that matters here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryLimits {
    pub fn take_token(&self, key: &str, rate: f64, burst: f64, now_s: f64) -> Option<u64> {
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(key.to_owned()).or_insert_with(|| Bucket::full(burst, now_s));
        let (next, wait) = bucket.take(rate, burst, now_s);
        *bucket = next;
        wait
    }

    pub fn window_blocked(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Option<u64> {
        let mut windows = lock(&self.windows);
        let window = windows.get_mut(key)?;
        live_events(&mut window.events, window_s, now_s);
        window_wait(&window.events, limit, window_s, now_s)
    }

    pub fn window_record(&self, key: &str, window_s: i64, now_s: i64) {
        let mut windows = lock(&self.windows);
        let window = windows.entry(key.to_owned()).or_default();
        live_events(&mut window.events, window_s, now_s);
        window.events.push(now_s);
        window.until = window.until.max(now_s + window_s);
    }

    pub fn window_try_record(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Option<u64> {
        let mut windows = lock(&self.windows);
        let window = windows.entry(key.to_owned()).or_default();
        live_events(&mut window.events, window_s, now_s);
        if let Some(wait) = window_wait(&window.events, limit, window_s, now_s) {
            return Some(wait);
        }
        window.events.push(now_s);
        window.until = window.until.max(now_s + window_s);
        None
    }

    pub fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let held = leases.entry(key.to_owned()).or_default();
        held.retain(|l| l.expires > now && l.holder != holder);
        if held.len() >= limit as usize {
            return false;
        }
        held.push(Lease { holder: holder.to_owned(), expires: now + ttl });
        true
    }

    pub fn renew_lease(&self, key: &str, holder: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let lease = leases.get_mut(key).and_then(|held| held.iter_mut().find(|l| l.holder == holder));
        match lease {
            Some(l) if l.expires > now => {
                l.expires = now + ttl;
                true
            }
            _ => false,
        }
    }

    pub fn release_lease(&self, key: &str, holder: &str) {
        let mut leases = lock(&self.leases);
        if let Some(held) = leases.get_mut(key) {
            held.retain(|l| l.holder != holder);
            if held.is_empty() {
                leases.remove(key);
            }
        }
    }

    pub fn prune(&self, now_s: i64) -> u64 {
        let mut gone = 0;
        let mut buckets = lock(&self.buckets);
        let before = buckets.len();
        buckets.retain(|_, b| b.at > now_s as f64 - IDLE_BUCKET_SECONDS);
        gone += before - buckets.len();
        drop(buckets);
        let mut windows = lock(&self.windows);
        let before = windows.len();
        windows.retain(|_, w| w.until > now_s);
        gone += before - windows.len();
        drop(windows);
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        for held in leases.values_mut() {
            let before = held.len();
            held.retain(|l| l.expires > now);
            gone += before - held.len();
        }
        leases.retain(|_, held| !held.is_empty());
        gone as u64
    }
}
