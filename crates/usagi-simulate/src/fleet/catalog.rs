//! The simulated world's fixed tables: operating systems, hardware, languages, releases,
//! events and exceptions, each with a weight that sets how common it is.
//!
//! The shares are plausible for a desktop productivity app rather than measured; what matters
//! is that reports have skewed, multi-valued distributions to show.

/// Operating-system family, which decides the hardware, GPU and distribution channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OsFamily {
    Windows,
    Mac,
    Linux,
}

/// One operating system as the SDK reports it (`machine.os`).
pub(crate) struct OsEntry {
    pub family: OsFamily,
    pub platform: &'static str,
    pub version: &'static str,
    pub edition: &'static str,
}

/// Operating systems and their weights.
pub(crate) const OPERATING_SYSTEMS: &[(OsEntry, u32)] = &[
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 11", "Microsoft Windows 11 Pro"), 22),
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 11", "Microsoft Windows 11 Home"), 18),
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 10", "Microsoft Windows 10 Pro"), 17),
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 10", "Microsoft Windows 10 Home"), 12),
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 10", "Microsoft Windows 10 Enterprise"), 4),
    (os(OsFamily::Windows, "Microsoft Windows", "Microsoft Windows 11", "Microsoft Windows 11 Enterprise"), 3),
    (os(OsFamily::Mac, "macOS", "macOS 14", "macOS 14 Sonoma"), 9),
    (os(OsFamily::Mac, "macOS", "macOS 13", "macOS 13 Ventura"), 5),
    (os(OsFamily::Mac, "macOS", "macOS 15", "macOS 15 Sequoia"), 2),
    (os(OsFamily::Linux, "Linux", "Ubuntu 22.04", "Ubuntu 22.04.4 LTS"), 3),
    (os(OsFamily::Linux, "Linux", "Ubuntu 24.04", "Ubuntu 24.04 LTS"), 2),
    (os(OsFamily::Linux, "Linux", "Debian 12", "Debian GNU/Linux 12 (bookworm)"), 1),
    (os(OsFamily::Linux, "Linux", "Fedora 40", "Fedora Linux 40 (Workstation Edition)"), 1),
];

const fn os(family: OsFamily, platform: &'static str, version: &'static str, edition: &'static str) -> OsEntry {
    OsEntry { family, platform, version, edition }
}

/// A user locale: the OS language, the UTC offsets (minutes) people with it live in, and the
/// product language the app picks for it (the product ships en, de, fr, ja, es and zh only).
pub(crate) struct Locale {
    pub os_language: &'static str,
    pub utc_offsets_min: &'static [i32],
    pub product_language: &'static str,
}

/// Locales and their weights.
pub(crate) const LOCALES: &[(Locale, u32)] = &[
    (Locale { os_language: "en-US", utc_offsets_min: &[-300, -360, -420, -480], product_language: "en" }, 32),
    (Locale { os_language: "de-DE", utc_offsets_min: &[60], product_language: "de" }, 14),
    (Locale { os_language: "fr-FR", utc_offsets_min: &[60], product_language: "fr" }, 8),
    (Locale { os_language: "en-GB", utc_offsets_min: &[0], product_language: "en" }, 7),
    (Locale { os_language: "ja-JP", utc_offsets_min: &[540], product_language: "ja" }, 7),
    (Locale { os_language: "es-ES", utc_offsets_min: &[60], product_language: "es" }, 5),
    (Locale { os_language: "zh-CN", utc_offsets_min: &[480], product_language: "zh" }, 5),
    (Locale { os_language: "pt-BR", utc_offsets_min: &[-180], product_language: "en" }, 4),
    (Locale { os_language: "it-IT", utc_offsets_min: &[60], product_language: "en" }, 3),
    (Locale { os_language: "nl-NL", utc_offsets_min: &[60], product_language: "en" }, 3),
    (Locale { os_language: "en-IN", utc_offsets_min: &[330], product_language: "en" }, 3),
    (Locale { os_language: "de-AT", utc_offsets_min: &[60], product_language: "de" }, 2),
    (Locale { os_language: "fr-CA", utc_offsets_min: &[-300], product_language: "fr" }, 2),
    (Locale { os_language: "ko-KR", utc_offsets_min: &[540], product_language: "en" }, 2),
    (Locale { os_language: "pl-PL", utc_offsets_min: &[60], product_language: "en" }, 2),
    (Locale { os_language: "en-AU", utc_offsets_min: &[600], product_language: "en" }, 2),
    (Locale { os_language: "sv-SE", utc_offsets_min: &[60], product_language: "en" }, 1),
];

/// A CPU model and the logical core count the OS reports for it.
pub(crate) type Cpu = (&'static str, u32);

/// Windows PCs' CPUs.
pub(crate) const CPUS_WINDOWS: &[(Cpu, u32)] = &[
    (("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", 8), 10),
    (("Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", 8), 8),
    (("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz", 8), 12),
    (("12th Gen Intel(R) Core(TM) i7-12700H", 20), 8),
    (("12th Gen Intel(R) Core(TM) i5-12400", 12), 9),
    (("13th Gen Intel(R) Core(TM) i7-13700K", 24), 5),
    (("Intel(R) Core(TM) i3-10110U CPU @ 2.10GHz", 4), 6),
    (("AMD Ryzen 5 5600X 6-Core Processor", 12), 9),
    (("AMD Ryzen 7 5800H with Radeon Graphics", 16), 7),
    (("AMD Ryzen 9 7950X 16-Core Processor", 32), 2),
    (("Intel(R) Xeon(R) W-2245 CPU @ 3.90GHz", 16), 2),
    (("Intel(R) Pentium(R) Silver N5030 CPU @ 1.10GHz", 4), 2),
];

/// Macs' CPUs.
pub(crate) const CPUS_MAC: &[(Cpu, u32)] = &[
    (("Apple M1", 8), 30),
    (("Apple M2", 8), 25),
    (("Apple M3 Pro", 12), 12),
    (("Apple M1 Max", 10), 8),
    (("Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz", 12), 10),
];

/// Linux machines' CPUs.
pub(crate) const CPUS_LINUX: &[(Cpu, u32)] = &[
    (("AMD Ryzen 7 5800X 8-Core Processor", 16), 20),
    (("Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz", 16), 20),
    (("AMD Ryzen 5 3600 6-Core Processor", 12), 15),
    (("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", 28), 8),
    (("AMD EPYC 7B13", 4), 5),
    (("Intel(R) Core(TM) i5-7200U CPU @ 2.50GHz", 4), 10),
];

/// A GPU as `(vendor, model)`.
pub(crate) type Gpu = (&'static str, &'static str);

/// Discrete and integrated GPUs of PCs.
pub(crate) const GPUS_PC: &[(Gpu, u32)] = &[
    (("Intel", "UHD Graphics 620"), 20),
    (("Intel", "Iris Xe Graphics"), 18),
    (("NVIDIA", "GeForce RTX 3060"), 12),
    (("NVIDIA", "GeForce GTX 1650"), 10),
    (("AMD", "Radeon Graphics"), 8),
    (("NVIDIA", "GeForce RTX 4070"), 6),
    (("AMD", "Radeon RX 6600"), 6),
    (("Intel", "UHD Graphics 630"), 6),
    (("NVIDIA", "Quadro T1000"), 3),
];

/// The display adapter a hypervisor emulates, by hypervisor name.
pub(crate) fn virtual_gpu(vm: &str) -> Gpu {
    match vm {
        "VMware" => ("VMware", "SVGA 3D"),
        "Hyper-V" => ("Microsoft", "Hyper-V Video"),
        "VirtualBox" => ("InnoTek", "VirtualBox Graphics Adapter"),
        "Parallels" => ("Parallels", "Parallels Display Adapter (WDDM)"),
        _ => ("Red Hat", "QXL paravirtual graphic card"),
    }
}

/// Hypervisors per OS family; `None` is "unknown" (the SDK could not tell).
pub(crate) const VMS_PC: &[(Option<&str>, u32)] = &[
    (Some("none"), 930),
    (Some("VMware"), 20),
    (Some("Hyper-V"), 20),
    (Some("VirtualBox"), 10),
    (Some("KVM"), 10),
    (None, 10),
];
/// Hypervisors seen on Macs.
pub(crate) const VMS_MAC: &[(Option<&str>, u32)] = &[(Some("none"), 970), (Some("Parallels"), 20), (None, 10)];

/// Form factors per OS family.
pub(crate) const FORM_FACTORS_WINDOWS: &[(&str, u32)] = &[("desktop", 45), ("laptop", 50), ("tablet", 3), ("other", 2)];
/// Form factors of Macs.
pub(crate) const FORM_FACTORS_MAC: &[(&str, u32)] = &[("laptop", 70), ("desktop", 30)];
/// Form factors of Linux machines.
pub(crate) const FORM_FACTORS_LINUX: &[(&str, u32)] = &[("desktop", 50), ("laptop", 30), ("server", 20)];

/// A screen as `(width, height, ppi)`.
pub(crate) type Screen = (u32, u32, u32);

/// Screens by form factor.
pub(crate) const SCREENS_DESKTOP: &[(Screen, u32)] = &[
    ((1920, 1080, 92), 50),
    ((2560, 1440, 109), 25),
    ((3840, 2160, 163), 12),
    ((1680, 1050, 90), 8),
    ((3440, 1440, 110), 5),
];
/// Laptop screens (PC).
pub(crate) const SCREENS_LAPTOP: &[(Screen, u32)] = &[
    ((1920, 1080, 141), 50),
    ((1366, 768, 112), 15),
    ((1536, 864, 120), 10),
    ((1920, 1200, 150), 15),
    ((2560, 1600, 189), 10),
];
/// Mac laptop screens.
pub(crate) const SCREENS_MAC_LAPTOP: &[(Screen, u32)] =
    &[((2560, 1600, 227), 50), ((2880, 1864, 224), 25), ((3024, 1964, 254), 25)];
/// Mac desktop screens.
pub(crate) const SCREENS_MAC_DESKTOP: &[(Screen, u32)] =
    &[((4480, 2520, 218), 50), ((2560, 1440, 109), 30), ((5120, 2880, 218), 20)];
/// Tablet screens.
pub(crate) const SCREENS_TABLET: &[(Screen, u32)] = &[((2880, 1920, 267), 60), ((2736, 1824, 267), 40)];

/// Installed RAM in MB, PCs.
pub(crate) const RAM_PC: &[(u32, u32)] = &[(4096, 6), (8192, 25), (16384, 40), (32768, 20), (65536, 7), (131072, 2)];
/// Installed RAM in MB, Macs.
pub(crate) const RAM_MAC: &[(u32, u32)] = &[(8192, 30), (16384, 45), (32768, 20), (65536, 5)];
/// Installed RAM in MB, servers.
pub(crate) const RAM_SERVER: &[(u32, u32)] = &[(32768, 30), (65536, 35), (131072, 25), (262144, 10)];

/// `dotNetVersion` values on Windows.
pub(crate) const DOTNET_VERSIONS: &[(&str, u32)] =
    &[("4.8", 30), ("4.8, 6.0.25", 25), ("4.8.1, 8.0.4", 30), ("4.7.2", 10), ("4.8.1, 6.0.25, 8.0.4", 5)];

/// Java runtimes as `(version, vendor, vmVersion)`, for the few installations that report one.
pub(crate) const JAVA_RUNTIMES: &[((&str, &str, &str), u32)] = &[
    (("17.0.10", "Eclipse Adoptium", "17.0.10+7"), 50),
    (("21.0.2", "Oracle Corporation", "21.0.2+13-58"), 30),
    (("11.0.22", "Amazon.com Inc.", "11.0.22+7-LTS"), 20),
];

/// Product editions.
pub(crate) const EDITIONS: &[(&str, u32)] = &[("Home", 55), ("Pro", 35), ("Enterprise", 10)];

/// Custom property "1" (download source) per OS family.
pub(crate) const SOURCES_WINDOWS: &[(&str, u32)] =
    &[("web-download", 55), ("microsoft-store", 20), ("reseller", 15), ("oem-bundle", 10)];
/// Download sources on macOS.
pub(crate) const SOURCES_MAC: &[(&str, u32)] = &[("web-download", 50), ("mac-app-store", 40), ("reseller", 10)];
/// Download sources on Linux.
pub(crate) const SOURCES_LINUX: &[(&str, u32)] = &[("web-download", 40), ("apt-repository", 35), ("snap-store", 25)];

/// License types at first run, as `licenseData.licenseType` values.
pub(crate) const INITIAL_LICENSES: &[(&str, u32)] =
    &[("evaluation", 50), ("freeware", 25), ("purchased", 18), ("nfr", 4), ("custom1", 3)];

/// A product release: marketing version, build string, and where in the simulated period it
/// ships (a fraction of the period; ≤ 0 means it was already out at the start).
pub(crate) struct Release {
    pub version: &'static str,
    pub build: &'static str,
    pub at: f64,
    /// Relative chance per session of a caught exception: the 2.0 launch build is buggy and
    /// its patch fixes most of it, so exception reports can be split by build.
    pub exception_rate: f64,
}

/// Releases in shipping order.
pub(crate) const RELEASES: &[Release] = &[
    Release { version: "1.0", build: "1.0.1012", at: -1.0, exception_rate: 0.04 },
    Release { version: "1.0", build: "1.0.1047", at: 0.10, exception_rate: 0.03 },
    Release { version: "1.1", build: "1.1.2040", at: 0.25, exception_rate: 0.03 },
    Release { version: "2.0", build: "2.0.3015", at: 0.55, exception_rate: 0.10 },
    Release { version: "2.0", build: "2.0.3051", at: 0.63, exception_rate: 0.03 },
    Release { version: "2.1", build: "2.1.3120", at: 0.85, exception_rate: 0.025 },
];

/// Index of the first 2.x release: laggards never take the paid major upgrade.
pub(crate) const FIRST_MAJOR_2: usize = 3;

/// How an event carries a value.
#[derive(Clone, Copy)]
pub(crate) enum ValueKind {
    /// No value.
    None,
    /// A count (pages, rows), summed as a custom value.
    Count { median: f64 },
    /// A duration in seconds with one decimal.
    Seconds { median: f64 },
    /// One of a few texts (the text variant of `value`).
    Text(&'static [&'static str]),
    /// A custom event (a `custom` map) drawn by the named generator.
    Custom(CustomKind),
    /// Sometimes a page count plus a custom map, sometimes only the count.
    CountMaybeCustom { median: f64, custom: CustomKind },
}

/// Generators of `custom` maps.
#[derive(Clone, Copy)]
pub(crate) enum CustomKind {
    Export,
    Template,
    Plugin,
    Preference,
}

/// One tracked event of the app.
pub(crate) struct EventSpec {
    pub category: Option<&'static str>,
    pub name: &'static str,
    pub value: ValueKind,
    /// First release (index into [`RELEASES`]) that has the feature.
    pub since: usize,
}

const fn ev(category: &'static str, name: &'static str) -> EventSpec {
    EventSpec { category: Some(category), name, value: ValueKind::None, since: 0 }
}

const fn ev_v(category: &'static str, name: &'static str, value: ValueKind) -> EventSpec {
    EventSpec { category: Some(category), name, value, since: 0 }
}

/// Events in popularity order: the simulator weights rank `k` by `1/k^1.1`, a Zipf-like long
/// tail where a few events dominate and the rest are used by few installations.
pub(crate) const EVENTS: &[EventSpec] = &[
    ev("File Operations", "Open"),
    ev("File Operations", "Save"),
    ev("Edit", "Copy"),
    ev("Edit", "Paste"),
    ev("Edit", "Undo"),
    ev("View", "Zoom In"),
    ev("Edit", "Find"),
    ev("File Operations", "New"),
    ev_v("Export", "PDF", ValueKind::CountMaybeCustom { median: 6.0, custom: CustomKind::Export }),
    ev("View", "Zoom Out"),
    ev_v("File Operations", "Print", ValueKind::Count { median: 3.0 }),
    ev("Edit", "Redo"),
    ev("File Operations", "Save As"),
    ev("Edit", "Replace"),
    ev("Tools", "Spell Check"),
    ev("View", "Toggle Sidebar"),
    ev_v("Import", "CSV", ValueKind::Count { median: 250.0 }),
    ev("Export", "PNG"),
    ev("Collaboration", "Share Link"),
    ev("Tools", "Word Count"),
    ev_v("View", "Dark Mode", ValueKind::Text(&["on", "off"])),
    ev_v(
        "Help",
        "Search Help",
        ValueKind::Text(&[
            "export pdf",
            "keyboard shortcuts",
            "license key",
            "dark mode",
            "print margins",
            "import excel",
        ]),
    ),
    ev("Collaboration", "Comment"),
    ev("Export", "CSV"),
    ev_v("Import", "Excel", ValueKind::Count { median: 400.0 }),
    ev_v("Tools", "Macro Run", ValueKind::Seconds { median: 2.5 }),
    EventSpec { category: Some("AI"), name: "Assist", value: ValueKind::Seconds { median: 4.0 }, since: FIRST_MAJOR_2 },
    ev_v("Templates", "Template Used", ValueKind::Custom(CustomKind::Template)),
    ev("View", "Full Screen"),
    ev_v("Collaboration", "Sync Cloud", ValueKind::Count { median: 12.0 }),
    ev("Export", "HTML"),
    ev("Help", "Open Manual"),
    ev("Import", "Image"),
    EventSpec { category: Some("AI"), name: "Summarize", value: ValueKind::Seconds { median: 6.0 }, since: 5 },
    ev_v("Tools", "Plugin Installed", ValueKind::Custom(CustomKind::Plugin)),
    ev_v("Help", "Send Feedback", ValueKind::Text(&["1", "2", "3", "4", "5"])),
    ev("Help", "Check Updates"),
    EventSpec { category: None, name: "Tip Of The Day Shown", value: ValueKind::None, since: 0 },
    ev_v("Tools", "Preferences Changed", ValueKind::Custom(CustomKind::Preference)),
    EventSpec { category: None, name: "Rate App Prompt", value: ValueKind::None, since: 0 },
    ev("File Operations", "Recover Autosave"),
];

/// How many of the most popular events every installation uses; the tail is adopted per user.
pub(crate) const CORE_EVENTS: usize = 8;

/// The one-off event of the very first run (uncategorised).
pub(crate) const FIRST_RUN_EVENT: &str = "First Run Wizard Completed";

/// Template names for the `Template Used` custom event.
pub(crate) const TEMPLATES: &[&str] = &["Invoice", "Letter", "Report", "Resume", "Newsletter", "Flyer"];
/// Template sources.
pub(crate) const TEMPLATE_SOURCES: &[&str] = &["gallery", "online", "recent"];
/// Plugins for the `Plugin Installed` custom event.
pub(crate) const PLUGINS: &[(&str, &str)] =
    &[("grammar-pro", "2.3.1"), ("cloud-backup", "1.0.4"), ("barcode", "0.9.0"), ("charts-plus", "3.1.0")];
/// Settings for the `Preferences Changed` custom event.
pub(crate) const PREFERENCES: &[(&str, &[&str])] = &[
    ("autosave", &["on", "off"]),
    ("units", &["mm", "inch", "pt"]),
    ("theme", &["light", "dark", "system"]),
    ("spellcheckLanguage", &["en-US", "de-DE", "fr-FR"]),
];
/// Paper formats for the `Export/PDF` custom map.
pub(crate) const PAPER_FORMATS: &[&str] = &["A4", "Letter", "A3", "Legal"];

/// An exception the app reports: class, method, message, stack trace.
pub(crate) type ExceptionSpec = (&'static str, &'static str, &'static str, &'static str);

/// Caught exceptions, weighted.
pub(crate) const EXCEPTIONS: &[(ExceptionSpec, u32)] = &[
    (
        (
            "System.IO.IOException",
            "FileStore.Save",
            "The process cannot access the file because it is being used by another process.",
            "   at DemoApp.Storage.FileStore.Save(Document doc) in FileStore.cs:line 212\n   at DemoApp.Commands.SaveCommand.Execute() in SaveCommand.cs:line 41",
        ),
        30,
    ),
    (
        (
            "System.Net.Http.HttpRequestException",
            "CloudSync.Upload",
            "No such host is known.",
            "   at DemoApp.Cloud.CloudSync.Upload(Stream data) in CloudSync.cs:line 97\n   at DemoApp.Cloud.SyncScheduler.Tick() in SyncScheduler.cs:line 58",
        ),
        25,
    ),
    (
        (
            "System.FormatException",
            "CsvImporter.ParseRow",
            "Input string was not in a correct format.",
            "   at System.Number.ThrowFormatException(ReadOnlySpan`1 value)\n   at DemoApp.Import.CsvImporter.ParseRow(String line) in CsvImporter.cs:line 133",
        ),
        18,
    ),
    (
        (
            "System.UnauthorizedAccessException",
            "Settings.Persist",
            "Access to the path is denied.",
            "   at DemoApp.Config.Settings.Persist() in Settings.cs:line 64",
        ),
        12,
    ),
    (
        (
            "System.NullReferenceException",
            "ExportService.RenderPage",
            "Object reference not set to an instance of an object.",
            "   at DemoApp.Export.ExportService.RenderPage(Page page, RenderOptions options) in ExportService.cs:line 88\n   at DemoApp.Export.ExportService.Render(Document doc) in ExportService.cs:line 51",
        ),
        15,
    ),
];

/// Unhandled exceptions recorded just before a crash.
pub(crate) const CRASHES: &[(ExceptionSpec, u32)] = &[
    (
        (
            "System.OutOfMemoryException",
            "ImageImporter.Decode",
            "Insufficient memory to continue the execution of the program.",
            "   at DemoApp.Import.ImageImporter.Decode(Byte[] data) in ImageImporter.cs:line 45\n   at DemoApp.Import.ImportPipeline.Run() in ImportPipeline.cs:line 77",
        ),
        40,
    ),
    (
        (
            "System.AccessViolationException",
            "Renderer.Present",
            "Attempted to read or write protected memory.",
            "   at DemoApp.Graphics.Renderer.Present(IntPtr surface)\n   at DemoApp.MainWindow.OnPaint(PaintEventArgs e) in MainWindow.cs:line 310",
        ),
        60,
    ),
];
