//! Periods of a report range (`dateSplit`, semantics §6).
//!
//! A period is keyed by its true start (the day, the ISO-week Monday, the 1st of the
//! month) even when that start lies before the range, but it is counted only over the
//! days it shares with the range: the first and last periods are clipped.

use chrono::{Datelike, Days, Months, NaiveDate};

/// How a report range is split into periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateSplit {
    /// Each day is a period.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl DateSplit {
    /// The request spellings with their values, in the order error messages list them.
    pub const NAMES: [(&'static str, DateSplit); 3] =
        [("day", Self::Day), ("week", Self::Week), ("month", Self::Month)];

    /// The request spelling: `day`, `week` or `month`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// One period of a range: its key and the days of the range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// The period's true start: the day, the week's Monday or the month's 1st; may precede the range.
    pub key: NaiveDate,
    /// The first counted day (the key, clipped to the range start).
    pub first: NaiveDate,
    /// The last counted day (the period's end, clipped to the range stop).
    pub last: NaiveDate,
}

/// The key of the period of `split` that contains `day`.
pub fn period_key(day: NaiveDate, split: DateSplit) -> NaiveDate {
    match split {
        DateSplit::Day => day,
        DateSplit::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
        // Day 1 exists in every month, so `with_day(1)` cannot fail; `day` is a safe fallback.
        DateSplit::Month => day.with_day(1).unwrap_or(day),
    }
}

/// The key of the period after the one keyed `key`, or `None` at the end of the calendar.
fn next_key(key: NaiveDate, split: DateSplit) -> Option<NaiveDate> {
    match split {
        DateSplit::Day => key.checked_add_days(Days::new(1)),
        DateSplit::Week => key.checked_add_days(Days::new(7)),
        DateSplit::Month => key.checked_add_months(Months::new(1)),
    }
}

/// The periods of `[start, stop]` in chronological order; `None` gives one period for the
/// whole range, keyed by `start`. Empty when `start > stop`.
pub fn periods(start: NaiveDate, stop: NaiveDate, split: Option<DateSplit>) -> Vec<Period> {
    if start > stop {
        return Vec::new();
    }
    let Some(split) = split else {
        return vec![Period { key: start, first: start, last: stop }];
    };
    let mut out = Vec::new();
    let mut key = period_key(start, split);
    loop {
        let next = next_key(key, split);
        let period_end = next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX);
        out.push(Period { key, first: key.max(start), last: period_end.min(stop) });
        match next {
            Some(n) if n <= stop => key = n,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        crate::dates::parse_iso_date(s).expect("test date")
    }

    fn p(key: &str, first: &str, last: &str) -> Period {
        Period { key: d(key), first: d(first), last: d(last) }
    }

    #[test]
    fn spec_week_example() {
        // semantics §6: 2024-03-01 (a Friday) … 2024-03-14 by week.
        assert_eq!(
            periods(d("2024-03-01"), d("2024-03-14"), Some(DateSplit::Week)),
            vec![
                p("2024-02-26", "2024-03-01", "2024-03-03"),
                p("2024-03-04", "2024-03-04", "2024-03-10"),
                p("2024-03-11", "2024-03-11", "2024-03-14"),
            ]
        );
    }

    #[test]
    fn months_are_keyed_by_the_first() {
        assert_eq!(
            periods(d("2024-01-31"), d("2024-03-01"), Some(DateSplit::Month)),
            vec![
                p("2024-01-01", "2024-01-31", "2024-01-31"),
                p("2024-02-01", "2024-02-01", "2024-02-29"),
                p("2024-03-01", "2024-03-01", "2024-03-01"),
            ]
        );
        assert_eq!(
            periods(d("2024-07-01"), d("2024-08-31"), Some(DateSplit::Month)),
            vec![p("2024-07-01", "2024-07-01", "2024-07-31"), p("2024-08-01", "2024-08-01", "2024-08-31")]
        );
    }

    #[test]
    fn days_and_no_split() {
        assert_eq!(
            periods(d("2024-12-31"), d("2025-01-01"), Some(DateSplit::Day)),
            vec![p("2024-12-31", "2024-12-31", "2024-12-31"), p("2025-01-01", "2025-01-01", "2025-01-01")]
        );
        assert_eq!(periods(d("2024-03-01"), d("2024-03-14"), None), vec![p("2024-03-01", "2024-03-01", "2024-03-14")]);
        assert_eq!(periods(d("2024-03-02"), d("2024-03-01"), Some(DateSplit::Day)), vec![]);
    }

    #[test]
    fn keys() {
        assert_eq!(period_key(d("2024-03-03"), DateSplit::Week), d("2024-02-26")); // Sunday
        assert_eq!(period_key(d("2024-03-04"), DateSplit::Week), d("2024-03-04")); // Monday
        assert_eq!(period_key(d("2021-01-01"), DateSplit::Week), d("2020-12-28")); // ISO week 53 of 2020
        assert_eq!(period_key(d("2024-02-29"), DateSplit::Month), d("2024-02-01"));
        assert_eq!(period_key(d("2024-02-29"), DateSplit::Day), d("2024-02-29"));
        assert_eq!(
            DateSplit::NAMES.map(|(n, s)| (n, s.as_str())),
            [("day", "day"), ("week", "week"), ("month", "month")]
        );
    }

    fn split_strategy() -> impl Strategy<Value = Option<DateSplit>> {
        prop_oneof![Just(None), Just(Some(DateSplit::Day)), Just(Some(DateSplit::Week)), Just(Some(DateSplit::Month))]
    }

    proptest! {
        #[test]
        fn periods_tile_the_range(offset in 0u64..40_000, len in 0u64..1_200, split in split_strategy()) {
            let start = d("1990-01-01") + Days::new(offset);
            let stop = start + Days::new(len);
            let ps = periods(start, stop, split);
            prop_assert!(!ps.is_empty());
            prop_assert_eq!(ps[0].first, start);
            prop_assert_eq!(ps[ps.len() - 1].last, stop);
            for w in ps.windows(2) {
                prop_assert_eq!(w[0].last.succ_opt(), Some(w[1].first));
                prop_assert!(w[0].key < w[1].key);
            }
            for period in &ps {
                prop_assert!(period.key <= period.first && period.first <= period.last);
                if let Some(split) = split {
                    prop_assert_eq!(period_key(period.first, split), period.key);
                    prop_assert_eq!(period_key(period.last, split), period.key);
                } else {
                    prop_assert_eq!(period.key, start);
                }
            }
        }
    }
}
