//! Property leaves: what one observation sets, under the catalogue's names (reporting-api §2).
//!
//! A present group replaces the whole group (callhome §6.3), so every leaf of it is
//! listed, NULLs included; license data sets only the fields it carries.

use usagi_protocol::{MachineGroup, ProductGroup, PropertiesRecord};
use usagi_types::CUSTOM_PROPERTY_NAMES;

/// `(catalogue name, value)` pairs.
pub type Leaves = Vec<(&'static str, Option<String>)>;

fn text<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

/// Leaves of the `product` group.
pub fn product(g: &ProductGroup) -> Leaves {
    vec![
        ("prodEdition", g.edition.clone()),
        ("prodLanguage", g.language.clone()),
        ("prodVersion", g.version.clone()),
        ("prodBuild", g.build.clone()),
    ]
}

/// Leaves of the `machine` group.
pub fn machine(g: &MachineGroup) -> Leaves {
    vec![
        ("os.platform", g.os.platform.clone()),
        ("os.version", g.os.version.clone()),
        ("os.edition", g.os.edition.clone()),
        ("osLanguage", g.os_language.clone()),
        ("osWordLength", g.os_word_length.map(|w| format!("{w}-bit"))),
        ("cpuType", g.cpu_type.clone()),
        ("cpuCores", text(&g.cpu_cores)),
        ("ram", text(&g.ram)),
        ("displayCount", text(&g.display_count)),
        ("resolutionWidth", text(&g.resolution_width)),
        ("resolutionHeight", text(&g.resolution_height)),
        ("screenPpi", text(&g.screen_ppi)),
        ("touchScreen", text(&g.touch_screen)),
        ("formFactor", g.form_factor.clone()),
        ("gpu.vendor", g.gpu.vendor.clone()),
        ("gpu.model", g.gpu.model.clone()),
        ("vm", g.vm.clone()),
        ("dotNetVersion", g.dot_net_version.clone()),
        ("javaVersion", g.java.version.clone()),
        ("javaVendor", g.java.vendor.clone()),
        ("javaRuntime", g.java.runtime.clone()),
        ("javaGraphics", g.java.graphics.clone()),
        ("javaVmVersion", g.java.vm_version.clone()),
        ("javaVmName", g.java.vm_name.clone()),
        ("javaVmRam", text(&g.java.vm_ram)),
    ]
}

/// Every leaf a `properties` record sets.
pub fn properties(p: &PropertiesRecord) -> Leaves {
    let mut out = Vec::new();
    if let Some(g) = &p.product {
        out.extend(product(g));
    }
    if let Some(g) = &p.machine {
        out.extend(machine(g));
    }
    if let Some(g) = &p.custom {
        out.extend(CUSTOM_PROPERTY_NAMES.iter().enumerate().map(|(i, name)| (*name, g.get(i + 1).map(str::to_string))));
    }
    out
}

/// Leaves of a `licenseData` record: only the fields it carries (null = unchanged).
pub fn license(license_type: Option<&str>, flags: [(&'static str, Option<bool>); 4]) -> Leaves {
    let mut out: Leaves = Vec::new();
    if let Some(t) = license_type {
        out.push(("licenseType", Some(t.to_string())));
    }
    for (name, v) in flags {
        if let Some(v) = v {
            out.push((name, Some(v.to_string())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_group_sets_every_leaf() {
        let g = ProductGroup { edition: Some("Home".into()), ..Default::default() };
        let leaves = product(&g);
        assert_eq!(leaves.len(), 4);
        assert!(leaves.contains(&("prodEdition", Some("Home".into()))));
        assert!(leaves.contains(&("prodVersion", None)));
        let m = MachineGroup { os_word_length: Some(64), cpu_cores: Some(8), ..Default::default() };
        let leaves = machine(&m);
        assert!(leaves.contains(&("osWordLength", Some("64-bit".into()))));
        assert!(leaves.contains(&("cpuCores", Some("8".into()))));
        assert!(leaves.contains(&("gpu.vendor", None)));
    }

    #[test]
    fn license_data_sets_only_what_it_carries() {
        let leaves = license(
            Some("purchased"),
            [
                ("licenseStatus.activated", Some(true)),
                ("licenseStatus.expired", None),
                ("licenseStatus.blocked", None),
                ("licenseStatus.allowed", Some(false)),
            ],
        );
        assert_eq!(
            leaves,
            vec![
                ("licenseType", Some("purchased".into())),
                ("licenseStatus.activated", Some("true".into())),
                ("licenseStatus.allowed", Some("false".into()))
            ]
        );
    }
}
