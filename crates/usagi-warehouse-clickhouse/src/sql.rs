//! Binding parameters as literals and reading `JSONCompact` results.
//!
//! ClickHouse 18.16 has no server-side query parameters, so `{pN}` placeholders
//! ([`usagi_warehouse::dialect::ClickHouseDialect`]) are replaced by escaped literals here.
//! Results come back as `JSONCompact`, whose `meta` names each column's type.

use serde::Deserialize;
use usagi_warehouse::{Param, Rows, Value, WarehouseError};

/// A string literal: backslash and quote escaped, as ClickHouse's lexer reads them.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn literal(p: &Param) -> String {
    match p {
        // Typed, so a constant join key (`ON c.product_id = $1 AND …`) matches Int64 columns.
        Param::Int(v) => format!("toInt64({v})"),
        Param::UInt(v) => format!("toUInt64({v})"),
        // `{:?}` prints the shortest text that reads back as the same f64, always with a dot.
        Param::Float(v) if v.is_finite() => format!("{v:?}"),
        Param::Float(_) => "nan".into(),
        Param::Text(s) => quote(s),
        Param::Date(d) => format!("toDate('{}')", d.format("%Y-%m-%d")),
        Param::Bool(b) => u8::from(*b).to_string(),
    }
}

/// Replaces `$1` … `$N` with the literals of `params`; a placeholder without a parameter is
/// an error, so a malformed query never reaches the server half-bound. Report SQL carries
/// every value as a parameter, so a `$` followed by digits is always a placeholder.
pub fn bind(sql: &str, params: &[Param]) -> Result<String, WarehouseError> {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        let n: usize = after[..digits].parse().map_err(|_| WarehouseError::Engine("bad placeholder".into()))?;
        let p = n
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| WarehouseError::Engine(format!("placeholder ${n} has no parameter")))?;
        out.push_str(&literal(p));
        rest = &after[digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Inlines input tables: each `usagi_in_N` reference becomes a subquery over an array of
/// tuples (18.16 has neither `VALUES` as a table nor external tables in this client).
pub fn inline_inputs(sql: &str, inputs: &[usagi_warehouse::InputTable]) -> String {
    let mut out = sql.to_string();
    // Longest names first, so usagi_in_1 never replaces the start of usagi_in_10.
    let mut sorted: Vec<&usagi_warehouse::InputTable> = inputs.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.name.len()));
    for t in sorted {
        out = replace_word(&out, &t.name, &input_subquery(t));
    }
    out
}

fn input_subquery(t: &usagi_warehouse::InputTable) -> String {
    let cell = |v: &Option<String>| match v {
        Some(s) => format!("toNullable({})", quote(s)),
        None => "CAST(NULL AS Nullable(String))".to_string(),
    };
    let cols: Vec<String> =
        t.columns.iter().enumerate().map(|(i, c)| format!("tupleElement(usagi_row, {}) AS {c}", i + 1)).collect();
    let rows: Vec<String> = if t.rows.is_empty() {
        // One typed row, filtered out below, so the column types are still known.
        vec![format!("tuple({})", vec!["CAST(NULL AS Nullable(String))"; t.columns.len()].join(", "))]
    } else {
        t.rows.iter().map(|r| format!("tuple({})", r.iter().map(cell).collect::<Vec<_>>().join(", "))).collect()
    };
    let filter = if t.rows.is_empty() { " WHERE 0" } else { "" };
    format!("(SELECT {} FROM (SELECT arrayJoin([{}]) AS usagi_row){filter})", cols.join(", "), rows.join(", "))
}

/// Replaces whole-word occurrences of `word` (not inside a longer identifier).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c))
            && (i > 0 || !out.chars().next_back().is_some_and(is_ident));
        let after_ok = rest[i + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
        out.push_str(&rest[..i]);
        if before_ok && after_ok {
            out.push_str(with);
        } else {
            out.push_str(word);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Deserialize)]
struct Compact {
    meta: Vec<Meta>,
    data: Vec<Vec<serde_json::Value>>,
}

fn engine(msg: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Engine(msg.to_string())
}

/// Converts one JSON cell by its declared ClickHouse type.
fn cell(ty: &str, v: serde_json::Value) -> Result<Value, WarehouseError> {
    use serde_json::Value as J;
    if v.is_null() {
        return Ok(Value::Null);
    }
    let base = ty.strip_prefix("Nullable(").and_then(|t| t.strip_suffix(')')).unwrap_or(ty);
    let text = |v: &J| match v {
        J::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(match base {
        "UInt8" | "UInt16" | "UInt32" | "Int8" | "Int16" | "Int32" | "Int64" => {
            Value::Int(text(&v).parse().map_err(|e| engine(format!("{base} cell {v}: {e}")))?)
        }
        "UInt64" => Value::UInt(text(&v).parse().map_err(|e| engine(format!("UInt64 cell {v}: {e}")))?),
        "Float32" | "Float64" => match &v {
            J::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            // nan and inf come as strings, as do numbers under output_format_json_quote_denormals.
            other => Value::Float(text(other).parse().unwrap_or(f64::NAN)),
        },
        "Date" => {
            let s = text(&v);
            if s == "0000-00-00" {
                Value::Null
            } else {
                Value::Date(
                    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| engine(format!("Date {s}: {e}")))?,
                )
            }
        }
        _ => Value::Text(text(&v)),
    })
}

/// Parses a `JSONCompact` response body.
pub fn parse_compact(body: &[u8]) -> Result<Rows, WarehouseError> {
    let doc: Compact = serde_json::from_slice(body).map_err(|e| engine(format!("unreadable result: {e}")))?;
    let types: Vec<&str> = doc.meta.iter().map(|m| m.ty.as_str()).collect();
    let mut rows = Vec::with_capacity(doc.data.len());
    for raw in doc.data {
        if raw.len() != types.len() {
            return Err(engine("a result row has the wrong number of cells"));
        }
        rows.push(raw.into_iter().zip(&types).map(|(v, ty)| cell(ty, v)).collect::<Result<Vec<_>, _>>()?);
    }
    Ok(Rows { columns: doc.meta.into_iter().map(|m| m.name).collect(), rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn placeholders_become_escaped_literals_and_may_repeat() {
        let params = vec![
            Param::Int(-5),
            Param::Text("it's a \\ test".into()),
            Param::Date(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()),
            Param::UInt(u64::MAX),
            Param::Float(0.1),
            Param::Bool(true),
        ];
        let sql = bind("SELECT $1, $2, $3, $4, $5, $6, $1 WHERE x = '$'", &params).unwrap();
        assert_eq!(
            sql,
            "SELECT toInt64(-5), 'it\\'s a \\\\ test', toDate('2026-02-03'), toUInt64(18446744073709551615), 0.1, 1, toInt64(-5) \
             WHERE x = '$'"
        );
    }

    #[test]
    fn a_placeholder_without_a_parameter_is_an_error() {
        assert!(bind("SELECT $2", &[Param::Int(1)]).is_err());
        assert!(bind("SELECT $0", &[Param::Int(1)]).is_err());
        assert_eq!(bind("SELECT $10", &(1..=10).map(Param::Int).collect::<Vec<_>>()).unwrap(), "SELECT toInt64(10)");
    }

    #[test]
    fn input_tables_become_subqueries_by_whole_name() {
        let t = |name: &str, rows: Vec<Vec<Option<String>>>| usagi_warehouse::InputTable {
            name: name.into(),
            columns: vec!["a", "b"],
            rows,
        };
        let one = t("usagi_in_1", vec![vec![Some("x'y".into()), None]]);
        let ten = t("usagi_in_10", vec![]);
        let sql =
            inline_inputs("SELECT * FROM usagi_in_1 m JOIN usagi_in_10 n ON 1 WHERE my_usagi_in_1 = 0", &[one, ten]);
        assert_eq!(
            sql,
            "SELECT * FROM (SELECT tupleElement(usagi_row, 1) AS a, tupleElement(usagi_row, 2) AS b FROM \
             (SELECT arrayJoin([tuple(toNullable('x\\'y'), CAST(NULL AS Nullable(String)))]) AS usagi_row)) m \
             JOIN (SELECT tupleElement(usagi_row, 1) AS a, tupleElement(usagi_row, 2) AS b FROM \
             (SELECT arrayJoin([tuple(CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(String)))]) AS usagi_row) \
             WHERE 0) n ON 1 WHERE my_usagi_in_1 = 0"
        );
    }

    #[test]
    fn compact_results_are_typed_by_their_meta() {
        let body = br#"{"meta":[{"name":"a","type":"UInt8"},{"name":"b","type":"Nullable(String)"},
            {"name":"d","type":"Date"},{"name":"f","type":"Float64"},{"name":"u","type":"UInt64"},
            {"name":"n","type":"Nullable(Nothing)"},{"name":"i","type":"Int64"}],
            "data":[[1,"x","2026-01-02",2.5,"18446744073709551615",null,"-7"]],"rows":1}"#;
        let rows = parse_compact(body).unwrap();
        assert_eq!(rows.columns, ["a", "b", "d", "f", "u", "n", "i"]);
        assert_eq!(
            rows.rows[0],
            vec![
                Value::Int(1),
                Value::Text("x".into()),
                Value::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
                Value::Float(2.5),
                Value::UInt(u64::MAX),
                Value::Null,
                Value::Int(-7),
            ]
        );
    }
}
