//! Export files (reporting-api §13.2–§13.3, §14, §16): listings, one-time URLs, zip contents
//! parsed back and compared with what was ingested, retention and erasures.

use std::io::{Cursor, Read};

use serde_json::{json, Value};
use usagi_export::{Family, FileName, Kind};

use crate::helpers::*;

const A: &str = "00000000000000AA";
const B: &str = "00000000000000BB";

/// `clientProperties.csv` columns, written out from reporting-api §16.4.
const CLIENT_PROPERTIES_COLUMNS: &str = "snapshotDate,clientId,machineId,appName,sdkName,sdkVersion,dateInstalled,\
dateLastSeen,prodVersion,prodEdition,prodBuild,prodLanguage,licenseType,licenseStatus.activated,licenseStatus.expired,\
licenseStatus.blocked,licenseStatus.allowed,os.platform,os.version,os.edition,osLanguage,osWordLength,cpuType,cpuCores,\
ram,displayCount,resolutionWidth,resolutionHeight,screenPpi,touchScreen,formFactor,gpu.vendor,gpu.model,vm,\
dotNetVersion,javaVersion,javaVendor,javaRuntime,javaGraphics,javaVmVersion,javaVmName,javaVmRam,geography.continent,\
geography.country,geography.usState,C01,C02,C03,C04,C05,C06,C07,C08,C09,C10,C11,C12,C13,C14,C15,C16,C17,C18,C19,C20,\
optOut.current,backOff.current,lifetimeSessionCount,lifetimeRuntimeMinutes";

/// A tricky text: comma, quote, CR LF and non-ASCII.
const TRICKY: &str = "disk \"C:\", full\r\nretry → later";

/// Three receive days of data: A on 03-18, B on 03-19, both on 03-20 (today).
async fn fleet(app: &TestApp) {
    app.sync_at(
        at(2024, 3, 18, 10, 0, 0),
        A,
        vec![
            json!({"kind": "properties", "t": ms(2024, 3, 18, 9, 0),
                   "product": {"edition": "Pro", "version": "1.0", "language": "en", "build": "100"},
                   "custom": {"5": "blue"}}),
            json!({"kind": "sessionStart", "t": ms(2024, 3, 18, 9, 0)}),
            json!({"kind": "event", "t": ms(2024, 3, 18, 9, 10), "category": "File", "name": "Open", "value": 2.5}),
            json!({"kind": "event", "t": ms(2024, 3, 18, 9, 11), "name": "Share", "custom": {"to": "mail", "n": "2"}}),
            json!({"kind": "exception", "t": ms(2024, 3, 18, 9, 12), "className": "Io", "methodName": "read",
                   "message": "gone"}),
            json!({"kind": "sessionStop", "t": ms(2024, 3, 18, 9, 30)}),
        ],
    )
    .await;
    // Recorded offline on 03-17, received on 03-19: it belongs to the 03-19 file.
    app.sync_at(
        at(2024, 3, 19, 8, 0, 0),
        B,
        vec![
            json!({"kind": "properties", "t": ms(2024, 3, 17, 9, 0), "product": {"edition": "Home", "version": "2.0"}}),
            json!({"kind": "event", "t": ms(2024, 3, 17, 9, 5), "category": "File", "name": "Save", "value": "x,y"}),
            json!({"kind": "exception", "t": ms(2024, 3, 17, 9, 6), "className": "Db", "methodName": "commit",
                   "message": TRICKY, "stackTrace": "at Db.commit\nat Main"}),
        ],
    )
    .await;
    for (c, minute) in [(A, 0), (B, 5)] {
        app.sync_at(
            at(2024, 3, 20, 9, minute, 0),
            c,
            vec![json!({"kind": "event", "t": ms(2024, 3, 20, 9, minute), "name": "Today", "custom": {"who": c}})],
        )
        .await;
    }
    app.settle().await;
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let resp = app.client.get(format!("{}{path}", app.base)).headers(TestApp::origin_headers()).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn url_for(app: &TestApp, endpoint: &str, file: &str) -> (u16, Value) {
    let resp = app.post_json(&format!("{endpoint}/{PRODUCT}"), &json!({ "fileName": file })).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Downloads through a URL with a plain client (no cookies, no Origin): status and bytes.
async fn fetch(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap();
            (f.name().to_string(), out)
        })
        .collect()
}

fn entry<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} in the zip")).1
}

/// A CSV parsed back: header and rows.
fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().from_reader(bytes);
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}"));
    &row[i]
}

async fn download_listed(app: &TestApp, endpoint: &str, file: &str) -> Vec<(String, Vec<u8>)> {
    let (status, body) = url_for(app, endpoint, file).await;
    assert_eq!(status, 200, "{file}: {body}");
    let url = body["downloadUrl"].as_str().unwrap().to_string();
    assert!(url.contains("/v3/download/"), "{url}");
    let (status, headers, bytes) = fetch(&url.replace("http://127.0.0.1:8080", &app.base)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["content-disposition"], format!("attachment; filename=\"{file}\"").as_str());
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    unzip(&bytes)
}

#[tokio::test]
async fn raw_data_files_hold_what_was_ingested() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    app.login().await;
    let now = at(2024, 3, 20, 12, 0, 0);
    app.set_now(now);
    let summary = app.server().exports.run_due(now, true).await.unwrap();
    assert!(
        summary.failed.is_empty() && summary.built.contains(&"2376158762_2024-03-18.zip".to_string()),
        "{summary:?}"
    );

    let (status, list) = get(&app, &format!("/v3/rawEvents/download/listFiles/{PRODUCT}")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        list["fileList"].as_array().unwrap().iter().map(|f| f["fileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["2376158762_2024-03-19.zip", "2376158762_2024-03-18.zip"], "finalized days, newest first");
    assert_eq!(list["fileList"][0]["fileDate"], "2024-03-19");
    assert!(list["fileList"][0]["compressedSizeKB"].as_f64().unwrap() > 0.0);

    // 03-18: A's session, two events, one exception, one installation.
    let files = download_listed(&app, "/v3/rawEvents/download/getDownloadUrl", "2376158762_2024-03-18.zip").await;
    let manifest: Value = serde_json::from_slice(entry(&files, "manifest.json")).unwrap();
    assert_eq!(manifest["formatVersion"], 1);
    assert_eq!(manifest["productId"], PRODUCT);
    assert_eq!(manifest["fileDate"], "2024-03-18");
    assert_eq!(manifest["generatedAt"], "2024-03-20T12:00:00.000Z");
    let rows = |n: &str| manifest["files"][n]["rows"].as_u64().unwrap();
    assert_eq!(
        (rows("sessions.csv"), rows("events.csv"), rows("exceptions.csv"), rows("clientProperties.csv")),
        (2, 2, 1, 1)
    );

    let (h, sessions) = parse_csv(entry(&files, "sessions.csv"));
    assert_eq!(h.join(","), "receivedAt,timestamp,clientId,machineId,appName,kind,sessionId,batchId");
    let mut kinds: Vec<(&str, &str)> =
        sessions.iter().map(|r| (column(&h, r, "timestamp"), column(&h, r, "kind"))).collect();
    kinds.sort();
    assert_eq!(kinds, [("2024-03-18T09:00:00.000Z", "sessionStart"), ("2024-03-18T09:30:00.000Z", "sessionStop")]);
    for r in &sessions {
        assert_eq!(column(&h, r, "receivedAt"), "2024-03-18T10:00:00.000Z");
        assert_eq!(column(&h, r, "clientId"), A);
        assert_eq!(column(&h, r, "appName"), "DemoApp");
        assert_eq!(column(&h, r, "machineId"), "", "NULL is an empty field");
        assert_eq!(column(&h, r, "sessionId"), "", "implicit session");
        assert_eq!(column(&h, r, "batchId").len(), 36);
    }

    let (h, events) = parse_csv(entry(&files, "events.csv"));
    assert_eq!(
        h.join(","),
        "receivedAt,timestamp,clientId,machineId,appName,sessionId,category,name,numericValue,textValue,customData,batchId"
    );
    let open = events.iter().find(|r| column(&h, r, "name") == "Open").expect("Open");
    assert_eq!(column(&h, open, "category"), "File");
    assert_eq!(column(&h, open, "numericValue"), "2.5");
    assert_eq!(column(&h, open, "customData"), "");
    let share = events.iter().find(|r| column(&h, r, "name") == "Share").expect("Share");
    let custom: Value = serde_json::from_str(column(&h, share, "customData")).unwrap();
    assert_eq!(custom, json!({"to": "mail", "n": "2"}));
    assert_eq!(column(&h, share, "batchId"), column(&h, open, "batchId"), "one batch");

    let (h, exceptions) = parse_csv(entry(&files, "exceptions.csv"));
    assert_eq!(
        h.join(","),
        "receivedAt,timestamp,clientId,machineId,appName,sessionId,className,methodName,message,stackTrace,batchId"
    );
    assert_eq!([column(&h, &exceptions[0], "className"), column(&h, &exceptions[0], "message")], ["Io", "gone"]);

    let (h, props) = parse_csv(entry(&files, "clientProperties.csv"));
    assert_eq!(h.join(","), CLIENT_PROPERTIES_COLUMNS);
    let a = &props[0];
    for (col, want) in [
        ("snapshotDate", "2024-03-18"),
        ("clientId", A),
        ("appName", "DemoApp"),
        ("sdkName", "ui-sdk-rust"),
        ("sdkVersion", "1.0.0"),
        ("dateInstalled", "2024-03-18"),
        ("prodVersion", "1.0"),
        ("prodEdition", "Pro"),
        ("licenseType", "unknown"),
        ("licenseStatus.activated", "false"),
        ("C05", "blue"),
        ("C06", ""),
        ("optOut.current", "false"),
        ("backOff.current", "false"),
        ("lifetimeRuntimeMinutes", "30"),
    ] {
        assert_eq!(column(&h, a, col), want, "{col}");
    }

    // 03-19: B's offline records, received that day, with RFC 4180 quoting.
    let files = download_listed(&app, "/v3/rawEvents/download/getDownloadUrl", "2376158762_2024-03-19.zip").await;
    let raw = entry(&files, "exceptions.csv");
    assert!(raw.windows(2).any(|w| w == b"\r\n"), "CRLF line ends");
    assert!(!raw.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let (h, exceptions) = parse_csv(raw);
    assert_eq!(exceptions.len(), 1);
    assert_eq!(column(&h, &exceptions[0], "message"), TRICKY);
    assert_eq!(column(&h, &exceptions[0], "stackTrace"), "at Db.commit\nat Main");
    assert_eq!(column(&h, &exceptions[0], "timestamp"), "2024-03-17T09:06:00.000Z");
    assert_eq!(column(&h, &exceptions[0], "receivedAt"), "2024-03-19T08:00:00.000Z");
    let (h, events) = parse_csv(entry(&files, "events.csv"));
    assert_eq!(column(&h, &events[0], "textValue"), "x,y");
    assert_eq!(column(&h, &events[0], "numericValue"), "");
    let (h, props) = parse_csv(entry(&files, "clientProperties.csv"));
    assert_eq!(props.len(), 1, "only B sent anything on 03-19");
    assert_eq!(column(&h, &props[0], "clientId"), B);
    assert_eq!(column(&h, &props[0], "prodVersion"), "2.0");
    assert_eq!(column(&h, &props[0], "dateInstalled"), "2024-03-17", "earliest evidence, not the receive day");
    let erasures: Value = serde_json::from_slice(entry(&files, "erasures.json")).unwrap();
    assert_eq!(erasures, json!({"erasures": []}));
}

#[tokio::test]
async fn custom_event_and_exception_files() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    app.login().await;
    let now = at(2024, 3, 20, 12, 0, 0);
    app.set_now(now);
    app.server().exports.run_due(now, true).await.unwrap();

    let (status, list) = get(&app, &format!("/v3/customEventTracking/listFiles/{PRODUCT}")).await;
    assert_eq!(status, 200);
    let open = &list["openDailyFiles"][0];
    assert_eq!(open["fileName"], "2376158762_cust_2024-03-20.zip");
    assert_eq!(open["fileDate"], "2024-03-20");
    assert_eq!(open["isAvailable"], true);
    assert!(open.get("compressedSizeKB").is_none(), "open files have no compressed size");
    let daily: Vec<&str> =
        list["dailyFiles"].as_array().unwrap().iter().map(|f| f["fileName"].as_str().unwrap()).collect();
    assert_eq!(daily, ["2376158762_cust_2024-03-19.zip", "2376158762_cust_2024-03-18.zip"]);
    let monthly = &list["monthlyFiles"][0];
    assert_eq!(monthly["fileName"], "2376158762_cust_2024-03-01_to_2024-03-19.zip");
    assert_eq!(
        (monthly["fileStartDate"].as_str(), monthly["fileStopDate"].as_str()),
        (Some("2024-03-01"), Some("2024-03-19"))
    );

    // The 03-18 file: A's one custom event, with A's properties of that day.
    let files = download_listed(&app, "/v3/customEventTracking/getDownloadUrl", "2376158762_cust_2024-03-18.zip").await;
    assert_eq!(files.len(), 1, "one CSV per zip");
    assert_eq!(files[0].0, "2376158762_cust_2024-03-18.csv");
    let (h, rows) = parse_csv(&files[0].1);
    assert_eq!(
        h.join(","),
        "timestamp,clientId,machineId,appName,sessionId,prodEdition,prodVersion,prodBuild,prodLanguage,licenseType,\
licenseStatus.allowed,licenseStatus.blocked,licenseStatus.activated,licenseStatus.expired,os.version,osWordLength,\
osLanguage,cpuType,cpuCores,ram,displayCount,resolution,dotNetVersion,gpu.model,formFactor,vm,javaVersion,\
geography.country,eventCategory,eventName,customData"
    );
    assert_eq!(rows.len(), 1, "the Open event has no custom map");
    for (col, want) in [
        ("timestamp", "2024-03-18T09:11:00.000Z"),
        ("clientId", A),
        ("appName", "DemoApp"),
        ("prodVersion", "1.0"),
        ("eventCategory", ""),
        ("eventName", "Share"),
    ] {
        assert_eq!(column(&h, &rows[0], col), want, "{col}");
    }
    let custom: Value = serde_json::from_str(column(&h, &rows[0], "customData")).unwrap();
    assert_eq!(custom, json!({"to": "mail", "n": "2"}));

    // The monthly file holds both finalized days; today's open file holds today's two.
    let files =
        download_listed(&app, "/v3/customEventTracking/getDownloadUrl", "2376158762_cust_2024-03-01_to_2024-03-19.zip")
            .await;
    assert_eq!(parse_csv(&files[0].1).1.len(), 1, "B's 03-19 event has no custom map");
    let files = download_listed(&app, "/v3/customEventTracking/getDownloadUrl", "2376158762_cust_2024-03-20.zip").await;
    assert_eq!(parse_csv(&files[0].1).1.len(), 2);

    // Exceptions: the same trio under /v3/exceptionTracking.
    let (_, list) = get(&app, &format!("/v3/exceptionTracking/listFiles/{PRODUCT}")).await;
    assert_eq!(list["dailyFiles"][0]["fileName"], "2376158762_exc_2024-03-19.zip");
    let files = download_listed(&app, "/v3/exceptionTracking/getDownloadUrl", "2376158762_exc_2024-03-19.zip").await;
    let (h, rows) = parse_csv(&files[0].1);
    assert_eq!(h[h.len() - 4..].join(","), "className,methodName,message,stackTrace");
    assert_eq!(column(&h, &rows[0], "message"), TRICKY);
    assert_eq!(column(&h, &rows[0], "prodVersion"), "2.0");
    assert_eq!(column(&h, &rows[0], "prodEdition"), "Home");

    // A file of another family is not listed here.
    let (status, _) = url_for(&app, "/v3/exceptionTracking/getDownloadUrl", "2376158762_cust_2024-03-18.zip").await;
    assert_eq!(status, 404);

    // While today's file is regenerated it is unavailable: listed so, and its URL refused.
    let name = FileName::parse("2376158762_cust_2024-03-20.zip").unwrap();
    let store = app.server().exports.exporter().store().clone();
    {
        let _mark = store.mark_building(name);
        let (_, list) = get(&app, &format!("/v3/customEventTracking/listFiles/{PRODUCT}")).await;
        assert_eq!(list["openDailyFiles"][0]["isAvailable"], false);
        let (status, body) = url_for(&app, "/v3/customEventTracking/getDownloadUrl", &name.to_string()).await;
        assert_eq!(status, 409, "{body}");
    }
    let (status, _) = url_for(&app, "/v3/customEventTracking/getDownloadUrl", &name.to_string()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn download_urls_are_single_use_and_expire() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    app.login().await;
    let now = at(2024, 3, 20, 12, 0, 0);
    app.set_now(now);
    app.server().exports.run_due(now, true).await.unwrap();
    let endpoint = "/v3/rawEvents/download/getDownloadUrl";
    let file = "2376158762_2024-03-18.zip";

    let (_, body) = url_for(&app, endpoint, file).await;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["downloadUrl"], "the first and only member");
    let url = body["downloadUrl"].as_str().unwrap().replace("http://127.0.0.1:8080", &app.base);
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    assert_eq!(fetch(&url).await.0, 200);
    let (status, _, body) = fetch(&url).await;
    assert_eq!(status, 404, "spent: {}", String::from_utf8_lossy(&body));

    // Expiry after 24 h.
    let (_, body) = url_for(&app, endpoint, file).await;
    let url = body["downloadUrl"].as_str().unwrap().replace("http://127.0.0.1:8080", &app.base);
    app.set_now(now + chrono::Duration::hours(24));
    assert_eq!(fetch(&url).await.0, 404, "expired");
    app.set_now(now);

    // A transfer cut midway does not spend the URL. The file must outgrow socket buffers.
    let big = FileName::parse("2376158762_2024-03-17.zip").unwrap();
    let store = app.server().exports.exporter().store().clone();
    let pending = store.pending(big).unwrap();
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&pending.path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("events.csv", opts).unwrap();
        let mut state = 0x2545F4914F6CDD1Du64;
        let noise: Vec<u8> = (0..48 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::io::Write::write_all(&mut zip, &noise).unwrap();
        zip.finish().unwrap();
    }
    store.publish(pending, Kind::Daily).unwrap();
    let (status, body) = url_for(&app, endpoint, &big.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let url = body["downloadUrl"].as_str().unwrap().replace("http://127.0.0.1:8080", &app.base);
    {
        let mut resp = reqwest::get(&url).await.unwrap();
        assert_eq!(resp.status(), 200);
        let first = resp.chunk().await.unwrap().expect("some bytes");
        assert!(!first.is_empty());
        // Dropped here: the connection closes before the body is complete.
    }
    let mut whole = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, _, bytes) = fetch(&url).await;
        if status == 200 {
            whole = Some(bytes);
            break;
        }
    }
    let whole = whole.expect("the URL still works after a cut transfer");
    assert!(whole.len() > 48 << 20);
    assert_eq!(fetch(&url).await.0, 404, "spent by the complete transfer");
}

#[tokio::test]
async fn file_endpoints_reject_bad_input_and_foreign_products() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    let now = at(2024, 3, 20, 12, 0, 0);
    app.set_now(now);
    app.server().exports.run_due(now, true).await.unwrap();
    let endpoints = [
        "/v3/rawEvents/download/getDownloadUrl",
        "/v3/customEventTracking/getDownloadUrl",
        "/v3/exceptionTracking/getDownloadUrl",
    ];
    let lists =
        ["/v3/rawEvents/download/listFiles", "/v3/customEventTracking/listFiles", "/v3/exceptionTracking/listFiles"];
    // Without credentials: 401.
    for e in endpoints {
        assert_eq!(url_for(&app, e, "x.zip").await.0, 401, "{e}");
    }
    for l in lists {
        assert_eq!(get(&app, &format!("{l}/{PRODUCT}")).await.0, 401, "{l}");
    }
    app.login().await;
    for e in endpoints {
        for (body, status, needle) in [
            (json!({}), 400, "fileName"),
            (json!({"fileName": 7}), 400, "fileName"),
            (json!({"fileName": "2376158762_2024-03-18.zip", "extra": 1}), 400, "extra"),
            (json!({"fileName": "../../catalog.sqlite"}), 404, "listed"),
            (json!({"fileName": "2376158762_2024-02-01.zip"}), 404, "listed"),
            (json!({"fileName": "1111111111_2024-03-18.zip"}), 404, "listed"),
        ] {
            let resp = app.post_json(&format!("{e}/{PRODUCT}"), &body).await;
            assert_eq!(resp.status().as_u16(), status, "{e} {body}");
            let text = resp.text().await.unwrap();
            assert!(text.contains(needle), "{e} {body}: {text}");
        }
        let resp = app
            .client
            .post(format!("{}{e}/{PRODUCT}", app.base))
            .headers(TestApp::origin_headers())
            .header("Content-Type", "application/json")
            .body("{\"fileName\":")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "malformed JSON");
        let resp = app.post_json(&format!("{e}/9999999999"), &json!({"fileName": "x"})).await;
        assert_eq!(resp.status(), 404, "unknown product");
    }
    // Unknown, malformed and path-like tokens are all 404.
    for token in ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", "..%2F..%2Fcatalog.sqlite"] {
        assert_eq!(fetch(&format!("{}/v3/download/{token}", app.base)).await.0, 404, "{token}");
    }

    // A bearer token scoped to another product can neither list nor fetch this product's files.
    let catalog = &app.server().catalog;
    let other = usagi_types::ProductId::parse("1111111111").unwrap();
    catalog.create_product("Other", Some(other), now).await.unwrap();
    let user = catalog.get_user_by_email(EMAIL).await.unwrap().unwrap();
    catalog.grant(user.id, other, usagi_catalog::Role::Viewer, false).await.unwrap();
    let (_, scoped) = catalog.create_token(user.id, vec![other], true, None, now).await.unwrap();
    let plain = reqwest::Client::new();
    for l in lists {
        let r = plain
            .get(format!("{}{l}/{PRODUCT}", app.base))
            .header("Authorization", format!("Bearer {scoped}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{l}");
        let r = plain
            .get(format!("{}{l}/1111111111", app.base))
            .header("Authorization", format!("Bearer {scoped}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{l} of its own product");
    }
    for e in endpoints {
        let r = plain
            .post(format!("{}{e}/1111111111", app.base))
            .header("Authorization", format!("Bearer {scoped}"))
            .json(&json!({"fileName": "2376158762_2024-03-18.zip"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{e}: another product's file is not listed under this one");
    }
}

#[tokio::test]
async fn retention_and_erasure_reach_the_files() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    app.login().await;
    let now = at(2024, 3, 20, 12, 0, 0);
    app.set_now(now);
    let job = app.server().exports.clone();
    job.run_due(now, true).await.unwrap();

    // Erase B (offline-style, through the same calls the admin endpoint makes).
    let pid = usagi_types::ProductId::parse(PRODUCT).unwrap();
    let b = usagi_types::ClientId::parse(B).unwrap();
    let erased_at = at(2024, 3, 20, 13, 0, 0);
    app.set_now(erased_at);
    app.warehouse.erase_installation(pid, b).await.unwrap();
    app.server().catalog.record_erasure(pid, b, erased_at).await.unwrap();
    let redone = job.after_erasure(pid, erased_at).await.unwrap();
    assert!(redone.built.contains(&"2376158762_cust_2024-03-20.zip".to_string()), "{redone:?}");
    assert!(redone.built.contains(&"2376158762_exc_2024-03-01_to_2024-03-19.zip".to_string()), "{redone:?}");
    // Not-yet-final files no longer mention B.
    for file in ["2376158762_cust_2024-03-20.zip", "2376158762_exc_2024-03-01_to_2024-03-19.zip"] {
        let endpoint = if file.contains("_cust_") {
            "/v3/customEventTracking/getDownloadUrl"
        } else {
            "/v3/exceptionTracking/getDownloadUrl"
        };
        let files = download_listed(&app, endpoint, file).await;
        let text = String::from_utf8(files[0].1.clone()).unwrap();
        assert!(!text.contains(B), "{file} still mentions B:\n{text}");
    }
    // The finalized 03-19 file keeps B; the 03-20 raw file, finalized after midnight, lists the erasure.
    let next = at(2024, 3, 21, 1, 0, 0);
    app.set_now(next);
    // A fresh browser session on the next day (yesterday's CSRF cookie has expired).
    let ops = TestApp::sibling(&app);
    ops.login().await;
    let summary = job.run_due(next, true).await.unwrap();
    assert!(summary.built.contains(&"2376158762_2024-03-20.zip".to_string()), "{summary:?}");
    assert!(summary.deleted.contains(&"2376158762_cust_2024-03-20.zip".to_string()), "open file replaced: {summary:?}");
    let files = download_listed(&ops, "/v3/rawEvents/download/getDownloadUrl", "2376158762_2024-03-20.zip").await;
    let erasures: Value = serde_json::from_slice(entry(&files, "erasures.json")).unwrap();
    assert_eq!(erasures, json!({"erasures": [{"clientId": B, "erasedAt": "2024-03-20T13:00:00.000Z"}]}));
    let (h, events) = parse_csv(entry(&files, "events.csv"));
    let who: Vec<&str> = events.iter().map(|r| column(&h, r, "clientId")).collect();
    assert_eq!(who, [A], "B's 03-20 event is gone");

    // Retention: with exportRetentionDays = 2, files ending before 03-19 are deleted.
    let patch = usagi_catalog::ProductSettingsPatch { export_retention_days: Some(2), ..Default::default() };
    app.server().catalog.update_product_settings(pid, patch).await.unwrap();
    let summary = job.run_due(next, true).await.unwrap();
    assert!(summary.deleted.contains(&"2376158762_2024-03-18.zip".to_string()), "{summary:?}");
    let (_, list) = get(&ops, &format!("/v3/rawEvents/download/listFiles/{PRODUCT}")).await;
    let names: Vec<&str> =
        list["fileList"].as_array().unwrap().iter().map(|f| f["fileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["2376158762_2024-03-20.zip", "2376158762_2024-03-19.zip"]);
    let store = app.server().exports.exporter().store();
    assert!(store
        .list(pid, Family::Raw, Kind::Daily)
        .unwrap()
        .iter()
        .all(|f| f.name.to_string() != "2376158762_2024-03-18.zip"));
}
