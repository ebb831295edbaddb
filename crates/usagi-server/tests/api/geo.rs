//! Call-home geography from a MaxMind-format database behind a trusted proxy.
//! The test writes a tiny, valid MMDB file itself (one /24 network in the US, New York).

use serde_json::{json, Value};
use usagi_server::ServerConfig;

use crate::helpers::*;

fn string(s: &str) -> Vec<u8> {
    let mut out = vec![0x40 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn map(pairs: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    let mut out = vec![0xE0 | pairs.len() as u8];
    for (k, v) in pairs {
        out.extend(string(k));
        out.extend(v);
    }
    out
}

fn uint16(v: u16) -> Vec<u8> {
    let mut out = vec![0xA0 | 2];
    out.extend_from_slice(&v.to_be_bytes());
    out
}

fn uint32(v: u32) -> Vec<u8> {
    let mut out = vec![0xC0 | 4];
    out.extend_from_slice(&v.to_be_bytes());
    out
}

fn uint64(v: u64) -> Vec<u8> {
    // Extended type 9 (uint64): control byte with size, then type - 7.
    let mut out = vec![8, 2];
    out.extend_from_slice(&v.to_be_bytes());
    out
}

fn array(items: Vec<Vec<u8>>) -> Vec<u8> {
    // Extended type 11 (array).
    let mut out = vec![items.len() as u8, 4];
    for i in items {
        out.extend(i);
    }
    out
}

/// An IPv4 MMDB (24-bit records) mapping `net/24` to a US/New York city record.
fn mmdb(net: [u8; 3]) -> Vec<u8> {
    let node_count: u32 = 24;
    let data_pointer = node_count + 16; // offset 0 in the data section
    let mut tree = Vec::new();
    for depth in 0..24u32 {
        let bit = (net[(depth / 8) as usize] >> (7 - depth % 8)) & 1;
        let next = if depth == 23 { data_pointer } else { depth + 1 };
        let (left, right) = if bit == 0 { (next, node_count) } else { (node_count, next) };
        tree.extend_from_slice(&left.to_be_bytes()[1..]);
        tree.extend_from_slice(&right.to_be_bytes()[1..]);
    }
    let record = map(vec![
        ("continent", map(vec![("code", string("NA"))])),
        ("country", map(vec![("iso_code", string("US"))])),
        ("subdivisions", array(vec![map(vec![("iso_code", string("NY"))])])),
    ]);
    let metadata = map(vec![
        ("binary_format_major_version", uint16(2)),
        ("binary_format_minor_version", uint16(0)),
        ("build_epoch", uint64(1_700_000_000)),
        ("database_type", string("GeoIP2-City")),
        ("description", map(vec![("en", string("Usagi test"))])),
        ("ip_version", uint16(4)),
        ("languages", array(vec![string("en")])),
        ("node_count", uint32(node_count)),
        ("record_size", uint16(24)),
    ]);
    let mut out = tree;
    out.extend_from_slice(&[0u8; 16]);
    out.extend(record);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    out.extend(metadata);
    out
}

#[tokio::test]
async fn geography_is_derived_behind_a_trusted_proxy_and_the_ip_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("test-city.mmdb");
    std::fs::write(&db, mmdb([203, 0, 113])).unwrap();
    let config = ServerConfig {
        geoip_database: Some(db),
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    let app = TestApp::spawn_with(Setup { config: Some(config), ..Setup::default() }).await;

    for (client, forwarded) in [("00000000000000A1", "203.0.113.9"), ("00000000000000A2", "198.51.100.1")] {
        let body =
            serde_json::to_vec(&json!({"clientId": client, "appName": "DemoApp", "sdk": {"name":"s","version":"1"},
            "batchId": uuid::Uuid::new_v4().to_string(), "seq": 1, "records": []}))
            .unwrap();
        let ts = app.server().clock.now().timestamp().to_string();
        let secret = usagi_protocol::signing::ProductSecret::parse_hex(&app.secret).unwrap();
        let resp = app
            .client
            .post(format!("{}/callhome/v1/{PRODUCT}/sync", app.base))
            .header("Content-Type", "application/json")
            .header("X-Timestamp", &ts)
            .header("X-Signature", usagi_protocol::signing::sign(&secret, &ts, &body))
            .header("X-Forwarded-For", format!("{forwarded}, 127.0.0.1"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    app.settle().await;
    let rows = app
        .warehouse
        .query("SELECT client_id, payload FROM observations WHERE source = 6 ORDER BY client_id".into(), vec![])
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), 1, "only the address in the database has a geography");
    let payload: Value = serde_json::from_str(rows.rows[0][1].as_str().unwrap()).unwrap();
    assert_eq!(payload, json!({"continent": "NA", "country": "US", "usState": "US-NY"}));
    let leaked = app
        .warehouse
        .query(
            "SELECT count(*) FROM observations WHERE payload LIKE '%203.0.113%' OR payload LIKE '%198.51%'".into(),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(leaked.rows[0][0].as_i64(), Some(0), "the client address is never stored");
}
