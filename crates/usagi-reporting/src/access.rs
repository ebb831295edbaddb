//! Where a property's value is read from in report SQL.
//!
//! Report queries see two rows per installation: `p`, the daily rollup row of the
//! reference day (standard properties, semantics §7.3), and `c`, the installation's
//! `clients` row (current and derived properties). For rows judged by their latest
//! value (lost installations, groupBy) both aliases name the `clients` row.

use usagi_warehouse::columns::{property_column, ColumnType};

/// The SQL type a property reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Text (NULL compares as `<NULL>`).
    Text,
    /// Integer.
    Int,
    /// Boolean.
    Bool,
    /// Calendar day.
    Date,
}

/// An SQL expression for a property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSql {
    /// The expression.
    pub expr: String,
    /// Its type.
    pub kind: ValueKind,
    /// Whether it reads the `clients` row (so the query must join it).
    pub current: bool,
}

/// The expression of a history name (`prodVersion`, `os.version`, `clientId`, `dateInstalled`, …);
/// standard properties read the row aliased `std` (`p`, or `c` when judged by the latest value).
pub fn value_sql(name: &str, std: &str) -> Option<ValueSql> {
    let derived = |expr: &str, kind| Some(ValueSql { expr: expr.to_string(), kind, current: true });
    match name {
        "clientId" => derived("printf('%016X', c.client_id)", ValueKind::Text),
        "dateInstalled" => derived("c.date_installed", ValueKind::Date),
        "dateLastSeen" => derived("c.date_last_seen", ValueKind::Date),
        "lifetimeSessionCount" => derived("c.lifetime_sessions", ValueKind::Int),
        "lifetimeRuntimeMinutes" => derived("(c.lifetime_runtime_ms // 60000)", ValueKind::Int),
        "installationMonth" => derived("strftime(c.date_installed, '%Y-%m')", ValueKind::Text),
        _ => {
            let col = property_column(name)?;
            let kind = match col.ty {
                ColumnType::Text => ValueKind::Text,
                ColumnType::Int => ValueKind::Int,
                ColumnType::Bool => ValueKind::Bool,
            };
            let alias = if col.standard { std } else { "c" };
            Some(ValueSql { expr: format!("{alias}.{}", col.column), kind, current: !col.standard })
        }
    }
}

/// Text comparison form: NULL reads as the literal `<NULL>` (reporting-api §3.2).
pub fn as_text(v: &ValueSql) -> String {
    match v.kind {
        ValueKind::Text => format!("coalesce({}, '<NULL>')", v.expr),
        _ => format!("coalesce(CAST({} AS VARCHAR), '<NULL>')", v.expr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_reads_the_day_row_and_current_the_client_row() {
        assert_eq!(value_sql("prodVersion", "p").unwrap().expr, "p.prod_version");
        assert!(!value_sql("prodVersion", "p").unwrap().current);
        assert_eq!(
            value_sql("cpuCores", "p").unwrap(),
            ValueSql { expr: "c.cpu_cores".into(), kind: ValueKind::Int, current: true }
        );
        assert_eq!(value_sql("os.version", "p").unwrap().expr, "p.os_version");
        assert!(value_sql("os", "p").is_none());
        assert!(value_sql("lifetimeRuntimeMinutes", "p").unwrap().current);
    }
}
