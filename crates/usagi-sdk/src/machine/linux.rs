//! Linux: `/etc/os-release`, `/proc`, and the DMI files of sysfs (all world-readable).

use std::fs;

use super::{form_factor_of_chassis, Probe};

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
        chassis.and_then(form_factor_of_chassis).map(str::to_owned)
    };
    Probe {
        os_platform: Some("Linux".to_owned()),
        os_version: version,
        os_edition: field("PRETTY_NAME"),
        cpu_type,
        ram_mb,
        vm,
        form_factor,
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
