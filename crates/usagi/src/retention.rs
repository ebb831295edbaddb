//! `usagi retention run`: the daily retention pass of `usagi serve`, run offline by an operator
//! (after lowering a product's `retentionDays`, say). Needs the server stopped: DuckDB admits
//! one process.

use std::path::Path;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Retention commands.
#[derive(clap::Subcommand)]
pub enum RetentionCommand {
    /// Purge detail data older than each product's retentionDays now (lifetime aggregates are
    /// kept), and the batch receipts of that age. Needs the server stopped.
    Run {
        /// Only this product (default: every product).
        #[arg(long)]
        product: Option<String>,
    },
}

/// Runs a retention command.
pub async fn run(data_dir: &Path, cmd: RetentionCommand) -> anyhow::Result<()> {
    let RetentionCommand::Run { product } = cmd;
    let catalog = usagi_server::open_catalog(data_dir).await?;
    let products = match product {
        Some(raw) => {
            let id = usagi_types::ProductId::parse(&raw).map_err(|e| anyhow::anyhow!("--product '{raw}': {e}"))?;
            vec![catalog.get_product(id).await?.ok_or_else(|| anyhow::anyhow!("no product {id}"))?]
        }
        None => catalog.list_products().await?,
    };
    let config = usagi_server::ServerConfig::default();
    let warehouse = crate::serve::open_warehouse(data_dir, &config).await.map_err(|e| {
        anyhow::anyhow!(
            "could not open the warehouse ({e}); if `usagi serve` is running, stop it: it runs this pass daily"
        )
    })?;
    let receipts = usagi_server::retention::open_receipts(data_dir).await?;

    let today = Utc::now().date_naive();
    let bar = ProgressBar::new(products.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} products {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Vec::new();
    let (mut installations, mut fact_rows, mut receipts_pruned) = (0u64, 0u64, 0u64);
    for product in &products {
        bar.set_message(format!("{} (before {})", product.id, usagi_server::retention::cutoff(product, today)));
        let done = usagi_server::retention::purge_product(warehouse.as_ref(), &receipts, product, today).await?;
        installations += done.purged.installations;
        fact_rows += done.purged.fact_rows;
        receipts_pruned += done.receipts;
        summary.push(json!({
            "productId": done.product.to_string(), "oldestReportedDate": done.cutoff.to_string(),
            "installations": done.purged.installations, "factRows": done.purged.fact_rows, "receipts": done.receipts
        }));
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "retention: {} product(s); {installations} installation(s) folded into lifetime aggregates, \
         {fact_rows} fact row(s) and {receipts_pruned} receipt(s) purged",
        products.len()
    );
    println!("{}", json!({ "products": summary }));
    Ok(())
}
