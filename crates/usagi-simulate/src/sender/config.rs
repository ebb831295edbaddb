//! What a simulation run sends, where, and how it retries.

use std::time::Duration;

use usagi_types::ProductId;

use crate::fleet::FleetConfig;

/// A simulation run against a server.
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    /// Public base URL of the server, e.g. `http://127.0.0.1:8080` (no `/callhome` suffix).
    pub base_url: String,
    /// The product the fleet reports to.
    pub product_id: ProductId,
    /// The product secret, 32 hex characters.
    pub secret_hex: String,
    /// The fleet to generate.
    pub fleet: FleetConfig,
    /// Installations uploading at the same time.
    pub concurrency: usize,
    /// Send bodies gzip-compressed (the SDK's recommended encoding).
    pub gzip: bool,
    /// Send `X-Usagi-Receive-Time` with each batch's simulated upload time, which the server
    /// honours for products that allow backfill; without it everything is "received today".
    pub simulated_receive_time: bool,
    /// Back-off and timeouts.
    pub retry: RetryPolicy,
}

impl SimulateConfig {
    /// A run with the defaults: 8 concurrent installations, gzip, real receive times.
    pub fn new(
        base_url: impl Into<String>,
        product_id: ProductId,
        secret_hex: impl Into<String>,
        fleet: FleetConfig,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            product_id,
            secret_hex: secret_hex.into(),
            fleet,
            concurrency: 8,
            gzip: true,
            simulated_receive_time: false,
            retry: RetryPolicy::default(),
        }
    }
}

/// Retry behaviour for retryable failures (connection errors, 429, 5xx).
///
/// The SDK's schedule (30 s doubling to an hour, callhome §11) suits a desktop app, not a
/// replay of months of history; the shape (exponential, full jitter, at least `Retry-After`)
/// is the same, the scale is shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one batch before the run gives up.
    pub max_retries: u32,
    /// Upper bound of the first back-off; doubles with every consecutive failure.
    pub base_delay: Duration,
    /// Largest back-off bound.
    pub max_delay: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the wait after the `n`-th consecutive failure (n from 0).
    pub fn bound(&self, n: u32) -> Duration {
        usagi_sdk::transport::backoff_bound(self.base_delay, self.max_delay, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        assert_eq!(p.bound(0), Duration::from_millis(100));
        assert_eq!(p.bound(1), Duration::from_millis(200));
        assert_eq!(p.bound(3), Duration::from_millis(800));
        assert_eq!(p.bound(4), Duration::from_secs(1));
        assert_eq!(p.bound(40), Duration::from_secs(1));
    }
}
