//! The machine profile (callhome §6.3 `machine`) and the salted machine id (§11).
//!
//! Collected once at start, from what the platform exposes without special rights: OS name,
//! version and edition, OS language, word length, CPU model and cores, RAM, hypervisor and a
//! form-factor guess. Never collected: IP or MAC addresses, user or host names (§11).
//! Displays are read where the OS exposes them without a GUI toolkit (Linux DRM); otherwise,
//! and for GPU, touch, .NET and Java, the application may fill them in
//! ([`crate::Sdk::set_machine_overrides`]).

// Every platform's probe is compiled (and smoke-tested) by the tests on any platform, so CI
// on Linux keeps the macOS and Windows code building.
#[cfg(any(target_os = "linux", test))]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod linux;
#[cfg(any(target_os = "macos", test))]
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod macos;
#[cfg(any(windows, test))]
#[cfg_attr(not(windows), allow(dead_code))]
mod windows;

use sha2::{Digest, Sha256};
use usagi_protocol::limits::PROPERTY_MAX;
use usagi_protocol::{MachineGroup, OsInfo};

use crate::condition::text;

/// What the platform module found; every field optional.
#[derive(Debug, Default, Clone)]
pub(crate) struct Probe {
    pub os_platform: Option<String>,
    pub os_version: Option<String>,
    pub os_edition: Option<String>,
    pub cpu_type: Option<String>,
    pub ram_mb: Option<u64>,
    pub vm: Option<String>,
    pub form_factor: Option<String>,
    pub displays: Option<Displays>,
    pub machine_identifier: Option<String>,
}

/// Connected displays and the first one's resolution.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Displays {
    pub count: u8,
    pub width: Option<u16>,
    pub height: Option<u16>,
}

fn probe() -> Probe {
    #[cfg(target_os = "linux")]
    return linux::probe();
    #[cfg(target_os = "macos")]
    return macos::probe();
    #[cfg(windows)]
    return windows::probe();
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    Probe { os_platform: Some(std::env::consts::OS.to_owned()), ..Probe::default() }
}

/// The machine group of this computer, and its raw OS machine identifier (never sent).
pub(crate) fn collect() -> (MachineGroup, Option<String>) {
    let p = probe();
    let prop = |s: Option<String>| text(s.as_deref(), PROPERTY_MAX);
    let group = MachineGroup {
        os: OsInfo { platform: prop(p.os_platform), version: prop(p.os_version), edition: prop(p.os_edition) },
        os_language: prop(os_language()),
        os_word_length: Some(word_length()),
        cpu_type: prop(p.cpu_type),
        cpu_cores: std::thread::available_parallelism()
            .ok()
            .and_then(|n| u16::try_from(n.get()).ok())
            .map(|n| n.min(4096)),
        ram: p.ram_mb.and_then(|mb| u32::try_from(mb.min(1 << 31)).ok()),
        form_factor: prop(p.form_factor),
        vm: prop(p.vm),
        display_count: p.displays.map(|d| d.count.min(64)),
        resolution_width: p.displays.and_then(|d| d.width),
        resolution_height: p.displays.and_then(|d| d.height),
        ..MachineGroup::default()
    };
    (group, p.machine_identifier)
}

/// The OS word length: 64 on 64-bit architectures (a 32-bit build on a 64-bit OS cannot tell
/// portably and reports its own width).
fn word_length() -> u8 {
    if cfg!(target_pointer_width = "64") {
        64
    } else {
        32
    }
}

/// The OS language as BCP 47, from the POSIX locale variables (`de_DE.UTF-8` → `de-DE`),
/// or the platform's own setting.
fn os_language() -> Option<String> {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if let Some(tag) = posix_locale_to_bcp47(&v) {
                return Some(tag);
            }
        }
    }
    #[cfg(target_os = "macos")]
    return macos::language();
    #[cfg(windows)]
    return windows::language();
    #[allow(unreachable_code)]
    None
}

pub(crate) fn posix_locale_to_bcp47(v: &str) -> Option<String> {
    let base = v.split(['.', '@']).next()?.trim();
    if base.is_empty() || base == "C" || base == "POSIX" {
        return None;
    }
    let tag = base.replace('_', "-");
    tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-').then_some(tag)
}

/// §11: the first 16 bytes of SHA-256(`<product_id>:<OS machine identifier>`), as 32
/// uppercase hex characters, so two products cannot correlate their installations.
pub(crate) fn salted_machine_id(product_id: &str, identifier: &str) -> String {
    let digest = Sha256::digest(format!("{product_id}:{}", identifier.trim()).as_bytes());
    hex::encode_upper(&digest[..16])
}

/// A form-factor guess from the SMBIOS chassis type (DMTF DSP0134 7.4.1).
pub(crate) fn form_factor_of_chassis(code: u32) -> Option<&'static str> {
    Some(match code {
        3..=7 | 13 | 15 | 16 | 24 | 35 | 36 => "desktop",
        8..=10 | 14 | 31 | 32 => "laptop",
        11 | 30 => "tablet",
        17 | 23 | 25 | 28 | 29 => "server",
        1 | 2 => return None,
        _ => "other",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_become_language_tags() {
        assert_eq!(posix_locale_to_bcp47("de_DE.UTF-8"), Some("de-DE".into()));
        assert_eq!(posix_locale_to_bcp47("sr_RS@latin"), Some("sr-RS".into()));
        assert_eq!(posix_locale_to_bcp47("C.UTF-8"), None);
        assert_eq!(posix_locale_to_bcp47("POSIX"), None);
    }

    #[test]
    fn machine_id_is_salted_with_the_product() {
        let a = salted_machine_id("2376158762", "abc");
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(a, salted_machine_id("1111111111", "abc"));
        assert_eq!(a, salted_machine_id("2376158762", "abc\n"));
    }

    #[test]
    fn every_platform_probe_degrades_to_unknown_values() {
        // On other platforms their commands and files are missing: no panic, just None.
        assert_eq!(macos::probe().os_platform.as_deref(), Some("macOS"));
        assert_eq!(windows::probe().os_platform.as_deref(), Some("Microsoft Windows"));
        assert_eq!(linux::probe().os_platform.as_deref(), Some("Linux"));
    }

    #[test]
    fn collects_something_on_this_machine() {
        let (m, _) = collect();
        assert!(m.os.platform.is_some());
        assert!(m.cpu_cores.is_some_and(|n| n >= 1));
        assert!(matches!(m.os_word_length, Some(32 | 64)));
    }
}
