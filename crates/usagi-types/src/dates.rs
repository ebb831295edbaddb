//! Dates in requests and responses (spec §1.8, §1.10; semantics §2).
//!
//! Days are `chrono::NaiveDate` values meaning UTC calendar days. Relative dates
//! (`NOW`, `NOW-<n>`) are resolved against the one "today" of a request, which the
//! caller passes in so that a request never straddles midnight and tests can pin it.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Serialize, Serializer};

use crate::error::ApiError;

/// The largest `n` accepted in `NOW-<n>` (§1.10): one hundred years.
pub const MAX_NOW_OFFSET_DAYS: u64 = 36_500;

/// Why a request date could not be read.
///
/// The messages are predicates meant to follow a subject, as in
/// `field 'startDate' must be a date written as YYYY-MM-DD, NOW or NOW-<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Neither `YYYY-MM-DD` nor `NOW` / `NOW-<n>` (this includes `NOW+1` and timestamps).
    #[error("must be a date written as YYYY-MM-DD, NOW or NOW-<n>")]
    Format,
    /// Well-formed digits that name no calendar day, such as `2023-02-29`.
    #[error("is not a valid calendar date")]
    NotACalendarDate,
    /// `NOW-<n>` with n above [`MAX_NOW_OFFSET_DAYS`].
    #[error("must not go back more than 36500 days (NOW-<n> with n from 0 to 36500)")]
    OffsetOutOfRange,
}

/// Parses a request date: strict `YYYY-MM-DD`, or `NOW` / `NOW-<n>` relative to `today`.
///
/// `NOW` matches case-insensitively; `n` is a plain decimal integer from 0 to 36500 with
/// no sign and no spaces. Anything else is an error, so `NOW+1`, `NOW - 1`, `NOW-+1`,
/// `2024-3-5` and `2024-03-05T00:00:00Z` are all rejected.
pub fn parse_report_date(s: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    let bytes = s.as_bytes();
    // Checking the first three bytes (all ASCII when they match) keeps the slice below on
    // a character boundary whatever the input.
    if bytes.len() >= 3 && bytes[..3].eq_ignore_ascii_case(b"now") {
        let rest = &bytes[3..];
        let n = match rest {
            [] => 0,
            [b'-', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
                // Saturating keeps absurdly long digit strings an "out of range" error.
                digits.iter().fold(0u64, |acc, d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0')))
            }
            _ => return Err(DateError::Format),
        };
        if n > MAX_NOW_OFFSET_DAYS {
            return Err(DateError::OffsetOutOfRange);
        }
        return today.checked_sub_days(Days::new(n)).ok_or(DateError::OffsetOutOfRange);
    }
    parse_iso_date(s)
}

/// Parses a strict `YYYY-MM-DD` date (4-2-2 ASCII digits, a real calendar day).
pub fn parse_iso_date(s: &str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits_at(0..4) || !digits_at(5..7) || !digits_at(8..10) {
        return Err(DateError::Format);
    }
    let number = |range: std::ops::Range<usize>| b[range].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    let year = i32::try_from(number(0..4)).map_err(|_| DateError::Format)?;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).ok_or(DateError::NotACalendarDate)
}

/// Formats a day as `YYYY-MM-DD`, the only date form in responses.
pub fn format_date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Formats a UTC instant as ISO 8601 with milliseconds: `2024-03-05T10:00:00.000Z`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Formats milliseconds since the epoch like [`format_timestamp`].
///
/// Stored timestamps are clamped at ingestion, so out-of-range values do not occur in
/// practice; should one appear it saturates at chrono's limits rather than failing a report.
pub fn format_timestamp_ms(ms: i64) -> String {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    let t = DateTime::<Utc>::from_timestamp_millis(ms.clamp(min, max)).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    format_timestamp(t)
}

/// A timestamp in ms since the epoch that serialises as `2024-03-05T10:00:00.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimestampMs(pub i64);

impl Serialize for TimestampMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp_ms(self.0))
    }
}

/// The limits a date range is checked against, and the field names its errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRule<'a> {
    /// JSON path of the start field, e.g. `startDate` or `retDailyData.startDate`.
    pub start_field: &'a str,
    /// JSON path of the stop field.
    pub stop_field: &'a str,
    /// The most days (inclusive count) the range may span.
    pub max_days: u32,
    /// Appended to the too-long reason to say why this limit applies, e.g. ` with dateSplit 'day'`.
    pub limit_note: &'a str,
}

impl RangeRule<'static> {
    /// A report range without daily split: at most 3,660 days (§1.10).
    pub const REPORT: Self = Self { start_field: "startDate", stop_field: "stopDate", max_days: 3660, limit_note: "" };
    /// A report range with `dateSplit:"day"`: at most 1,100 days (§1.10).
    pub const REPORT_DAY_SPLIT: Self =
        Self { start_field: "startDate", stop_field: "stopDate", max_days: 1100, limit_note: " with dateSplit 'day'" };
}

/// A report range `[start, stop]` of UTC days, with `start <= stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportRange {
    start: NaiveDate,
    stop: NaiveDate,
}

impl ReportRange {
    /// A range without the §1.10 checks (for internal ranges); `None` when `start > stop`.
    pub fn new(start: NaiveDate, stop: NaiveDate) -> Option<Self> {
        (start <= stop).then_some(Self { start, stop })
    }

    /// A range from a request, checked against §1.10 with `rule`.
    pub fn checked(
        start: NaiveDate,
        stop: NaiveDate,
        oldest_reported: NaiveDate,
        rule: &RangeRule<'_>,
    ) -> Result<Self, ApiError> {
        check_range(start, stop, oldest_reported, rule)?;
        Ok(Self { start, stop })
    }

    /// The first day.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// The last day (may lie after today).
    pub fn stop(&self) -> NaiveDate {
        self.stop
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> i64 {
        (self.stop - self.start).num_days() + 1
    }

    /// Whether `day` lies in the range.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.stop
    }
}

/// Checks a generic report range (§1.10) with the field names `startDate` / `stopDate`.
///
/// In order: start after stop; start before `oldest_reported`; more than 3,660 days, or
/// more than 1,100 days when `split_is_day`.
pub fn validate_range(
    start: NaiveDate,
    stop: NaiveDate,
    oldest_reported: NaiveDate,
    split_is_day: bool,
) -> Result<(), ApiError> {
    let rule = if split_is_day { RangeRule::REPORT_DAY_SPLIT } else { RangeRule::REPORT };
    check_range(start, stop, oldest_reported, &rule)
}

/// Checks a range against the rules of §1.10 with custom limits and field names.
pub fn check_range(
    start: NaiveDate,
    stop: NaiveDate,
    oldest_reported: NaiveDate,
    rule: &RangeRule<'_>,
) -> Result<(), ApiError> {
    let RangeRule { start_field, stop_field, max_days, limit_note } = *rule;
    if start > stop {
        return Err(ApiError::syntax(format!(
            "{start_field} ({}) must not be after {stop_field} ({})",
            format_date(start),
            format_date(stop)
        )));
    }
    if start < oldest_reported {
        return Err(ApiError::syntax(format!(
            "{start_field} ({}) is before the oldest reported date; the oldest allowed {start_field} is {}",
            format_date(start),
            format_date(oldest_reported)
        )));
    }
    let days = (stop - start).num_days() + 1;
    if days > i64::from(max_days) {
        return Err(ApiError::syntax(format!(
            "the range from {start_field} to {stop_field} spans {days} days; at most {max_days} are allowed{limit_note}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).expect("test date")
    }

    #[test]
    fn absolute_dates_are_strict() {
        let today = d("2024-03-20");
        assert_eq!(parse_report_date("2024-03-05", today), Ok(d("2024-03-05")));
        assert_eq!(parse_report_date("2024-02-29", today), Ok(d("2024-02-29")));
        assert_eq!(parse_report_date("2023-02-29", today), Err(DateError::NotACalendarDate));
        assert_eq!(parse_report_date("2024-13-01", today), Err(DateError::NotACalendarDate));
        assert_eq!(parse_report_date("2024-00-10", today), Err(DateError::NotACalendarDate));
        for bad in [
            "2024-3-05",
            "2024-03-5",
            "24-03-05",
            "2024/03/05",
            "2024-03-05T00:00:00Z",
            " 2024-03-05",
            "2024-03-05 ",
            "",
            "+024-03-05",
            "2024-0a-05",
            "１２３４-03-05",
        ] {
            assert_eq!(parse_report_date(bad, today), Err(DateError::Format), "{bad}");
        }
    }

    #[test]
    fn relative_dates() {
        let today = d("2024-03-20");
        assert_eq!(parse_report_date("NOW", today), Ok(today));
        assert_eq!(parse_report_date("now", today), Ok(today));
        assert_eq!(parse_report_date("Now-1", today), Ok(d("2024-03-19")));
        assert_eq!(parse_report_date("NOW-0", today), Ok(today));
        assert_eq!(parse_report_date("NOW-60", today), Ok(d("2024-01-20")));
        assert_eq!(parse_report_date("NOW-007", today), Ok(d("2024-03-13")));
        assert_eq!(
            parse_report_date("NOW-36500", today),
            today.checked_sub_days(Days::new(36_500)).ok_or(DateError::Format)
        );
        assert_eq!(parse_report_date("NOW-36501", today), Err(DateError::OffsetOutOfRange));
        assert_eq!(parse_report_date("NOW-99999999999999999999999", today), Err(DateError::OffsetOutOfRange));
        for bad in [
            "NOW+1", "NOW-", "NOW - 1", "NOW-+1", "NOW--1", "NOW-1 ", " NOW", "NOW1", "NOWX", "NO", "NOW-1.5",
            "NOW-1e2", "NOWé",
        ] {
            assert_eq!(parse_report_date(bad, today), Err(DateError::Format), "{bad}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_date(d("2024-03-05")), "2024-03-05");
        assert_eq!(format_timestamp_ms(1_709_632_800_000), "2024-03-05T10:00:00.000Z");
        assert_eq!(format_timestamp_ms(1_709_632_800_123), "2024-03-05T10:00:00.123Z");
        assert_eq!(format_timestamp_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(crate::json::to_ascii_json(&TimestampMs(1_709_632_800_000)), r#""2024-03-05T10:00:00.000Z""#);
        // Saturates instead of failing.
        assert!(!format_timestamp_ms(i64::MAX).is_empty());
    }

    #[test]
    fn range_start_after_stop() {
        let err = validate_range(d("2024-03-10"), d("2024-03-01"), d("2020-01-01"), false).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert_eq!(err.reason, "startDate (2024-03-10) must not be after stopDate (2024-03-01)");
    }

    #[test]
    fn range_before_oldest_names_oldest() {
        let err = validate_range(d("2023-01-01"), d("2024-03-01"), d("2023-03-22"), false).unwrap_err();
        assert_eq!(
            err.reason,
            "startDate (2023-01-01) is before the oldest reported date; the oldest allowed startDate is 2023-03-22"
        );
        assert_eq!(validate_range(d("2023-03-22"), d("2024-03-01"), d("2023-03-22"), false), Ok(()));
    }

    #[test]
    fn range_length_limits() {
        let oldest = d("2000-01-01");
        let start = d("2010-01-01");
        let stop_3660 = start + Days::new(3659);
        assert_eq!(validate_range(start, stop_3660, oldest, false), Ok(()));
        let err = validate_range(start, stop_3660 + Days::new(1), oldest, false).unwrap_err();
        assert_eq!(err.reason, "the range from startDate to stopDate spans 3661 days; at most 3660 are allowed");
        let stop_1100 = start + Days::new(1099);
        assert_eq!(validate_range(start, stop_1100, oldest, true), Ok(()));
        let err = validate_range(start, stop_1100 + Days::new(1), oldest, true).unwrap_err();
        assert_eq!(
            err.reason,
            "the range from startDate to stopDate spans 1101 days; at most 1100 are allowed with dateSplit 'day'"
        );
    }

    #[test]
    fn custom_rule_names_its_fields() {
        let rule = RangeRule {
            start_field: "retDailyData.startDate",
            stop_field: "retDailyData.stopDate",
            max_days: 366,
            limit_note: "",
        };
        let err = ReportRange::checked(d("2024-01-01"), d("2025-01-01"), d("2000-01-01"), &rule).unwrap_err();
        assert_eq!(
            err.reason,
            "the range from retDailyData.startDate to retDailyData.stopDate spans 367 days; at most 366 are allowed"
        );
        let range = ReportRange::checked(d("2024-01-01"), d("2024-12-31"), d("2000-01-01"), &rule).expect("valid");
        assert_eq!(range.days(), 366);
        assert!(range.contains(d("2024-06-01")) && !range.contains(d("2025-01-01")));
        assert_eq!(ReportRange::new(d("2024-01-02"), d("2024-01-01")), None);
    }

    proptest! {
        #[test]
        fn iso_dates_round_trip(days in 0i64..3_000_000) {
            let day = d("0001-01-01") + chrono::Duration::days(days);
            prop_assume!(day.format("%Y").to_string().len() == 4);
            prop_assert_eq!(parse_iso_date(&format_date(day)), Ok(day));
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,16}") {
            let _ = parse_report_date(&s, d("2024-03-20"));
        }
    }
}
