//! The SQL differences between warehouse backends, so report SQL is written once.

/// How a backend spells the few expressions report SQL needs beyond standard SQL.
pub trait Dialect: Send + Sync {
    /// A positional parameter placeholder (1-based `n`).
    fn placeholder(&self, n: usize) -> String;
    /// The Monday of the ISO week containing the DATE expression `day`.
    fn week_start(&self, day: &str) -> String;
    /// The first day of the month containing the DATE expression `day`.
    fn month_start(&self, day: &str) -> String;
    /// The DATE expression `day` plus the integer expression `days`.
    fn add_days(&self, day: &str, days: &str) -> String;
}

/// DuckDB's dialect.
pub struct DuckDialect;

impl Dialect for DuckDialect {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
    fn week_start(&self, day: &str) -> String {
        format!("CAST(date_trunc('week', {day}) AS DATE)")
    }
    fn month_start(&self, day: &str) -> String {
        format!("CAST(date_trunc('month', {day}) AS DATE)")
    }
    fn add_days(&self, day: &str, days: &str) -> String {
        format!("CAST({day} + CAST({days} AS INTEGER) AS DATE)")
    }
}

/// ClickHouse's dialect (18.16 and later). Placeholders are `$n`, as DuckDB's: the ClickHouse
/// backend replaces them with escaped literals before sending the query (18.16 has no
/// server-side query parameters, and a placeholder may be used more than once, unlike the
/// client crate's `?`). Report SQL holds no user data outside parameters, so `$` only ever
/// starts a placeholder.
pub struct ClickHouseDialect;

impl Dialect for ClickHouseDialect {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
    fn week_start(&self, day: &str) -> String {
        format!("toMonday({day})")
    }
    fn month_start(&self, day: &str) -> String {
        format!("toStartOfMonth({day})")
    }
    fn add_days(&self, day: &str, days: &str) -> String {
        format!("addDays({day}, {days})")
    }
}
