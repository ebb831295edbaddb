use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::limits::MAX_SAFE_INTEGER;
use crate::record::{
    CustomGroup, CustomPairs, EventValue, GpuInfo, JavaInfo, MachineGroup, OsInfo, ProductGroup, PropertiesRecord,
};
use crate::signing::{sign, ProductSecret};
use crate::sync::parse_sync;

fn cid() -> ClientId {
    ClientId::parse("4F2A9C1E7B3D5A60").unwrap()
}

// ---------------------------------------------------------------- responses: exact bytes

#[test]
fn sync_response_matches_the_spec() {
    let r = SyncResponse {
        accepted: 57,
        dropped: 0,
        ignored: 0,
        duplicate: false,
        next_sync_seconds: 1200,
        instruction: None,
        reach_out: None,
        server_time: 1_710_842_405_123,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"accepted":57,"dropped":0,"ignored":0,"duplicate":false,"nextSyncSeconds":1200,"instruction":null,"reachOut":null,"serverTime":1710842405123}"#
    );
    assert_eq!(serde_json::from_str::<SyncResponse>(&serde_json::to_string(&r).unwrap()).unwrap(), r);
}

#[test]
fn instructions() {
    assert_eq!(serde_json::to_string(&Instruction::BackOffDays(7)).unwrap(), r#"{"backOffDays":7}"#);
    assert_eq!(serde_json::to_string(&Instruction::Disable).unwrap(), r#"{"disable":true}"#);
    assert_eq!(serde_json::from_str::<Instruction>(r#"{"backOffDays":7}"#).unwrap(), Instruction::BackOffDays(7));
    assert_eq!(serde_json::from_str::<Instruction>(r#"{"disable":true}"#).unwrap(), Instruction::Disable);
    assert!(serde_json::from_str::<Instruction>(r#"{"disable":false}"#).is_err());
    assert!(serde_json::from_str::<Instruction>(r#"{"reboot":true}"#).is_err());
    let r = SyncResponse {
        accepted: 0,
        dropped: 3,
        ignored: 0,
        duplicate: false,
        next_sync_seconds: 1200,
        instruction: Some(Instruction::BackOffDays(7)),
        reach_out: None,
        server_time: 1,
    };
    assert!(serde_json::to_string(&r).unwrap().contains(r#""instruction":{"backOffDays":7},"reachOut":null"#));
}

#[test]
fn sdk_side_reading_is_lenient() {
    // §13: unknown instruction shapes and unknown members are ignored; reachOut is reserved.
    let body = r#"{"accepted":1,"dropped":0,"ignored":0,"duplicate":true,"nextSyncSeconds":60,
        "instruction":{"teleport":"mars"},"reachOut":{"message":"hi"},"serverTime":5,"newMember":[1]}"#;
    let r: SyncResponse = serde_json::from_str(body).unwrap();
    assert_eq!((r.instruction, r.reach_out, r.duplicate), (None, None, true));
    let body = r#"{"accepted":1,"dropped":0,"ignored":0,"duplicate":false,"nextSyncSeconds":60,
        "instruction":{"disable":true},"reachOut":null,"serverTime":5}"#;
    assert_eq!(serde_json::from_str::<SyncResponse>(body).unwrap().instruction, Some(Instruction::Disable));
}

#[test]
fn license_response_matches_the_spec() {
    let r = LicenseResponse {
        license_key: "ABCD-1234".into(),
        known: true,
        license_type: LicenseType::Purchased,
        expired: false,
        activated: true,
        blocked: false,
        allowed: true,
        expiry_date: Some("2025-12-31".into()),
        server_time: 1_710_842_400_123,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"licenseKey":"ABCD-1234","known":true,"licenseType":"purchased","expired":false,"activated":true,"blocked":false,"allowed":true,"expiryDate":"2025-12-31","serverTime":1710842400123}"#
    );
    let unknown = LicenseResponse { known: false, license_type: LicenseType::Unknown, expiry_date: None, ..r };
    assert!(serde_json::to_string(&unknown).unwrap().contains(r#""licenseType":"unknown","#));
    assert!(serde_json::to_string(&unknown).unwrap().contains(r#""expiryDate":null,"#));
}

#[test]
fn small_responses() {
    let r = OptOutResponse { opted_out: true, server_time: 7 };
    assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"optedOut":true,"serverTime":7}"#);
    let r = PingResponse {
        ok: true,
        product_id: ProductId::parse("2376158762").unwrap(),
        protocol_version: crate::PROTOCOL_VERSION,
        server_time: 7,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"ok":true,"productId":"2376158762","protocolVersion":1,"serverTime":7}"#
    );
}

#[test]
fn error_body() {
    let e = ErrorBody::new(ErrorBody::SYNTAX_ERROR, "records[17].name must be 1-128 characters");
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"status":"SYNTAX ERROR","reason":"records[17].name must be 1-128 characters"}"#
    );
    let e = ErrorBody {
        server_time: Some(1_710_842_400_123),
        ..ErrorBody::new(ErrorBody::AUTH_ERROR, "timestamp out of range")
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"status":"AUTH ERROR","reason":"timestamp out of range","serverTime":1710842400123}"#
    );
}

// ---------------------------------------------------------------- requests

#[test]
fn sync_request_serializes_the_spec_test_vector_byte_for_byte() {
    let req = SyncRequest {
        client_id: cid(),
        machine_id: Some("9D1C0B7E5A3F2D48C6E1A0B9F7D3C215".into()),
        app_name: "DemoApp".into(),
        sdk: SdkInfo { name: "ui-sdk-rust".into(), version: "1.0.0".into() },
        batch_id: Uuid::parse_str("0f8e2d4c-6b1a-4e3f-9a7d-2c5b8e1f0a93").unwrap(),
        seq: 1,
        records: vec![],
    };
    let body = serde_json::to_vec(&req).unwrap();
    assert_eq!(body.len(), 215);
    let secret = ProductSecret::parse_hex("8f3a61c2d94b07e5a1c6f0d2b7e49a35").unwrap();
    assert_eq!(
        sign(&secret, "1710842400", &body),
        "v1=2538259887e8c162f47ae17f2d43f62aa21a01e7b03e7d55b30829d971a3a92d"
    );
}

#[test]
fn wire_record_shape() {
    let r = WireRecord { t: 5, body: RecordBody::SessionStart { session_id: None } };
    assert_eq!(serde_json::to_value(&r).unwrap(), json!({"kind": "sessionStart", "t": 5}));
    let r = WireRecord { t: 5, body: RecordBody::OptOut };
    assert_eq!(serde_json::to_value(&r).unwrap(), json!({"kind": "optOut", "t": 5}));
    let r = WireRecord {
        t: 5,
        body: RecordBody::Properties(Box::new(PropertiesRecord {
            product: Some(ProductGroup::default()),
            ..Default::default()
        })),
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"kind": "properties", "t": 5,
               "product": {"edition": null, "language": null, "version": null, "build": null}})
    );
    let back: WireRecord = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

fn every_kind() -> SyncBatch {
    let mut custom = CustomGroup::default();
    custom.0[0] = Some("web-download".into());
    custom.0[19] = Some("last".into());
    let sid = Some("session 0001".to_owned());
    let bodies = vec![
        RecordBody::SessionStart { session_id: None },
        RecordBody::SessionStart { session_id: sid.clone() },
        RecordBody::SessionStop { session_id: sid.clone() },
        RecordBody::Heartbeat { session_id: None },
        RecordBody::Event { category: None, name: "Open".into(), session_id: None, value: None, custom: None },
        RecordBody::Event {
            category: Some("Export".into()),
            name: "PDF".into(),
            session_id: sid.clone(),
            value: Some(EventValue::Number(3.5)),
            custom: Some(vec![("pages".into(), Some("12".into())), ("format".into(), None)]),
        },
        RecordBody::Event {
            category: Some("Search".into()),
            name: "Query".into(),
            session_id: None,
            value: Some(EventValue::Text("by name".into())),
            custom: None,
        },
        RecordBody::Exception {
            class_name: "ExportService".into(),
            method_name: "render".into(),
            message: Some("font not found".into()),
            stack_trace: Some("at a\n  at b".into()),
            session_id: sid.clone(),
        },
        RecordBody::Properties(Box::new(PropertiesRecord {
            product: Some(ProductGroup {
                edition: Some("Pro".into()),
                language: Some("en".into()),
                version: Some("2.1".into()),
                build: None,
            }),
            machine: Some(MachineGroup {
                os: OsInfo { platform: Some("Microsoft Windows".into()), version: None, edition: None },
                os_language: Some("de-DE".into()),
                os_word_length: Some(64),
                cpu_type: Some("Intel".into()),
                cpu_cores: Some(8),
                ram: Some(16384),
                display_count: Some(2),
                resolution_width: Some(1920),
                resolution_height: Some(1080),
                screen_ppi: Some(96),
                touch_screen: Some(false),
                form_factor: Some("laptop".into()),
                gpu: GpuInfo { vendor: Some("Intel".into()), model: None },
                vm: Some("none".into()),
                dot_net_version: Some("4.8, 6.0.25".into()),
                java: JavaInfo { version: Some("21".into()), vm_ram: Some(512), ..JavaInfo::default() },
            }),
            custom: Some(custom),
        })),
        RecordBody::Properties(Box::default()),
        RecordBody::LicenseData {
            license_type: Some(LicenseType::Custom2),
            expired: Some(false),
            activated: Some(true),
            blocked: None,
            allowed: None,
            session_id: sid,
        },
        RecordBody::OptOut,
    ];
    SyncBatch {
        client_id: cid(),
        machine_id: None,
        app_name: "DemoApp".into(),
        sdk: SdkInfo { name: "ui-sdk-rust".into(), version: "1.0.0".into() },
        batch_id: Uuid::parse_str("6a0c1f52-93d4-4b8e-a7f1-0e2d5c9b3a71").unwrap(),
        seq: 42,
        records: bodies
            .into_iter()
            .zip(0u32..)
            .map(|(body, index)| Record { t: 1_710_841_800_000 + i64::from(index), index, body })
            .collect(),
        unknown_kinds: 0,
    }
}

#[test]
fn sync_request_with_every_kind_round_trips_through_the_server_parser() {
    let batch = every_kind();
    let body = serde_json::to_vec(&SyncRequest::from(&batch)).unwrap();
    assert_eq!(parse_sync(&body), Ok(batch.clone()));
    // The client-side Deserialize reads the same bytes back too.
    let req: SyncRequest = serde_json::from_slice(&body).unwrap();
    assert_eq!(req, SyncRequest::from(&batch));
}

#[test]
fn small_requests_round_trip_through_the_server_parsers() {
    let check = LicenseCheckRequest { client_id: cid(), license_key: "ABCD-1234".into() };
    assert_eq!(crate::parse_license_check(&serde_json::to_vec(&check).unwrap()), Ok(check));
    let set =
        LicenseSetRequest { client_id: cid(), license_key: "K".into(), t: 9, session_id: Some("s-0123456789".into()) };
    assert_eq!(crate::parse_license_set(&serde_json::to_vec(&set).unwrap()), Ok(set));
    let set = LicenseSetRequest { client_id: cid(), license_key: "K".into(), t: 9, session_id: None };
    assert_eq!(crate::parse_license_set(&serde_json::to_vec(&set).unwrap()), Ok(set));
    let optout = OptOutRequest { client_id: cid(), app_name: "Demo".into(), machine_id: Some("m1".into()), t: 1 };
    assert_eq!(crate::parse_optout(&serde_json::to_vec(&optout).unwrap()), Ok(optout));
    assert_eq!(serde_json::to_string(&PingRequest::default()).unwrap(), "{}");
    let ping = PingRequest { client_id: Some(cid()) };
    assert_eq!(crate::parse_ping(&serde_json::to_vec(&ping).unwrap()), Ok(ping));
}

// ---------------------------------------------------------------- property test

/// Characters that exercise multi-byte UTF-8 but are never whitespace.
const WORD: &str = "[a-zA-Z0-9é漢👍._-]";

/// A non-empty string of at most `max` characters that the server keeps unchanged:
/// no whitespace at either end, internal spaces allowed, never `<NULL>`.
fn kept(max: usize) -> BoxedStrategy<String> {
    let inner = max.saturating_sub(2);
    prop_oneof![
        proptest::string::string_regex(WORD).unwrap(),
        proptest::string::string_regex(&format!("{WORD}[a-zA-Z0-9é漢👍._ -]{{0,{inner}}}{WORD}")).unwrap(),
    ]
    .boxed()
}

fn nullable(max: usize) -> BoxedStrategy<Option<String>> {
    proptest::option::of(kept(max)).boxed()
}

fn session() -> BoxedStrategy<Option<String>> {
    proptest::option::of("[a-z0-9-][a-z0-9 -]{8,20}[a-z0-9-]").boxed()
}

fn event_value() -> BoxedStrategy<Option<EventValue>> {
    proptest::option::of(prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(EventValue::Number),
        kept(40).prop_map(EventValue::Text),
    ])
    .boxed()
}

fn event_custom() -> BoxedStrategy<Option<CustomPairs>> {
    proptest::option::of(proptest::collection::vec(("[a-zA-Z0-9_.é]{1,12}", nullable(20)), 1..6).prop_map(|pairs| {
        let mut seen = std::collections::HashSet::new();
        pairs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect::<Vec<_>>()
    }))
    .boxed()
}

fn machine() -> BoxedStrategy<MachineGroup> {
    let os = (nullable(20), nullable(20), nullable(20)).prop_map(|(platform, version, edition)| OsInfo {
        platform,
        version,
        edition,
    });
    let gpu = (nullable(20), nullable(20)).prop_map(|(vendor, model)| GpuInfo { vendor, model });
    let java = (
        nullable(10),
        nullable(10),
        nullable(10),
        nullable(10),
        nullable(10),
        nullable(10),
        proptest::option::of(0u32..=1 << 31),
    )
        .prop_map(|(version, vendor, runtime, graphics, vm_version, vm_name, vm_ram)| JavaInfo {
            version,
            vendor,
            runtime,
            graphics,
            vm_version,
            vm_name,
            vm_ram,
        });
    let numbers = (
        proptest::option::of(prop_oneof![Just(32u8), Just(64u8)]),
        proptest::option::of(1u16..=4096),
        proptest::option::of(0u32..=1 << 31),
        proptest::option::of(0u8..=64),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u16..=10_000),
        proptest::option::of(any::<bool>()),
    );
    let texts = (nullable(30), nullable(30), nullable(10), nullable(10), nullable(20));
    (os, gpu, java, numbers, texts)
        .prop_map(|(os, gpu, java, (wl, cores, ram, displays, w, h, ppi, touch), (lang, cpu, form, vm, dotnet))| {
            MachineGroup {
                os,
                os_language: lang,
                os_word_length: wl,
                cpu_type: cpu,
                cpu_cores: cores,
                ram,
                display_count: displays,
                resolution_width: w,
                resolution_height: h,
                screen_ppi: ppi,
                touch_screen: touch,
                form_factor: form,
                gpu,
                vm,
                dot_net_version: dotnet,
                java,
            }
        })
        .boxed()
}

fn properties() -> BoxedStrategy<RecordBody> {
    let product = (nullable(10), nullable(10), nullable(10), nullable(10))
        .prop_map(|(edition, language, version, build)| ProductGroup { edition, language, version, build });
    let custom = proptest::array::uniform20(nullable(15)).prop_map(CustomGroup);
    (proptest::option::of(product), proptest::option::of(machine()), proptest::option::of(custom))
        .prop_map(|(product, machine, custom)| {
            RecordBody::Properties(Box::new(PropertiesRecord { product, machine, custom }))
        })
        .boxed()
}

fn body() -> BoxedStrategy<RecordBody> {
    prop_oneof![
        session().prop_map(|session_id| RecordBody::SessionStart { session_id }),
        session().prop_map(|session_id| RecordBody::SessionStop { session_id }),
        session().prop_map(|session_id| RecordBody::Heartbeat { session_id }),
        (nullable(30), kept(30), session(), event_value(), event_custom()).prop_map(
            |(category, name, session_id, value, custom)| RecordBody::Event {
                category,
                name,
                session_id,
                value,
                custom
            }
        ),
        (kept(30), kept(30), nullable(60), proptest::option::of("[a-z]([a-z\n\t ]{0,60}[a-z])?"), session()).prop_map(
            |(class_name, method_name, message, stack_trace, session_id)| {
                RecordBody::Exception { class_name, method_name, message, stack_trace, session_id }
            }
        ),
        properties(),
        (
            proptest::option::of(proptest::sample::select(LicenseType::ALL.to_vec())),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            session(),
        )
            .prop_map(|(license_type, expired, activated, blocked, allowed, session_id)| {
                RecordBody::LicenseData { license_type, expired, activated, blocked, allowed, session_id }
            }),
        Just(RecordBody::OptOut),
    ]
    .boxed()
}

fn batch() -> BoxedStrategy<SyncBatch> {
    (
        any::<u64>(),
        proptest::option::of("[0-9A-Za-z._-]{1,64}"),
        "[A-Za-z0-9é漢._-]{1,16}",
        ("[a-z0-9._-]{1,32}", kept(32)),
        any::<u128>(),
        1..=MAX_SAFE_INTEGER,
        proptest::collection::vec((0..=MAX_SAFE_INTEGER, body()), 0..12),
    )
        .prop_map(|(client, machine_id, app_name, (sdk_name, sdk_version), batch, seq, records)| SyncBatch {
            client_id: ClientId::from_u64(client),
            machine_id,
            app_name,
            sdk: SdkInfo { name: sdk_name, version: sdk_version },
            batch_id: Uuid::from_u128(batch),
            seq,
            records: records
                .into_iter()
                .zip(0u32..)
                .map(|((t, body), index)| Record { t: i64::try_from(t).unwrap(), index, body })
                .collect(),
            unknown_kinds: 0,
        })
        .boxed()
}

proptest! {
    #[test]
    fn any_valid_request_parses_back_to_the_same_content(batch in batch()) {
        let body = serde_json::to_vec(&SyncRequest::from(&batch)).unwrap();
        prop_assert_eq!(parse_sync(&body), Ok(batch));
    }
}
