//! Windows: the registry through `reg query` and the process environment.

use std::process::Command;

use super::Probe;

fn reg(key: &str, value: &str) -> Option<String> {
    let out = Command::new("reg").args(["query", key, "/v", value]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.trim_start().starts_with(value))?;
    line.split("REG_")
        .nth(1)?
        .split_once(char::is_whitespace)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

pub(super) fn probe() -> Probe {
    const CURRENT: &str = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";
    let product = reg(CURRENT, "ProductName");
    let build: Option<u32> = reg(CURRENT, "CurrentBuildNumber").and_then(|b| b.parse().ok());
    // Windows 11 still calls itself "Windows 10" in ProductName; the build number tells.
    let product = match (product, build) {
        (Some(p), Some(b)) if b >= 22000 => Some(p.replace("Windows 10", "Windows 11")),
        (p, _) => p,
    };
    let version = product.as_ref().map(|p| {
        let words: Vec<&str> = p.split_whitespace().take(2).collect();
        format!("Microsoft {}", words.join(" "))
    });
    Probe {
        os_platform: Some("Microsoft Windows".to_owned()),
        os_version: version,
        os_edition: product.map(|p| format!("Microsoft {p}")),
        cpu_type: reg(r"HKLM\HARDWARE\DESCRIPTION\System\CentralProcessor\0", "ProcessorNameString")
            .or_else(|| std::env::var("PROCESSOR_IDENTIFIER").ok()),
        ram_mb: None,
        vm: None,
        form_factor: None,
        displays: None,
        machine_identifier: reg(r"HKLM\SOFTWARE\Microsoft\Cryptography", "MachineGuid"),
    }
}

pub(super) fn language() -> Option<String> {
    reg(r"HKCU\Control Panel\International", "LocaleName")
}
