//! The SDK's view of server time: the local clock plus an offset learned from the server
//! (callhome §9.3), applied to `X-Timestamp` and to the `t` of new records.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Local clock corrected by the last offset the server revealed.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// A clock with a known offset (server minus local, in ms).
    pub fn with_offset(offset_ms: i64) -> Self {
        Self { offset_ms: AtomicI64::new(offset_ms) }
    }

    /// Corrected now, in unix ms.
    pub fn now_ms(&self) -> i64 {
        local_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Corrected now, in unix seconds, as `X-Timestamp` wants it.
    pub fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The current offset (server minus local), in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Adopts the server's time (unix ms) observed now; returns the new offset.
    pub fn adopt(&self, server_ms: i64) -> i64 {
        let offset = server_ms - local_ms();
        self.offset_ms.store(offset, Ordering::Relaxed);
        offset
    }
}

/// The local clock in unix ms; a clock before 1970 reads as the epoch (the server corrects it).
pub fn local_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
