//! `usagi keys import|export`: the license key registry as CSV, for vendors who keep keys in
//! a CRM (issue 5). Columns are the key record fields of reporting-api §12.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use serde_json::json;
use usagi_types::{LicenseKeyPatch, LicenseType, ProductId};

/// `usagi keys …`
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Insert or update keys from a CSV file with a header row, all or nothing.
    ///
    /// `licenseKey` is required; the other columns (licenseType, activated, expired, blocked,
    /// allowed, expiryDate, quota, notes) are optional. A column left out of the header leaves
    /// that field of existing keys untouched; in a present column an empty expiryDate, quota or
    /// notes cell clears the field, and an empty type or flag cell leaves it untouched.
    Import {
        /// The product id.
        #[arg(long)]
        product: String,
        /// The CSV file.
        file: PathBuf,
    },
    /// Write the registry as CSV (to FILE, or standard output).
    Export {
        /// The product id.
        #[arg(long)]
        product: String,
        /// The CSV file to write; standard output if left out.
        file: Option<PathBuf>,
    },
}

/// Header of exported files (also accepted on import, where addedDate and autoCollected are ignored).
const COLUMNS: [&str; 11] = [
    "licenseKey",
    "licenseType",
    "activated",
    "expired",
    "blocked",
    "allowed",
    "expiryDate",
    "quota",
    "notes",
    "addedDate",
    "autoCollected",
];

fn product_id(raw: &str) -> anyhow::Result<ProductId> {
    ProductId::parse(raw).map_err(|e| anyhow::anyhow!("--product '{raw}': {e}"))
}

fn flag(cell: &str, line: usize, column: &str) -> anyhow::Result<Option<bool>> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        other => bail!("line {line}, column '{column}': '{other}' is not true or false"),
    }
}

/// Parses every row into a patch; the first error names its line and column.
fn parse(path: &Path) -> anyhow::Result<Vec<LicenseKeyPatch>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    for h in headers.iter() {
        if !COLUMNS.contains(&h) {
            bail!("unknown column '{h}'; the columns are: {}", COLUMNS.join(", "));
        }
    }
    let index = |name: &str| headers.iter().position(|h| h == name);
    let key_column = index("licenseKey").context("the header needs a 'licenseKey' column")?;
    let mut patches = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("line {line}"))?;
        let cell = |name: &str| index(name).and_then(|c| record.get(c));
        let key = record.get(key_column).unwrap_or("").to_string();
        if key.is_empty() || key.chars().count() > 256 {
            bail!("line {line}, column 'licenseKey': must be 1 to 256 characters");
        }
        if !seen.insert(key.clone()) {
            bail!("line {line}, column 'licenseKey': '{key}' appears twice");
        }
        let mut p = LicenseKeyPatch::new(key);
        if let Some(t) = cell("licenseType").filter(|t| !t.is_empty()) {
            p.license_type = Some(
                LicenseType::parse(t)
                    .with_context(|| format!("line {line}, column 'licenseType': '{t}' is not a license type"))?,
            );
        }
        p.activated = cell("activated").map(|c| flag(c, line, "activated")).transpose()?.flatten();
        p.expired = cell("expired").map(|c| flag(c, line, "expired")).transpose()?.flatten();
        p.blocked = cell("blocked").map(|c| flag(c, line, "blocked")).transpose()?.flatten();
        p.allowed = cell("allowed").map(|c| flag(c, line, "allowed")).transpose()?.flatten();
        if let Some(d) = cell("expiryDate") {
            p.expiry_date = Some(if d.is_empty() {
                None
            } else {
                Some(
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .with_context(|| format!("line {line}, column 'expiryDate': '{d}' is not YYYY-MM-DD"))?,
                )
            });
        }
        if let Some(q) = cell("quota") {
            p.quota = Some(if q.is_empty() {
                None
            } else {
                Some(
                    q.parse::<u32>()
                        .with_context(|| format!("line {line}, column 'quota': '{q}' is not an integer >= 0"))?,
                )
            });
        }
        if let Some(n) = cell("notes") {
            if n.chars().count() > 1024 {
                bail!("line {line}, column 'notes': at most 1024 characters");
            }
            p.notes = Some((!n.is_empty()).then(|| n.to_string()));
        }
        patches.push(p);
    }
    Ok(patches)
}

/// Runs a keys command.
pub async fn keys(data_dir: &Path, cmd: KeysCommand) -> anyhow::Result<()> {
    let catalog = usagi_server::open_catalog(data_dir).await?;
    match cmd {
        KeysCommand::Import { product, file } => {
            let product = product_id(&product)?;
            anyhow::ensure!(catalog.get_product(product).await?.is_some(), "no product {product}");
            let patches = parse(&file)?;
            anyhow::ensure!(!patches.is_empty(), "{} holds no keys", file.display());
            let (inserted, updated) = catalog.update_license_keys(product, patches, Utc::now().date_naive()).await?;
            println!("{}", json!({"inserted": inserted, "updated": updated}));
        }
        KeysCommand::Export { product, file } => {
            let product = product_id(&product)?;
            anyhow::ensure!(catalog.get_product(product).await?.is_some(), "no product {product}");
            let out: Box<dyn Write> = match &file {
                Some(path) => {
                    Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
                }
                None => Box::new(std::io::stdout()),
            };
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(COLUMNS)?;
            let mut start: Option<String> = None;
            let mut count = 0usize;
            loop {
                let page = catalog.list_license_keys(product, start.clone(), 1000).await?;
                let Some(last) = page.last() else { break };
                // Inclusive cursor: the next page starts just after the last key.
                start = Some(format!("{}\u{0}", last.key));
                for k in &page {
                    writer.write_record([
                        k.key.clone(),
                        k.license_type.as_str().to_string(),
                        k.activated.to_string(),
                        k.expired.to_string(),
                        k.blocked.to_string(),
                        k.allowed.to_string(),
                        k.expiry_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
                        k.quota.map(|q| q.to_string()).unwrap_or_default(),
                        k.notes.clone().unwrap_or_default(),
                        k.added_date.format("%Y-%m-%d").to_string(),
                        k.auto_collected.to_string(),
                    ])?;
                }
                count += page.len();
                if page.len() < 1000 {
                    break;
                }
            }
            writer.flush()?;
            if file.is_some() {
                println!("{}", json!({"exported": count}));
            }
        }
    }
    Ok(())
}
