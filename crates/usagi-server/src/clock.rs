//! The server's notion of "now": the system clock, or a pinned instant for tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

/// A clock shared by every part of the server. One request reads it once (semantics §2).
#[derive(Clone, Debug)]
pub struct Clock {
    /// `i64::MIN` = follow the system clock; otherwise pinned epoch milliseconds.
    fixed_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { fixed_ms: Arc::new(AtomicI64::new(i64::MIN)) }
    }

    /// A clock pinned at `at` (the `clock.fixed_now` setting).
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self { fixed_ms: Arc::new(AtomicI64::new(at.timestamp_millis())) }
    }

    /// Moves a pinned clock (tests replay history day by day).
    pub fn set(&self, at: DateTime<Utc>) {
        self.fixed_ms.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self.fixed_ms.load(Ordering::SeqCst) {
            i64::MIN => Utc::now(),
            ms => DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now),
        }
    }

    /// The current instant in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Today's UTC date.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}
