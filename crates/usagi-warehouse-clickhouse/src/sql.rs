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
        Param::Int(v) => v.to_string(),
        Param::UInt(v) => format!("toUInt64({v})"),
        // `{:?}` prints the shortest text that reads back as the same f64, always with a dot.
        Param::Float(v) if v.is_finite() => format!("{v:?}"),
        Param::Float(_) => "nan".into(),
        Param::Text(s) => quote(s),
        Param::Date(d) => format!("toDate('{}')", d.format("%Y-%m-%d")),
        Param::Bool(b) => u8::from(*b).to_string(),
    }
}

/// Replaces `{p1}` … `{pN}` with the literals of `params`; a placeholder without a parameter is
/// an error, so a malformed query never reaches the server half-bound.
pub fn bind(sql: &str, params: &[Param]) -> Result<String, WarehouseError> {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut rest = sql;
    while let Some(open) = rest.find("{p") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || after.as_bytes().get(digits) != Some(&b'}') {
            out.push_str("{p");
            rest = after;
            continue;
        }
        let n: usize = after[..digits].parse().map_err(|_| WarehouseError::Engine("bad placeholder".into()))?;
        let p = n
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| WarehouseError::Engine(format!("placeholder {{p{n}}} has no parameter")))?;
        out.push_str(&literal(p));
        rest = &after[digits + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
        let sql = bind("SELECT {p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p1} WHERE x = '{pz}'", &params).unwrap();
        assert_eq!(
            sql,
            "SELECT -5, 'it\\'s a \\\\ test', toDate('2026-02-03'), toUInt64(18446744073709551615), 0.1, 1, -5 \
             WHERE x = '{pz}'"
        );
    }

    #[test]
    fn a_placeholder_without_a_parameter_is_an_error() {
        assert!(bind("SELECT {p2}", &[Param::Int(1)]).is_err());
        assert!(bind("SELECT {p0}", &[Param::Int(1)]).is_err());
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
