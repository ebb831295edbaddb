//! Server configuration: a TOML file, overridden by environment variables and flags (in the binary).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Deserialize;

/// Everything `usagi serve` can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The public base URL clients use; decides the default Origin and the cookies' `Secure` flag.
    pub public_url: String,
    /// Origins allowed on `/v3` besides the server's own (default: `https://analytics.revenera.com`).
    pub allowed_origins: Option<Vec<String>>,
    /// Proxies whose `X-Forwarded-For` is believed for call-home geography.
    pub trusted_proxies: Vec<IpNet>,
    /// A MaxMind-format (MMDB) City or Country database for call-home geography.
    pub geoip_database: Option<PathBuf>,
    /// Clock settings.
    pub clock: ClockConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Ingest tuning.
    pub ingest: IngestSettings,
    /// Embedded warehouse tuning.
    pub warehouse: WarehouseSettings,
    /// Products a non-admin user may create (`freeware.limit` in the login answer).
    pub freeware_limit: u32,
    /// Export files and their download URLs.
    pub exports: ExportSettings,
    /// Where the catalog lives.
    pub catalog: CatalogSettings,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            allowed_origins: None,
            trusted_proxies: Vec::new(),
            geoip_database: None,
            clock: ClockConfig::default(),
            limits: LimitsConfig::default(),
            ingest: IngestSettings::default(),
            warehouse: WarehouseSettings::default(),
            freeware_limit: 100,
            exports: ExportSettings::default(),
            catalog: CatalogSettings::default(),
        }
    }
}

/// Clock settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Pins "now" (RFC 3339), for tests and reproducible demos.
    pub fixed_now: Option<DateTime<Utc>>,
}

/// Request limits (reporting-api §1.12, callhome §7).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained requests per second per principal.
    pub requests_per_second: f64,
    /// Burst size per principal.
    pub burst: f64,
    /// Reports running at once per principal.
    pub concurrent_reports: usize,
    /// Failed logins per user name per window.
    pub failed_logins: u32,
    /// The failed-login window, seconds.
    pub failed_login_window_seconds: u64,
    /// Time budget of one report, seconds.
    pub report_time_budget_seconds: u64,
    /// `license/check` + `license/set` calls per installation per hour.
    pub license_calls_per_hour: u32,
    /// Longest a report waits for acknowledged data to reach the warehouse, ms.
    pub read_your_writes_ms: u64,
    /// Keys per segmentation level in one report answer (more → 413).
    pub max_keys_per_level: usize,
    /// Numbers in one report answer (more → 413).
    pub max_numbers_per_response: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 10.0,
            burst: 50.0,
            concurrent_reports: 4,
            failed_logins: 10,
            failed_login_window_seconds: 900,
            report_time_budget_seconds: 120,
            license_calls_per_hour: 60,
            read_your_writes_ms: 2000,
            max_keys_per_level: 1000,
            max_numbers_per_response: 200_000,
        }
    }
}

/// Ingest tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Acknowledged-but-unloaded megabytes beyond which syncs get 503.
    pub max_backlog_mb: u64,
    /// Honour `X-Usagi-Receive-Time` on syncs, so `usagi simulate` can replay history
    /// (demos, migrations). Off by default: real clients never need it.
    pub allow_simulated_receive_time: bool,
    /// A warehouse load waits up to this many milliseconds for `min_load_kb` of acknowledged
    /// data to accumulate; default 0 on DuckDB (load at once) and 1000 on ClickHouse, which
    /// wants few large inserts.
    pub load_linger_ms: Option<u64>,
    /// See `load_linger_ms` (default 1024).
    pub min_load_kb: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { max_backlog_mb: 2048, allow_simulated_receive_time: false, load_linger_ms: None, min_load_kb: 1024 }
    }
}

/// Export files (reporting-api §13, §14, §16).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSettings {
    /// Where the files live (default: `exports/` in the data directory).
    pub dir: Option<PathBuf>,
    /// Hours a one-time download URL stays valid.
    pub download_expiry_hours: u32,
    /// Seconds between passes of the background export job (0 = never: tests and
    /// `usagi export build` drive it themselves).
    pub job_interval_seconds: u64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self { dir: None, download_expiry_hours: 24, job_interval_seconds: 60 }
    }
}

/// Where the catalog lives (issue 9).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// `postgres://user[:password]@host[:port]/database`: a PostgreSQL catalog that several
    /// `usagi serve` processes can share. Unset: the embedded SQLite file in the data directory.
    pub url: Option<String>,
}

/// A catalog URL for logs and errors: replaces the password of `scheme://user:password@host…` by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Warehouse selection and embedded warehouse tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarehouseSettings {
    /// DuckDB worker threads (0 = one per core).
    pub threads: usize,
    /// DuckDB worker threads while a load runs (0 = one fewer than `threads`, at least one),
    /// so that the ingest path keeps a core while the loader works.
    pub load_threads: usize,
    /// DuckDB memory limit, e.g. "1GB".
    pub memory_limit: String,
    /// DuckDB WAL size past which a commit checkpoints, e.g. "16MB".
    pub checkpoint_threshold: String,
    /// A ClickHouse cluster instead of the embedded DuckDB file (issue 9).
    pub clickhouse: Option<ClickHouseSettings>,
}

impl Default for WarehouseSettings {
    fn default() -> Self {
        Self {
            threads: 0,
            load_threads: 0,
            memory_limit: "1GB".into(),
            checkpoint_threshold: "16MB".into(),
            clickhouse: None,
        }
    }
}

/// `[warehouse.clickhouse]`: the scale-out warehouse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSettings {
    /// HTTP URL of every shard, in the order of the cluster's `remote_servers` entry.
    pub shards: Vec<String>,
    /// Cluster name in `remote_servers`.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// Database for Usagi's tables (created if missing).
    #[serde(default = "default_database")]
    pub database: String,
    /// ClickHouse user (default `default`).
    #[serde(default)]
    pub user: Option<String>,
    /// Its password.
    #[serde(default)]
    pub password: Option<String>,
    /// This process's name among those sharing the cluster; unset: a random id kept in the
    /// data directory (`warehouse-origin`), so a restart resumes as the same loader.
    #[serde(default)]
    pub origin: Option<String>,
}

fn default_cluster() -> String {
    "usagi".into()
}

fn default_database() -> String {
    "usagi".into()
}

impl ServerConfig {
    /// Reads a TOML file.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml_parse(text)
    }

    /// The allowlisted origins, normalised: the server's own origins (see [`Self::own_origins`])
    /// followed by `allowed_origins`, or by `https://analytics.revenera.com` when that is unset.
    pub fn origins(&self) -> Vec<String> {
        let mut v = self.own_origins();
        match &self.allowed_origins {
            Some(list) => v.extend(list.iter().filter_map(|o| normalize_origin(o))),
            None => v.push("https://analytics.revenera.com".into()),
        }
        let mut seen = std::collections::HashSet::new();
        v.retain(|o| seen.insert(o.clone()));
        v
    }

    /// The origins the dashboard is served from, always allowed whatever `allowed_origins`
    /// says: the public origin, and when its host is a loopback name (`127.0.0.1`, `localhost`,
    /// `[::1]`) the other loopback spellings with the same scheme and port, so `usagi demo`
    /// works whether the browser is pointed at `localhost` or `127.0.0.1`.
    pub fn own_origins(&self) -> Vec<String> {
        let Some(public) = normalize_origin(&self.public_url) else {
            return Vec::new();
        };
        let (scheme, authority) = public.split_once("://").unwrap_or(("http", &public));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, rest)) => (format!("[{h}]"), rest.to_string()),
                None => (authority.to_string(), String::new()),
            },
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), format!(":{p}")),
                None => (authority.to_string(), String::new()),
            },
        };
        const LOOPBACK: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];
        let mut v = vec![public.clone()];
        if LOOPBACK.contains(&host.as_str()) {
            v.extend(LOOPBACK.iter().filter(|h| **h != host).map(|h| format!("{scheme}://{h}{port}")));
        }
        v
    }

    /// True when cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.to_ascii_lowercase().starts_with("https://")
    }
}

fn toml_parse(text: &str) -> Result<ServerConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// Normalises `scheme://host[:port]`: lower-case, default port removed, no path or trailing slash.
/// The literal `null` never matches (reporting-api §1.3).
pub fn normalize_origin(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("null") {
        return None;
    }
    let (scheme, rest) = raw.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split('/').next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_string(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalize_origin("HTTPS://Analytics.Revenera.com:443/").as_deref(),
            Some("https://analytics.revenera.com")
        );
        assert_eq!(normalize_origin("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("ftp://x"), None);
    }

    #[test]
    fn default_allowlist() {
        let c = ServerConfig::default();
        assert_eq!(
            c.origins(),
            vec![
                "http://127.0.0.1:8080".to_string(),
                "http://localhost:8080".to_string(),
                "http://[::1]:8080".to_string(),
                "https://analytics.revenera.com".to_string()
            ]
        );
    }

    #[test]
    fn own_origin_survives_an_explicit_allowlist() {
        let c = ServerConfig {
            public_url: "https://ui.example.com".into(),
            allowed_origins: Some(vec!["https://other.example.com:8443/".into()]),
            ..Default::default()
        };
        assert_eq!(
            c.origins(),
            vec!["https://ui.example.com".to_string(), "https://other.example.com:8443".to_string()]
        );
        let local = ServerConfig { public_url: "http://localhost:9000".into(), ..Default::default() };
        assert_eq!(
            local.own_origins(),
            vec![
                "http://localhost:9000".to_string(),
                "http://127.0.0.1:9000".to_string(),
                "http://[::1]:9000".to_string()
            ]
        );
        let v6 = ServerConfig { public_url: "http://[::1]".into(), ..Default::default() };
        assert_eq!(
            v6.own_origins(),
            vec!["http://[::1]".to_string(), "http://127.0.0.1".to_string(), "http://localhost".to_string()]
        );
    }

    #[test]
    fn catalog_url() {
        let c = ServerConfig::from_toml("[catalog]\nurl = \"postgres://usagi@127.0.0.1:5432/usagi\"").unwrap();
        assert_eq!(c.catalog.url.as_deref(), Some("postgres://usagi@127.0.0.1:5432/usagi"));
        assert_eq!(ServerConfig::default().catalog.url, None);
        assert_eq!(redact_url("postgres://u:secret@h:5432/db?x=1"), "postgres://u:***@h:5432/db?x=1");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn toml_rejects_unknown_keys() {
        assert!(
            ServerConfig::from_toml("listen = \"127.0.0.1:9\"\n[clock]\nfixed_now = \"2024-03-20T12:00:00Z\"").is_ok()
        );
        assert!(ServerConfig::from_toml("lisen = 1").is_err());
    }
}
