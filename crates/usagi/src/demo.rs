//! `usagi simulate` and `usagi demo`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use usagi_catalog::{NewUser, Role};
use usagi_simulate::{FleetConfig, SimulateConfig};
use usagi_types::ProductId;

use crate::serve::{shutdown_signal, ServeArgs};

/// Flags of `usagi simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Product id.
    #[arg(long)]
    pub product: String,
    /// The product's secret (32 hex characters).
    #[arg(long)]
    pub secret: String,
    /// Number of installations.
    #[arg(long, default_value_t = 1000)]
    pub installs: u32,
    /// Days of history.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Last simulated day [default: today].
    #[arg(long)]
    pub end_date: Option<NaiveDate>,
    /// Random seed; the same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Concurrent uploads.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Send each batch's simulated receive time (`X-Usagi-Receive-Time`); the server
    /// honours it only with `ingest.allow_simulated_receive_time`.
    #[arg(long)]
    pub simulated_receive_time: bool,
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} records ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

async fn run_simulation(cfg: SimulateConfig, show_progress: bool) -> anyhow::Result<usagi_simulate::SimulateSummary> {
    let bar = show_progress.then(|| progress_bar(0));
    let summary = usagi_simulate::run(cfg, bar.clone()).await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(summary)
}

/// Runs `usagi simulate`.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let product = ProductId::parse(&args.product).map_err(|e| anyhow::anyhow!("--product: {e}"))?;
    let end = args.end_date.unwrap_or_else(|| Utc::now().date_naive());
    let fleet = FleetConfig::new(args.installs, args.days, end, args.seed);
    let mut cfg = SimulateConfig::new(args.url.trim_end_matches('/'), product, args.secret, fleet);
    cfg.concurrency = args.concurrency.max(1);
    cfg.simulated_receive_time = args.simulated_receive_time;
    let summary = run_simulation(cfg, true).await?;
    println!("{summary}");
    Ok(())
}

/// Flags of `usagi demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Installations to simulate.
    #[arg(long, default_value_t = 3000)]
    pub installs: u32,
    /// Days of history to simulate.
    #[arg(long, default_value_t = 180)]
    pub days: u32,
}

const DEMO_MARKER: &str = ".usagi-demo";
const DEMO_PRODUCT: &str = "2376158762";
const DEMO_EMAIL: &str = "demo@usagi.local";

/// Runs `usagi demo`: a fresh data directory, a demo product and user, a simulated
/// fleet loading in the background, and the server until Ctrl-C.
pub async fn demo(data_dir: &Path, args: DemoArgs) -> anyhow::Result<()> {
    if data_dir.exists() {
        let is_demo = data_dir.join(DEMO_MARKER).exists();
        let empty = std::fs::read_dir(data_dir)?.next().is_none();
        if !is_demo && !empty {
            bail!("{} holds data that is not a demo; choose another --data-dir", data_dir.display());
        }
        std::fs::remove_dir_all(data_dir).with_context(|| format!("clearing {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(data_dir.join(DEMO_MARKER), "created by `usagi demo`; deleted by the next `usagi demo`\n")?;

    // The demo is self-contained: always the embedded catalog of its fresh directory.
    let catalog = usagi_server::open_catalog_at(data_dir, None).await?;
    let product_id = ProductId::parse(DEMO_PRODUCT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (product, secret) = catalog.create_product("Demo App", Some(product_id), Utc::now()).await?;
    let password: String = {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..16).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect()
    };
    let user = catalog
        .create_user(
            NewUser {
                email: DEMO_EMAIL.into(),
                name: "Demo".into(),
                surname: "User".into(),
                admin: false,
                password: password.clone(),
            },
            Utc::now(),
        )
        .await?;
    catalog.grant(user.id, product.id, Role::Editor, true).await?;
    drop(catalog);

    let serve_args = ServeArgs { listen: Some(args.listen), ..Default::default() };
    let mut config = crate::serve::load_config(&serve_args)?;
    config.ingest.allow_simulated_receive_time = true;
    let running = crate::serve::start(data_dir, config).await?;
    let url = format!("http://{}", running.addr);

    let fleet = FleetConfig::new(args.installs, args.days, Utc::now().date_naive(), 1);
    let mut sim = SimulateConfig::new(url.clone(), product.id, secret.clone(), fleet);
    sim.simulated_receive_time = true;
    sim.concurrency = 8;
    let loader = tokio::spawn(async move {
        match run_simulation(sim, false).await {
            Ok(summary) => eprintln!("\ndemo fleet loaded:\n{summary}"),
            Err(e) => eprintln!("\ndemo fleet failed: {e}"),
        }
    });

    println!(
        r#"Usagi demo is running at {url}
  product  {pid} ("Demo App"), secret {secret}
  user     {DEMO_EMAIL} / {password}
A fleet of {installs} installations over {days} days is loading in the background, oldest
history first (about a minute and a half); recent days fill in last.

Dashboard: open {url}/ in a browser and sign in with the user above.

Try it (cookie login, then a daily active-users series):
  curl -s -c /tmp/usagi.jar -b /tmp/usagi.jar -H 'Origin: {url}' -H 'Content-Type: application/json' \
    -d '{{"userName":"{DEMO_EMAIL}","password":"{password}"}}' {url}/v3/auth/web; echo
  curl -s -c /tmp/usagi.jar -b /tmp/usagi.jar -H 'Origin: {url}' -H 'Content-Type: application/json' \
    -d '{{"userName":"{DEMO_EMAIL}","password":"{password}"}}' {url}/v3/auth/web; echo
  curl -s -b /tmp/usagi.jar -H 'Origin: {url}' -H 'Content-Type: application/json' \
    -d '{{"startDate":"NOW-30","stopDate":"NOW","dateSplit":"day","clientStatus":["new","active","lost"]}}' \
    {url}/v3/reporting/generic/dateRange/{pid}; echo
(The first login answers "Cookie Missing" and sets the CSRF cookie; the second succeeds.)
Press Ctrl-C to stop."#,
        pid = product.id,
        installs = args.installs,
        days = args.days,
    );
    shutdown_signal().await;
    loader.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    running.shutdown().await;
    Ok(())
}
