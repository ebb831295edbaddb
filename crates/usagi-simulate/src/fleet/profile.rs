//! Who an installation is: its machine, its product setup and its behaviour over time.
//!
//! Everything an installation will do is decided here, once, from its own random stream;
//! [`super::life`] then plays it out day by day.

use usagi_types::ClientId;

use super::catalog::{self, OsFamily, EVENTS};
use super::sampler::Sampler;
use super::wire::{GpuGroup, JavaGroup, MachineGroup, OsGroup};

/// Length of the evaluation period, after which an unconverted trial reports `expired`.
pub(crate) const TRIAL_DAYS: u32 = 30;

/// A simulated machine; two installations can share one (two users of one PC).
#[derive(Clone)]
pub(crate) struct Machine {
    pub id: String,
    pub family: OsFamily,
    pub group: MachineGroup,
    /// Minutes east of UTC where the machine's user lives.
    pub utc_offset_min: i32,
    pub product_language: &'static str,
    /// A client clock error in ms (positive = fast), bounded well inside the server's
    /// 10-minute tolerance so records are never clamped.
    pub clock_skew_ms: i64,
}

/// How heavily an installation is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engagement {
    /// Tried once or twice, then never again.
    OneShot,
    Light,
    Regular,
    Heavy,
}

/// Which updates an installation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpgradePolicy {
    All,
    /// Skips the paid major upgrade to 2.x.
    MinorOnly,
    /// Stays on the build it installed.
    Never,
}

/// A user's opt-out episode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OptOutPlan {
    /// First day on which the user may opt out (the first online active day from then on).
    pub day: u32,
    /// Days after the opt-out at which the user opts back in, if ever.
    pub back_after: Option<u32>,
}

/// Everything decided up front about one installation.
pub(crate) struct InstallPlan {
    pub client_id: ClientId,
    pub machine: Machine,
    /// Day index (0 = first day of the period) of the first run.
    pub install_day: u32,
    /// Seed of the installation's own behaviour and id streams.
    pub seed: u64,
    pub edition: &'static str,
    pub download_source: &'static str,
    /// `licenseType` at first run.
    pub license: &'static str,
    /// Day from which an evaluation converts to purchased (applied on the next run).
    pub convert_day: Option<u32>,
    /// Plan (custom property "2") once purchased.
    pub paid_plan: &'static str,
    /// Chance of using the app on a weekday after the install day.
    pub p_active: f64,
    /// Multiplier of `p_active` on Saturdays and Sundays.
    pub weekend_factor: f64,
    /// Chance of each additional session (up to 3) on an active day.
    pub extra_session_chance: f64,
    pub runtime_median_min: f64,
    pub events_per_min: f64,
    pub crash_rate: f64,
    /// Local hour around which the first session of a day starts.
    pub start_hour_local: f64,
    /// First day without activity after churning; `None` = stays.
    pub quit_day: Option<u32>,
    /// `[from, to)`: days of a comeback after churning.
    pub comeback: Option<(u32, u32)>,
    /// Chance per active online day of starting an offline spell.
    pub offline_chance: f64,
    pub upgrade_policy: UpgradePolicy,
    pub upgrade_lag_days: u32,
    pub opt_out: Option<OptOutPlan>,
    /// Indices into [`EVENTS`] of the features this user uses.
    pub adopted_events: Vec<usize>,
}

/// Draws a machine.
pub(crate) fn draw_machine(s: &mut Sampler) -> Machine {
    let os = s.pick(catalog::OPERATING_SYSTEMS);
    let locale = s.pick(catalog::LOCALES);
    let utc_offset_min = locale.utc_offsets_min[s.below(locale.utc_offsets_min.len() as u64) as usize];
    // Some users keep the app in English even when a translation exists.
    let product_language = if s.chance(0.15) { "en" } else { locale.product_language };

    let form_factor = *s.pick(match os.family {
        OsFamily::Windows => catalog::FORM_FACTORS_WINDOWS,
        OsFamily::Mac => catalog::FORM_FACTORS_MAC,
        OsFamily::Linux => catalog::FORM_FACTORS_LINUX,
    });
    let (cpu_type, cpu_cores) = *s.pick(match os.family {
        OsFamily::Windows => catalog::CPUS_WINDOWS,
        OsFamily::Mac => catalog::CPUS_MAC,
        OsFamily::Linux => catalog::CPUS_LINUX,
    });
    let ram = *s.pick(match (os.family, form_factor) {
        (_, "server") => catalog::RAM_SERVER,
        (OsFamily::Mac, _) => catalog::RAM_MAC,
        _ => catalog::RAM_PC,
    });
    // 32-bit Windows 10 still exists on old, small machines.
    let os_word_length = if os.version == "Microsoft Windows 10" && ram <= 4096 && s.chance(0.5) { 32 } else { 64 };

    let display_count = match form_factor {
        "server" => s.weighted(&[50, 50]) as u32,
        "tablet" => 1,
        "laptop" => 1 + s.weighted(&[70, 25, 5]) as u32,
        _ => 1 + s.weighted(&[55, 35, 8, 2]) as u32,
    };
    let screen = match (os.family, form_factor) {
        (_, "tablet") => Some(*s.pick(catalog::SCREENS_TABLET)),
        (OsFamily::Mac, "laptop") => Some(*s.pick(catalog::SCREENS_MAC_LAPTOP)),
        (OsFamily::Mac, _) => Some(*s.pick(catalog::SCREENS_MAC_DESKTOP)),
        (_, "laptop") => Some(*s.pick(catalog::SCREENS_LAPTOP)),
        _ => Some(*s.pick(catalog::SCREENS_DESKTOP)),
    }
    // A headless server reports no resolution at all: the nullable leaves stay null.
    .filter(|_| display_count > 0);
    let touch_screen = match form_factor {
        "tablet" => true,
        "laptop" if os.family == OsFamily::Windows => s.chance(0.15),
        _ => false,
    };

    let vm = *s.pick(match os.family {
        OsFamily::Mac => catalog::VMS_MAC,
        _ => catalog::VMS_PC,
    });
    let vm = match (os.family, vm) {
        // Hyper-V hosts Windows guests; KVM hosts Linux guests.
        (OsFamily::Linux, Some("Hyper-V")) => Some("KVM"),
        (OsFamily::Windows, Some("KVM")) => Some("Hyper-V"),
        (_, vm) => vm,
    };
    let (gpu_vendor, gpu_model) = match (vm, os.family) {
        (Some(v), _) if v != "none" => catalog::virtual_gpu(v),
        (_, OsFamily::Mac) if cpu_type.starts_with("Apple") => ("Apple", cpu_type),
        (_, OsFamily::Mac) => ("AMD", "Radeon Pro 5300M"),
        _ => *s.pick(catalog::GPUS_PC),
    };
    let dot_net_version = (os.family == OsFamily::Windows).then(|| *s.pick(catalog::DOTNET_VERSIONS));
    let java = s.chance(0.08).then(|| {
        let (version, vendor, vm_version) = *s.pick(catalog::JAVA_RUNTIMES);
        JavaGroup {
            version,
            vendor,
            runtime: "OpenJDK Runtime Environment",
            graphics: match os.family {
                OsFamily::Windows => "sun.awt.windows.WToolkit",
                OsFamily::Mac => "sun.lwawt.macosx.LWCToolkit",
                OsFamily::Linux => "sun.awt.X11.XToolkit",
            },
            vm_version,
            vm_name: "OpenJDK 64-Bit Server VM",
            vm_ram: (ram / 4).min(8192),
        }
    });

    // Most clocks are NTP-synchronised; a few run minutes fast or slow.
    let clock_skew_ms = if s.chance(0.05) { s.between(-3_600_000, 240_000) } else { s.between(-2_000, 2_000) };

    Machine {
        id: s.hex_upper(16),
        family: os.family,
        group: MachineGroup {
            os: OsGroup { platform: os.platform, version: os.version, edition: os.edition },
            os_language: locale.os_language,
            os_word_length,
            cpu_type,
            cpu_cores,
            ram,
            display_count,
            resolution_width: screen.map(|(w, _, _)| w),
            resolution_height: screen.map(|(_, h, _)| h),
            screen_ppi: screen.map(|(_, _, p)| p),
            touch_screen,
            form_factor,
            gpu: GpuGroup { vendor: gpu_vendor, model: gpu_model },
            vm,
            dot_net_version,
            java,
        },
        utc_offset_min,
        product_language,
        clock_skew_ms,
    }
}

/// Draws the product setup and behaviour of an installation first run on `install_day`.
pub(crate) fn draw_plan(
    s: &mut Sampler,
    seed: u64,
    client_id: ClientId,
    machine: Machine,
    install_day: u32,
) -> InstallPlan {
    let edition = *s.pick(catalog::EDITIONS);
    let download_source = *s.pick(match machine.family {
        OsFamily::Windows => catalog::SOURCES_WINDOWS,
        OsFamily::Mac => catalog::SOURCES_MAC,
        OsFamily::Linux => catalog::SOURCES_LINUX,
    });
    let license = *s.pick(catalog::INITIAL_LICENSES);
    let paid_plan = if s.chance(0.6) { "annual" } else { "monthly" };

    let engagement = match s.weighted(&[12, 38, 35, 15]) {
        0 => Engagement::OneShot,
        1 => Engagement::Light,
        2 => Engagement::Regular,
        _ => Engagement::Heavy,
    };
    let jitter = s.uniform(0.7, 1.3);
    let p_active = jitter
        * match engagement {
            Engagement::OneShot => 0.3,
            Engagement::Light => 0.12,
            Engagement::Regular => 0.4,
            Engagement::Heavy => 0.75,
        };
    // Business editions are used on workdays; Home users also at weekends.
    let weekend_factor = if edition == "Home" { s.uniform(0.8, 1.1) } else { s.uniform(0.15, 0.5) };
    let extra_session_chance = match engagement {
        Engagement::Heavy => 0.55,
        Engagement::Regular => 0.4,
        _ => 0.25,
    };
    let runtime_median_min = s.log_normal(
        match engagement {
            Engagement::Heavy => 45.0,
            Engagement::Regular => 25.0,
            _ => 12.0,
        },
        0.4,
    );
    let events_per_min = s.log_normal(0.25, 0.6);
    let crash_rate = if s.chance(0.1) { 0.12 } else { 0.025 };
    let start_hour_local = if edition == "Home" { s.uniform(9.0, 21.0) } else { s.uniform(7.5, 11.0) };

    // Churn: the "lifetime" after installing, drawn by engagement. Unconverted trials mostly
    // leave soon after expiry, which gives the license-type reports a visible story.
    let convert_day = (license == "evaluation" && s.chance(0.35)).then(|| install_day + s.between(3, 35) as u32);
    let churn = |s: &mut Sampler, p: f64, mean_days: f64| s.chance(p).then(|| s.exponential(mean_days) as u32 + 1);
    let mut lifetime = match engagement {
        Engagement::OneShot => Some(s.between(1, 2) as u32),
        Engagement::Light => churn(s, 0.6, 30.0),
        Engagement::Regular => churn(s, 0.35, 60.0),
        Engagement::Heavy => churn(s, 0.15, 90.0),
    };
    if license == "evaluation" && convert_day.is_none() && s.chance(0.6) {
        let after_expiry = TRIAL_DAYS + s.between(0, 5) as u32;
        lifetime = Some(lifetime.map_or(after_expiry, |l| l.min(after_expiry)));
    }
    let quit_day = lifetime.map(|l| install_day + l);
    // A few lost installations come back after a long gap, for a while.
    let comeback = quit_day.filter(|_| s.chance(0.08)).map(|q| {
        let from = q + s.between(30, 90) as u32;
        (from, from + 1 + s.exponential(30.0) as u32)
    });

    let mobile = matches!(machine.group.form_factor, "laptop" | "tablet");
    let offline_chance = if s.chance(if mobile { 0.3 } else { 0.06 }) { 0.2 } else { 0.01 };

    let upgrade_policy = match s.weighted(&[80, 15, 5]) {
        0 => UpgradePolicy::All,
        1 => UpgradePolicy::MinorOnly,
        _ => UpgradePolicy::Never,
    };
    let upgrade_lag_days = s.exponential(8.0) as u32;

    let opt_out = s.chance(0.03).then(|| OptOutPlan {
        day: install_day + s.between(1, 40) as u32,
        back_after: s.chance(0.5).then(|| s.between(3, 30) as u32),
    });

    // The head of the popularity list is used by everybody; each tail feature is adopted by
    // a share of users that falls with its rank, so "never used" counts are meaningful.
    let adopted_events = (0..EVENTS.len())
        .filter(|&i| i < catalog::CORE_EVENTS || s.chance(0.75 - 0.5 * i as f64 / EVENTS.len() as f64))
        .collect();

    InstallPlan {
        client_id,
        machine,
        install_day,
        seed,
        edition,
        download_source,
        license,
        convert_day,
        paid_plan,
        p_active,
        weekend_factor,
        extra_session_chance,
        runtime_median_min,
        events_per_min,
        crash_rate,
        start_hour_local,
        quit_day,
        comeback,
        offline_chance,
        upgrade_policy,
        upgrade_lag_days,
        opt_out,
        adopted_events,
    }
}

impl InstallPlan {
    /// Whether the user still (or again) uses the app on `day`.
    pub(crate) fn in_use(&self, day: u32) -> bool {
        let before_quit = self.quit_day.is_none_or(|q| day < q);
        let in_comeback = self.comeback.is_some_and(|(from, to)| (from..to).contains(&day));
        before_quit || in_comeback
    }

    /// The plan (custom property "2") for a license type.
    pub(crate) fn plan_for(&self, license: &str) -> &'static str {
        match license {
            "evaluation" => "trial",
            "freeware" => "free",
            "purchased" => self.paid_plan,
            "nfr" => "nfr",
            "custom1" => "education",
            _ => "unknown",
        }
    }
}
