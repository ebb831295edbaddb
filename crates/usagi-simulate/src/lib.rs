//! Deterministic fleet simulator for Usagi.
//!
//! [`Fleet`] draws a realistic population of installations from a seed (growth over time,
//! releases and upgrades, heavy and light users, churn and comebacks, offline queues,
//! opt-outs, license conversions) and turns each installation's life into the `sync` batches
//! its SDK would upload. [`run`] replays those batches against a server through the SDK's
//! protocol core (`usagi_sdk::transport`: signing, gzip, the reactions of callhome §4,
//! full-jitter back-off), concurrently across installations and in order within each one.

#![warn(missing_docs)]

mod error;
pub mod fleet;
pub mod sender;

pub use error::SimulateError;
pub use fleet::{Fleet, FleetConfig, FleetError, FleetSummary, InstallationInfo, RecordKind, SimBatch};
pub use sender::{run, RetryPolicy, SimulateConfig, SimulateSummary};
