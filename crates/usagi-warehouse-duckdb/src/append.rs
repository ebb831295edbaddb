//! A load's fact rows as Arrow record batches, appended to DuckDB a vector at a time.
//!
//! Appending row by row (`Appender::append_row`) converts and hands over every value on its
//! own, ~5 µs per row; a column-wise batch costs a fraction of that, and the append was the
//! largest step of a load. Each function's columns are in the order of its table's columns
//! (the migrations of `schema`); DuckDB casts where the Arrow type differs (UUIDs arrive as
//! text).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray, UInt32Array, UInt64Array,
    UInt8Array,
};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Transaction;
use usagi_types::{ClientId, ProductId};
use usagi_warehouse::{ContactRow, EventRow, ExceptionRow, ObservationRow, PropertyRow, SessionMarkRow};
use uuid::Uuid;

use crate::day_of;
use crate::schema::DayRange;

/// Days since 1970-01-01 of a day (Arrow's `Date32`).
pub(crate) fn day_number(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

/// The day of a millisecond timestamp, as [`day_number`].
fn day_at(t_ms: i64) -> i32 {
    day_number(day_of(t_ms))
}

fn products<'a, T: 'a>(rows: &'a [T], f: impl Fn(&T) -> ProductId) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| f(r).as_u64() as i64)))
}

fn clients<'a, T: 'a>(rows: &'a [T], f: impl Fn(&T) -> ClientId) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| f(r).as_u64())))
}

fn i64s<T>(rows: &[T], f: impl Fn(&T) -> i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
}

fn days<T>(rows: &[T], f: impl Fn(&T) -> i64) -> ArrayRef {
    Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day_at(f(r)))))
}

fn texts<'a, T: 'a>(rows: &'a [T], f: impl Fn(&'a T) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<StringArray>())
}

fn uuids<T>(rows: &[T], f: impl Fn(&T) -> Uuid) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| f(r).to_string())))
}

fn batch(columns: Vec<(&'static str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_from_iter(columns)
}

/// Rows per Arrow batch handed to DuckDB's appender: a load's events as one batch were a
/// copy of the whole load in Arrow form, held next to the rows and DuckDB's own copy.
const APPEND_CHUNK_ROWS: usize = 1 << 16;

/// Appends `rows` to `table` in chunks of [`APPEND_CHUNK_ROWS`], each made into Arrow
/// columns by `columns`; nothing when `rows` is empty.
fn append<'a, T>(
    tx: &Transaction<'_>,
    table: &str,
    rows: &'a [T],
    columns: impl Fn(&'a [T]) -> Vec<(&'static str, ArrayRef)>,
) -> duckdb::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut app = tx.appender(table)?;
    for chunk in rows.chunks(APPEND_CHUNK_ROWS) {
        app.append_record_batch(batch(columns(chunk)).map_err(arrow)?)?;
    }
    app.flush()
}

fn arrow(e: ArrowError) -> duckdb::Error {
    duckdb::Error::ToSqlConversionFailure(Box::new(e))
}

/// Appends `(product_id, client_id, day)` rows to a scratch table with three such columns
/// (`load_days`, `props_from`), through Arrow like the facts.
pub(crate) fn installation_days(
    tx: &Transaction<'_>,
    table: &str,
    rows: &[(i64, u64, NaiveDate)],
) -> duckdb::Result<()> {
    append(tx, table, rows, |rows| {
        vec![
            ("product_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef),
            ("client_id", Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1)))),
            ("day", Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day_number(r.2))))),
        ]
    })
}

/// An installation's last observed value of a property on a day (`load_prop_days`).
pub(crate) type LastValue<'a> = (i64, u64, &'a str, NaiveDate, Option<&'a str>);

/// Appends rows to `load_prop_days`.
pub(crate) fn last_values(tx: &Transaction<'_>, rows: &[LastValue<'_>]) -> duckdb::Result<()> {
    append(tx, "load_prop_days", rows, |rows| {
        vec![
            ("product_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef),
            ("client_id", Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1)))),
            ("name", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2)))),
            ("day", Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day_number(r.3))))),
            ("value", Arc::new(rows.iter().map(|r| r.4).collect::<StringArray>())),
        ]
    })
}

/// Appends `(product_id, client_id, t, seq, idx)` rows to `load_prop_marks`.
pub(crate) fn property_marks(tx: &Transaction<'_>, rows: &[(i64, u64, i64, i64, u32)]) -> duckdb::Result<()> {
    append(tx, "load_prop_marks", rows, |rows| {
        vec![
            ("product_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef),
            ("client_id", Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1)))),
            ("t", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2)))),
            ("seq", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3)))),
            ("idx", Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.4)))),
        ]
    })
}

/// Appends a load's fact rows to the six fact tables.
pub(crate) fn facts(tx: &Transaction<'_>, b: &usagi_warehouse::LoadBatch) -> duckdb::Result<()> {
    append(tx, "contacts", &b.contacts, |c| {
        vec![
            ("product_id", products(c, |r: &ContactRow| r.product)),
            ("client_id", clients(c, |r: &ContactRow| r.client)),
            ("received_at", i64s(c, |r| r.received_at)),
            ("day", days(c, |r| r.received_at)),
            ("batch_id", uuids(c, |r| r.batch_id)),
            ("seq", i64s(c, |r| r.seq as i64)),
            ("lsn", Arc::new(UInt64Array::from_iter_values(c.iter().map(|r| r.lsn)))),
        ]
    })?;
    append(tx, "events", &b.events, |e| {
        vec![
            ("product_id", products(e, |r: &EventRow| r.product)),
            ("client_id", clients(e, |r: &EventRow| r.client)),
            ("t", i64s(e, |r| r.t)),
            ("day", days(e, |r| r.t)),
            ("seq", i64s(e, |r| r.seq as i64)),
            ("idx", Arc::new(Int32Array::from_iter_values(e.iter().map(|r| r.idx as i32)))),
            ("session_id", texts(e, |r: &EventRow| r.session_id.as_deref())),
            ("category", texts(e, |r: &EventRow| r.category.as_deref())),
            ("name", texts(e, |r: &EventRow| Some(r.name.as_str()))),
            ("num_value", Arc::new(e.iter().map(|r| r.num_value).collect::<Float64Array>())),
            ("text_value", texts(e, |r: &EventRow| r.text_value.as_deref())),
            ("custom", texts(e, |r: &EventRow| r.custom_json.as_deref())),
            ("received_at", i64s(e, |r| r.received_at)),
            ("batch_id", uuids(e, |r| r.batch_id)),
        ]
    })?;
    append(tx, "session_marks", &b.session_marks, |m| {
        vec![
            ("product_id", products(m, |r: &SessionMarkRow| r.product)),
            ("client_id", clients(m, |r: &SessionMarkRow| r.client)),
            ("t", i64s(m, |r| r.t)),
            ("day", days(m, |r| r.t)),
            ("seq", i64s(m, |r| r.seq as i64)),
            ("idx", Arc::new(Int32Array::from_iter_values(m.iter().map(|r| r.idx as i32)))),
            ("kind", Arc::new(UInt8Array::from_iter_values(m.iter().map(|r| r.kind as u8)))),
            ("session_id", texts(m, |r: &SessionMarkRow| r.session_id.as_deref())),
            ("received_at", i64s(m, |r| r.received_at)),
            ("batch_id", uuids(m, |r| r.batch_id)),
        ]
    })?;
    append(tx, "exceptions", &b.exceptions, |x| {
        vec![
            ("product_id", products(x, |r: &ExceptionRow| r.product)),
            ("client_id", clients(x, |r: &ExceptionRow| r.client)),
            ("t", i64s(x, |r| r.t)),
            ("day", days(x, |r| r.t)),
            ("seq", i64s(x, |r| r.seq as i64)),
            ("idx", Arc::new(Int32Array::from_iter_values(x.iter().map(|r| r.idx as i32)))),
            ("session_id", texts(x, |r: &ExceptionRow| r.session_id.as_deref())),
            ("class_name", texts(x, |r: &ExceptionRow| Some(r.class_name.as_str()))),
            ("method_name", texts(x, |r: &ExceptionRow| Some(r.method_name.as_str()))),
            ("message", texts(x, |r: &ExceptionRow| r.message.as_deref())),
            ("stack_trace", texts(x, |r: &ExceptionRow| r.stack_trace.as_deref())),
            ("received_at", i64s(x, |r| r.received_at)),
            ("batch_id", uuids(x, |r| r.batch_id)),
        ]
    })?;
    append(tx, "observations", &b.observations, |o| {
        vec![
            ("product_id", products(o, |r: &ObservationRow| r.product)),
            ("client_id", clients(o, |r: &ObservationRow| r.client)),
            ("t", i64s(o, |r| r.t)),
            ("day", days(o, |r| r.t)),
            ("seq", i64s(o, |r| r.seq as i64)),
            ("idx", Arc::new(UInt32Array::from_iter_values(o.iter().map(|r| r.idx)))),
            ("source", Arc::new(UInt8Array::from_iter_values(o.iter().map(|r| r.source as u8)))),
            ("evidence", Arc::new(o.iter().map(|r| Some(r.evidence)).collect::<BooleanArray>())),
            ("session_id", texts(o, |r: &ObservationRow| r.session_id.as_deref())),
            ("payload", texts(o, |r: &ObservationRow| Some(r.payload.as_str()))),
        ]
    })?;
    append(tx, "property_changes", &b.properties, |p| {
        vec![
            ("product_id", products(p, |r: &PropertyRow| r.product)),
            ("client_id", clients(p, |r: &PropertyRow| r.client)),
            ("t", i64s(p, |r| r.t)),
            ("day", days(p, |r| r.t)),
            ("seq", i64s(p, |r| r.seq as i64)),
            ("idx", Arc::new(UInt32Array::from_iter_values(p.iter().map(|r| r.idx)))),
            ("name", texts(p, |r: &PropertyRow| Some(r.name.as_str()))),
            ("value", texts(p, |r: &PropertyRow| r.value.as_deref())),
            ("received_at", i64s(p, |r| r.received_at)),
        ]
    })
}

/// Writes a load's events aggregated per installation, day and event to the scratch table
/// `event_delta` (what [`crate::schema::load_steps`] adds to the event rollups) and returns
/// the days they span, `None` without events.
pub(crate) fn event_delta(tx: &Transaction<'_>, events: &[EventRow]) -> duckdb::Result<Option<DayRange>> {
    type Key<'a> = (u64, u64, i32, Option<&'a str>, &'a str);
    let mut sums: HashMap<Key<'_>, (i64, f64)> = HashMap::new();
    for e in events {
        let key = (e.product.as_u64(), e.client.as_u64(), day_at(e.t), e.category.as_deref(), e.name.as_str());
        let sum = sums.entry(key).or_insert((0, 0.0));
        sum.0 += 1;
        sum.1 += e.num_value.unwrap_or(0.0);
    }
    tx.prepare_cached("DELETE FROM event_delta")?.execute([])?;
    let rows: Vec<(Key<'_>, (i64, f64))> = sums.into_iter().collect();
    let (Some(first), Some(last)) = (rows.iter().map(|(k, _)| k.2).min(), rows.iter().map(|(k, _)| k.2).max()) else {
        return Ok(None);
    };
    append(tx, "event_delta", &rows, |rows| {
        vec![
            ("product_id", Arc::new(Int64Array::from_iter_values(rows.iter().map(|(k, _)| k.0 as i64))) as ArrayRef),
            ("client_id", Arc::new(UInt64Array::from_iter_values(rows.iter().map(|(k, _)| k.1)))),
            ("day", Arc::new(Date32Array::from_iter_values(rows.iter().map(|(k, _)| k.2)))),
            ("category", Arc::new(rows.iter().map(|(k, _)| k.3).collect::<StringArray>())),
            ("name", Arc::new(StringArray::from_iter_values(rows.iter().map(|(k, _)| k.4)))),
            ("n", Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, v)| v.0)))),
            ("value_sum", Arc::new(Float64Array::from_iter_values(rows.iter().map(|(_, v)| v.1)))),
        ]
    })?;
    let date = |n: i32| NaiveDate::default() + chrono::TimeDelta::days(i64::from(n));
    Ok(Some(DayRange { first: date(first), last: date(last) }))
}
