//! The `sync` endpoint: parsing and validating one batch (§5, §6).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use usagi_types::ClientId;
use uuid::Uuid;

use crate::error::SyntaxError;
use crate::json::parse_object;
use crate::limits::{
    CUSTOM_PROPERTY_COUNT, CUSTOM_PROPERTY_MAX, EVENT_CUSTOM_KEY_MAX, EVENT_CUSTOM_PAIRS_MAX, EVENT_CUSTOM_VALUE_MAX,
    EVENT_TEXT_MAX, MAX_RECORDS, MAX_SAFE_INTEGER, MESSAGE_MAX, NAME_MAX, PROPERTY_MAX, SDK_FIELD_MAX,
    STACK_TRACE_MAX_BYTES,
};
use crate::record::{
    CustomGroup, CustomPairs, EventValue, GpuInfo, JavaInfo, LicenseType, MachineGroup, OsInfo, ProductGroup,
    PropertiesRecord, Record, RecordBody,
};
use crate::validate::{chars_between, Obj};
use crate::wire::SdkInfo;

/// A validated `sync` batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncBatch {
    /// The installation.
    pub client_id: ClientId,
    /// The SDK's salted machine id, if it sent one.
    pub machine_id: Option<String>,
    /// Application name.
    pub app_name: String,
    /// SDK name and version.
    pub sdk: SdkInfo,
    /// Unique per batch; the idempotency key.
    pub batch_id: Uuid,
    /// Advisory sequence number, 1 … 2^53−1.
    pub seq: u64,
    /// Records of known kinds, in the order sent.
    pub records: Vec<Record>,
    /// Records of kinds this server does not know; skipped and reported as `ignored`.
    pub unknown_kinds: u32,
}

/// Parses and validates a decompressed `sync` body; any violation rejects the whole batch.
pub fn parse_sync(json: &[u8]) -> Result<SyncBatch, SyntaxError> {
    let map = parse_object(json)?;
    let body = Obj::root(&map);
    let client_id = body.client_id("clientId")?;
    let machine_id = body.machine_id("machineId")?;
    let app_name = body.app_name("appName")?;
    let sdk = parse_sdk(&body)?;
    let batch_id = parse_batch_id(&body)?;
    let seq = body.required_int("seq", 1, MAX_SAFE_INTEGER)?;
    let raw_records = match body.get("records") {
        None => return Err(body.err("records", "is required")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(body.err("records", "must be an array")),
    };
    if raw_records.len() > MAX_RECORDS {
        return Err(body.err("records", format!("must hold at most {MAX_RECORDS} records")));
    }
    let mut records = Vec::with_capacity(raw_records.len());
    let mut unknown_kinds = 0u32;
    // At most MAX_RECORDS items, so every index fits in a u32.
    for (index, raw) in (0u32..).zip(raw_records) {
        match parse_record(index, raw)? {
            Some(record) => records.push(record),
            None => unknown_kinds += 1,
        }
    }
    Ok(SyncBatch { client_id, machine_id, app_name, sdk, batch_id, seq, records, unknown_kinds })
}

fn parse_sdk(body: &Obj<'_>) -> Result<SdkInfo, SyntaxError> {
    let sdk = body.required_object("sdk")?;
    let name = sdk.required_str("name")?;
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > SDK_FIELD_MAX || !name.chars().all(allowed) {
        return Err(sdk.err("name", format!("must be 1-{SDK_FIELD_MAX} characters from [a-z0-9._-]")));
    }
    let version = sdk.bounded_str("version", 1, SDK_FIELD_MAX)?;
    Ok(SdkInfo { name: name.to_owned(), version })
}

/// Only the canonical 8-4-4-4-12 form: `Uuid::parse_str` also takes braces, URNs and bare hex.
fn parse_batch_id(body: &Obj<'_>) -> Result<Uuid, SyntaxError> {
    let s = body.required_str("batchId")?;
    let hyphens_at = |i: usize| matches!(i, 8 | 13 | 18 | 23);
    let canonical = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| if hyphens_at(i) { b == b'-' } else { b.is_ascii_hexdigit() });
    canonical.then(|| Uuid::parse_str(s).ok()).flatten().ok_or_else(|| body.err("batchId", "must be a UUID"))
}

/// One record; `None` for a kind this server does not know.
fn parse_record(index: u32, raw: &Value) -> Result<Option<Record>, SyntaxError> {
    let prefix = format!("records[{index}]");
    let Value::Object(map) = raw else {
        return Err(SyntaxError::new(format!("{prefix} must be an object")));
    };
    let r = Obj::nested(map, prefix);
    let kind = r.required_str("kind")?;
    let parse_body: fn(&Obj<'_>) -> Result<RecordBody, SyntaxError> = match kind {
        "sessionStart" => parse_session_start,
        "sessionStop" => parse_session_stop,
        "heartbeat" => parse_heartbeat,
        "event" => parse_event,
        "exception" => parse_exception,
        "properties" => parse_properties,
        "licenseData" => parse_license_data,
        "optOut" => parse_opt_out,
        // A newer SDK's kind: its shape is unknown, so nothing else of it is checked.
        _ => return Ok(None),
    };
    let t = r.time_ms("t")?;
    let body = parse_body(&r)?;
    Ok(Some(Record { t, index, body }))
}

fn parse_session_start(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    Ok(RecordBody::SessionStart { session_id: r.session_id("sessionId")? })
}

fn parse_session_stop(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    Ok(RecordBody::SessionStop { session_id: r.session_id("sessionId")? })
}

fn parse_heartbeat(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    Ok(RecordBody::Heartbeat { session_id: r.session_id("sessionId")? })
}

fn parse_opt_out(_: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    Ok(RecordBody::OptOut)
}

fn parse_event(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    let category = r.text("category", NAME_MAX)?;
    let name = r.bounded_str("name", 1, NAME_MAX)?;
    let session_id = r.session_id("sessionId")?;
    let value = match r.get("value") {
        None => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Some(EventValue::Number(x)),
            _ => return Err(r.err("value", "must be a finite number")),
        },
        Some(Value::String(_)) => r.text("value", EVENT_TEXT_MAX)?.map(EventValue::Text),
        Some(_) => return Err(r.err("value", "must be a number, a string or null")),
    };
    let custom = match r.object("custom")? {
        None => None,
        Some(custom) => Some(parse_event_custom(&custom)?),
    };
    Ok(RecordBody::Event { category, name, session_id, value, custom })
}

fn parse_event_custom(custom: &Obj<'_>) -> Result<CustomPairs, SyntaxError> {
    let members = custom.members();
    if members.is_empty() || members.len() > EVENT_CUSTOM_PAIRS_MAX {
        return Err(SyntaxError::new(format!("{} must hold 1-{EVENT_CUSTOM_PAIRS_MAX} pairs", custom.name())));
    }
    let mut pairs = Vec::with_capacity(members.len());
    for key in members.keys() {
        // Keys are names, not values: they are neither trimmed nor normalised.
        if !chars_between(key, 1, EVENT_CUSTOM_KEY_MAX) || key.chars().any(char::is_whitespace) {
            return Err(SyntaxError::new(format!(
                "{} key {key:?} must be 1-{EVENT_CUSTOM_KEY_MAX} characters without whitespace",
                custom.name()
            )));
        }
        pairs.push((key.clone(), custom.text(key, EVENT_CUSTOM_VALUE_MAX)?));
    }
    Ok(pairs)
}

fn parse_exception(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    let class_name = r.bounded_str("className", 1, NAME_MAX)?;
    let method_name = r.bounded_str("methodName", 1, NAME_MAX)?;
    let message = r.text("message", MESSAGE_MAX)?;
    let stack_trace = r.nullable_str("stackTrace")?;
    if stack_trace.is_some_and(|s| s.len() > STACK_TRACE_MAX_BYTES) {
        return Err(r.err("stackTrace", format!("exceeds {STACK_TRACE_MAX_BYTES} bytes")));
    }
    let session_id = r.session_id("sessionId")?;
    Ok(RecordBody::Exception {
        class_name,
        method_name,
        message,
        stack_trace: stack_trace.map(str::to_owned),
        session_id,
    })
}

fn parse_properties(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    // A null group is the same as an absent one (§6.1), so it leaves the stored group unchanged.
    let product = r.object("product")?.map(|g| parse_product(&g)).transpose()?;
    let machine = r.object("machine")?.map(|g| parse_machine(&g)).transpose()?;
    let custom = r.object("custom")?.map(|g| parse_custom_properties(&g)).transpose()?;
    Ok(RecordBody::Properties(Box::new(PropertiesRecord { product, machine, custom })))
}

fn parse_product(g: &Obj<'_>) -> Result<ProductGroup, SyntaxError> {
    Ok(ProductGroup {
        edition: g.text("edition", PROPERTY_MAX)?,
        language: g.text("language", PROPERTY_MAX)?,
        version: g.text("version", PROPERTY_MAX)?,
        build: g.text("build", PROPERTY_MAX)?,
    })
}

fn parse_machine(g: &Obj<'_>) -> Result<MachineGroup, SyntaxError> {
    const RAM_MAX: u64 = 1 << 31;
    let os = match g.object("os")? {
        None => OsInfo::default(),
        Some(os) => OsInfo {
            platform: os.text("platform", PROPERTY_MAX)?,
            version: os.text("version", PROPERTY_MAX)?,
            edition: os.text("edition", PROPERTY_MAX)?,
        },
    };
    let os_word_length = match g.get("osWordLength") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(32) => Some(32),
            Some(64) => Some(64),
            _ => return Err(g.err("osWordLength", "must be 32 or 64")),
        },
    };
    let gpu = match g.object("gpu")? {
        None => GpuInfo::default(),
        Some(gpu) => GpuInfo { vendor: gpu.text("vendor", PROPERTY_MAX)?, model: gpu.text("model", PROPERTY_MAX)? },
    };
    let java = match g.object("java")? {
        None => JavaInfo::default(),
        Some(j) => JavaInfo {
            version: j.text("version", PROPERTY_MAX)?,
            vendor: j.text("vendor", PROPERTY_MAX)?,
            runtime: j.text("runtime", PROPERTY_MAX)?,
            graphics: j.text("graphics", PROPERTY_MAX)?,
            vm_version: j.text("vmVersion", PROPERTY_MAX)?,
            vm_name: j.text("vmName", PROPERTY_MAX)?,
            vm_ram: narrow(j.int("vmRam", 0, RAM_MAX)?),
        },
    };
    Ok(MachineGroup {
        os,
        os_language: g.text("osLanguage", PROPERTY_MAX)?,
        os_word_length,
        cpu_type: g.text("cpuType", PROPERTY_MAX)?,
        cpu_cores: narrow(g.int("cpuCores", 1, 4096)?),
        ram: narrow(g.int("ram", 0, RAM_MAX)?),
        display_count: narrow(g.int("displayCount", 0, 64)?),
        resolution_width: narrow(g.int("resolutionWidth", 0, 65_535)?),
        resolution_height: narrow(g.int("resolutionHeight", 0, 65_535)?),
        screen_ppi: narrow(g.int("screenPpi", 0, 10_000)?),
        touch_screen: g.bool("touchScreen")?,
        form_factor: g.text("formFactor", PROPERTY_MAX)?,
        gpu,
        vm: g.text("vm", PROPERTY_MAX)?,
        dot_net_version: g.text("dotNetVersion", PROPERTY_MAX)?,
        java,
    })
}

/// Each range of §6.3 fits its field's integer type, so the conversion never drops a value.
fn narrow<T: TryFrom<u64>>(v: Option<u64>) -> Option<T> {
    v.and_then(|n| T::try_from(n).ok())
}

fn parse_custom_properties(g: &Obj<'_>) -> Result<CustomGroup, SyntaxError> {
    let mut group = CustomGroup::default();
    for key in g.members().keys() {
        let Some(slot) = CustomGroup::slot_of_key(key) else {
            return Err(SyntaxError::new(format!(
                "{} key {key:?} must be one of \"1\" to \"{CUSTOM_PROPERTY_COUNT}\"",
                g.name()
            )));
        };
        group.0[slot] = g.text(key, CUSTOM_PROPERTY_MAX)?;
    }
    Ok(group)
}

fn parse_license_data(r: &Obj<'_>) -> Result<RecordBody, SyntaxError> {
    let license_type = match r.nullable_str("licenseType")? {
        None => None,
        Some(s) => Some(LicenseType::parse(s).ok_or_else(|| {
            r.err(
                "licenseType",
                "must be one of: evaluation, purchased, freeware, unknown, nfr, custom1, custom2, custom3",
            )
        })?),
    };
    Ok(RecordBody::LicenseData {
        license_type,
        expired: r.bool("expired")?,
        activated: r.bool("activated")?,
        blocked: r.bool("blocked")?,
        allowed: r.bool("allowed")?,
        session_id: r.session_id("sessionId")?,
    })
}

#[cfg(test)]
mod tests;
