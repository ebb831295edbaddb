//! The `sync` body as the simulator serialises it (callhome-protocol.md §5–§6).
//!
//! These types exist only to produce JSON; the server-side parser lives in `usagi-protocol`
//! and the tests check every generated body against it.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

/// SDK identity reported in every envelope.
pub(crate) const SDK_NAME: &str = "usagi-sim";
/// SDK version reported in every envelope.
pub(crate) const SDK_VERSION: &str = "1.0.0";
/// The app of the product suite that the simulated installations run.
pub(crate) const APP_NAME: &str = "DemoApp";

/// A batch envelope.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope<'a> {
    pub client_id: String,
    pub machine_id: &'a str,
    pub app_name: &'static str,
    pub sdk: Sdk,
    pub batch_id: Uuid,
    pub seq: u64,
    pub records: &'a [Record<'a>],
}

/// The `sdk` member of the envelope.
#[derive(Serialize)]
pub(crate) struct Sdk {
    pub name: &'static str,
    pub version: &'static str,
}

/// One record. Optional members that are `None` are left out (which the protocol reads as
/// `null`), except inside `properties` groups, which the SDK always sends complete.
#[derive(Serialize, Clone)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub(crate) enum Record<'a> {
    SessionStart {
        t: i64,
    },
    SessionStop {
        t: i64,
    },
    Heartbeat {
        t: i64,
    },
    Event {
        t: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        category: Option<&'static str>,
        name: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<EventValue>,
        #[serde(skip_serializing_if = "Option::is_none")]
        custom: Option<BTreeMap<&'static str, String>>,
    },
    Exception {
        t: i64,
        class_name: &'static str,
        method_name: &'static str,
        message: Option<&'static str>,
        stack_trace: Option<&'static str>,
    },
    Properties {
        t: i64,
        product: ProductGroup,
        machine: &'a MachineGroup,
        custom: CustomGroup,
    },
    LicenseData {
        t: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        license_type: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expired: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        activated: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        blocked: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        allowed: Option<bool>,
    },
    OptOut {
        t: i64,
    },
}

impl Record<'_> {
    /// The record's client timestamp (ms).
    pub(crate) fn t(&self) -> i64 {
        match self {
            Record::SessionStart { t }
            | Record::SessionStop { t }
            | Record::Heartbeat { t }
            | Record::Event { t, .. }
            | Record::Exception { t, .. }
            | Record::Properties { t, .. }
            | Record::LicenseData { t, .. }
            | Record::OptOut { t } => *t,
        }
    }

    /// The record's `kind` as it appears on the wire.
    pub(crate) fn kind(&self) -> RecordKind {
        match self {
            Record::SessionStart { .. } => RecordKind::SessionStart,
            Record::SessionStop { .. } => RecordKind::SessionStop,
            Record::Heartbeat { .. } => RecordKind::Heartbeat,
            Record::Event { .. } => RecordKind::Event,
            Record::Exception { .. } => RecordKind::Exception,
            Record::Properties { .. } => RecordKind::Properties,
            Record::LicenseData { .. } => RecordKind::LicenseData,
            Record::OptOut { .. } => RecordKind::OptOut,
        }
    }
}

/// The record kinds of callhome-protocol.md §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// `sessionStart`.
    SessionStart,
    /// `sessionStop`.
    SessionStop,
    /// `heartbeat`.
    Heartbeat,
    /// `event`.
    Event,
    /// `exception`.
    Exception,
    /// `properties`.
    Properties,
    /// `licenseData`.
    LicenseData,
    /// `optOut`.
    OptOut,
}

impl RecordKind {
    /// Every kind, in the order summaries list them.
    pub const ALL: [RecordKind; 8] = [
        RecordKind::SessionStart,
        RecordKind::SessionStop,
        RecordKind::Heartbeat,
        RecordKind::Event,
        RecordKind::Exception,
        RecordKind::Properties,
        RecordKind::LicenseData,
        RecordKind::OptOut,
    ];

    /// The wire name (`sessionStart`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::SessionStart => "sessionStart",
            RecordKind::SessionStop => "sessionStop",
            RecordKind::Heartbeat => "heartbeat",
            RecordKind::Event => "event",
            RecordKind::Exception => "exception",
            RecordKind::Properties => "properties",
            RecordKind::LicenseData => "licenseData",
            RecordKind::OptOut => "optOut",
        }
    }
}

/// An event `value`: a number (summed as a custom value) or the text variant.
#[derive(Serialize, Clone)]
#[serde(untagged)]
pub(crate) enum EventValue {
    Int(i64),
    Float(f64),
    Text(&'static str),
}

/// The `product` group.
#[derive(Serialize, Clone)]
pub(crate) struct ProductGroup {
    pub edition: &'static str,
    pub language: &'static str,
    pub version: &'static str,
    pub build: &'static str,
}

/// The `machine` group, fixed per machine (installations sharing a machine share it).
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MachineGroup {
    pub os: OsGroup,
    pub os_language: &'static str,
    pub os_word_length: u32,
    pub cpu_type: &'static str,
    pub cpu_cores: u32,
    pub ram: u32,
    pub display_count: u32,
    pub resolution_width: Option<u32>,
    pub resolution_height: Option<u32>,
    pub screen_ppi: Option<u32>,
    pub touch_screen: bool,
    pub form_factor: &'static str,
    pub gpu: GpuGroup,
    pub vm: Option<&'static str>,
    pub dot_net_version: Option<&'static str>,
    pub java: Option<JavaGroup>,
}

/// `machine.os`.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub(crate) struct OsGroup {
    pub platform: &'static str,
    pub version: &'static str,
    pub edition: &'static str,
}

/// `machine.gpu`.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub(crate) struct GpuGroup {
    pub vendor: &'static str,
    pub model: &'static str,
}

/// `machine.java`.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JavaGroup {
    pub version: &'static str,
    pub vendor: &'static str,
    pub runtime: &'static str,
    pub graphics: &'static str,
    pub vm_version: &'static str,
    pub vm_name: &'static str,
    pub vm_ram: u32,
}

/// The `custom` group: "1" = download source, "2" = plan.
#[derive(Serialize, Clone)]
pub(crate) struct CustomGroup {
    #[serde(rename = "1")]
    pub download_source: &'static str,
    #[serde(rename = "2")]
    pub plan: &'static str,
}
