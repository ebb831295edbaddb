//! Validated records of a `sync` batch (§6). Holding one means every rule of §6.4 held.
//!
//! The serde form of these types is the wire form of a record without `t` (see
//! [`crate::wire::WireRecord`]), so the ingest log and the SDK share one representation.
//! Property groups always write every leaf, null included, because a group replaces the
//! whole stored group.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::limits::CUSTOM_PROPERTY_COUNT;

/// One accepted record of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Client time in ms since the Unix epoch, before any server clamping.
    pub t: i64,
    /// Position in the batch's original `records` array (unknown kinds included).
    pub index: u32,
    /// What happened.
    pub body: RecordBody,
}

/// The kind-specific content of a record (§6.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RecordBody {
    /// A session begins; without an id it is the process's implicit session.
    SessionStart {
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// A session ends.
    SessionStop {
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// A session is still running.
    Heartbeat {
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// One occurrence of a tracked event.
    Event {
        /// Event category; none when absent, empty or `<NULL>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Event name, 1–128 characters.
        name: String,
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// Summed number or text variant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<EventValue>,
        /// Custom event pairs in the order sent.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "custom_pairs")]
        custom: Option<CustomPairs>,
    },
    /// A caught or unhandled exception.
    Exception {
        /// Class of the exception, 1–128 characters.
        class_name: String,
        /// Method it was raised in, 1–128 characters.
        method_name: String,
        /// Message, at most 1,024 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Stack trace, at most 32,768 bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stack_trace: Option<String>,
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// A property snapshot; boxed because it is ten times larger than any other kind.
    Properties(Box<PropertiesRecord>),
    /// License state reported by the application; `None` leaves a field unchanged.
    LicenseData {
        /// License type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        license_type: Option<LicenseType>,
        /// Expired flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expired: Option<bool>,
        /// Activated flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activated: Option<bool>,
        /// Blocked flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blocked: Option<bool>,
        /// Allowed flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowed: Option<bool>,
        /// Explicit session id (multi-session mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// The user opted out while the application was running.
    OptOut,
}

impl RecordBody {
    /// The wire name of the record's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionStart { .. } => "sessionStart",
            Self::SessionStop { .. } => "sessionStop",
            Self::Heartbeat { .. } => "heartbeat",
            Self::Event { .. } => "event",
            Self::Exception { .. } => "exception",
            Self::Properties(_) => "properties",
            Self::LicenseData { .. } => "licenseData",
            Self::OptOut => "optOut",
        }
    }
}

/// The pairs of a custom event, in the order sent; a value may be null.
pub type CustomPairs = Vec<(String, Option<String>)>;

/// The value of an event: summed when a number, a text variant when a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventValue {
    /// A finite number.
    Number(f64),
    /// A string of 1–1,024 characters.
    Text(String),
}

/// A property snapshot: each present group replaces the whole stored group (§6.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PropertiesRecord {
    /// Product group; `None` leaves it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductGroup>,
    /// Machine group; `None` leaves it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineGroup>,
    /// Custom properties; `None` leaves them unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomGroup>,
}

/// The `product` property group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductGroup {
    /// Product edition.
    pub edition: Option<String>,
    /// Product language.
    pub language: Option<String>,
    /// Product version.
    pub version: Option<String>,
    /// Product build.
    pub build: Option<String>,
}

/// The `machine` property group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MachineGroup {
    /// Operating system.
    #[serde(deserialize_with = "null_as_default")]
    pub os: OsInfo,
    /// OS language, BCP 47.
    pub os_language: Option<String>,
    /// 32 or 64.
    pub os_word_length: Option<u8>,
    /// CPU model.
    pub cpu_type: Option<String>,
    /// Logical cores, 1–4096.
    pub cpu_cores: Option<u16>,
    /// Memory in MB, 0–2^31.
    pub ram: Option<u32>,
    /// Displays, 0–64.
    pub display_count: Option<u8>,
    /// Primary display width in pixels.
    pub resolution_width: Option<u16>,
    /// Primary display height in pixels.
    pub resolution_height: Option<u16>,
    /// Screen density, 0–10000.
    pub screen_ppi: Option<u16>,
    /// Whether a touch screen is present.
    pub touch_screen: Option<bool>,
    /// `desktop`, `laptop`, `tablet`, `server`, `other` are recommended; not enforced.
    pub form_factor: Option<String>,
    /// Graphics adapter.
    #[serde(deserialize_with = "null_as_default")]
    pub gpu: GpuInfo,
    /// Hypervisor name, `none` when physical.
    pub vm: Option<String>,
    /// Installed .NET versions, comma-separated.
    pub dot_net_version: Option<String>,
    /// Java runtime.
    #[serde(deserialize_with = "null_as_default")]
    pub java: JavaInfo,
}

/// The `machine.os` sub-object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OsInfo {
    /// e.g. `Microsoft Windows`.
    pub platform: Option<String>,
    /// e.g. `Microsoft Windows 10`.
    pub version: Option<String>,
    /// e.g. `Microsoft Windows 10 Pro`.
    pub edition: Option<String>,
}

/// The `machine.gpu` sub-object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuInfo {
    /// GPU vendor.
    pub vendor: Option<String>,
    /// GPU model.
    pub model: Option<String>,
}

/// The `machine.java` sub-object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JavaInfo {
    /// Java version.
    pub version: Option<String>,
    /// Java vendor.
    pub vendor: Option<String>,
    /// Runtime name.
    pub runtime: Option<String>,
    /// Graphics toolkit.
    pub graphics: Option<String>,
    /// JVM version.
    pub vm_version: Option<String>,
    /// JVM name.
    pub vm_name: Option<String>,
    /// JVM memory in MB, 0–2^31.
    pub vm_ram: Option<u32>,
}

/// Custom properties `"1"`…`"20"` (reported as C01–C20); element 0 holds key `"1"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomGroup(pub [Option<String>; CUSTOM_PROPERTY_COUNT]);

impl CustomGroup {
    /// The value of custom property `n` (1–20); `None` when unset or out of range.
    pub fn get(&self, n: usize) -> Option<&str> {
        self.0.get(n.checked_sub(1)?)?.as_deref()
    }

    /// The slot index (0–19) of a wire key: `"1"` to `"20"` without leading zeros.
    pub fn slot_of_key(key: &str) -> Option<usize> {
        CUSTOM_KEYS.iter().position(|k| *k == key)
    }
}

const CUSTOM_KEYS: [&str; CUSTOM_PROPERTY_COUNT] =
    ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"];

impl Serialize for CustomGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(CUSTOM_PROPERTY_COUNT))?;
        for (key, value) in CUSTOM_KEYS.iter().zip(&self.0) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CustomGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GroupVisitor;
        impl<'de> Visitor<'de> for GroupVisitor {
            type Value = CustomGroup;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object with keys \"1\" to \"20\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<CustomGroup, A::Error> {
                let mut group = CustomGroup::default();
                while let Some(key) = access.next_key::<String>()? {
                    let slot = CustomGroup::slot_of_key(&key)
                        .ok_or_else(|| de::Error::custom(format!("unknown custom property key {key:?}")))?;
                    group.0[slot] = access.next_value()?;
                }
                Ok(group)
            }
        }
        d.deserialize_map(GroupVisitor)
    }
}

pub use usagi_types::LicenseType;

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Event `custom` pairs as a JSON object, keeping the order sent.
mod custom_pairs {
    use super::*;

    type Pairs = CustomPairs;

    pub(super) fn serialize<S: Serializer>(pairs: &Option<Pairs>, s: S) -> Result<S::Ok, S::Error> {
        match pairs {
            None => s.serialize_none(),
            Some(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pairs>, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Option<Pairs>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings or null")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_map(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(entry) = access.next_entry::<String, Option<String>>()? {
                    pairs.push(entry);
                }
                Ok(Some(pairs))
            }
        }
        d.deserialize_option(PairsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_type_names() {
        for t in LicenseType::ALL {
            assert_eq!(LicenseType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::Value::String(t.as_str().into()));
        }
        assert_eq!(LicenseType::parse("Purchased"), None);
        assert_eq!(LicenseType::parse("custom4"), None);
    }

    #[test]
    fn custom_group_serde_uses_keys_1_to_20() {
        let mut g = CustomGroup::default();
        g.0[0] = Some("a".into());
        g.0[19] = Some("t".into());
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["1"], "a");
        assert_eq!(json["20"], "t");
        assert_eq!(json["2"], serde_json::Value::Null);
        assert_eq!(json.as_object().unwrap().len(), 20);
        assert_eq!(serde_json::from_value::<CustomGroup>(json).unwrap(), g);
        assert!(serde_json::from_str::<CustomGroup>(r#"{"01":"x"}"#).is_err());
        assert_eq!(g.get(1), Some("a"));
        assert_eq!(g.get(20), Some("t"));
        assert_eq!(g.get(0), None);
        assert_eq!(g.get(21), None);
    }

    #[test]
    fn custom_group_keys() {
        assert_eq!(CustomGroup::slot_of_key("1"), Some(0));
        assert_eq!(CustomGroup::slot_of_key("20"), Some(19));
        for bad in ["0", "01", "21", "", " 1", "1.0", "+1"] {
            assert_eq!(CustomGroup::slot_of_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn record_serde_round_trip_keeps_custom_order() {
        let r = Record {
            t: 5,
            index: 2,
            body: RecordBody::Event {
                category: None,
                name: "Open".into(),
                session_id: None,
                value: Some(EventValue::Number(2.5)),
                custom: Some(vec![("z".into(), Some("1".into())), ("a".into(), None)]),
            },
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""custom":{"z":"1","a":null}"#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
    }

    #[test]
    fn machine_group_reads_null_sub_objects() {
        let g: MachineGroup = serde_json::from_str(r#"{"os":null,"java":null,"cpuCores":4}"#).unwrap();
        assert_eq!(g, MachineGroup { cpu_cores: Some(4), ..MachineGroup::default() });
    }
}
