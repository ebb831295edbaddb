//! The property catalogue (reporting-api §2): one typed table that drives validation
//! and `GET /v3/meta/productProperties`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use usagi_types::CUSTOM_PROPERTY_NAMES;

/// One property of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    /// API name.
    pub name: &'static str,
    /// Default friendly name.
    pub friendly: &'static str,
    /// Category, in catalogue order.
    pub category: &'static str,
    /// `string`, `number`, `boolean`, `date` or `special`.
    pub data_type: &'static str,
    /// true: `standard` (daily history); false: `current` (latest value).
    pub standard: bool,
    /// supportsRegex.
    pub regex: bool,
    /// supportsMeta (values listable through propertyValues).
    pub meta: bool,
    /// supportsNull.
    pub null: bool,
    /// Usable in levels / segmentBy.
    pub segment: bool,
    /// Usable in retDailyData.properties.
    pub daily: bool,
}

/// The catalogue in spec order; `C01` stands for the twenty custom properties.
const TABLE: &[Prop] = &[
    Prop {
        name: "clientId",
        friendly: "Client ID",
        category: "Identity",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: false,
        segment: true,
        daily: false,
    },
    Prop {
        name: "machineId",
        friendly: "Machine ID",
        category: "Identity",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "appName",
        friendly: "Application Name",
        category: "Identity",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "prodVersion",
        friendly: "Product Version",
        category: "Product Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "prodEdition",
        friendly: "Product Edition",
        category: "Product Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "prodBuild",
        friendly: "Product Build",
        category: "Product Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "prodLanguage",
        friendly: "Product Language",
        category: "Product Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "licenseType",
        friendly: "License Type",
        category: "License Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: false,
        segment: true,
        daily: true,
    },
    Prop {
        name: "licenseStatus",
        friendly: "License Status",
        category: "License Properties",
        data_type: "special",
        standard: true,
        regex: false,
        meta: false,
        null: false,
        segment: true,
        daily: true,
    },
    Prop {
        name: "licenseKey",
        friendly: "License Key",
        category: "License Properties",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    // C01–C20 are expanded by `catalogue()`; their friendly names come from the product settings.
    Prop {
        name: "C01",
        friendly: "Custom Property",
        category: "Custom Properties",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "os",
        friendly: "Operating System",
        category: "Platform",
        data_type: "special",
        standard: true,
        regex: false,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "osLanguage",
        friendly: "OS Language",
        category: "Platform",
        data_type: "string",
        standard: true,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "osWordLength",
        friendly: "OS Architecture",
        category: "Platform",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "cpuType",
        friendly: "CPU Type",
        category: "Hardware",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "cpuCores",
        friendly: "CPU Cores",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "ram",
        friendly: "RAM (MB)",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "displayCount",
        friendly: "Number of Monitors",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "resolutionWidth",
        friendly: "Screen Width",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "resolutionHeight",
        friendly: "Screen Height",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "screenPpi",
        friendly: "Screen PPI",
        category: "Hardware",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "touchScreen",
        friendly: "Touch Screen",
        category: "Hardware",
        data_type: "boolean",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: false,
        daily: false,
    },
    Prop {
        name: "formFactor",
        friendly: "Form Factor",
        category: "Hardware",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "gpu",
        friendly: "GPU",
        category: "Hardware",
        data_type: "special",
        standard: false,
        regex: false,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "vm",
        friendly: "Virtual Machine",
        category: "Hardware",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "dotNetVersion",
        friendly: ".NET Versions",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaVersion",
        friendly: "Java Version",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaVendor",
        friendly: "Java Vendor",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaRuntime",
        friendly: "Java Runtime",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaGraphics",
        friendly: "Java Graphics",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaVmVersion",
        friendly: "Java VM Version",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaVmName",
        friendly: "Java VM Name",
        category: "Runtimes",
        data_type: "string",
        standard: false,
        regex: true,
        meta: true,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "javaVmRam",
        friendly: "Java VM RAM (MB)",
        category: "Runtimes",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: true,
        segment: true,
        daily: false,
    },
    Prop {
        name: "geography",
        friendly: "Geography",
        category: "Geography",
        data_type: "special",
        standard: true,
        regex: false,
        meta: true,
        null: true,
        segment: true,
        daily: true,
    },
    Prop {
        name: "dateInstalled",
        friendly: "Date of Installation",
        category: "Usage",
        data_type: "date",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: false,
        daily: false,
    },
    Prop {
        name: "dateLastSeen",
        friendly: "Date Last Seen",
        category: "Usage",
        data_type: "date",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: false,
        daily: false,
    },
    Prop {
        name: "lifetimeSessionCount",
        friendly: "Lifetime Sessions",
        category: "Usage",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: true,
        daily: false,
    },
    Prop {
        name: "lifetimeRuntimeMinutes",
        friendly: "Lifetime Runtime Minutes",
        category: "Usage",
        data_type: "number",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: true,
        daily: false,
    },
    Prop {
        name: "lifetimeEventUsage",
        friendly: "Lifetime Event Usage",
        category: "Usage",
        data_type: "special",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: false,
        daily: false,
    },
    Prop {
        name: "optOut",
        friendly: "Opt-Out",
        category: "Status",
        data_type: "special",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: true,
        daily: false,
    },
    Prop {
        name: "backOff",
        friendly: "Back-Off",
        category: "Status",
        data_type: "special",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: true,
        daily: false,
    },
    Prop {
        name: "reachOutDeliveries",
        friendly: "ReachOut Deliveries",
        category: "Status",
        data_type: "special",
        standard: false,
        regex: false,
        meta: false,
        null: false,
        segment: false,
        daily: false,
    },
];

/// The full catalogue with `C01`–`C20` expanded, named from `custom_names` (slot → name).
pub fn catalogue(custom_names: &BTreeMap<u8, String>) -> Vec<(Prop, String)> {
    let mut out = Vec::new();
    for p in TABLE {
        if p.name == "C01" {
            for n in 1..=20u8 {
                let name: &'static str = CUSTOM_PROPERTY_NAMES[usize::from(n) - 1];
                let friendly = custom_names.get(&n).cloned().unwrap_or_else(|| format!("Custom Property {n:02}"));
                out.push((Prop { name, ..*p }, friendly));
            }
        } else {
            out.push((*p, p.friendly.to_string()));
        }
    }
    out
}

/// Looks a property up by name (custom properties included).
pub fn find(name: &str) -> Option<Prop> {
    if let Some(i) = CUSTOM_PROPERTY_NAMES.iter().position(|c| *c == name) {
        let base = TABLE.iter().find(|p| p.name == "C01")?;
        return Some(Prop { name: CUSTOM_PROPERTY_NAMES[i], ..*base });
    }
    TABLE.iter().find(|p| p.name == name).copied()
}

/// The `productProperties` answer (reporting-api §7.1); `licenseKey` only with the permission.
pub fn product_properties(custom_names: &BTreeMap<u8, String>, license_keys: bool) -> Value {
    let mut categories: Vec<(&str, Vec<Value>)> = Vec::new();
    for (p, friendly) in catalogue(custom_names) {
        if p.name == "licenseKey" && !license_keys {
            continue;
        }
        let item = json!({
            "name": p.name,
            "friendlyName": friendly,
            "filterType": if p.standard { "standard" } else { "current" },
            "dataType": p.data_type,
            "supportsRegex": p.regex,
            "supportsMeta": p.meta,
            "supportsNull": p.null,
        });
        match categories.last_mut() {
            Some((c, items)) if *c == p.category => items.push(item),
            _ => categories.push((p.category, vec![item])),
        }
    }
    let result: Vec<Value> =
        categories.into_iter().map(|(c, items)| json!({"category": c, "properties": items})).collect();
    let mut out = Map::new();
    out.insert("result".into(), Value::Array(result));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_matches_the_spec_table() {
        let all = catalogue(&BTreeMap::new());
        assert_eq!(all.len(), 41 + 20);
        let v = find("prodVersion").unwrap();
        assert!(v.standard && v.regex && v.meta && v.null && v.segment && v.daily);
        let cores = find("cpuCores").unwrap();
        assert_eq!((cores.data_type, cores.standard, cores.regex, cores.null), ("number", false, false, true));
        assert!(!find("clientId").unwrap().null);
        assert!(!find("licenseType").unwrap().null);
        assert_eq!(find("C07").unwrap().name, "C07");
        assert!(find("C21").is_none());
        assert!(find("touchScreen").is_some_and(|p| !p.segment && p.data_type == "boolean"));
    }

    #[test]
    fn categories_keep_spec_order_and_licence_key_needs_permission() {
        let names = BTreeMap::from([(1u8, "Download Source".to_string())]);
        let v = product_properties(&names, false);
        let cats: Vec<&str> = v["result"].as_array().unwrap().iter().map(|c| c["category"].as_str().unwrap()).collect();
        assert_eq!(
            cats,
            [
                "Identity",
                "Product Properties",
                "License Properties",
                "Custom Properties",
                "Platform",
                "Hardware",
                "Runtimes",
                "Geography",
                "Usage",
                "Status"
            ]
        );
        let text = v.to_string();
        assert!(!text.contains("licenseKey"));
        assert!(text.contains(r#""name":"C01","friendlyName":"Download Source""#));
        assert!(text.contains(r#""name":"C02","friendlyName":"Custom Property 02""#));
        assert!(product_properties(&names, true).to_string().contains(r#""name":"licenseKey""#));
    }
}
