use serde_json::{json, Value};

use super::*;

const CID: &str = "4F2A9C1E7B3D5A60";
const BID: &str = "6a0c1f52-93d4-4b8e-a7f1-0e2d5c9b3a71";
const T: u64 = 1_710_841_800_000;

fn envelope(records: Value) -> Value {
    json!({
        "clientId": CID,
        "machineId": "9D1C0B7E5A3F2D48C6E1A0B9F7D3C215",
        "appName": "DemoApp",
        "sdk": {"name": "ui-sdk-rust", "version": "1.0.0"},
        "batchId": BID,
        "seq": 42,
        "records": records,
    })
}

fn parse(v: &Value) -> Result<SyncBatch, SyntaxError> {
    parse_sync(v.to_string().as_bytes())
}

fn reason(v: &Value) -> String {
    match parse(v) {
        Ok(b) => panic!("expected an error, parsed {b:?}"),
        Err(e) => e.reason().to_owned(),
    }
}

/// The envelope with `key` set to `value` (or removed when `value` is `None`).
fn with(key: &str, value: Option<Value>) -> Value {
    let mut v = envelope(json!([]));
    let map = v.as_object_mut().unwrap();
    match value {
        Some(x) => map.insert(key.into(), x),
        None => map.remove(key),
    };
    v
}

/// A record of `kind` at time T with the given extra members.
fn rec(kind: &str, extra: Value) -> Value {
    let mut r = json!({"kind": kind, "t": T});
    for (k, v) in extra.as_object().unwrap() {
        r.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    r
}

/// Parses a batch of one record and returns its body or the reason.
fn one(record: Value) -> Result<RecordBody, String> {
    match parse(&envelope(json!([record]))) {
        Ok(mut b) => {
            assert_eq!(b.records.len(), 1);
            Ok(b.records.remove(0).body)
        }
        Err(e) => Err(e.reason().to_owned()),
    }
}

fn event(extra: Value) -> Result<RecordBody, String> {
    let mut e = json!({"name": "Open"});
    for (k, v) in extra.as_object().unwrap() {
        e.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    one(rec("event", e))
}

fn event_field(extra: Value, pick: fn(RecordBody) -> Value) -> Result<Value, String> {
    event(extra).map(pick)
}

fn category(b: RecordBody) -> Value {
    match b {
        RecordBody::Event { category, .. } => json!(category),
        other => panic!("{other:?}"),
    }
}

fn value(b: RecordBody) -> Value {
    match b {
        RecordBody::Event { value: None, .. } => Value::Null,
        RecordBody::Event { value: Some(EventValue::Number(n)), .. } => json!({ "n": n }),
        RecordBody::Event { value: Some(EventValue::Text(s)), .. } => json!({ "s": s }),
        other => panic!("{other:?}"),
    }
}

fn custom(b: RecordBody) -> Value {
    match b {
        RecordBody::Event { custom, .. } => json!(custom),
        other => panic!("{other:?}"),
    }
}

fn props(b: RecordBody) -> PropertiesRecord {
    match b {
        RecordBody::Properties(p) => *p,
        other => panic!("{other:?}"),
    }
}

fn machine(m: Value) -> Result<MachineGroup, String> {
    let p = props(one(rec("properties", json!({ "machine": m })))?);
    assert!(p.product.is_none() && p.custom.is_none());
    Ok(p.machine.unwrap())
}

fn custom_props(c: Value) -> Result<CustomGroup, String> {
    Ok(props(one(rec("properties", json!({ "custom": c })))?).custom.unwrap())
}

fn session_of(b: RecordBody) -> Option<String> {
    match b {
        RecordBody::SessionStart { session_id }
        | RecordBody::SessionStop { session_id }
        | RecordBody::Heartbeat { session_id }
        | RecordBody::Event { session_id, .. }
        | RecordBody::Exception { session_id, .. }
        | RecordBody::LicenseData { session_id, .. } => session_id,
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- the spec's examples

const SPEC_EXAMPLE: &str = r#"{"clientId":"4F2A9C1E7B3D5A60","machineId":"9D1C0B7E5A3F2D48C6E1A0B9F7D3C215","appName":"DemoApp",
 "sdk":{"name":"ui-sdk-rust","version":"1.0.0"},"batchId":"6a0c1f52-93d4-4b8e-a7f1-0e2d5c9b3a71","seq":42,
 "records":[
  {"kind":"sessionStart","t":1710841800000},
  {"kind":"properties","t":1710841800001,
   "product":{"edition":"Pro","language":"en","version":"2.1","build":"2104"},
   "machine":{"os":{"platform":"Microsoft Windows","version":"Microsoft Windows 10","edition":"Microsoft Windows 10 Pro"},
              "osLanguage":"de-DE","osWordLength":64,"cpuType":"Intel(R) Core(TM) i7-8650U","cpuCores":8,"ram":16384,
              "displayCount":2,"resolutionWidth":1920,"resolutionHeight":1080,"screenPpi":96,"touchScreen":false,
              "formFactor":"laptop","gpu":{"vendor":"Intel","model":"UHD Graphics 620"},"vm":"none",
              "dotNetVersion":"4.8, 6.0.25","java":null},
   "custom":{"1":"web-download","2":null}},
  {"kind":"licenseData","t":1710841800002,"licenseType":"purchased","activated":true,"expired":false,"blocked":null,"allowed":null},
  {"kind":"event","t":1710841815000,"category":"File Operations","name":"Open","value":null,"custom":null},
  {"kind":"event","t":1710841830000,"category":"Export","name":"PDF","value":3.5,"custom":{"pages":"12","format":"A4"}},
  {"kind":"exception","t":1710841900000,"className":"ExportService","methodName":"render",
   "message":"font not found","stackTrace":"ExportService.render(ExportService.cs:88)\n..."},
  {"kind":"heartbeat","t":1710842399000}]}"#;

#[test]
fn spec_complete_example() {
    let b = parse_sync(SPEC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(b.client_id.to_hex(), CID);
    assert_eq!(b.machine_id.as_deref(), Some("9D1C0B7E5A3F2D48C6E1A0B9F7D3C215"));
    assert_eq!(b.app_name, "DemoApp");
    assert_eq!(b.sdk, SdkInfo { name: "ui-sdk-rust".into(), version: "1.0.0".into() });
    assert_eq!(b.batch_id.to_string(), BID);
    assert_eq!(b.seq, 42);
    assert_eq!(b.unknown_kinds, 0);
    assert_eq!(b.records.len(), 7);
    assert_eq!(b.records.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(
        b.records[0],
        Record { t: 1_710_841_800_000, index: 0, body: RecordBody::SessionStart { session_id: None } }
    );
    let RecordBody::Properties(p) = &b.records[1].body else { panic!("{:?}", b.records[1]) };
    assert_eq!(
        p.product,
        Some(ProductGroup {
            edition: Some("Pro".into()),
            language: Some("en".into()),
            version: Some("2.1".into()),
            build: Some("2104".into()),
        })
    );
    assert_eq!(
        p.machine,
        Some(MachineGroup {
            os: OsInfo {
                platform: Some("Microsoft Windows".into()),
                version: Some("Microsoft Windows 10".into()),
                edition: Some("Microsoft Windows 10 Pro".into()),
            },
            os_language: Some("de-DE".into()),
            os_word_length: Some(64),
            cpu_type: Some("Intel(R) Core(TM) i7-8650U".into()),
            cpu_cores: Some(8),
            ram: Some(16384),
            display_count: Some(2),
            resolution_width: Some(1920),
            resolution_height: Some(1080),
            screen_ppi: Some(96),
            touch_screen: Some(false),
            form_factor: Some("laptop".into()),
            gpu: GpuInfo { vendor: Some("Intel".into()), model: Some("UHD Graphics 620".into()) },
            vm: Some("none".into()),
            dot_net_version: Some("4.8, 6.0.25".into()),
            java: JavaInfo::default(),
        })
    );
    let mut custom = CustomGroup::default();
    custom.0[0] = Some("web-download".into());
    assert_eq!(p.custom, Some(custom));
    assert_eq!(
        b.records[2].body,
        RecordBody::LicenseData {
            license_type: Some(LicenseType::Purchased),
            expired: Some(false),
            activated: Some(true),
            blocked: None,
            allowed: None,
            session_id: None,
        }
    );
    assert_eq!(
        b.records[3].body,
        RecordBody::Event {
            category: Some("File Operations".into()),
            name: "Open".into(),
            session_id: None,
            value: None,
            custom: None,
        }
    );
    assert_eq!(
        b.records[4].body,
        RecordBody::Event {
            category: Some("Export".into()),
            name: "PDF".into(),
            session_id: None,
            value: Some(EventValue::Number(3.5)),
            custom: Some(vec![("pages".into(), Some("12".into())), ("format".into(), Some("A4".into()))]),
        }
    );
    assert_eq!(
        b.records[5].body,
        RecordBody::Exception {
            class_name: "ExportService".into(),
            method_name: "render".into(),
            message: Some("font not found".into()),
            stack_trace: Some("ExportService.render(ExportService.cs:88)\n...".into()),
            session_id: None,
        }
    );
    assert_eq!(
        b.records[6],
        Record { t: 1_710_842_399_000, index: 6, body: RecordBody::Heartbeat { session_id: None } }
    );
}

#[test]
fn spec_example_with_an_empty_name_names_the_record() {
    let bad = SPEC_EXAMPLE.replace(r#""name":"Open""#, r#""name":"""#);
    assert_eq!(parse_sync(bad.as_bytes()).unwrap_err().reason(), "records[3].name must be 1-128 characters");
}

#[test]
fn spec_test_vector_body() {
    let body = r#"{"clientId":"4F2A9C1E7B3D5A60","machineId":"9D1C0B7E5A3F2D48C6E1A0B9F7D3C215","appName":"DemoApp","sdk":{"name":"ui-sdk-rust","version":"1.0.0"},"batchId":"0f8e2d4c-6b1a-4e3f-9a7d-2c5b8e1f0a93","seq":1,"records":[]}"#;
    let b = parse_sync(body.as_bytes()).unwrap();
    assert_eq!((b.seq, b.records.len(), b.unknown_kinds), (1, 0, 0));
}

// ---------------------------------------------------------------- body

#[test]
fn body_must_be_a_utf8_json_object() {
    assert_eq!(parse_sync(b"[1]").unwrap_err().reason(), "body must be a JSON object");
    assert_eq!(parse_sync(b"\xfe{}").unwrap_err().reason(), "body is not valid UTF-8");
    assert!(parse_sync(b"{\"clientId\":").unwrap_err().reason().starts_with("body is not valid JSON: "));
}

#[test]
fn duplicate_keys_are_rejected_anywhere() {
    let body = envelope(json!([])).to_string().replacen("{", r#"{"seq":1,"#, 1);
    assert_eq!(parse_sync(body.as_bytes()).unwrap_err().reason(), r#"body has a duplicate member "seq""#);
    let body = envelope(json!([rec("event", json!({"name": "x", "custom": {"a": "1"}}))]))
        .to_string()
        .replace(r#"{"a":"1"}"#, r#"{"a":"1","a":"2"}"#);
    assert_eq!(parse_sync(body.as_bytes()).unwrap_err().reason(), r#"records[0].custom has a duplicate member "a""#);
}

#[test]
fn unknown_members_and_reach_out_are_ignored() {
    let mut v = envelope(json!([rec("sessionStart", json!({"futureField": {"x": [1, 2]}}))]));
    v["reachOut"] = json!({"anything": true});
    v["sdkBuild"] = json!(7);
    v["sdk"]["flavor"] = json!("x");
    let b = parse(&v).unwrap();
    assert_eq!(b.records[0].body, RecordBody::SessionStart { session_id: None });
    for reach_out in [json!(null), json!("text"), json!([1])] {
        assert!(parse(&with("reachOut", Some(reach_out))).is_ok());
    }
}

// ---------------------------------------------------------------- envelope

#[test]
fn client_id() {
    assert!(parse(&with("clientId", Some(json!(" 4F2A9C1E7B3D5A60 ")))).is_ok());
    let rule = "clientId must be 16 uppercase hexadecimal characters";
    for bad in ["4f2a9c1e7b3d5a60", "4F2A9C1E7B3D5A6", "4F2A9C1E7B3D5A600", "4F2A9C1E7B3D5A6G", ""] {
        assert_eq!(reason(&with("clientId", Some(json!(bad)))), rule, "{bad:?}");
    }
    assert_eq!(reason(&with("clientId", None)), "clientId is required");
    assert_eq!(reason(&with("clientId", Some(json!(null)))), "clientId is required");
    assert_eq!(reason(&with("clientId", Some(json!(12)))), "clientId must be a string");
}

#[test]
fn machine_id() {
    let machine_id = |v: Option<Value>| parse(&with("machineId", v)).map(|b| b.machine_id);
    assert_eq!(machine_id(None), Ok(None));
    assert_eq!(machine_id(Some(json!(null))), Ok(None));
    assert_eq!(machine_id(Some(json!(""))), Ok(None));
    assert_eq!(machine_id(Some(json!("<NULL>"))), Ok(None));
    assert_eq!(machine_id(Some(json!(" a.b_c-D9 "))), Ok(Some("a.b_c-D9".into())));
    assert_eq!(machine_id(Some(json!("x".repeat(64)))), Ok(Some("x".repeat(64))));
    let rule = "machineId must be 1-64 characters from [0-9A-Za-z._-]";
    for bad in ["x".repeat(65), "a b".into(), "a/b".into(), "é".into()] {
        assert_eq!(reason(&with("machineId", Some(json!(bad)))), rule, "{bad:?}");
    }
    assert_eq!(reason(&with("machineId", Some(json!(1)))), "machineId must be a string or null");
}

#[test]
fn app_name() {
    let app = |v: &str| parse(&with("appName", Some(json!(v)))).map(|b| b.app_name);
    assert_eq!(app(" Demo "), Ok("Demo".into()));
    assert_eq!(app(&"é".repeat(16)), Ok("é".repeat(16)));
    assert_eq!(app("<NULL>"), Ok("<NULL>".into()));
    let rule = "appName must be 1-16 characters without whitespace";
    for bad in ["", "  ", "Demo App", "Demo\tApp", &"a".repeat(17)] {
        assert_eq!(reason(&with("appName", Some(json!(bad)))), rule, "{bad:?}");
    }
    assert_eq!(reason(&with("appName", None)), "appName is required");
}

#[test]
fn sdk() {
    let sdk = |v: Value| parse(&with("sdk", Some(v))).map(|b| b.sdk);
    assert_eq!(
        sdk(json!({"name": "a.b_c-9", "version": " 1.0 beta "})),
        Ok(SdkInfo { name: "a.b_c-9".into(), version: "1.0 beta".into() })
    );
    assert!(sdk(json!({"name": "n".repeat(32), "version": "v".repeat(32)})).is_ok());
    assert_eq!(reason(&with("sdk", None)), "sdk is required");
    assert_eq!(reason(&with("sdk", Some(json!("ui-sdk")))), "sdk must be an object");
    let name_rule = "sdk.name must be 1-32 characters from [a-z0-9._-]";
    for bad in ["", "UI-SDK", "ui sdk", &"n".repeat(33)] {
        assert_eq!(reason(&with("sdk", Some(json!({"name": bad, "version": "1"})))), name_rule, "{bad:?}");
    }
    assert_eq!(reason(&with("sdk", Some(json!({"version": "1"})))), "sdk.name is required");
    for bad in ["", &"v".repeat(33)] {
        assert_eq!(
            reason(&with("sdk", Some(json!({"name": "x", "version": bad})))),
            "sdk.version must be 1-32 characters"
        );
    }
    assert_eq!(reason(&with("sdk", Some(json!({"name": "x", "version": 1})))), "sdk.version must be a string");
}

#[test]
fn batch_id() {
    let upper = BID.to_uppercase();
    assert_eq!(parse(&with("batchId", Some(json!(upper)))).map(|b| b.batch_id.to_string()), Ok(BID.into()));
    let simple = BID.replace('-', "");
    let braced = format!("{{{BID}}}");
    let urn = format!("urn:uuid:{BID}");
    let moved = "6a0c1f5-293d4-4b8e-a7f1-0e2d5c9b3a71";
    for bad in [&simple, &braced, &urn, moved, "", "not-a-uuid"] {
        assert_eq!(reason(&with("batchId", Some(json!(bad)))), "batchId must be a UUID", "{bad:?}");
    }
    assert_eq!(reason(&with("batchId", None)), "batchId is required");
}

#[test]
fn seq() {
    let seq = |v: Value| parse(&with("seq", Some(v))).map(|b| b.seq);
    assert_eq!(seq(json!(1)), Ok(1));
    assert_eq!(seq(json!(9_007_199_254_740_991u64)), Ok(9_007_199_254_740_991));
    let rule = "seq must be an integer from 1 to 9007199254740991";
    for bad in [json!(0), json!(-1), json!(9_007_199_254_740_992u64), json!(1.0), json!(1.5), json!("1")] {
        assert_eq!(reason(&with("seq", Some(bad.clone()))), rule, "{bad}");
    }
    assert_eq!(reason(&with("seq", None)), "seq is required");
}

#[test]
fn records_count() {
    assert_eq!(parse(&envelope(json!([]))).map(|b| b.records.len()), Ok(0));
    let many = |n: usize| envelope(Value::Array(vec![json!({"kind": "heartbeat", "t": 1}); n]));
    assert_eq!(parse(&many(10_000)).map(|b| b.records.len()), Ok(10_000));
    assert_eq!(reason(&many(10_001)), "records must hold at most 10000 records");
    assert_eq!(reason(&with("records", None)), "records is required");
    assert_eq!(reason(&with("records", Some(json!({})))), "records must be an array");
}

// ---------------------------------------------------------------- common record fields

#[test]
fn record_shape_and_kind() {
    assert_eq!(one(json!(5)).unwrap_err(), "records[0] must be an object");
    assert_eq!(one(json!({"t": 1})).unwrap_err(), "records[0].kind is required");
    let v = envelope(json!([rec("heartbeat", json!({})), {"kind": 7, "t": 1}]));
    assert_eq!(reason(&v), "records[1].kind must be a string");
    // Kinds are case-sensitive; a differently cased kind is simply unknown.
    assert_eq!(parse(&envelope(json!([rec("Heartbeat", json!({}))]))).map(|b| b.unknown_kinds), Ok(1));
}

#[test]
fn unknown_kinds_are_skipped_and_counted() {
    let v = envelope(json!([
        rec("sessionStart", json!({})),
        {"kind": "screenView", "screen": "main"},
        rec("heartbeat", json!({})),
        {"kind": "futureThing", "t": -5, "name": ""},
    ]));
    let b = parse(&v).unwrap();
    assert_eq!(b.unknown_kinds, 2);
    assert_eq!(b.records.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 2]);
}

#[test]
fn time() {
    let t = |v: Value| {
        let mut r = rec("heartbeat", json!({}));
        r["t"] = v;
        parse(&envelope(json!([r]))).map(|b| b.records[0].t).map_err(|e| e.reason().to_owned())
    };
    assert_eq!(t(json!(0)), Ok(0));
    assert_eq!(t(json!(9_007_199_254_740_991u64)), Ok(9_007_199_254_740_991));
    let rule = "records[0].t must be an integer from 0 to 9007199254740991";
    for bad in [json!(-1), json!(9_007_199_254_740_992u64), json!(1.5), json!(1e3), json!("1"), json!(true)] {
        assert_eq!(t(bad.clone()).unwrap_err(), rule, "{bad}");
    }
    let v = envelope(json!([rec("heartbeat", json!({})), rec("heartbeat", json!({})), {"kind": "heartbeat"}]));
    assert_eq!(reason(&v), "records[2].t is required");
}

#[test]
fn session_id_rules() {
    let sid = |v: Value| one(rec("sessionStart", json!({ "sessionId": v }))).map(session_of);
    assert_eq!(sid(json!("abcdefghij")), Ok(Some("abcdefghij".into())));
    assert_eq!(sid(json!("x".repeat(64))), Ok(Some("x".repeat(64))));
    assert_eq!(sid(json!("session one")), Ok(Some("session one".into())));
    assert_eq!(sid(json!("éééééééééé")), Ok(Some("éééééééééé".into())));
    assert_eq!(sid(json!("  abcdefghij\n")), Ok(Some("abcdefghij".into())));
    assert_eq!(sid(json!("")), Ok(None));
    assert_eq!(sid(json!("<NULL>")), Ok(None));
    assert_eq!(sid(json!(null)), Ok(None));
    assert_eq!(one(rec("sessionStart", json!({}))).map(session_of), Ok(None));
    let len_rule = "records[0].sessionId must be 10-64 characters";
    assert_eq!(sid(json!("abcdefghi")).unwrap_err(), len_rule);
    assert_eq!(sid(json!("  abcdefghi  ")).unwrap_err(), len_rule);
    assert_eq!(sid(json!("x".repeat(65))).unwrap_err(), len_rule);
    let ws_rule = "records[0].sessionId must not contain whitespace other than plain spaces";
    for bad in ["session\tone", "session\none", "session\u{a0}one", "session\u{2003}one"] {
        assert_eq!(sid(json!(bad)).unwrap_err(), ws_rule, "{bad:?}");
    }
    assert_eq!(sid(json!(1234567890)).unwrap_err(), "records[0].sessionId must be a string or null");
}

#[test]
fn session_id_on_every_kind_that_allows_it() {
    let s = json!("s-0123456789");
    let kinds = [
        rec("sessionStart", json!({ "sessionId": s })),
        rec("sessionStop", json!({ "sessionId": s })),
        rec("heartbeat", json!({ "sessionId": s })),
        rec("event", json!({ "name": "n", "sessionId": s })),
        rec("exception", json!({ "className": "C", "methodName": "m", "sessionId": s })),
        rec("licenseData", json!({ "sessionId": s })),
    ];
    for r in kinds {
        assert_eq!(one(r.clone()).map(session_of), Ok(Some("s-0123456789".into())), "{r}");
        let mut bad = r.clone();
        bad["sessionId"] = json!("short");
        assert_eq!(one(bad).unwrap_err(), "records[0].sessionId must be 10-64 characters", "{r}");
    }
}

// ---------------------------------------------------------------- event

#[test]
fn event_category() {
    assert_eq!(event_field(json!({"category": " Export "}), category), Ok(json!("Export")));
    assert_eq!(event_field(json!({"category": "c".repeat(128)}), category), Ok(json!("c".repeat(128))));
    assert_eq!(event_field(json!({"category": "é".repeat(128)}), category), Ok(json!("é".repeat(128))));
    for empty in [json!(""), json!("   "), json!("<NULL>"), json!(null)] {
        assert_eq!(event_field(json!({ "category": empty }), category), Ok(Value::Null));
    }
    assert_eq!(event_field(json!({}), category), Ok(Value::Null));
    assert_eq!(event(json!({"category": "c".repeat(129)})).unwrap_err(), "records[0].category exceeds 128 characters");
    assert_eq!(event(json!({"category": 5})).unwrap_err(), "records[0].category must be a string or null");
}

#[test]
fn category_error_names_the_record() {
    let mut records = vec![json!({"kind": "heartbeat", "t": 1}); 42];
    records.push(rec("event", json!({"name": "n", "category": "c".repeat(129)})));
    assert_eq!(reason(&envelope(Value::Array(records))), "records[42].category exceeds 128 characters");
}

#[test]
fn event_name() {
    let name = |v: Value| match one(rec("event", json!({ "name": v }))) {
        Ok(RecordBody::Event { name, .. }) => Ok(name),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(name(json!(" Open ")), Ok("Open".into()));
    assert_eq!(name(json!("n".repeat(128))), Ok("n".repeat(128)));
    assert_eq!(name(json!("<NULL>")), Ok("<NULL>".into()));
    let rule = "records[0].name must be 1-128 characters";
    assert_eq!(name(json!("")).unwrap_err(), rule);
    assert_eq!(name(json!(" \t ")).unwrap_err(), rule);
    assert_eq!(name(json!("n".repeat(129))).unwrap_err(), rule);
    assert_eq!(name(json!(null)).unwrap_err(), "records[0].name is required");
    assert_eq!(one(rec("event", json!({}))).unwrap_err(), "records[0].name is required");
    assert_eq!(name(json!(["Open"])).unwrap_err(), "records[0].name must be a string");
}

#[test]
fn event_value() {
    let v = |x: Value| event_field(json!({ "value": x }), value);
    assert_eq!(v(json!(3.5)), Ok(json!({"n": 3.5})));
    assert_eq!(v(json!(-2)), Ok(json!({"n": -2.0})));
    assert_eq!(v(json!(12)), Ok(json!({"n": 12.0})));
    assert_eq!(v(json!(1e300)), Ok(json!({"n": 1e300})));
    assert_eq!(v(json!(" big ")), Ok(json!({"s": "big"})));
    assert_eq!(v(json!("v".repeat(1024))), Ok(json!({"s": "v".repeat(1024)})));
    for empty in [json!(null), json!(""), json!("<NULL>")] {
        assert_eq!(v(empty), Ok(Value::Null));
    }
    assert_eq!(v(json!("v".repeat(1025))).unwrap_err(), "records[0].value exceeds 1024 characters");
    for bad in [json!(true), json!([1]), json!({"a": 1})] {
        assert_eq!(v(bad).unwrap_err(), "records[0].value must be a number, a string or null");
    }
}

#[test]
fn event_custom() {
    let c = |x: Value| event_field(json!({ "custom": x }), custom);
    assert_eq!(c(json!(null)), Ok(Value::Null));
    assert_eq!(event_field(json!({}), custom), Ok(Value::Null));
    // Order is kept as sent, and values are normalised like any nullable string.
    assert_eq!(
        c(json!({"z": " 1 ", "a": null, "m": "", "b": "<NULL>"})),
        Ok(json!([["z", "1"], ["a", null], ["m", null], ["b", null]]))
    );
    let fifty: serde_json::Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(c(Value::Object(fifty.clone())).map(|v| v.as_array().unwrap().len()), Ok(50));
    let mut fifty_one = fifty;
    fifty_one.insert("k50".into(), json!("v"));
    let pairs_rule = "records[0].custom must hold 1-50 pairs";
    assert_eq!(c(Value::Object(fifty_one)).unwrap_err(), pairs_rule);
    assert_eq!(c(json!({})).unwrap_err(), pairs_rule);
    assert!(c(json!({ "k".repeat(128): "v" })).is_ok());
    assert!(c(json!({ "é".repeat(128): "v" })).is_ok());
    for bad in ["k".repeat(129), "".into(), "a b".into(), " a".into(), "a\n".into()] {
        let expected = format!("records[0].custom key {bad:?} must be 1-128 characters without whitespace");
        assert_eq!(c(json!({ bad.clone(): "v" })).unwrap_err(), expected);
    }
    assert!(c(json!({"k": "v".repeat(1024)})).is_ok());
    assert_eq!(c(json!({"k": "v".repeat(1025)})).unwrap_err(), "records[0].custom.k exceeds 1024 characters");
    assert_eq!(c(json!({"k": 12})).unwrap_err(), "records[0].custom.k must be a string or null");
    assert_eq!(c(json!("k=v")).unwrap_err(), "records[0].custom must be an object or null");
}

// ---------------------------------------------------------------- exception

#[test]
fn exception() {
    let ex = |extra: Value| {
        let mut r = rec("exception", json!({"className": "C", "methodName": "m"}));
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        one(r)
    };
    assert_eq!(
        ex(json!({"className": " Svc ", "message": "", "stackTrace": "<NULL>"})),
        Ok(RecordBody::Exception {
            class_name: "Svc".into(),
            method_name: "m".into(),
            message: None,
            stack_trace: None,
            session_id: None,
        })
    );
    for field in ["className", "methodName"] {
        assert!(ex(json!({ field: "x".repeat(128) })).is_ok());
        let rule = format!("records[0].{field} must be 1-128 characters");
        assert_eq!(ex(json!({ field: "x".repeat(129) })).unwrap_err(), rule);
        assert_eq!(ex(json!({ field: "" })).unwrap_err(), rule);
        assert_eq!(ex(json!({ field: null })).unwrap_err(), format!("records[0].{field} is required"));
    }
    assert!(ex(json!({"message": "é".repeat(1024)})).is_ok());
    assert_eq!(ex(json!({"message": "m".repeat(1025)})).unwrap_err(), "records[0].message exceeds 1024 characters");
    // The stack trace limit is in bytes: 16,384 two-byte characters fit, one more does not.
    assert!(ex(json!({"stackTrace": "é".repeat(16_384)})).is_ok());
    assert_eq!(ex(json!({"stackTrace": "é".repeat(16_385)})).unwrap_err(), "records[0].stackTrace exceeds 32768 bytes");
    assert!(ex(json!({"stackTrace": format!("  {}  ", "s".repeat(32_768))})).is_ok());
    assert_eq!(ex(json!({"stackTrace": 1})).unwrap_err(), "records[0].stackTrace must be a string or null");
}

// ---------------------------------------------------------------- properties

#[test]
fn properties_groups_absent_null_and_empty() {
    assert_eq!(one(rec("properties", json!({}))), Ok(RecordBody::Properties(Box::default())));
    assert_eq!(
        one(rec("properties", json!({"product": null, "machine": null, "custom": null}))),
        Ok(RecordBody::Properties(Box::default()))
    );
    // A present group replaces the whole stored group, so an empty one is all NULL, not "unchanged".
    assert_eq!(
        one(rec("properties", json!({"product": {}, "machine": {}, "custom": {}}))),
        Ok(RecordBody::Properties(Box::new(PropertiesRecord {
            product: Some(ProductGroup::default()),
            machine: Some(MachineGroup::default()),
            custom: Some(CustomGroup::default()),
        })))
    );
    for group in ["product", "machine", "custom"] {
        assert_eq!(
            one(rec("properties", json!({ group: "x" }))).unwrap_err(),
            format!("records[0].{group} must be an object or null")
        );
    }
}

#[test]
fn product_group() {
    let product = |p: Value| one(rec("properties", json!({ "product": p }))).map(|b| props(b).product.unwrap());
    assert_eq!(
        product(json!({"edition": " Pro ", "language": "", "version": "<NULL>", "unknown": 1})),
        Ok(ProductGroup { edition: Some("Pro".into()), ..ProductGroup::default() })
    );
    for field in ["edition", "language", "version", "build"] {
        assert!(product(json!({ field: "x".repeat(128) })).is_ok());
        assert_eq!(
            product(json!({ field: "x".repeat(129) })).unwrap_err(),
            format!("records[0].product.{field} exceeds 128 characters")
        );
    }
}

#[test]
fn machine_strings() {
    let fields = ["osLanguage", "cpuType", "formFactor", "vm", "dotNetVersion"];
    for field in fields {
        assert!(machine(json!({ field: "x".repeat(128) })).is_ok());
        assert_eq!(
            machine(json!({ field: "x".repeat(129) })).unwrap_err(),
            format!("records[0].machine.{field} exceeds 128 characters")
        );
        assert_eq!(machine(json!({ field: "<NULL>" })), Ok(MachineGroup::default()));
    }
    for (obj, field) in [
        ("os", "platform"),
        ("os", "version"),
        ("os", "edition"),
        ("gpu", "vendor"),
        ("gpu", "model"),
        ("java", "version"),
        ("java", "vendor"),
        ("java", "runtime"),
        ("java", "graphics"),
        ("java", "vmVersion"),
        ("java", "vmName"),
    ] {
        assert!(machine(json!({ obj: { field: "x".repeat(128) } })).is_ok());
        assert_eq!(
            machine(json!({ obj: { field: "x".repeat(129) } })).unwrap_err(),
            format!("records[0].machine.{obj}.{field} exceeds 128 characters")
        );
    }
    // formFactor's values are only recommended.
    assert_eq!(machine(json!({"formFactor": "phablet"})).map(|m| m.form_factor), Ok(Some("phablet".into())));
}

#[test]
fn machine_sub_objects() {
    let full = machine(json!({
        "os": {"platform": "Linux", "version": "Linux 6", "edition": "Debian"},
        "gpu": {"vendor": "AMD", "model": "RX"},
        "java": {"version": "21", "vendor": "Eclipse", "runtime": "OpenJDK", "graphics": "AWT",
                 "vmVersion": "21.0.2", "vmName": "HotSpot", "vmRam": 4096},
    }))
    .unwrap();
    assert_eq!(full.os.edition.as_deref(), Some("Debian"));
    assert_eq!(full.gpu.model.as_deref(), Some("RX"));
    assert_eq!(
        full.java,
        JavaInfo {
            version: Some("21".into()),
            vendor: Some("Eclipse".into()),
            runtime: Some("OpenJDK".into()),
            graphics: Some("AWT".into()),
            vm_version: Some("21.0.2".into()),
            vm_name: Some("HotSpot".into()),
            vm_ram: Some(4096),
        }
    );
    // A null or absent sub-object means all its fields are NULL.
    assert_eq!(machine(json!({"os": null, "gpu": null, "java": null})), Ok(MachineGroup::default()));
    for obj in ["os", "gpu", "java"] {
        assert_eq!(
            machine(json!({ obj: "x" })).unwrap_err(),
            format!("records[0].machine.{obj} must be an object or null")
        );
    }
}

#[test]
fn machine_numbers() {
    let cases: [(&str, u64, u64); 8] = [
        ("cpuCores", 1, 4096),
        ("ram", 0, 1 << 31),
        ("displayCount", 0, 64),
        ("resolutionWidth", 0, 65_535),
        ("resolutionHeight", 0, 65_535),
        ("screenPpi", 0, 10_000),
        ("vmRam", 0, 1 << 31),
        ("osWordLength", 32, 64),
    ];
    for (field, min, max) in cases {
        let m = |v: Value| {
            if field == "vmRam" {
                machine(json!({"java": { field: v }}))
            } else {
                machine(json!({ field: v }))
            }
        };
        let path = if field == "vmRam" {
            "records[0].machine.java.vmRam".to_owned()
        } else {
            format!("records[0].machine.{field}")
        };
        let rule = if field == "osWordLength" {
            format!("{path} must be 32 or 64")
        } else {
            format!("{path} must be an integer from {min} to {max}")
        };
        let read = |g: MachineGroup| {
            [
                g.cpu_cores.map(u64::from),
                g.ram.map(u64::from),
                g.display_count.map(u64::from),
                g.resolution_width.map(u64::from),
                g.resolution_height.map(u64::from),
                g.screen_ppi.map(u64::from),
                g.java.vm_ram.map(u64::from),
                g.os_word_length.map(u64::from),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
        };
        assert_eq!(m(json!(min)).map(read), Ok(vec![min]), "{field}");
        assert_eq!(m(json!(max)).map(read), Ok(vec![max]), "{field}");
        assert_eq!(m(json!(null)).map(read), Ok(vec![]), "{field}");
        let mut bad = vec![json!(max + 1), json!(-1), json!(1.5), json!(40.0), json!(1e3), json!("8"), json!(true)];
        if min > 0 {
            bad.push(json!(min - 1));
        }
        for b in bad {
            assert_eq!(m(b.clone()).unwrap_err(), rule, "{field} = {b}");
        }
    }
    assert_eq!(machine(json!({"osWordLength": 48})).unwrap_err(), "records[0].machine.osWordLength must be 32 or 64");
}

#[test]
fn machine_touch_screen() {
    assert_eq!(machine(json!({"touchScreen": true})).map(|g| g.touch_screen), Ok(Some(true)));
    assert_eq!(machine(json!({"touchScreen": null})).map(|g| g.touch_screen), Ok(None));
    assert_eq!(
        machine(json!({"touchScreen": "yes"})).unwrap_err(),
        "records[0].machine.touchScreen must be a boolean or null"
    );
}

#[test]
fn custom_properties() {
    let g = custom_props(json!({"1": " a ", "20": "t", "2": null, "3": "", "4": "<NULL>"})).unwrap();
    assert_eq!(g.get(1), Some("a"));
    assert_eq!(g.get(20), Some("t"));
    assert_eq!((g.get(2), g.get(3), g.get(4)), (None, None, None));
    assert_eq!(custom_props(json!({"5": "v".repeat(1024)})).map(|g| g.get(5).map(str::len)), Ok(Some(1024)));
    assert_eq!(
        custom_props(json!({"5": "v".repeat(1025)})).unwrap_err(),
        "records[0].custom.5 exceeds 1024 characters"
    );
    for bad in ["0", "01", "21", "a", " 1", "1.0", ""] {
        assert_eq!(
            custom_props(json!({ bad: "v" })).unwrap_err(),
            format!("records[0].custom key {bad:?} must be one of \"1\" to \"20\"")
        );
    }
    assert_eq!(custom_props(json!({"1": 1})).unwrap_err(), "records[0].custom.1 must be a string or null");
}

// ---------------------------------------------------------------- licenseData and optOut

#[test]
fn license_data() {
    for t in LicenseType::ALL {
        let body = one(rec("licenseData", json!({ "licenseType": t.as_str() })));
        assert!(matches!(body, Ok(RecordBody::LicenseData { license_type: Some(x), .. }) if x == t));
    }
    assert_eq!(
        one(rec("licenseData", json!({"licenseType": " nfr ", "expired": true, "allowed": false}))),
        Ok(RecordBody::LicenseData {
            license_type: Some(LicenseType::Nfr),
            expired: Some(true),
            activated: None,
            blocked: None,
            allowed: Some(false),
            session_id: None,
        })
    );
    assert_eq!(
        one(rec("licenseData", json!({"licenseType": ""}))),
        Ok(RecordBody::LicenseData {
            license_type: None,
            expired: None,
            activated: None,
            blocked: None,
            allowed: None,
            session_id: None,
        })
    );
    let rule = "records[0].licenseType must be one of: evaluation, purchased, freeware, unknown, nfr, custom1, custom2, custom3";
    for bad in ["Purchased", "trial", "custom4"] {
        assert_eq!(one(rec("licenseData", json!({ "licenseType": bad }))).unwrap_err(), rule);
    }
    assert_eq!(
        one(rec("licenseData", json!({"licenseType": 1}))).unwrap_err(),
        "records[0].licenseType must be a string or null"
    );
    for flag in ["expired", "activated", "blocked", "allowed"] {
        assert_eq!(
            one(rec("licenseData", json!({ flag: "true" }))).unwrap_err(),
            format!("records[0].{flag} must be a boolean or null")
        );
        assert_eq!(
            one(rec("licenseData", json!({ flag: 1 }))).unwrap_err(),
            format!("records[0].{flag} must be a boolean or null")
        );
    }
}

#[test]
fn opt_out() {
    assert_eq!(one(rec("optOut", json!({"reason": "user"}))), Ok(RecordBody::OptOut));
    assert_eq!(one(json!({"kind": "optOut"})).unwrap_err(), "records[0].t is required");
}

#[test]
fn one_bad_record_rejects_the_whole_batch() {
    let v = envelope(json!([
        rec("sessionStart", json!({})),
        rec("event", json!({"name": "ok"})),
        rec("event", json!({"name": ""})),
    ]));
    assert_eq!(reason(&v), "records[2].name must be 1-128 characters");
}
