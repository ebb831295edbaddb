//! Admin commands: products, users, grants and tokens. They only touch the catalog,
//! so they work while `usagi serve` runs on the same data directory.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use clap::Subcommand;
use serde_json::json;
use usagi_catalog::{NewUser, ProductSettingsPatch, Role};
use usagi_types::ProductId;

/// `usagi product …`
#[derive(Subcommand)]
pub enum ProductCommand {
    /// Create a product; prints {"productId","secret"} (the secret is shown only once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// A 10-digit id; random if left out.
        #[arg(long)]
        id: Option<String>,
    },
    /// Change product settings.
    Set {
        /// The product id.
        #[arg(long)]
        id: String,
        /// Days without activity after which an installation is lost (1–365).
        #[arg(long)]
        days_until_declared_lost: Option<u32>,
        /// Days of detail data kept.
        #[arg(long)]
        retention_days: Option<u32>,
        /// Seconds between SDK syncs (60–86400).
        #[arg(long)]
        next_sync_seconds: Option<u32>,
        /// Active-installation quota, or "none".
        #[arg(long)]
        max_active_installations: Option<String>,
        /// Back-off length for installations over the quota.
        #[arg(long)]
        back_off_days: Option<u32>,
        /// Friendly name of a custom property, e.g. `C01=Download Source` (repeatable).
        #[arg(long = "custom-name")]
        custom_names: Vec<String>,
    },
    /// List products.
    List,
}

/// `usagi user …`
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// Login name.
        #[arg(long)]
        email: String,
        /// First name.
        #[arg(long, default_value = "")]
        name: String,
        /// Last name.
        #[arg(long, default_value = "")]
        surname: String,
        /// Server administrator (sees every product).
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Give a user a role on a product.
    Grant {
        /// Login name.
        #[arg(long)]
        email: String,
        /// Product id.
        #[arg(long)]
        product: String,
        /// viewer, editor or admin.
        #[arg(long)]
        role: String,
        /// Also grant the licenseKeys permission.
        #[arg(long)]
        license_keys: bool,
    },
    /// List users.
    List,
}

/// `usagi token …`
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a user; printed once.
    Create {
        /// The user the token acts as.
        #[arg(long)]
        user: String,
        /// Narrow the token to these products (repeatable); default: all the user sees.
        #[arg(long = "product")]
        products: Vec<String>,
        /// Refuse writes (event settings, license keys).
        #[arg(long)]
        read_only: bool,
        /// Expire after this many days.
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// Revoke a token by its id (see `token list`).
    Revoke {
        /// Token id.
        #[arg(long)]
        id: i64,
    },
    /// List a user's tokens.
    List {
        /// The user.
        #[arg(long)]
        user: String,
    },
}

fn product_id(raw: &str) -> anyhow::Result<ProductId> {
    ProductId::parse(raw).map_err(|e| anyhow::anyhow!("--id/--product '{raw}': {e}"))
}

/// Runs a product command.
pub async fn product(data_dir: &Path, cmd: ProductCommand) -> anyhow::Result<()> {
    let catalog = usagi_server::open_catalog(data_dir).await?;
    match cmd {
        ProductCommand::Create { name, id } => {
            let id = id.as_deref().map(product_id).transpose()?;
            let (product, secret) = catalog.create_product(&name, id, Utc::now()).await?;
            println!("{}", json!({"productId": product.id.to_string(), "secret": secret}));
        }
        ProductCommand::Set {
            id,
            days_until_declared_lost,
            retention_days,
            next_sync_seconds,
            max_active_installations,
            back_off_days,
            custom_names,
        } => {
            let id = product_id(&id)?;
            let mut patch = ProductSettingsPatch {
                days_until_declared_lost,
                retention_days,
                next_sync_seconds,
                back_off_days,
                ..Default::default()
            };
            if let Some(q) = max_active_installations {
                patch.max_active_installations =
                    Some(if q == "none" { None } else { Some(q.parse().context("--max-active-installations")?) });
            }
            for pair in custom_names {
                let (slot, name) = pair.split_once('=').context("--custom-name takes C01=Name")?;
                let n: u8 = slot.trim_start_matches('C').parse().context("--custom-name slot must be C01..C20")?;
                patch.custom_property_names.insert(n, (!name.is_empty()).then(|| name.to_string()));
            }
            let product = catalog.update_product_settings(id, patch).await?;
            let s = &product.settings;
            println!(
                "{}",
                json!({"productId": product.id.to_string(), "daysUntilDeclaredLost": s.days_until_declared_lost,
                       "retentionDays": s.retention_days, "nextSyncSeconds": s.next_sync_seconds,
                       "maxActiveInstallations": s.max_active_installations, "backOffDays": s.back_off_days})
            );
        }
        ProductCommand::List => {
            for p in catalog.list_products().await? {
                println!("{}", json!({"productId": p.id.to_string(), "name": p.name, "disabled": p.disabled}));
            }
        }
    }
    Ok(())
}

/// Runs a user command.
pub async fn user(data_dir: &Path, cmd: UserCommand) -> anyhow::Result<()> {
    let catalog = usagi_server::open_catalog(data_dir).await?;
    match cmd {
        UserCommand::Create { email, name, surname, admin, password_stdin: _ } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            if password.is_empty() {
                bail!("no password on standard input");
            }
            let user = catalog.create_user(NewUser { email, name, surname, admin, password }, Utc::now()).await?;
            println!("{}", json!({"userId": user.id, "email": user.email, "admin": user.admin}));
        }
        UserCommand::Grant { email, product, role, license_keys } => {
            let product = product_id(&product)?;
            let role = Role::from_str(&role).map_err(|_| anyhow::anyhow!("--role must be viewer, editor or admin"))?;
            let user = catalog.get_user_by_email(&email).await?.with_context(|| format!("no user {email}"))?;
            catalog.grant(user.id, product, role, license_keys).await?;
            println!(
                "{}",
                json!({"email": user.email, "product": product.to_string(), "role": role.as_str(), "licenseKeys": license_keys})
            );
        }
        UserCommand::List => {
            for u in catalog.list_users().await? {
                println!("{}", json!({"userId": u.id, "email": u.email, "admin": u.admin}));
            }
        }
    }
    Ok(())
}

/// Runs a token command.
pub async fn token(data_dir: &Path, cmd: TokenCommand) -> anyhow::Result<()> {
    let catalog = usagi_server::open_catalog(data_dir).await?;
    match cmd {
        TokenCommand::Create { user, products, read_only, expires_in } => {
            let u = catalog.get_user_by_email(&user).await?.with_context(|| format!("no user {user}"))?;
            let products = products.iter().map(|p| product_id(p)).collect::<anyhow::Result<Vec<_>>>()?;
            let now = Utc::now();
            let expires = expires_in.map(|d| now + Duration::days(d));
            let (info, token) = catalog.create_token(u.id, products, read_only, expires, now).await?;
            println!(
                "{}",
                json!({"tokenId": info.id, "token": token, "readOnly": info.read_only,
                                  "expiresAt": info.expires_at.map(|t| t.to_rfc3339())})
            );
        }
        TokenCommand::Revoke { id } => {
            if !catalog.revoke_token(id, Utc::now()).await? {
                bail!("no token with id {id}");
            }
            println!("{}", json!({"tokenId": id, "revoked": true}));
        }
        TokenCommand::List { user } => {
            let u = catalog.get_user_by_email(&user).await?.with_context(|| format!("no user {user}"))?;
            for t in catalog.list_tokens(u.id).await? {
                println!(
                    "{}",
                    json!({"tokenId": t.id, "prefix": t.prefix, "readOnly": t.read_only,
                    "products": t.products.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                    "revoked": t.revoked_at.is_some(), "expiresAt": t.expires_at.map(|x| x.to_rfc3339())})
                );
            }
        }
    }
    Ok(())
}

/// `usagi client …`: operator controls of one installation (semantics §11).
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Disable an installation: its syncs are answered {"disable":true} and discarded.
    Disable(ClientArgs),
    /// Re-enable a disabled installation.
    Enable(ClientArgs),
    /// Answer an installation's next syncs with a back-off instruction for DAYS days.
    Backoff {
        #[command(flatten)]
        client: ClientArgs,
        /// Length of the back-off in days (1–365).
        #[arg(long)]
        days: u32,
    },
    /// End an installation's own back-off (its back-off history is kept).
    ClearBackoff(ClientArgs),
    /// Print an installation's controls as JSON.
    Show(ClientArgs),
    /// Erase every record of an installation from the warehouse. Needs the server stopped
    /// (it holds the warehouse); with the server running use `POST /v3/admin/erase/{product}`.
    Erase(ClientArgs),
}

/// The installation a client command acts on.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The product id.
    #[arg(long)]
    product: String,
    /// The 16-hex-character client id.
    #[arg(long)]
    client: String,
}

impl ClientArgs {
    fn ids(&self) -> anyhow::Result<(ProductId, usagi_types::ClientId)> {
        let product = product_id(&self.product)?;
        let client = usagi_types::ClientId::parse(&self.client.to_ascii_uppercase())
            .map_err(|e| anyhow::anyhow!("--client '{}': {e}", self.client))?;
        Ok((product, client))
    }
}

/// Runs a client command.
pub async fn client(data_dir: &Path, cmd: ClientCommand) -> anyhow::Result<()> {
    let catalog = usagi_server::open_catalog(data_dir).await?;
    let args = match &cmd {
        ClientCommand::Disable(a)
        | ClientCommand::Enable(a)
        | ClientCommand::ClearBackoff(a)
        | ClientCommand::Show(a)
        | ClientCommand::Erase(a) => a,
        ClientCommand::Backoff { client, .. } => client,
    };
    let (product, client) = args.ids()?;
    anyhow::ensure!(catalog.get_product(product).await?.is_some(), "no product {product}");
    match &cmd {
        ClientCommand::Disable(_) => catalog.set_installation_disabled(product, client, true).await?,
        ClientCommand::Enable(_) => catalog.set_installation_disabled(product, client, false).await?,
        ClientCommand::Backoff { days, .. } => {
            anyhow::ensure!((1..=365).contains(days), "--days must be 1 to 365");
            catalog.start_back_off(product, Some(client), Utc::now() + chrono::Duration::days(i64::from(*days))).await?
        }
        ClientCommand::ClearBackoff(_) => catalog.clear_back_off(product, Some(client)).await?,
        ClientCommand::Show(_) => {}
        ClientCommand::Erase(_) => {
            let config = usagi_server::ServerConfig::default();
            let warehouse = crate::serve::open_warehouse(data_dir, &config).await.map_err(|e| {
                anyhow::anyhow!(
                    "could not open the warehouse ({e}); if `usagi serve` is running, stop it or call \
                     POST /v3/admin/erase/{product} as an administrator"
                )
            })?;
            // Acknowledged batches still in the ingest log are loaded first, so none of them
            // brings the installation back after the erasure.
            let dirs = usagi_server::DataDir(data_dir.to_path_buf());
            let ingest =
                usagi_ingest::Ingest::open(usagi_ingest::IngestConfig::new(dirs.ingest()), warehouse.clone()).await?;
            if !ingest.wait_loaded(ingest.durable_lsn(), std::time::Duration::from_secs(600)).await {
                anyhow::bail!("the ingest log could not be loaded into the warehouse; nothing was erased");
            }
            let removed = warehouse.erase_installation(product, client).await?;
            ingest.shutdown(std::time::Duration::from_secs(30)).await;
            let now = Utc::now();
            catalog.record_erasure(product, client, now).await?;
            // Files not final yet are dropped; the server's export job rebuilds them without it.
            let store = usagi_export::ExportStore::open(&dirs.exports())?;
            let dropped = usagi_export::job::drop_unfinished(&store, product, now)?;
            println!(
                "{}",
                json!({"productId": product.to_string(), "clientId": client.to_string(), "erasedRecords": removed,
                       "droppedFiles": dropped})
            );
            return Ok(());
        }
    }
    let c = catalog.installation_control(product, client).await?;
    println!(
        "{}",
        json!({"productId": product.to_string(), "clientId": client.to_string(), "disabled": c.disabled,
               "backOffUntil": c.back_off_until.map(|t| t.to_rfc3339()), "backOffEver": c.back_off_ever})
    );
    Ok(())
}
