//! macOS: `sw_vers`, `sysctl` and `ioreg` (no special rights needed).

use std::process::Command;

use super::{posix_locale_to_bcp47, Probe};

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}

pub(super) fn probe() -> Probe {
    let version = run("sw_vers", &["-productVersion"]);
    let model = run("sysctl", &["-n", "hw.model"]).unwrap_or_default();
    let vm = match run("sysctl", &["-n", "kern.hv_vmm_present"]).as_deref() {
        Some("1") => None,
        Some(_) => Some("none".to_owned()),
        None => None,
    };
    let identifier = run("ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"])
        .and_then(|out| out.lines().find(|l| l.contains("IOPlatformUUID"))?.split('"').nth(3).map(str::to_owned));
    Probe {
        os_platform: Some("macOS".to_owned()),
        os_version: version.as_ref().map(|v| format!("macOS {v}")),
        os_edition: version.map(|v| format!("macOS {v}")),
        cpu_type: run("sysctl", &["-n", "machdep.cpu.brand_string"]),
        ram_mb: run("sysctl", &["-n", "hw.memsize"]).and_then(|b| b.parse::<u64>().ok()).map(|b| b >> 20),
        vm,
        form_factor: Some(if model.contains("Book") { "laptop" } else { "desktop" }.to_owned()),
        displays: None,
        machine_identifier: identifier,
    }
}

pub(super) fn language() -> Option<String> {
    posix_locale_to_bcp47(&run("defaults", &["read", "-g", "AppleLocale"])?)
}
