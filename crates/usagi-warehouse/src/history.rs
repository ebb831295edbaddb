//! A product's history read back out of a warehouse, in the shape it went in: the facts of a
//! set of installations as one [`LoadBatch`], and the rows of other tables (what retention left
//! of purged data, rollups) as they are. `usagi migrate` copies a product from one warehouse
//! to another with it.
//!
//! Everything here goes through [`Warehouse::query`] and the logical schema, so it reads any
//! backend.

use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

use crate::facts::*;
use crate::{Param, Rows, Value, Warehouse, WarehouseError};

/// The fact tables, each with the columns read back (by position, see [`push_rows`]).
///
/// `batch_id` of session marks and events is NULL in rows older than the column (embedded
/// migration 8 could not find their batch); they come back as the nil UUID.
pub const FACT_SELECTS: [(&str, &str); 6] = [
    ("contacts", "product_id, client_id, received_at, CAST(batch_id AS VARCHAR), seq, lsn"),
    (
        "events",
        "product_id, client_id, t, seq, idx, session_id, category, name, num_value, text_value, custom, \
         received_at, CAST(batch_id AS VARCHAR)",
    ),
    (
        "session_marks",
        "product_id, client_id, t, seq, idx, kind, session_id, coalesce(received_at, t), CAST(batch_id AS VARCHAR)",
    ),
    (
        "exceptions",
        "product_id, client_id, t, seq, idx, session_id, class_name, method_name, message, stack_trace, \
         received_at, CAST(batch_id AS VARCHAR)",
    ),
    ("observations", "product_id, client_id, t, seq, idx, source, evidence, session_id, payload"),
    ("property_changes", "product_id, client_id, t, seq, idx, name, value, coalesce(received_at, t)"),
];

/// The tables retention writes when it purges old detail data (semantics §2).
pub const RETENTION_BASE_TABLES: [&str; 3] = ["purged_days", "client_base", "client_event_base"];

fn engine(msg: impl Into<String>) -> WarehouseError {
    WarehouseError::Engine(msg.into())
}
fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}
fn int(v: &Value, what: &str) -> Result<i64, WarehouseError> {
    v.as_i64().ok_or_else(|| engine(format!("{what}: not an integer")))
}
fn uint(v: &Value, what: &str) -> Result<u64, WarehouseError> {
    v.as_u64().ok_or_else(|| engine(format!("{what}: not an unsigned integer")))
}
fn uuid(v: &Value) -> Result<Uuid, WarehouseError> {
    match v {
        Value::Null => Ok(Uuid::nil()),
        other => other.as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| engine("batch_id: not a UUID")),
    }
}
fn ids(r: &[Value]) -> Result<(ProductId, ClientId), WarehouseError> {
    let p = ProductId::from_u64(uint(&r[0], "product_id")?).map_err(|e| engine(format!("product_id: {e}")))?;
    Ok((p, ClientId::from_u64(uint(&r[1], "client_id")?)))
}
fn source(v: &Value) -> Result<ObservationSource, WarehouseError> {
    use ObservationSource::*;
    Ok(match int(v, "source")? {
        1 => Product,
        2 => Machine,
        3 => Custom,
        4 => License,
        5 => Envelope,
        6 => Geo,
        7 => LicenseKey,
        8 => OptOut,
        9 => OptIn,
        10 => Touch,
        n => return Err(engine(format!("unknown observation source {n}"))),
    })
}
fn mark(v: &Value) -> Result<MarkKind, WarehouseError> {
    Ok(match int(v, "kind")? {
        1 => MarkKind::Start,
        2 => MarkKind::Stop,
        3 => MarkKind::Heartbeat,
        n => return Err(engine(format!("unknown session mark kind {n}"))),
    })
}

/// Appends the rows of one of [`FACT_SELECTS`] (selected with its column list) to a batch.
pub fn push_rows(batch: &mut LoadBatch, table: &str, rows: Rows) -> Result<(), WarehouseError> {
    for r in rows.rows {
        let (product, client) = ids(&r)?;
        match table {
            "contacts" => batch.contacts.push(ContactRow {
                product,
                client,
                received_at: int(&r[2], "received_at")?,
                batch_id: uuid(&r[3])?,
                seq: int(&r[4], "seq")? as u64,
                lsn: uint(&r[5], "lsn")?,
            }),
            "events" => batch.events.push(EventRow {
                product,
                client,
                t: int(&r[2], "t")?,
                seq: int(&r[3], "seq")? as u64,
                idx: int(&r[4], "idx")? as u32,
                session_id: text(&r[5]),
                category: text(&r[6]),
                name: text(&r[7]).unwrap_or_default(),
                num_value: r[8].as_f64(),
                text_value: text(&r[9]),
                custom_json: text(&r[10]),
                received_at: int(&r[11], "received_at")?,
                batch_id: uuid(&r[12])?,
            }),
            "session_marks" => batch.session_marks.push(SessionMarkRow {
                product,
                client,
                t: int(&r[2], "t")?,
                seq: int(&r[3], "seq")? as u64,
                idx: int(&r[4], "idx")? as u32,
                kind: mark(&r[5])?,
                session_id: text(&r[6]),
                received_at: int(&r[7], "received_at")?,
                batch_id: uuid(&r[8])?,
            }),
            "exceptions" => batch.exceptions.push(ExceptionRow {
                product,
                client,
                t: int(&r[2], "t")?,
                seq: int(&r[3], "seq")? as u64,
                idx: int(&r[4], "idx")? as u32,
                session_id: text(&r[5]),
                class_name: text(&r[6]).unwrap_or_default(),
                method_name: text(&r[7]).unwrap_or_default(),
                message: text(&r[8]),
                stack_trace: text(&r[9]),
                received_at: int(&r[10], "received_at")?,
                batch_id: uuid(&r[11])?,
            }),
            "observations" => batch.observations.push(ObservationRow {
                product,
                client,
                t: int(&r[2], "t")?,
                seq: int(&r[3], "seq")? as u64,
                idx: int(&r[4], "idx")? as u32,
                source: source(&r[5])?,
                evidence: r[6].as_bool().ok_or_else(|| engine("evidence: not a boolean"))?,
                session_id: text(&r[7]),
                payload: text(&r[8]).unwrap_or_default(),
            }),
            "property_changes" => batch.properties.push(PropertyRow {
                product,
                client,
                t: int(&r[2], "t")?,
                seq: int(&r[3], "seq")? as u64,
                idx: int(&r[4], "idx")? as u32,
                name: text(&r[5]).unwrap_or_default(),
                value: text(&r[6]),
                received_at: int(&r[7], "received_at")?,
            }),
            other => return Err(engine(format!("no fact table {other}"))),
        }
    }
    Ok(())
}

/// `client_id IN (…)` for a list of installations (client ids are plain integers).
fn in_list(clients: &[u64]) -> String {
    let list: Vec<String> = clients.iter().map(u64::to_string).collect();
    format!("client_id IN ({})", list.join(", "))
}

fn product_param(product: ProductId) -> Param {
    Param::Int(product.as_u64() as i64)
}

/// Every installation of `product` with facts or retention base rows, ascending.
pub async fn installations(wh: &dyn Warehouse, product: ProductId) -> Result<Vec<u64>, WarehouseError> {
    let tables = FACT_SELECTS.iter().map(|(t, _)| *t).chain(RETENTION_BASE_TABLES);
    let union: Vec<String> =
        tables.map(|t| format!("SELECT DISTINCT client_id FROM {t} WHERE product_id = $1")).collect();
    let sql =
        format!("SELECT DISTINCT client_id FROM ({}) AS all_clients ORDER BY client_id", union.join(" UNION ALL "));
    let rows = wh.query(sql, vec![product_param(product)]).await?;
    rows.rows.iter().map(|r| uint(&r[0], "client_id")).collect()
}

/// Every fact of the listed installations of `product`, as one batch (`last_lsn` 0: the caller
/// decides where it goes).
pub async fn read_facts(wh: &dyn Warehouse, product: ProductId, clients: &[u64]) -> Result<LoadBatch, WarehouseError> {
    let mut batch = LoadBatch::default();
    if clients.is_empty() {
        return Ok(batch);
    }
    let cond = format!("product_id = $1 AND {}", in_list(clients));
    for (table, columns) in FACT_SELECTS {
        let rows =
            wh.query(format!("SELECT {columns} FROM {table} WHERE {cond}"), vec![product_param(product)]).await?;
        push_rows(&mut batch, table, rows)?;
    }
    Ok(batch)
}

/// Those of the listed installations of `product` with retention base rows, ascending.
pub async fn clients_with_base(
    wh: &dyn Warehouse,
    product: ProductId,
    clients: &[u64],
) -> Result<Vec<u64>, WarehouseError> {
    if clients.is_empty() {
        return Ok(Vec::new());
    }
    let union: Vec<String> = RETENTION_BASE_TABLES
        .iter()
        .map(|t| format!("SELECT client_id FROM {t} WHERE product_id = $1 AND {}", in_list(clients)))
        .collect();
    let sql = format!("SELECT DISTINCT client_id FROM ({}) AS based ORDER BY client_id", union.join(" UNION ALL "));
    let rows = wh.query(sql, vec![product_param(product)]).await?;
    rows.rows.iter().map(|r| uint(&r[0], "client_id")).collect()
}

/// Every row and column of the named tables for the listed installations of `product`.
pub async fn read_tables(
    wh: &dyn Warehouse,
    product: ProductId,
    clients: &[u64],
    tables: &[&str],
) -> Result<Vec<(String, Rows)>, WarehouseError> {
    let mut out = Vec::new();
    if clients.is_empty() {
        return Ok(out);
    }
    for table in tables {
        let sql = format!("SELECT * FROM {table} WHERE product_id = $1 AND {}", in_list(clients));
        out.push((table.to_string(), wh.query(sql, vec![product_param(product)]).await?));
    }
    Ok(out)
}

/// Rows of `product` in every fact table and retention base table, by table name: what a copy
/// must match.
pub async fn row_counts(wh: &dyn Warehouse, product: ProductId) -> Result<Vec<(&'static str, u64)>, WarehouseError> {
    let mut out = Vec::new();
    for table in FACT_SELECTS.iter().map(|(t, _)| *t).chain(RETENTION_BASE_TABLES) {
        let rows = wh
            .query(format!("SELECT count(*) FROM {table} WHERE product_id = $1"), vec![product_param(product)])
            .await?;
        let n = rows.rows.first().and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0);
        out.push((table, n));
    }
    Ok(out)
}
