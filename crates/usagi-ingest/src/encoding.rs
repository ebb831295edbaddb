//! How log entries are stored as bytes.
//!
//! A payload's first byte names its format, so segments written by older versions keep
//! loading:
//!
//! - `{`: JSON, the serde form of [`LogEntry`] (every entry before format 1, and today's
//!   `license/set` and `optout` entries, which are rare);
//! - `0x01`: format 1, a compact binary form of a sync batch. Profiling `usagi bench ingest`
//!   showed the JSON round trip of every batch (written at the edge, parsed again by the
//!   loader) among the largest costs of the ingest path; batches are almost all events and
//!   session marks, which format 1 writes field by field.
//!
//! Format 1: integers are LEB128 varints (signed ones zigzag-encoded), strings a varint
//! length and UTF-8 bytes, `Option`s a 0/1 byte before the value, floats 8 bytes little
//! endian. Record kinds that are rare and nested (`properties`, `licenseData`) are embedded
//! as their JSON form.

use usagi_protocol::{EventValue, Record, RecordBody};
use usagi_types::{ClientId, ProductId};
use uuid::Uuid;

use crate::entry::{Geo, LogEntry, StoredResponse, SyncEntry};
use crate::IngestError;

/// First byte of a format-1 sync entry.
const SYNC_V1: u8 = 0x01;

// Record kinds of format 1.
const SESSION_START: u8 = 0;
const SESSION_STOP: u8 = 1;
const HEARTBEAT: u8 = 2;
const EVENT: u8 = 3;
const EXCEPTION: u8 = 4;
const OPT_OUT: u8 = 5;
const JSON_BODY: u8 = 6;

// Event values of format 1.
const NO_VALUE: u8 = 0;
const NUMBER: u8 = 1;
const TEXT: u8 = 2;

/// Encodes an entry for the log.
pub fn encode(entry: &LogEntry) -> Result<Vec<u8>, IngestError> {
    match entry {
        LogEntry::Sync(s) => encode_sync(s),
        other => Ok(serde_json::to_vec(other)?),
    }
}

/// Decodes a payload written by [`encode`] or by an older version (JSON).
pub fn decode(payload: &[u8]) -> Result<LogEntry, IngestError> {
    match payload.first() {
        Some(b'{') => Ok(serde_json::from_slice(payload)?),
        Some(&SYNC_V1) => {
            let mut r = Reader { buf: &payload[1..] };
            let entry = read_sync(&mut r)?;
            if !r.buf.is_empty() {
                return Err(corrupt("trailing bytes after a sync entry"));
            }
            Ok(LogEntry::Sync(entry))
        }
        Some(other) => Err(corrupt(&format!("unknown log entry format {other:#04x}"))),
        None => Err(corrupt("empty log entry")),
    }
}

fn corrupt(what: &str) -> IngestError {
    IngestError::Corrupt(format!("log entry: {what}"))
}

fn encode_sync(s: &SyncEntry) -> Result<Vec<u8>, IngestError> {
    // Event records take ~30–60 bytes each in this form.
    let mut w = Writer { buf: Vec::with_capacity(128 + s.records.len() * 48) };
    w.buf.push(SYNC_V1);
    w.uint(s.product.as_u64());
    w.int(s.received_at);
    w.uint(s.client.as_u64());
    w.buf.extend_from_slice(s.batch_id.as_bytes());
    w.uint(s.seq);
    w.opt_str(s.machine_id.as_deref());
    w.str(&s.app_name);
    w.str(&s.sdk_name);
    w.str(&s.sdk_version);
    match &s.geo {
        None => w.buf.push(0),
        Some(g) => {
            w.buf.push(1);
            w.opt_str(g.continent.as_deref());
            w.opt_str(g.country.as_deref());
            w.opt_str(g.us_state.as_deref());
        }
    }
    let r = &s.response;
    for n in [r.accepted, r.dropped, r.ignored, r.next_sync_seconds] {
        w.uint(u64::from(n));
    }
    w.uint(s.records.len() as u64);
    for record in &s.records {
        w.int(record.t);
        w.uint(u64::from(record.index));
        write_body(&mut w, &record.body)?;
    }
    Ok(w.buf)
}

fn write_body(w: &mut Writer, body: &RecordBody) -> Result<(), IngestError> {
    match body {
        RecordBody::SessionStart { session_id } => {
            w.buf.push(SESSION_START);
            w.opt_str(session_id.as_deref());
        }
        RecordBody::SessionStop { session_id } => {
            w.buf.push(SESSION_STOP);
            w.opt_str(session_id.as_deref());
        }
        RecordBody::Heartbeat { session_id } => {
            w.buf.push(HEARTBEAT);
            w.opt_str(session_id.as_deref());
        }
        RecordBody::Event { category, name, session_id, value, custom } => {
            w.buf.push(EVENT);
            w.opt_str(category.as_deref());
            w.str(name);
            w.opt_str(session_id.as_deref());
            match value {
                None => w.buf.push(NO_VALUE),
                Some(EventValue::Number(n)) => {
                    w.buf.push(NUMBER);
                    w.buf.extend_from_slice(&n.to_le_bytes());
                }
                Some(EventValue::Text(t)) => {
                    w.buf.push(TEXT);
                    w.str(t);
                }
            }
            match custom {
                None => w.buf.push(0),
                Some(pairs) => {
                    w.buf.push(1);
                    w.uint(pairs.len() as u64);
                    for (k, v) in pairs {
                        w.str(k);
                        w.opt_str(v.as_deref());
                    }
                }
            }
        }
        RecordBody::Exception { class_name, method_name, message, stack_trace, session_id } => {
            w.buf.push(EXCEPTION);
            w.str(class_name);
            w.str(method_name);
            w.opt_str(message.as_deref());
            w.opt_str(stack_trace.as_deref());
            w.opt_str(session_id.as_deref());
        }
        RecordBody::OptOut => w.buf.push(OPT_OUT),
        RecordBody::Properties(_) | RecordBody::LicenseData { .. } => {
            w.buf.push(JSON_BODY);
            let json = serde_json::to_vec(body)?;
            w.bytes(&json);
        }
    }
    Ok(())
}

fn read_sync(r: &mut Reader) -> Result<SyncEntry, IngestError> {
    let product = ProductId::from_u64(r.uint()?).map_err(|_| corrupt("invalid product id"))?;
    let received_at = r.int()?;
    let client = ClientId::from_u64(r.uint()?);
    let batch_id = Uuid::from_bytes(r.array::<16>()?);
    let seq = r.uint()?;
    let machine_id = r.opt_string()?;
    let app_name = r.string()?;
    let sdk_name = r.string()?;
    let sdk_version = r.string()?;
    let geo = if r.flag()? {
        Some(Geo { continent: r.opt_string()?, country: r.opt_string()?, us_state: r.opt_string()? })
    } else {
        None
    };
    let response =
        StoredResponse { accepted: r.u32()?, dropped: r.u32()?, ignored: r.u32()?, next_sync_seconds: r.u32()? };
    let count = r.uint()?;
    // Each record takes at least 3 bytes: a corrupt count cannot reserve unbounded memory.
    let mut records = Vec::with_capacity((count as usize).min(r.buf.len() / 3));
    for _ in 0..count {
        let t = r.int()?;
        let index = r.u32()?;
        let body = read_body(r)?;
        records.push(Record { t, index, body });
    }
    Ok(SyncEntry {
        product,
        received_at,
        client,
        batch_id,
        seq,
        machine_id,
        app_name,
        sdk_name,
        sdk_version,
        geo,
        records,
        response,
    })
}

fn read_body(r: &mut Reader) -> Result<RecordBody, IngestError> {
    Ok(match r.byte()? {
        SESSION_START => RecordBody::SessionStart { session_id: r.opt_string()? },
        SESSION_STOP => RecordBody::SessionStop { session_id: r.opt_string()? },
        HEARTBEAT => RecordBody::Heartbeat { session_id: r.opt_string()? },
        EVENT => {
            let category = r.opt_string()?;
            let name = r.string()?;
            let session_id = r.opt_string()?;
            let value = match r.byte()? {
                NO_VALUE => None,
                NUMBER => Some(EventValue::Number(f64::from_le_bytes(r.array::<8>()?))),
                TEXT => Some(EventValue::Text(r.string()?)),
                other => return Err(corrupt(&format!("unknown event value tag {other}"))),
            };
            let custom = if r.flag()? {
                let n = r.uint()?;
                let mut pairs = Vec::with_capacity((n as usize).min(r.buf.len() / 2));
                for _ in 0..n {
                    pairs.push((r.string()?, r.opt_string()?));
                }
                Some(pairs)
            } else {
                None
            };
            RecordBody::Event { category, name, session_id, value, custom }
        }
        EXCEPTION => RecordBody::Exception {
            class_name: r.string()?,
            method_name: r.string()?,
            message: r.opt_string()?,
            stack_trace: r.opt_string()?,
            session_id: r.opt_string()?,
        },
        OPT_OUT => RecordBody::OptOut,
        JSON_BODY => serde_json::from_slice(r.bytes()?)?,
        other => return Err(corrupt(&format!("unknown record kind {other}"))),
    })
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.buf.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.buf.push(n as u8);
    }

    fn int(&mut self, n: i64) {
        self.uint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.uint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.buf.push(0),
            Some(s) => {
                self.buf.push(1);
                self.str(s);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, IngestError> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| corrupt("truncated"))?;
        self.buf = rest;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], IngestError> {
        let (head, rest) = self.buf.split_first_chunk::<N>().ok_or_else(|| corrupt("truncated"))?;
        self.buf = rest;
        Ok(*head)
    }

    fn uint(&mut self) -> Result<u64, IngestError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("varint longer than 64 bits"))
    }

    fn u32(&mut self) -> Result<u32, IngestError> {
        u32::try_from(self.uint()?).map_err(|_| corrupt("value out of range"))
    }

    fn int(&mut self) -> Result<i64, IngestError> {
        let z = self.uint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn flag(&mut self) -> Result<bool, IngestError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(corrupt(&format!("invalid flag {other}"))),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], IngestError> {
        let len = usize::try_from(self.uint()?).map_err(|_| corrupt("length out of range"))?;
        if len > self.buf.len() {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, IngestError> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| corrupt("invalid UTF-8"))
    }

    fn opt_string(&mut self) -> Result<Option<String>, IngestError> {
        if self.flag()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{LicenseSetEntry, OptOutEntry};
    use usagi_protocol::PropertiesRecord;

    fn sync_entry() -> SyncEntry {
        let body = |kind| RecordBody::SessionStart { session_id: kind };
        let records = vec![
            Record { t: 1_700_000_000_000, index: 0, body: body(Some("s-1234567890".into())) },
            Record {
                t: -5,
                index: 1,
                body: RecordBody::Event {
                    category: Some("Editing".into()),
                    name: "Undo ✓".into(),
                    session_id: None,
                    value: Some(EventValue::Number(0.1 + 0.2)),
                    custom: Some(vec![("k".into(), None), ("é".into(), Some(String::new()))]),
                },
            },
            Record {
                t: 3,
                index: 7,
                body: RecordBody::Event {
                    category: None,
                    name: "Open".into(),
                    session_id: Some("x".repeat(64)),
                    value: Some(EventValue::Text("pdf".into())),
                    custom: None,
                },
            },
            Record {
                t: 4,
                index: 8,
                body: RecordBody::Exception {
                    class_name: "E".into(),
                    method_name: "m".into(),
                    message: None,
                    stack_trace: Some("at m\n".into()),
                    session_id: None,
                },
            },
            Record { t: 5, index: 9, body: RecordBody::Properties(Box::<PropertiesRecord>::default()) },
            Record {
                t: 6,
                index: 10,
                body: RecordBody::LicenseData {
                    license_type: None,
                    expired: Some(true),
                    activated: None,
                    blocked: Some(false),
                    allowed: None,
                    session_id: None,
                },
            },
            Record { t: 7, index: 11, body: RecordBody::OptOut },
            Record { t: i64::MAX, index: u32::MAX, body: RecordBody::Heartbeat { session_id: None } },
            Record { t: i64::MIN, index: 12, body: RecordBody::SessionStop { session_id: None } },
        ];
        SyncEntry {
            product: ProductId::parse("2376158762").expect("product id"),
            received_at: 1_700_000_000_123,
            client: ClientId::from_u64(u64::MAX),
            batch_id: Uuid::new_v4(),
            seq: 42,
            machine_id: None,
            app_name: "App".into(),
            sdk_name: "usagi-sdk".into(),
            sdk_version: "1.0".into(),
            geo: Some(Geo { continent: Some("EU".into()), country: None, us_state: None }),
            records,
            response: StoredResponse { accepted: 9, dropped: 1, ignored: 2, next_sync_seconds: 1200 },
        }
    }

    /// Compares through the JSON form, which covers every field.
    fn json(e: &LogEntry) -> serde_json::Value {
        serde_json::to_value(e).expect("entries serialise")
    }

    #[test]
    fn sync_entries_round_trip_in_format_1() {
        let entry = LogEntry::Sync(sync_entry());
        let bytes = encode(&entry).expect("encodes");
        assert_eq!(bytes[0], SYNC_V1);
        assert_eq!(json(&decode(&bytes).expect("decodes")), json(&entry));
        let json_len = serde_json::to_vec(&entry).expect("json").len();
        assert!(bytes.len() * 2 < json_len, "format 1 is compact: {} vs {json_len} bytes", bytes.len());
    }

    #[test]
    fn json_entries_of_older_versions_still_decode() {
        let p = ProductId::parse("2376158762").expect("product id");
        let c = ClientId::from_u64(7);
        for entry in [
            LogEntry::Sync(sync_entry()),
            LogEntry::LicenseSet(LicenseSetEntry {
                product: p,
                client: c,
                license_key: "K".into(),
                t: 1,
                session_id: None,
                received_at: 2,
            }),
            LogEntry::OptOut(OptOutEntry {
                product: p,
                client: c,
                app_name: "A".into(),
                machine_id: None,
                t: 1,
                received_at: 2,
            }),
        ] {
            let old = serde_json::to_vec(&entry).expect("json");
            assert_eq!(json(&decode(&old).expect("decodes")), json(&entry));
            assert_eq!(json(&decode(&encode(&entry).expect("encodes")).expect("decodes")), json(&entry));
        }
    }

    #[test]
    fn truncated_or_unknown_payloads_are_errors_not_panics() {
        let bytes = encode(&LogEntry::Sync(sync_entry())).expect("encodes");
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "a payload cut at {len} bytes must not decode");
        }
        assert!(decode(&[0x7f, 1, 2]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
    }
}
