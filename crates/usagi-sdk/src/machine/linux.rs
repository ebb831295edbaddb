//! Linux: `/etc/os-release`, `/proc`, and the DMI files of sysfs (all world-readable).

use std::fs;

use super::{form_factor_of_chassis, Displays, Probe};

pub(super) fn probe() -> Probe {
    let release = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        release.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(|v| v.trim_matches('"').to_owned()))
    };
    let name = field("NAME");
    let version = match (&name, field("VERSION_ID")) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => n.clone(),
    };
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_type = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Hardware" | "cpu model").then(|| v.trim().to_owned())
        })
        .filter(|s| !s.is_empty());
    let ram_mb = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let kb: u64 = m.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024)
    });
    let dmi = |f: &str| fs::read_to_string(format!("/sys/class/dmi/id/{f}")).ok().map(|s| s.trim().to_owned());
    let chassis = dmi("chassis_type").and_then(|c| c.parse::<u32>().ok());
    let hypervisor_flag =
        cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
    let vm = vm_name(dmi("sys_vendor").as_deref(), dmi("product_name").as_deref(), hypervisor_flag);
    let form_factor = if vm.as_deref().is_some_and(|v| v != "none") {
        Some("other".to_owned())
    } else {
        chassis
            .and_then(form_factor_of_chassis)
            .map(str::to_owned)
            .or_else(|| has_battery().then(|| "laptop".to_owned()))
    };
    Probe {
        os_platform: Some("Linux".to_owned()),
        os_version: version,
        os_edition: field("PRETTY_NAME"),
        cpu_type,
        ram_mb,
        vm,
        form_factor,
        displays: displays(),
        machine_identifier: fs::read_to_string("/etc/machine-id")
            .or_else(|_| fs::read_to_string("/var/lib/dbus/machine-id"))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
    }
}

/// The hypervisor from the DMI vendor/product strings; "none" when the CPU reports no
/// hypervisor, unknown (None) when it does but the vendor is not recognised.
fn vm_name(vendor: Option<&str>, product: Option<&str>, hypervisor_flag: bool) -> Option<String> {
    let both = format!("{} {}", vendor.unwrap_or(""), product.unwrap_or("")).to_lowercase();
    let known = [
        ("vmware", "VMware"),
        ("virtualbox", "VirtualBox"),
        ("kvm", "KVM"),
        ("qemu", "QEMU"),
        ("microsoft corporation virtual", "Hyper-V"),
        ("xen", "Xen"),
        ("amazon ec2", "Amazon EC2"),
        ("google compute engine", "Google Compute Engine"),
        ("parallels", "Parallels"),
    ];
    if let Some((_, name)) = known.iter().find(|(needle, _)| both.contains(needle)) {
        return Some((*name).to_owned());
    }
    if hypervisor_flag {
        None
    } else {
        Some("none".to_owned())
    }
}

/// A system battery (not a UPS or a peripheral's) suggests a laptop when SMBIOS says nothing.
fn has_battery() -> bool {
    let Ok(entries) = fs::read_dir("/sys/class/power_supply") else { return false };
    entries.flatten().any(|e| {
        let read = |f: &str| fs::read_to_string(e.path().join(f)).unwrap_or_default();
        read("type").trim() == "Battery" && read("scope").trim() != "Device"
    })
}

/// Connected DRM connectors and the preferred (first) mode of the first one; None without DRM
/// (containers, servers without a GPU driver).
fn displays() -> Option<Displays> {
    let mut connectors: Vec<_> = fs::read_dir("/sys/class/drm").ok()?.flatten().map(|e| e.path()).collect();
    connectors.sort();
    let mut found = Displays::default();
    let mut any_connector = false;
    for c in connectors {
        let Ok(status) = fs::read_to_string(c.join("status")) else { continue };
        any_connector = true;
        if status.trim() != "connected" {
            continue;
        }
        found.count = found.count.saturating_add(1);
        if found.width.is_none() {
            let modes = fs::read_to_string(c.join("modes")).unwrap_or_default();
            if let Some((w, h)) = modes.lines().next().and_then(parse_mode) {
                found.width = Some(w);
                found.height = Some(h);
            }
        }
    }
    any_connector.then_some(found)
}

/// `1920x1080` (sometimes with a suffix such as `i`) → (1920, 1080).
fn parse_mode(mode: &str) -> Option<(u16, u16)> {
    let (w, h) = mode.trim().split_once('x')?;
    let h: String = h.chars().take_while(char::is_ascii_digit).collect();
    Some((w.parse().ok()?, h.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drm_modes() {
        assert_eq!(parse_mode("1920x1080"), Some((1920, 1080)));
        assert_eq!(parse_mode("1920x1080i\n"), Some((1920, 1080)));
        assert_eq!(parse_mode("bogus"), None);
    }

    #[test]
    fn hypervisors_by_dmi_strings() {
        assert_eq!(vm_name(Some("QEMU"), Some("Standard PC"), true).as_deref(), Some("QEMU"));
        assert_eq!(vm_name(Some("Dell Inc."), Some("XPS 13"), false).as_deref(), Some("none"));
        assert_eq!(vm_name(None, None, true), None);
    }
}
