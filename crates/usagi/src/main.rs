//! `usagi`: the one command of Usagi. Thin: parses flags and calls the library crates.

mod admin;
mod bench;
mod bench_dataset;
mod bench_export;
mod bench_http;
mod bench_ingest;
mod bench_server;
mod chaos;
mod chaos_cluster;
mod demo;
mod export;
mod keys;
mod migrate;
mod retention;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc for every Rust allocation: `usagi bench ingest` measured 24% more records per
/// server CPU-second than with glibc's malloc (BENCHMARKS.md, 2026-11-27).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// glibc arenas for what still uses `malloc` (DuckDB's C++ side) in a server process.
///
/// glibc gives each thread that contends for a lock its own arena, up to eight per core, and
/// keeps the freed memory of each: with DuckDB's worker, loader and report threads that was
/// a few hundred MiB of resident memory after a five-minute ingest. `MALLOC_ARENA_MAX`, when
/// set, wins.
const SERVER_MALLOC_ARENAS: i32 = 2;

fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator parameters; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, SERVER_MALLOC_ARENAS);
        }
    }
}

/// Self-hosted software usage intelligence.
#[derive(Parser)]
#[command(name = "usagi", version, about, propagate_version = true)]
struct Cli {
    /// The data directory (catalog, warehouse and ingest log).
    #[arg(long, global = true, env = "USAGI_DATA_DIR", default_value = "./usagi-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (call-home ingestion and the v3 Reporting API).
    Serve(serve::ServeArgs),
    /// Manage products.
    #[command(subcommand)]
    Product(admin::ProductCommand),
    /// Manage users and their permissions.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage API bearer tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Operator controls of one installation: disable, enable, back-off.
    #[command(subcommand)]
    Client(admin::ClientCommand),
    /// Import or export the license key registry as CSV.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Purge detail data older than each product's retention (the server does it daily).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Export files: build a day's files on demand.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Copy products from a data directory's embedded stores to the scale-out stores of a
    /// configuration (PostgreSQL catalog, ClickHouse warehouse) and compare their reports.
    Migrate(migrate::MigrateArgs),
    /// Send a simulated fleet through the real call-home protocol.
    Simulate(demo::SimulateArgs),
    /// Start a server with a demo product, user and a simulated fleet, for a first look.
    Demo(demo::DemoArgs),
    /// Measure report latency on a large generated fleet (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("USAGI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        limit_malloc_arenas();
    }
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&cli.data_dir, args).await,
            Command::Product(cmd) => admin::product(&cli.data_dir, cmd).await,
            Command::User(cmd) => admin::user(&cli.data_dir, cmd).await,
            Command::Token(cmd) => admin::token(&cli.data_dir, cmd).await,
            Command::Client(cmd) => admin::client(&cli.data_dir, cmd).await,
            Command::Keys(cmd) => keys::keys(&cli.data_dir, cmd).await,
            Command::Retention(cmd) => retention::run(&cli.data_dir, cmd).await,
            Command::Export(cmd) => export::export(&cli.data_dir, cmd).await,
            Command::Migrate(args) => migrate::migrate(args).await,
            Command::Simulate(args) => demo::simulate(args).await,
            Command::Demo(args) => demo::demo(&cli.data_dir, args).await,
            Command::Bench(cmd) => bench::run(cmd).await,
        }
    })
}
