//! Fact rows as ClickHouse `RowBinary` rows, split by owning shard.
//!
//! Field names and order equal the columns of [`crate::schema::FACT_TABLES`]; a unit test
//! checks that, since validation against the server is off (18.16 cannot describe a table
//! in `RowBinaryWithNamesAndTypes`).

use clickhouse::Row;
use serde::Serialize;
use usagi_warehouse::facts::*;
use usagi_warehouse::schema::MS_PER_DAY;
use uuid::Uuid;

/// `Date` in RowBinary: days since 1970-01-01 as UInt16 (1970–2149). Times outside that range
/// cannot reach the warehouse: ingestion clamps record times to the receive time.
fn day(t_ms: i64) -> u16 {
    t_ms.div_euclid(MS_PER_DAY).clamp(0, i64::from(u16::MAX)) as u16
}

#[derive(Row, Serialize)]
pub(crate) struct Contact<'a> {
    product_id: i64,
    client_id: u64,
    received_at: i64,
    day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    batch_id: Uuid,
    seq: i64,
    origin: &'a str,
    lsn: u64,
}

#[derive(Row, Serialize)]
pub(crate) struct Event<'a> {
    product_id: i64,
    client_id: u64,
    t: i64,
    day: u16,
    seq: i64,
    idx: u32,
    session_id: Option<&'a str>,
    category: Option<&'a str>,
    name: &'a str,
    num_value: Option<f64>,
    text_value: Option<&'a str>,
    custom: Option<&'a str>,
    received_at: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    batch_id: Uuid,
    origin: &'a str,
    lsn: u64,
}

#[derive(Row, Serialize)]
pub(crate) struct SessionMark<'a> {
    product_id: i64,
    client_id: u64,
    t: i64,
    day: u16,
    seq: i64,
    idx: u32,
    kind: u8,
    session_id: Option<&'a str>,
    received_at: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    batch_id: Uuid,
    origin: &'a str,
    lsn: u64,
}

#[derive(Row, Serialize)]
pub(crate) struct Exception<'a> {
    product_id: i64,
    client_id: u64,
    t: i64,
    day: u16,
    seq: i64,
    idx: u32,
    session_id: Option<&'a str>,
    class_name: &'a str,
    method_name: &'a str,
    message: Option<&'a str>,
    stack_trace: Option<&'a str>,
    received_at: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    batch_id: Uuid,
    origin: &'a str,
    lsn: u64,
}

#[derive(Row, Serialize)]
pub(crate) struct Observation<'a> {
    product_id: i64,
    client_id: u64,
    t: i64,
    day: u16,
    seq: i64,
    idx: u32,
    source: u8,
    evidence: u8,
    session_id: Option<&'a str>,
    payload: &'a str,
    origin: &'a str,
    lsn: u64,
}

#[derive(Row, Serialize)]
pub(crate) struct PropertyChange<'a> {
    product_id: i64,
    client_id: u64,
    t: i64,
    day: u16,
    seq: i64,
    idx: u32,
    name: &'a str,
    value: Option<&'a str>,
    received_at: i64,
    origin: &'a str,
    lsn: u64,
}

/// The rows of one load destined for one shard.
#[derive(Default)]
pub(crate) struct ShardRows<'a> {
    pub contacts: Vec<Contact<'a>>,
    pub events: Vec<Event<'a>>,
    pub session_marks: Vec<SessionMark<'a>>,
    pub exceptions: Vec<Exception<'a>>,
    pub observations: Vec<Observation<'a>>,
    pub properties: Vec<PropertyChange<'a>>,
}

impl ShardRows<'_> {
    /// The distinct `(product, installation)` pairs these rows touch.
    pub fn installations(&self) -> Vec<(i64, u64)> {
        let mut all: Vec<(i64, u64)> = self
            .contacts
            .iter()
            .map(|r| (r.product_id, r.client_id))
            .chain(self.events.iter().map(|r| (r.product_id, r.client_id)))
            .chain(self.session_marks.iter().map(|r| (r.product_id, r.client_id)))
            .chain(self.exceptions.iter().map(|r| (r.product_id, r.client_id)))
            .chain(self.observations.iter().map(|r| (r.product_id, r.client_id)))
            .chain(self.properties.iter().map(|r| (r.product_id, r.client_id)))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
            + self.events.len()
            + self.session_marks.len()
            + self.exceptions.len()
            + self.observations.len()
            + self.properties.len()
    }
}

/// The shard (0-based) owning an installation: `client_id % shards`, exactly what a
/// `Distributed(…, client_id)` table over equally weighted shards computes.
pub(crate) fn shard_of(client: u64, shards: usize) -> usize {
    (client % shards as u64) as usize
}

/// Splits a load batch by owning shard, tagging every row with its origin and log position.
pub(crate) fn split<'a>(batch: &'a LoadBatch, origin: &'a str, shards: usize) -> Vec<ShardRows<'a>> {
    let lsn = batch.last_lsn;
    let mut out: Vec<ShardRows<'a>> = (0..shards).map(|_| ShardRows::default()).collect();
    for c in &batch.contacts {
        out[shard_of(c.client.as_u64(), shards)].contacts.push(Contact {
            product_id: c.product.as_u64() as i64,
            client_id: c.client.as_u64(),
            received_at: c.received_at,
            day: day(c.received_at),
            batch_id: c.batch_id,
            seq: c.seq as i64,
            origin,
            lsn,
        });
    }
    for e in &batch.events {
        out[shard_of(e.client.as_u64(), shards)].events.push(Event {
            product_id: e.product.as_u64() as i64,
            client_id: e.client.as_u64(),
            t: e.t,
            day: day(e.t),
            seq: e.seq as i64,
            idx: e.idx,
            session_id: e.session_id.as_deref(),
            category: e.category.as_deref(),
            name: &e.name,
            num_value: e.num_value,
            text_value: e.text_value.as_deref(),
            custom: e.custom_json.as_deref(),
            received_at: e.received_at,
            batch_id: e.batch_id,
            origin,
            lsn,
        });
    }
    for m in &batch.session_marks {
        out[shard_of(m.client.as_u64(), shards)].session_marks.push(SessionMark {
            product_id: m.product.as_u64() as i64,
            client_id: m.client.as_u64(),
            t: m.t,
            day: day(m.t),
            seq: m.seq as i64,
            idx: m.idx,
            kind: m.kind as u8,
            session_id: m.session_id.as_deref(),
            received_at: m.received_at,
            batch_id: m.batch_id,
            origin,
            lsn,
        });
    }
    for x in &batch.exceptions {
        out[shard_of(x.client.as_u64(), shards)].exceptions.push(Exception {
            product_id: x.product.as_u64() as i64,
            client_id: x.client.as_u64(),
            t: x.t,
            day: day(x.t),
            seq: x.seq as i64,
            idx: x.idx,
            session_id: x.session_id.as_deref(),
            class_name: &x.class_name,
            method_name: &x.method_name,
            message: x.message.as_deref(),
            stack_trace: x.stack_trace.as_deref(),
            received_at: x.received_at,
            batch_id: x.batch_id,
            origin,
            lsn,
        });
    }
    for o in &batch.observations {
        out[shard_of(o.client.as_u64(), shards)].observations.push(Observation {
            product_id: o.product.as_u64() as i64,
            client_id: o.client.as_u64(),
            t: o.t,
            day: day(o.t),
            seq: o.seq as i64,
            idx: o.idx,
            source: o.source as u8,
            evidence: u8::from(o.evidence),
            session_id: o.session_id.as_deref(),
            payload: &o.payload,
            origin,
            lsn,
        });
    }
    for r in &batch.properties {
        out[shard_of(r.client.as_u64(), shards)].properties.push(PropertyChange {
            product_id: r.product.as_u64() as i64,
            client_id: r.client.as_u64(),
            t: r.t,
            day: day(r.t),
            seq: r.seq as i64,
            idx: r.idx,
            name: &r.name,
            value: r.value.as_deref(),
            received_at: r.received_at,
            origin,
            lsn,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FACT_TABLES;
    use clickhouse::Row;

    fn names(table: &str) -> Vec<&'static str> {
        FACT_TABLES
            .iter()
            .find(|t| t.name == table)
            .map(|t| t.columns.iter().map(|c| c.0).collect())
            .unwrap_or_default()
    }

    #[test]
    fn row_fields_equal_the_table_columns_in_order() {
        assert_eq!(Contact::COLUMN_NAMES.to_vec(), names("contacts"));
        assert_eq!(Event::COLUMN_NAMES.to_vec(), names("events"));
        assert_eq!(SessionMark::COLUMN_NAMES.to_vec(), names("session_marks"));
        assert_eq!(Exception::COLUMN_NAMES.to_vec(), names("exceptions"));
        assert_eq!(Observation::COLUMN_NAMES.to_vec(), names("observations"));
        assert_eq!(PropertyChange::COLUMN_NAMES.to_vec(), names("property_changes"));
    }

    #[test]
    fn days_are_utc_dates_since_the_epoch() {
        assert_eq!(day(0), 0);
        assert_eq!(day(MS_PER_DAY - 1), 0);
        assert_eq!(day(MS_PER_DAY), 1);
        // 2026-11-26 is day 20,783.
        assert_eq!(day(20_783 * MS_PER_DAY + 5), 20_783);
        assert_eq!(day(-1), 0, "clamped, never wrapped");
    }

    #[test]
    fn installations_are_sharded_like_a_distributed_table() {
        assert_eq!(shard_of(4, 2), 0);
        assert_eq!(shard_of(7, 2), 1);
        assert_eq!(shard_of(u64::MAX, 3), (u64::MAX % 3) as usize);
    }
}
