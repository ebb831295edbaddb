//! Domain and API types shared by every Usagi crate.
//!
//! Everything here is parsed once at the edge ("parse, don't validate"): holding a
//! [`ProductId`] or a [`ClientId`] means the value is well-formed.
//!
//! - [`error`]: the one error vocabulary of the API (`{"status","reason"}`, §1.9).
//! - [`json`]: output conventions (pure-ASCII JSON, rounded report floats, §1.8).
//! - [`dates`]: request dates, `NOW-<n>`, range rules and output formats (§1.10).
//! - [`periods`](mod@periods): splitting a range by day, ISO week or month (semantics §6).
//! - [`request`]: the strict request reader behind every endpoint's typed spec (§1.6).

// Every public item carries a doc comment (STYLE.md); the lint keeps it that way.
#![warn(missing_docs)]

pub mod dates;
pub mod error;
pub mod ids;
pub mod json;
pub mod license;
pub mod periods;
pub mod request;

pub use dates::{
    check_range, format_date, format_timestamp, format_timestamp_ms, parse_iso_date, parse_report_date, validate_range,
    DateError, RangeRule, ReportRange, TimestampMs,
};
pub use error::{ApiError, ErrorKind};
pub use ids::{ClientId, IdError, ProductId};
pub use json::{ratio, round_half_away, to_ascii_json, try_to_ascii_json, Float2, Float3, NULL_TEXT};
pub use license::{LicenseKeyPatch, LicenseType};
pub use periods::{period_key, periods, DateSplit, Period};
pub use request::{JsonArray, JsonKind, JsonObject, JsonValue};

/// The API names of the twenty custom properties, `C01`–`C20` (slot n is index n − 1).
pub const CUSTOM_PROPERTY_NAMES: [&str; 20] = [
    "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10", "C11", "C12", "C13", "C14", "C15", "C16",
    "C17", "C18", "C19", "C20",
];
