//! Building one report query: numbered parameters through the backend's dialect, plus the
//! input tables (value sets computed in Rust) it reads.

use usagi_types::ApiError;
use usagi_warehouse::{Dialect, InputTable, Param, Rows, TextSink, Warehouse, WarehouseError};

use crate::context::warehouse_error;

/// Parameters and input tables of one SQL statement under construction.
pub struct Query {
    dialect: &'static dyn Dialect,
    params: Vec<Param>,
    inputs: Vec<InputTable>,
}

impl Query {
    /// An empty query for a warehouse's dialect.
    pub fn new(dialect: &'static dyn Dialect) -> Self {
        Self { dialect, params: Vec::new(), inputs: Vec::new() }
    }

    /// The dialect.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        self.dialect.placeholder(self.params.len())
    }

    /// Adds a one-column input table of values and returns `(SELECT v FROM name)`.
    pub fn value_set(&mut self, values: Vec<Option<String>>) -> String {
        let name = format!("usagi_in_{}", self.inputs.len());
        let sql = format!("(SELECT v FROM {name})");
        self.inputs.push(InputTable { name, columns: vec!["v"], rows: values.into_iter().map(|v| vec![v]).collect() });
        sql
    }

    /// Adds an input table with named text columns and returns its name.
    pub fn table(&mut self, columns: Vec<&'static str>, rows: Vec<Vec<Option<String>>>) -> String {
        let name = format!("usagi_in_{}", self.inputs.len());
        self.inputs.push(InputTable { name: name.clone(), columns, rows });
        name
    }

    /// Streams the rows of `sql` (text columns) into `sink`; input tables are not supported here.
    pub async fn stream(self, wh: &dyn Warehouse, sql: String, sink: TextSink) -> Result<u64, WarehouseError> {
        if !self.inputs.is_empty() {
            return Err(WarehouseError::Engine("a streamed query cannot read input tables".into()));
        }
        let (sql, params) = compact_numbered(sql, self.params);
        wh.stream_text(sql, params, sink).await
    }

    /// Runs `sql` with the collected parameters and inputs.
    pub async fn run(self, wh: &dyn Warehouse, sql: String) -> Result<Rows, ApiError> {
        let (sql, params) = compact_numbered(sql, self.params);
        wh.query_with(sql, params, self.inputs).await.map_err(warehouse_error)
    }
}

/// Drops parameters the SQL never mentions and renumbers `$n` placeholders to match, so
/// plans may bind values they end up not using (engines reject unused parameters). The
/// SQL text holds no user data (every value is a parameter), so `$` only starts placeholders.
fn compact_numbered(sql: String, params: Vec<Param>) -> (String, Vec<Param>) {
    let re = regex::Regex::new(r"\$([0-9]+)").unwrap_or_else(|_| unreachable!("constant pattern"));
    let mut used = vec![false; params.len()];
    for c in re.captures_iter(&sql) {
        if let Some(i) = c[1].parse::<usize>().ok().and_then(|n| n.checked_sub(1)).filter(|i| *i < used.len()) {
            used[i] = true;
        }
    }
    if used.iter().all(|u| *u) {
        return (sql, params);
    }
    let mut renumber = vec![0; params.len()];
    let mut kept = Vec::new();
    for (i, p) in params.into_iter().enumerate() {
        if used[i] {
            kept.push(p);
            renumber[i] = kept.len();
        }
    }
    let sql = re
        .replace_all(&sql, |c: &regex::Captures<'_>| {
            match c[1].parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| renumber.get(i)) {
                Some(n) => format!("${n}"),
                None => c[0].to_string(),
            }
        })
        .into_owned();
    (sql, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_parameters_are_dropped_and_placeholders_renumbered() {
        let params = vec![Param::Int(1), Param::Int(2), Param::Int(3)];
        let (sql, kept) = compact_numbered("SELECT $1, $3, $3".into(), params);
        assert_eq!(sql, "SELECT $1, $2, $2");
        assert_eq!(kept, vec![Param::Int(1), Param::Int(3)]);
        let (sql, kept) = compact_numbered("SELECT $1".into(), vec![Param::Int(1)]);
        assert_eq!((sql.as_str(), kept.len()), ("SELECT $1", 1));
    }
}
