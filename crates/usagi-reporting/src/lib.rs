//! Reports of the v3 Reporting API.
//!
//! Each report module holds, side by side, its typed request (parsed from JSON with
//! exact 400 reasons), its query plan against the [`usagi_warehouse::Warehouse`]
//! (SQL written once, through the backend's dialect) and its response shape.

pub mod access;
pub mod battery;
pub mod client_list;
pub mod client_profile;
pub mod context;
pub mod engagement;
pub mod event_advanced;
pub mod event_lifetime;
pub mod event_reports;
pub mod event_tracking;
pub mod events;
pub mod filters;
pub mod generic;
pub mod histogram;
pub mod iso;
pub mod license_keys;
pub mod meta;
pub mod pattern;
pub mod population;
pub mod previews;
pub mod properties;
pub mod query;
pub mod segments;

pub use context::ReportContext;
