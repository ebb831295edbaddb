//! The fixed engagement buckets and their labels (semantics §9.1–§9.2), shared by
//! `usageDistribution` and the churn histograms.
//!
//! **Decision (spec):** the vendor chose buckets from the data; ours are fixed, so answers
//! over different ranges and products line up bucket for bucket.

/// An engagement metric: what one installation is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Active days (semantics §8.6).
    ActiveDays,
    /// Sessions started (semantics §8.5).
    Sessions,
    /// Runtime minutes: `floor(overlap ms / 60000)`, applied once per installation (semantics §8.4).
    Runtime,
}

/// One bucket: the inclusive integer range `[lo, hi]`, open above when `hi` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Lowest value in the bucket; 0 marks an open lower end (labelled `≤ hi`).
    pub lo: i64,
    /// Highest value, or `None` for the open last bucket (labelled `≥ lo`).
    pub hi: Option<i64>,
}

const fn b(lo: i64, hi: i64) -> Bucket {
    Bucket { lo, hi: Some(hi) }
}

const ACTIVE_DAYS: [Bucket; 14] = [
    b(1, 1),
    b(2, 2),
    b(3, 3),
    b(4, 4),
    b(5, 5),
    b(6, 6),
    b(7, 7),
    b(8, 14),
    b(15, 30),
    b(31, 60),
    b(61, 90),
    b(91, 180),
    b(181, 365),
    Bucket { lo: 366, hi: None },
];

const SESSIONS: [Bucket; 9] =
    [b(0, 1), b(2, 2), b(3, 3), b(4, 5), b(6, 8), b(9, 12), b(13, 20), b(21, 50), Bucket { lo: 51, hi: None }];

const RUNTIME_MINUTES: [Bucket; 10] = [
    b(0, 5),
    b(6, 15),
    b(16, 30),
    b(31, 60),
    b(61, 120),
    b(121, 300),
    b(301, 600),
    b(601, 1200),
    b(1201, 3000),
    Bucket { lo: 3001, hi: None },
];

impl Metric {
    /// The three metrics in output order.
    pub const ALL: [Metric; 3] = [Metric::ActiveDays, Metric::Sessions, Metric::Runtime];

    /// The output name: `activeDays`, `sessions` or `runtime`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ActiveDays => "activeDays",
            Self::Sessions => "sessions",
            Self::Runtime => "runtime",
        }
    }

    /// The metric's buckets, ascending.
    pub fn buckets(self) -> &'static [Bucket] {
        match self {
            Self::ActiveDays => &ACTIVE_DAYS,
            Self::Sessions => &SESSIONS,
            Self::Runtime => &RUNTIME_MINUTES,
        }
    }

    /// The index of the bucket holding `value`. Values below the first bucket (none occur:
    /// a counted installation has at least one active day) fall in the first.
    pub fn bucket_of(self, value: i64) -> usize {
        let buckets = self.buckets();
        buckets.iter().position(|b| b.hi.is_none_or(|hi| value <= hi)).unwrap_or(buckets.len() - 1)
    }

    /// An SQL expression giving the bucket index of the integer expression `value`
    /// (the bounds are constants of this module, never request data).
    pub fn bucket_sql(self, value: &str) -> String {
        let buckets = self.buckets();
        let whens: String = buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.hi.map(|hi| format!(" WHEN {value} <= {hi} THEN {i}")))
            .collect();
        format!("(CASE{whens} ELSE {} END)", buckets.len() - 1)
    }

    /// The label of bucket `index` (semantics §9.1): `"n"`, `"a - b"`, `"≤ b"`, `"≥ a"`;
    /// runtime in `H:MM`.
    pub fn label(self, index: usize) -> String {
        let bucket = self.buckets()[index];
        let text = |n: i64| match self {
            Self::Runtime => format!("{}:{:02}", n / 60, n % 60),
            _ => n.to_string(),
        };
        match bucket.hi {
            None => format!("\u{2265} {}", text(bucket.lo)),
            Some(hi) if bucket.lo == 0 => format!("\u{2264} {}", text(hi)),
            Some(hi) if hi == bucket.lo => text(hi),
            Some(hi) => format!("{} - {}", text(bucket.lo), text(hi)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(m: Metric) -> Vec<String> {
        (0..m.buckets().len()).map(|i| m.label(i)).collect()
    }

    #[test]
    fn labels_are_those_of_semantics_9_2() {
        assert_eq!(
            labels(Metric::ActiveDays),
            [
                "1",
                "2",
                "3",
                "4",
                "5",
                "6",
                "7",
                "8 - 14",
                "15 - 30",
                "31 - 60",
                "61 - 90",
                "91 - 180",
                "181 - 365",
                "\u{2265} 366"
            ]
        );
        assert_eq!(
            labels(Metric::Sessions),
            ["\u{2264} 1", "2", "3", "4 - 5", "6 - 8", "9 - 12", "13 - 20", "21 - 50", "\u{2265} 51"]
        );
        assert_eq!(
            labels(Metric::Runtime),
            [
                "\u{2264} 0:05",
                "0:06 - 0:15",
                "0:16 - 0:30",
                "0:31 - 1:00",
                "1:01 - 2:00",
                "2:01 - 5:00",
                "5:01 - 10:00",
                "10:01 - 20:00",
                "20:01 - 50:00",
                "\u{2265} 50:01"
            ]
        );
    }

    #[test]
    fn buckets_tile_the_integers() {
        for m in Metric::ALL {
            let buckets = m.buckets();
            for w in buckets.windows(2) {
                assert_eq!(w[0].hi.map(|h| h + 1), Some(w[1].lo), "{m:?} buckets are contiguous");
            }
            for v in 0..4000 {
                let i = m.bucket_of(v);
                let b = buckets[i];
                assert!(v >= b.lo || i == 0, "{m:?} {v}");
                assert!(b.hi.is_none_or(|h| v <= h), "{m:?} {v}");
            }
        }
        assert_eq!(Metric::Sessions.bucket_of(0), 0);
        assert_eq!(Metric::Runtime.bucket_of(55), 3);
        assert_eq!(Metric::Runtime.bucket_of(240), 5);
        assert_eq!(Metric::ActiveDays.bucket_of(366), 13);
        assert_eq!(
            Metric::ActiveDays.bucket_sql("x"),
            format!("(CASE{} ELSE 13 END)", {
                let mut s = String::new();
                for (i, hi) in [1, 2, 3, 4, 5, 6, 7, 14, 30, 60, 90, 180, 365].iter().enumerate() {
                    s.push_str(&format!(" WHEN x <= {hi} THEN {i}"));
                }
                s
            })
        );
    }
}
