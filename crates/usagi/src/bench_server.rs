//! The pieces every benchmark that runs a real server shares: `usagi serve` as a child process
//! on a fresh data directory and a free loopback port, its memory from `/proc`, and a minimal
//! HTTP/1.1 client over tokio's `TcpStream` (keep-alive, `Content-Length` or chunked answers),
//! so that a killed server surfaces as a plain I/O error that callers retry.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The `usagi serve` child process of a benchmark run.
pub struct ChildServer {
    dir: PathBuf,
    addr: SocketAddr,
    config: Option<PathBuf>,
    child: Option<Child>,
}

impl ChildServer {
    /// A server on `dir` listening on `addr`, started by [`ChildServer::start`]; `config` is
    /// passed as `--config`.
    pub fn new(dir: &Path, addr: SocketAddr, config: Option<PathBuf>) -> Self {
        Self { dir: dir.to_path_buf(), addr, config, child: None }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory of the running process: (current, peak) in bytes, from
    /// `/proc/<pid>/status` (`VmRSS`, `VmHWM`); `None` off Linux or when not running.
    pub fn rss(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|kb| kb * 1024))
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Starts `usagi serve` (this very executable) and waits until it answers HTTP.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the usagi executable")?;
        let log = OpenOptions::new().create(true).append(true).open(self.dir.join("server.log"))?;
        let mut command = Command::new(exe);
        command.arg("--data-dir").arg(&self.dir).args(["serve", "--listen", &self.addr.to_string()]);
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        let child = command
            // `USAGI_BENCH_SERVER_LOG` raises the server's log level for profiling runs
            // (e.g. `usagi_warehouse_duckdb=debug` for the per-step load timings).
            .env("USAGI_LOG", std::env::var("USAGI_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            // `USAGI_BENCH_SERVER_MALLOC_ARENA_MAX` sets glibc's `MALLOC_ARENA_MAX` in the server
            // only, not in this process's simulated senders.
            .envs(std::env::var("USAGI_BENCH_SERVER_MALLOC_ARENA_MAX").map(|n| ("MALLOC_ARENA_MAX", n)))
            .env_remove("USAGI_CONFIG")
            .env_remove("USAGI_FIXED_NOW")
            .env_remove("USAGI_PUBLIC_URL")
            .env_remove("USAGI_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting usagi serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("usagi serve exited at start ({status}); see {}", self.dir.join("server.log").display());
                }
            }
            let mut conn = None;
            let probe = http(&mut conn, self.addr, "GET", "/v3/openapi.json", &[], &[]);
            if tokio::time::timeout(Duration::from_secs(2), probe).await.is_ok_and(|r| r.is_ok()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("usagi serve did not answer within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL (`Child::kill` on Unix) and reap.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing usagi serve")?;
            child.wait()?;
        }
        Ok(())
    }

    /// [`ChildServer::kill`], ignoring errors.
    pub fn kill_quietly(&mut self) {
        let _ = self.kill();
    }

    /// SIGTERM (through `kill -TERM`, as the binary links no libc bindings) and waits for the
    /// graceful exit; whether it exited 0.
    pub async fn terminate(&mut self) -> anyhow::Result<bool> {
        let Some(mut child) = self.child.take() else { return Ok(false) };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("could not send SIGTERM to usagi serve (is `kill` on PATH?)");
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill_quietly();
    }
}

/// The run's directory: the given one (absent or empty) or a fresh temporary one.
pub fn work_dir(given: Option<&Path>, prefix: &str) -> anyhow::Result<(PathBuf, bool)> {
    let (dir, fresh) = match given {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                bail!("--work-dir {} is not empty; the run needs a fresh directory", d.display());
            }
            (d.to_path_buf(), false)
        }
        None => {
            let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3f");
            (std::env::temp_dir().join(format!("usagi-{prefix}-{}-{stamp}", std::process::id())), true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok((dir, fresh))
}

/// A free loopback port (bound and released; a tiny race other processes rarely win).
/// The server configuration every bench scenario starts with: the per-principal rate limit
/// lifted (probes and report runs poll several times a second), the `[warehouse]` settings
/// given as `key=value` (e.g. `memory_limit=768MB`), and the ClickHouse cluster's section when
/// the scenario targets one.
pub fn bench_toml(warehouse: &[String], clickhouse: Option<String>) -> anyhow::Result<String> {
    let mut toml = String::from("[limits]\nrequests_per_second = 1000.0\nburst = 1000.0\n");
    if !warehouse.is_empty() {
        toml.push_str("[warehouse]\n");
        for setting in warehouse {
            let (key, value) =
                setting.split_once('=').with_context(|| format!("--warehouse {setting:?}: expected key=value"))?;
            let value = value.trim();
            let value = if value.parse::<f64>().is_ok() { value.to_string() } else { format!("{value:?}") };
            toml.push_str(&format!("{} = {value}\n", key.trim()));
        }
    }
    toml.push_str(&clickhouse.unwrap_or_default());
    Ok(toml)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 request on a kept-alive connection (opened when `conn` is `None`); the status
/// and body. Any error leaves `conn` closed.
pub async fn http(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let result = http_inner(conn, addr, method, path, headers, body).await;
    if result.is_err() {
        *conn = None;
    }
    result
}

async fn http_inner(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::{Error, ErrorKind};
    let bad = |what: &str| Error::new(ErrorKind::InvalidData, what.to_string());
    if conn.is_none() {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        *conn = Some(BufReader::new(stream));
    }
    let Some(stream) = conn.as_mut() else { return Err(bad("no connection")) };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    wire.extend_from_slice(body);
    stream.get_mut().write_all(&wire).await?;

    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed before the answer"));
    }
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = Some(value.parse().map_err(|_| bad("content-length"))?),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = out.len();
            out.resize(start + size, 0);
            stream.read_exact(&mut out[start..]).await?;
            let mut crlf = [0u8; 2];
            stream.read_exact(&mut crlf).await?;
        }
    } else if let Some(n) = length {
        out.resize(n, 0);
        stream.read_exact(&mut out).await?;
    } else {
        stream.read_to_end(&mut out).await?;
        close = true;
    }
    if close {
        *conn = None;
    }
    Ok((status, out))
}

/// Polls `GET /healthz` of a server until its ingest backlog is empty (everything acknowledged
/// is in the warehouse); the time it took, or an error after `timeout`.
pub async fn wait_drained(addr: SocketAddr, timeout: std::time::Duration) -> anyhow::Result<std::time::Duration> {
    let started = std::time::Instant::now();
    loop {
        let mut conn = None;
        if let Ok((200, body)) = http(&mut conn, addr, "GET", "/healthz", &[], b"").await {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if v["ingest"]["backlogBytes"].as_u64() == Some(0) {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > timeout {
            anyhow::bail!("the ingest backlog did not drain within {} s", timeout.as_secs());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
