//! The PostgreSQL catalog: one database shared by any number of `usagi serve` processes
//! and the admin CLI.
//!
//! Everything the server keeps about sessions, tokens, download URLs, license keys and
//! installation controls lives in the database, so any process behind a load balancer can
//! answer any request. Multi-statement writes run in transactions (PostgreSQL's default READ
//! COMMITTED); where the SQLite catalog relies on its single writer lock, this backend uses
//! atomic statements (`INSERT … ON CONFLICT`, conditional `UPDATE … RETURNING`) or a row
//! lock on the product or user the write belongs to. Rate limits and leases live here too
//! (`limits.rs`), so a client gets one limit whichever server answers.

mod codec;
mod downloads;
mod event_settings;
mod installations;
mod license_keys;
mod limits;
mod migrations;
mod products;
mod server_keys;
mod sessions;
mod tokens;
mod transfer;
mod users;

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::{Client, GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use usagi_types::{ClientId, ProductId};

use crate::catalog::{Catalog, CSRF_KEY_NAME};
use crate::download::{DownloadGrant, Erasure, IssuedDownload};
use crate::error::{CatalogError, Result};
use crate::event_setting::EventSetting;
use crate::installation::{BackOffStates, InstallationControl};
use crate::license_key::{LicenseKeyPatch, LicenseKeyRecord};
use crate::product::{Product, ProductSettingsPatch};
use crate::session::SessionLookup;
use crate::token::{TokenInfo, TokenLookup};
use crate::user::{
    check_password, clean_email, clean_person_name, dummy_hash, hash_password, normalize_email, verify_password_hash,
    NewUser, Permission, ProductAccess, Role, User,
};

/// Connections one process keeps at most (each request needs one only while it queries).
const MAX_CONNECTIONS: usize = 16;
/// How long connecting to the database may take before the request fails.
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The PostgreSQL implementation of [`Catalog`].
#[derive(Clone)]
pub struct PostgresCatalog {
    pool: Pool,
}

/// Whether a catalog location names PostgreSQL (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl PostgresCatalog {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db[?…]`)
    /// and applies pending migrations. Connections are plain TCP (no TLS): keep the database on
    /// loopback or a private network.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| CatalogError::invalid(format!("catalog url: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .build()
            .map_err(|e| CatalogError::Storage(format!("connection pool: {e}")))?;
        let mut client = pool.get().await?;
        migrations::migrate(&mut client).await?;
        // Computed now so that the first login of an unknown user is not slower than later ones.
        blocking(|| Ok(dummy_hash().map(|_| ()))).await?;
        Ok(Self { pool })
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        migrations::latest_version()
    }

    /// For tests: creates an empty schema with a fresh random name in the database at `url`
    /// and returns a URL whose connections use it, so each test gets a catalog of its own.
    pub async fn scratch_schema(url: &str) -> Result<String> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| CatalogError::invalid(format!("catalog url: {e}")))?;
        let (client, connection) = config.connect(NoTls).await?;
        let driver = tokio::spawn(connection);
        let name = format!("usagi_test_{}", crate::credentials::new_user_token().to_ascii_lowercase());
        client.batch_execute(&format!("CREATE SCHEMA {name}")).await?;
        drop(client);
        let _ = driver.await;
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}options=-csearch_path%3D{name}"))
    }

    /// A pooled connection.
    async fn client(&self) -> Result<Client> {
        Ok(self.pool.get().await?)
    }
}

/// Runs CPU-heavy work (argon2) off the async executor.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| CatalogError::Task(e.to_string()))?
}

// Statement helpers: every statement is prepared once per connection and then reused.

async fn query(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

async fn query_one(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

async fn query_opt(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

async fn execute(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

#[async_trait]
impl Catalog for PostgresCatalog {
    async fn create_product(&self, name: &str, id: Option<ProductId>, now: DateTime<Utc>) -> Result<(Product, String)> {
        products::create(&mut self.client().await?, name, id, now).await
    }

    async fn get_product(&self, id: ProductId) -> Result<Option<Product>> {
        products::get_product(&self.client().await?, id).await
    }

    async fn list_products(&self) -> Result<Vec<Product>> {
        products::list(&self.client().await?).await
    }

    async fn rename_product(&self, id: ProductId, name: &str) -> Result<Product> {
        products::rename(&self.client().await?, id, name).await
    }

    async fn update_product_settings(&self, id: ProductId, patch: ProductSettingsPatch) -> Result<Product> {
        products::update_settings(&mut self.client().await?, id, &patch).await
    }

    async fn set_product_disabled(&self, id: ProductId, disabled: bool) -> Result<()> {
        products::set_disabled(&self.client().await?, id, disabled).await
    }

    async fn active_secrets(&self, id: ProductId, now: DateTime<Utc>) -> Result<Vec<String>> {
        products::active_secrets(&self.client().await?, id, now).await
    }

    async fn rotate_secret(&self, id: ProductId, previous_valid_for: Duration, now: DateTime<Utc>) -> Result<String> {
        products::rotate_secret(&mut self.client().await?, id, previous_valid_for, now).await
    }

    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User> {
        let row = users::UserRow {
            email: clean_email(&user.email)?,
            name: clean_person_name("name", &user.name)?,
            surname: clean_person_name("surname", &user.surname)?,
            admin: user.admin,
            password_hash: {
                check_password(&user.password)?;
                let password = user.password;
                blocking(move || hash_password(&password)).await?
            },
        };
        users::create(&self.client().await?, row, now).await
    }

    async fn verify_password(&self, email: &str, password: &str) -> Result<Option<User>> {
        let email = normalize_email(email);
        let found = users::credentials(&self.client().await?, &email).await?;
        let password = password.to_owned();
        blocking(move || match found {
            Some((user, hash)) => Ok(verify_password_hash(&hash, &password)?.then_some(user)),
            None => {
                // Same work as for a real user, so response time does not reveal unknown emails.
                if let Some(dummy) = dummy_hash() {
                    let _ = verify_password_hash(dummy, &password);
                }
                Ok(None)
            }
        })
        .await
    }

    async fn get_user(&self, id: i64) -> Result<Option<User>> {
        users::get_user(&self.client().await?, id).await
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<User>> {
        users::get_by_email(&self.client().await?, &normalize_email(email)).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        users::list(&self.client().await?).await
    }

    async fn set_password(&self, user_id: i64, password: &str) -> Result<()> {
        check_password(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await?;
        users::set_password_hash(&self.client().await?, user_id, &hash).await
    }

    async fn set_user_admin(&self, user_id: i64, admin: bool) -> Result<()> {
        users::set_admin(&self.client().await?, user_id, admin).await
    }

    async fn grant(&self, user_id: i64, product: ProductId, role: Role, license_keys: bool) -> Result<()> {
        users::grant(&self.client().await?, user_id, product, role, license_keys).await
    }

    async fn revoke_grant(&self, user_id: i64, product: ProductId) -> Result<bool> {
        users::revoke_grant(&self.client().await?, user_id, product).await
    }

    async fn visible_products(&self, user_id: i64) -> Result<Vec<ProductAccess>> {
        users::visible_products(&self.client().await?, user_id).await
    }

    async fn permission(&self, user_id: i64, product: ProductId) -> Result<Option<Permission>> {
        users::permission(&self.client().await?, user_id, product).await
    }

    async fn set_current_product(&self, user_id: i64, product: ProductId) -> Result<()> {
        users::set_current_product(&self.client().await?, user_id, product).await
    }

    async fn current_product(&self, user_id: i64) -> Result<Option<ProductId>> {
        users::current_product(&self.client().await?, user_id).await
    }

    async fn create_session(
        &self,
        user_id: i64,
        csrf_binding: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<String> {
        sessions::create(&mut self.client().await?, user_id, csrf_binding, now, lifetime).await
    }

    async fn find_session(&self, token: &str, now: DateTime<Utc>) -> Result<SessionLookup> {
        sessions::find(&self.client().await?, token, now).await
    }

    async fn delete_session(&self, token: &str) -> Result<bool> {
        sessions::delete(&self.client().await?, token).await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64> {
        sessions::delete_for_user(&self.client().await?, user_id).await
    }

    async fn create_token(
        &self,
        user_id: i64,
        products: Vec<ProductId>,
        read_only: bool,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(TokenInfo, String)> {
        tokens::create(&mut self.client().await?, user_id, products, read_only, expires_at, now).await
    }

    async fn find_token(&self, token: &str, now: DateTime<Utc>) -> Result<TokenLookup> {
        tokens::find(&self.client().await?, token, now).await
    }

    async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>> {
        tokens::list(&self.client().await?, user_id).await
    }

    async fn revoke_token(&self, token_id: i64, now: DateTime<Utc>) -> Result<bool> {
        tokens::revoke(&self.client().await?, token_id, now).await
    }

    async fn get_license_key(&self, product: ProductId, key: &str) -> Result<Option<LicenseKeyRecord>> {
        license_keys::get_key(&self.client().await?, product, key).await
    }

    async fn upsert_license_key(&self, product: ProductId, record: LicenseKeyRecord) -> Result<bool> {
        license_keys::upsert(&self.client().await?, product, &record).await
    }

    async fn auto_collect_license_key(
        &self,
        product: ProductId,
        key: &str,
        today: NaiveDate,
    ) -> Result<(LicenseKeyRecord, bool)> {
        license_keys::auto_collect(&self.client().await?, product, key, today).await
    }

    async fn list_license_keys(
        &self,
        product: ProductId,
        start_at: Option<String>,
        limit: usize,
    ) -> Result<Vec<LicenseKeyRecord>> {
        license_keys::list(&self.client().await?, product, start_at.as_deref(), limit).await
    }

    async fn update_license_keys(
        &self,
        product: ProductId,
        patches: Vec<LicenseKeyPatch>,
        today: NaiveDate,
    ) -> Result<(u64, u64)> {
        license_keys::update_many(&mut self.client().await?, product, &patches, today).await
    }

    async fn delete_license_keys(&self, product: ProductId, keys: Vec<String>) -> Result<Vec<String>> {
        license_keys::delete_many(&mut self.client().await?, product, &keys).await
    }

    async fn event_settings(&self, product: ProductId) -> Result<Vec<EventSetting>> {
        event_settings::list(&self.client().await?, product).await
    }

    async fn set_event_settings(&self, product: ProductId, items: Vec<EventSetting>) -> Result<Vec<bool>> {
        event_settings::set(&mut self.client().await?, product, &items).await
    }

    async fn installation_control(&self, product: ProductId, client: ClientId) -> Result<InstallationControl> {
        installations::control(&self.client().await?, product, client).await
    }

    async fn back_off_states(&self, product: ProductId) -> Result<BackOffStates> {
        installations::back_off_states(&self.client().await?, product).await
    }

    async fn set_installation_disabled(&self, product: ProductId, client: ClientId, disabled: bool) -> Result<()> {
        installations::set_disabled(&self.client().await?, product, client, disabled).await
    }

    async fn start_back_off(&self, product: ProductId, client: Option<ClientId>, until: DateTime<Utc>) -> Result<()> {
        installations::start_back_off(&self.client().await?, product, client, until).await
    }

    async fn record_back_off_answer(&self, product: ProductId, client: ClientId) -> Result<()> {
        installations::record_back_off_answer(&self.client().await?, product, client).await
    }

    async fn clear_back_off(&self, product: ProductId, client: Option<ClientId>) -> Result<()> {
        installations::clear_back_off(&mut self.client().await?, product, client).await
    }

    async fn issue_download(
        &self,
        product: ProductId,
        file_name: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedDownload> {
        downloads::issue(&self.client().await?, product, file_name, expires_at).await
    }

    async fn claim_download(&self, token: &str, now: DateTime<Utc>, lease: Duration) -> Result<Option<DownloadGrant>> {
        downloads::claim(&self.client().await?, token, now, lease).await
    }

    async fn finish_download(&self, token: &str, completed: bool) -> Result<()> {
        downloads::finish(&self.client().await?, token, completed).await
    }

    async fn prune_downloads(&self, now: DateTime<Utc>) -> Result<u64> {
        downloads::prune(&self.client().await?, now).await
    }

    async fn record_erasure(&self, product: ProductId, client: ClientId, at: DateTime<Utc>) -> Result<()> {
        downloads::record_erasure(&self.client().await?, product, client, at).await
    }

    async fn erasures(&self, product: ProductId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Erasure>> {
        downloads::erasures(&self.client().await?, product, from, to).await
    }

    async fn prune_erasures(&self, product: ProductId, before: DateTime<Utc>) -> Result<u64> {
        downloads::prune_erasures(&self.client().await?, product, before).await
    }

    async fn shared_server_key(&self, candidate: [u8; 32]) -> Result<[u8; 32]> {
        server_keys::shared(&self.client().await?, CSRF_KEY_NAME, &candidate).await
    }

    async fn take_token(&self, key: &str, rate: f64, burst: f64, now_s: f64) -> Result<Option<u64>> {
        limits::take_token(&self.client().await?, key, rate, burst, now_s).await
    }

    async fn window_blocked(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>> {
        limits::window_blocked(&self.client().await?, key, limit, window_s, now_s).await
    }

    async fn window_record(&self, key: &str, window_s: i64, now_s: i64) -> Result<()> {
        limits::window_record(&self.client().await?, key, window_s, now_s).await
    }

    async fn window_try_record(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>> {
        limits::window_try_record(&mut self.client().await?, key, limit, window_s, now_s).await
    }

    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: StdDuration) -> Result<bool> {
        limits::acquire_lease(&mut self.client().await?, key, holder, limit, ttl).await
    }

    async fn renew_lease(&self, key: &str, holder: &str, ttl: StdDuration) -> Result<bool> {
        limits::renew_lease(&self.client().await?, key, holder, ttl).await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<()> {
        limits::release_lease(&self.client().await?, key, holder).await
    }

    async fn prune_limits(&self, now_s: i64) -> Result<u64> {
        limits::prune(&self.client().await?, now_s).await
    }
}

#[cfg(test)]
mod tests;
