//! The numeric limits of protocol v1, named once so that server, SDK and simulator agree.

/// Largest `sync` body on the wire, in bytes (§4).
pub const SYNC_MAX_WIRE: usize = 1 << 20;
/// Largest `sync` body after decompression, in bytes (§4).
pub const SYNC_MAX_DECOMPRESSED: usize = 8 << 20;
/// Largest body of the other endpoints, on the wire and decompressed, in bytes (§4).
pub const SMALL_MAX: usize = 16 << 10;

/// Largest allowed distance between `X-Timestamp` and the server clock, in seconds (§3).
pub const TIMESTAMP_WINDOW_S: i64 = 600;
/// A record whose `t` is further than this in the future of the receive time is clamped (§9.3).
pub const FUTURE_CLAMP_MS: i64 = 600_000;

/// Largest integer that JSON clients can represent exactly (2^53 − 1); the upper bound of `seq` and `t`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Most records in one batch (§5).
pub const MAX_RECORDS: usize = 10_000;

/// `machineId` length, in characters (§5).
pub const MACHINE_ID_MAX: usize = 64;
/// `appName` length, in characters (§5).
pub const APP_NAME_MAX: usize = 16;
/// `sdk.name` and `sdk.version` length, in characters (§5).
pub const SDK_FIELD_MAX: usize = 32;

/// `category`, `name`, `className` and `methodName` length, in characters (§6.4).
pub const NAME_MAX: usize = 128;
/// Shortest `sessionId`, in characters (§6.1).
pub const SESSION_ID_MIN: usize = 10;
/// Longest `sessionId`, in characters (§6.1).
pub const SESSION_ID_MAX: usize = 64;
/// Longest text event `value`, in characters (§6.4).
pub const EVENT_TEXT_MAX: usize = 1024;
/// Most pairs in an event's `custom` map (§6.4).
pub const EVENT_CUSTOM_PAIRS_MAX: usize = 50;
/// Longest key of an event's `custom` map, in characters (§6.4).
pub const EVENT_CUSTOM_KEY_MAX: usize = 128;
/// Longest value of an event's `custom` map, in characters (§6.4).
pub const EVENT_CUSTOM_VALUE_MAX: usize = 1024;
/// Longest exception `message`, in characters (§6.4).
pub const MESSAGE_MAX: usize = 1024;
/// Longest `stackTrace`, in bytes of UTF-8 (§6.4).
pub const STACK_TRACE_MAX_BYTES: usize = 32_768;
/// Longest product or machine property string, in characters (§6.4).
pub const PROPERTY_MAX: usize = 128;
/// Longest custom property value, in characters (§6.4).
pub const CUSTOM_PROPERTY_MAX: usize = 1024;
/// Number of custom properties, keyed `"1"` to `"20"` (§6.3).
pub const CUSTOM_PROPERTY_COUNT: usize = 20;
/// Longest license key after trimming, in characters (§7).
pub const LICENSE_KEY_MAX: usize = 256;

/// Default `nextSyncSeconds` (§10).
pub const NEXT_SYNC_SECONDS_DEFAULT: u32 = 1200;
/// Allowed `nextSyncSeconds` (§10).
pub const NEXT_SYNC_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 60..=86_400;
/// Allowed `backOffDays` in an instruction (§10).
pub const BACK_OFF_DAYS_RANGE: std::ops::RangeInclusive<u32> = 1..=365;
