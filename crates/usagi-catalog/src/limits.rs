//! Rate limits and leases (reporting-api §1.12, callhome §7): the rules both backends apply.
//!
//! The SQLite catalog keeps this state in process memory (`sqlite/limits.rs`), the PostgreSQL
//! catalog in unlogged tables shared by every server on it (`postgres/limits.rs`). Keys are
//! chosen by the server (principals, user names, installations, products), never IP addresses.

/// Seconds a token bucket may sit untouched before pruning forgets it: at any sensible rate
/// (more than `burst / 3600` tokens per second) it is full again by then, as a new one would be.
pub(crate) const IDLE_BUCKET_SECONDS: f64 = 3600.0;

/// A token bucket holding `tokens` at `at` (seconds), refilled at `rate` per second up to `burst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub tokens: f64,
    pub at: f64,
}

impl Bucket {
    /// Takes one token at `now_s` if there is one; the bucket afterwards and, on refusal, the
    /// seconds to wait. A clock that went back (another server's) refills nothing.
    pub fn take(self, rate: f64, burst: f64, now_s: f64) -> (Bucket, Option<u64>) {
        let tokens = (self.tokens + (now_s - self.at).max(0.0) * rate).min(burst);
        let at = self.at.max(now_s);
        if tokens >= 1.0 {
            (Bucket { tokens: tokens - 1.0, at }, None)
        } else {
            (Bucket { tokens, at }, Some(token_wait(tokens, rate)))
        }
    }

    /// A full bucket, as a key without one starts.
    pub fn full(burst: f64, now_s: f64) -> Bucket {
        Bucket { tokens: burst, at: now_s }
    }
}

/// The seconds until a bucket holding `tokens` (less than one) has a whole token.
pub(crate) fn token_wait(tokens: f64, rate: f64) -> u64 {
    // `as` saturates: a zero rate waits "forever" (u64::MAX), never panics.
    ((1.0 - tokens) / rate).ceil().max(1.0) as u64
}

/// Drops the events (seconds) that fell out of the `window_s` seconds before `now_s`.
pub(crate) fn live_events(events: &mut Vec<i64>, window_s: i64, now_s: i64) {
    events.retain(|t| *t > now_s - window_s);
}

/// When the live `events` of a key reach `limit`: the seconds until the oldest leaves the window.
pub(crate) fn window_wait(events: &[i64], limit: u32, window_s: i64, now_s: i64) -> Option<u64> {
    if events.len() < limit as usize {
        return None;
    }
    let oldest = events.iter().min().copied().unwrap_or(now_s);
    Some(u64::try_from(oldest + window_s - now_s).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let mut b = Bucket::full(50.0, 0.0);
        for _ in 0..50 {
            let (next, wait) = b.take(10.0, 50.0, 0.0);
            assert_eq!(wait, None);
            b = next;
        }
        let (b, wait) = b.take(10.0, 50.0, 0.0);
        assert_eq!(wait, Some(1));
        assert_eq!(b.take(10.0, 50.0, 0.1).1, None);
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let (b, _) = Bucket { tokens: 0.5, at: 100.0 }.take(1.0, 5.0, 90.0);
        assert_eq!((b.tokens, b.at), (0.5, 100.0));
    }

    #[test]
    fn window_blocks_at_limit_until_the_oldest_leaves() {
        let mut events = vec![0, 1, 2];
        assert_eq!(window_wait(&events, 3, 900, 10), Some(890));
        assert_eq!(window_wait(&events, 4, 900, 10), None);
        live_events(&mut events, 900, 901);
        assert_eq!(events, vec![2]);
        assert_eq!(window_wait(&events, 3, 900, 901), None);
    }
}
