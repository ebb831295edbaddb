//! Property columns of the rollups: where each property of the catalogue lives.
//!
//! Standard properties (semantics §7: daily granularity) are columns of `client_days`,
//! holding each installation's value at the end of that active day, and of `clients`,
//! holding the latest value. Current properties are columns of `clients` only. Reports
//! read these wide rows instead of re-resolving observations, so a filtered timeline is
//! a plain scan of `client_days`.
//!
//! Standard values can only change on active days: every observation of a standard
//! property is a record or a contact, both evidence of activity (semantics §4). So the
//! value at the end of any reference day e equals the value on the last active day ≤ e.

/// The SQL type of a property column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// VARCHAR.
    Text,
    /// BIGINT (every numeric property is an integer).
    Int,
    /// BOOLEAN.
    Bool,
}

impl ColumnType {
    /// The portable SQL type name.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Text => "VARCHAR",
            Self::Int => "BIGINT",
            Self::Bool => "BOOLEAN",
        }
    }
}

/// One property column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyColumn {
    /// The history name, as the loader records it: `prodVersion`, `os.version`, `C01`, …
    pub name: &'static str,
    /// The column name.
    pub column: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// true: daily history in `client_days` (and latest in `clients`); false: `clients` only.
    pub standard: bool,
    /// The value before the first observation, as an SQL literal (semantics §7.2); None = NULL.
    pub default: Option<&'static str>,
}

const fn col(name: &'static str, column: &'static str, ty: ColumnType, standard: bool) -> PropertyColumn {
    PropertyColumn { name, column, ty, standard, default: None }
}

const fn flag(name: &'static str, column: &'static str) -> PropertyColumn {
    PropertyColumn { name, column, ty: ColumnType::Bool, standard: true, default: Some("false") }
}

use ColumnType::{Int, Text};

/// Every property column, standard ones first.
pub const PROPERTY_COLUMNS: &[PropertyColumn] = &[
    col("prodVersion", "prod_version", Text, true),
    col("prodEdition", "prod_edition", Text, true),
    col("prodBuild", "prod_build", Text, true),
    col("prodLanguage", "prod_language", Text, true),
    PropertyColumn {
        name: "licenseType",
        column: "license_type",
        ty: Text,
        standard: true,
        default: Some("'unknown'"),
    },
    flag("licenseStatus.activated", "ls_activated"),
    flag("licenseStatus.expired", "ls_expired"),
    flag("licenseStatus.blocked", "ls_blocked"),
    flag("licenseStatus.allowed", "ls_allowed"),
    col("C01", "c01", Text, true),
    col("C02", "c02", Text, true),
    col("C03", "c03", Text, true),
    col("C04", "c04", Text, true),
    col("C05", "c05", Text, true),
    col("C06", "c06", Text, true),
    col("C07", "c07", Text, true),
    col("C08", "c08", Text, true),
    col("C09", "c09", Text, true),
    col("C10", "c10", Text, true),
    col("C11", "c11", Text, true),
    col("C12", "c12", Text, true),
    col("C13", "c13", Text, true),
    col("C14", "c14", Text, true),
    col("C15", "c15", Text, true),
    col("C16", "c16", Text, true),
    col("C17", "c17", Text, true),
    col("C18", "c18", Text, true),
    col("C19", "c19", Text, true),
    col("C20", "c20", Text, true),
    col("os.platform", "os_platform", Text, true),
    col("os.version", "os_version", Text, true),
    col("os.edition", "os_edition", Text, true),
    col("osLanguage", "os_language", Text, true),
    col("geography.continent", "geo_continent", Text, true),
    col("geography.country", "geo_country", Text, true),
    col("geography.usState", "geo_us_state", Text, true),
    col("machineId", "machine_id", Text, false),
    col("appName", "app_name", Text, false),
    col("licenseKey", "license_key", Text, false),
    col("osWordLength", "os_word_length", Text, false),
    col("cpuType", "cpu_type", Text, false),
    col("cpuCores", "cpu_cores", Int, false),
    col("ram", "ram", Int, false),
    col("displayCount", "display_count", Int, false),
    col("resolutionWidth", "resolution_width", Int, false),
    col("resolutionHeight", "resolution_height", Int, false),
    col("screenPpi", "screen_ppi", Int, false),
    col("touchScreen", "touch_screen", ColumnType::Bool, false),
    col("formFactor", "form_factor", Text, false),
    col("gpu.vendor", "gpu_vendor", Text, false),
    col("gpu.model", "gpu_model", Text, false),
    col("vm", "vm", Text, false),
    col("dotNetVersion", "dot_net_version", Text, false),
    col("javaVersion", "java_version", Text, false),
    col("javaVendor", "java_vendor", Text, false),
    col("javaRuntime", "java_runtime", Text, false),
    col("javaGraphics", "java_graphics", Text, false),
    col("javaVmVersion", "java_vm_version", Text, false),
    col("javaVmName", "java_vm_name", Text, false),
    col("javaVmRam", "java_vm_ram", Int, false),
];

/// The column of a history name.
pub fn property_column(name: &str) -> Option<&'static PropertyColumn> {
    PROPERTY_COLUMNS.iter().find(|c| c.name == name)
}

/// The standard property columns (those of `client_days`).
pub fn standard_columns() -> impl Iterator<Item = &'static PropertyColumn> {
    PROPERTY_COLUMNS.iter().filter(|c| c.standard)
}

/// Derived per-installation columns of `clients` besides the property columns.
pub const CLIENT_COLUMNS: &[(&str, &str)] = &[
    ("date_installed", "DATE NOT NULL"),
    ("date_last_seen", "DATE NOT NULL"),
    ("lifetime_sessions", "BIGINT NOT NULL"),
    ("lifetime_runtime_ms", "BIGINT NOT NULL"),
    ("opt_out_historical", "BOOLEAN NOT NULL"),
    ("opt_out_current", "BOOLEAN NOT NULL"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_columns_are_unique_and_standard_first() {
        let names: HashSet<_> = PROPERTY_COLUMNS.iter().map(|c| c.name).collect();
        let cols: HashSet<_> = PROPERTY_COLUMNS.iter().map(|c| c.column).collect();
        assert_eq!(names.len(), PROPERTY_COLUMNS.len());
        assert_eq!(cols.len(), PROPERTY_COLUMNS.len());
        let first_current = PROPERTY_COLUMNS.iter().position(|c| !c.standard).expect("some current");
        assert!(PROPERTY_COLUMNS[first_current..].iter().all(|c| !c.standard));
        for n in usagi_types::CUSTOM_PROPERTY_NAMES {
            assert!(property_column(n).is_some_and(|c| c.standard), "{n}");
        }
    }
}
