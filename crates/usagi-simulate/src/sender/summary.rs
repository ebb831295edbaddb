//! The outcome of a simulation run.

use std::fmt;
use std::time::Duration;

/// Counts of one simulation run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulateSummary {
    /// Batches that got a final answer (200 or a rejection).
    pub batches_sent: u64,
    /// Records in those batches.
    pub records_sent: u64,
    /// Records the server stored.
    pub accepted: u64,
    /// Records the server dropped (too old, or discarded by an instruction).
    pub dropped: u64,
    /// Records of kinds the server does not know.
    pub ignored: u64,
    /// Batches the server had already stored (answered with `duplicate: true`).
    pub duplicates: u64,
    /// Batches refused for good (400, 413, other 4xx).
    pub rejected_batches: u64,
    /// Batches not sent because their installation was told to back off or was disabled.
    pub skipped_batches: u64,
    /// Installations stopped by a `backOffDays` or `disable` instruction.
    pub stopped_installations: u64,
    /// Retried attempts, over all batches.
    pub retries: u64,
    /// Wall-clock duration of the run.
    pub elapsed: Duration,
    /// `records_sent` per second of `elapsed`.
    pub records_per_second: f64,
}

impl SimulateSummary {
    /// Adds another worker's counts (everything but the timing).
    pub(crate) fn absorb(&mut self, other: &SimulateSummary) {
        self.batches_sent += other.batches_sent;
        self.records_sent += other.records_sent;
        self.accepted += other.accepted;
        self.dropped += other.dropped;
        self.ignored += other.ignored;
        self.duplicates += other.duplicates;
        self.rejected_batches += other.rejected_batches;
        self.skipped_batches += other.skipped_batches;
        self.stopped_installations += other.stopped_installations;
        self.retries += other.retries;
    }

    /// Sets the timing fields from the run's duration.
    pub(crate) fn finish(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
        let secs = elapsed.as_secs_f64();
        self.records_per_second = if secs > 0.0 { self.records_sent as f64 / secs } else { 0.0 };
    }
}

impl fmt::Display for SimulateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: [(&str, u64); 10] = [
            ("batches sent", self.batches_sent),
            ("records sent", self.records_sent),
            ("  accepted", self.accepted),
            ("  dropped", self.dropped),
            ("  ignored", self.ignored),
            ("duplicate batches", self.duplicates),
            ("rejected batches", self.rejected_batches),
            ("skipped batches", self.skipped_batches),
            ("stopped installs", self.stopped_installations),
            ("retries", self.retries),
        ];
        for (label, n) in rows {
            writeln!(f, "{label:<18} {n:>12}")?;
        }
        writeln!(f, "{:<18} {:>12.1} s", "elapsed", self.elapsed.as_secs_f64())?;
        writeln!(f, "{:<18} {:>12.0} records/s", "throughput", self.records_per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_a_small_table() {
        let mut s = SimulateSummary { batches_sent: 3, records_sent: 250, accepted: 250, ..Default::default() };
        s.finish(Duration::from_secs(2));
        let text = s.to_string();
        assert!(text.contains("records sent                250"), "{text}");
        assert!(text.contains("125 records/s"), "{text}");
    }
}
