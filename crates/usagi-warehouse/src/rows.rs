//! Backend-neutral query parameters and result rows.

use chrono::NaiveDate;

/// A bound query parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer.
    Int(i64),
    /// An unsigned 64-bit integer (client ids).
    UInt(u64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// A calendar day.
    Date(NaiveDate),
    /// A boolean.
    Bool(bool),
}

/// One result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer type.
    Int(i64),
    /// Unsigned 64-bit integer.
    UInt(u64),
    /// Any float type.
    Float(f64),
    /// Text.
    Text(String),
    /// A date.
    Date(NaiveDate),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The value as an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::UInt(v) => i64::try_from(*v).ok(),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    /// The value as an unsigned 64-bit integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::UInt(v) => Some(*v),
            Value::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(v) => Some(*v as f64),
            Value::UInt(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The value as a date.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as a boolean; 0 and 1 count too, for backends without a boolean type
    /// (ClickHouse 18.16 stores flags as UInt8).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(0) | Value::UInt(0) => Some(false),
            Value::Int(1) | Value::UInt(1) => Some(true),
            _ => None,
        }
    }

    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Any non-NULL value as text, as a text cast in SQL would print it (streamed exports
    /// from backends that return typed cells).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Text(s) => Some(s.clone()),
            Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
            Value::Bool(b) => Some(b.to_string()),
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A query result: column names and rows of cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Value>>,
}
