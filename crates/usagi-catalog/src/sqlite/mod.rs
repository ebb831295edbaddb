//! The SQLite catalog: one file, WAL mode, shared safely by the server and the admin CLI.
//!
//! WAL lets readers proceed while another process writes, and the busy timeout makes a
//! writer wait for the other process's write instead of failing. Every multi-statement
//! write runs in a `BEGIN IMMEDIATE` transaction: it takes the write lock up front, so a
//! read-then-write never has to upgrade its lock (an upgrade fails at once, whatever the
//! busy timeout, when another connection is writing).

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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{Connection, OpenFlags};
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

/// How long a connection waits for another connection's (or process's) write lock.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Idle connections kept open for reuse; more are opened under load and closed afterwards.
const MAX_IDLE_CONNECTIONS: usize = 4;

/// The SQLite implementation of [`Catalog`].
#[derive(Clone)]
pub struct SqliteCatalog {
    pool: Arc<Pool>,
    limits: Arc<limits::MemoryLimits>,
}

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn take(&self) -> Result<Connection> {
        let reused = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match reused {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        // A connection left inside a transaction (a failed COMMIT) is not reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }
}

/// Opens one connection with the per-connection settings every catalog connection needs.
fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Room for every statement the catalog prepares, so none is re-parsed per call.
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "foreign_keys", true)?;
    // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose
    // the latest commits, which is acceptable for this data and much faster.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file, switches it to WAL and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = open_connection(path)?;
        // Switching the journal mode does not wait on the busy handler: when another process
        // opens the same new file at the same moment, retry until the busy timeout.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(StdDuration::from_millis(10));
                }
                other => break other?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CatalogError::Storage(format!(
                "could not switch {} to WAL (journal mode is {mode})",
                path.display()
            )));
        }
        migrations::migrate(&mut conn)?;
        // Computed now so that the first login of an unknown user is not slower than later ones.
        let _ = dummy_hash();
        let pool = Pool { path: path.to_owned(), idle: Mutex::new(vec![conn]) };
        Ok(Self { pool: Arc::new(pool), limits: Arc::default() })
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        migrations::latest_version()
    }

    /// Runs blocking database work on a pooled connection off the async executor.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.take()?;
            let out = f(&mut conn);
            pool.give_back(conn);
            out
        })
        .await
        .map_err(|e| CatalogError::Task(e.to_string()))?
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

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn create_product(&self, name: &str, id: Option<ProductId>, now: DateTime<Utc>) -> Result<(Product, String)> {
        let name = name.to_owned();
        self.run(move |c| products::create(c, &name, id, now)).await
    }

    async fn get_product(&self, id: ProductId) -> Result<Option<Product>> {
        self.run(move |c| products::get(c, id)).await
    }

    async fn list_products(&self) -> Result<Vec<Product>> {
        self.run(|c| products::list(c)).await
    }

    async fn rename_product(&self, id: ProductId, name: &str) -> Result<Product> {
        let name = name.to_owned();
        self.run(move |c| products::rename(c, id, &name)).await
    }

    async fn update_product_settings(&self, id: ProductId, patch: ProductSettingsPatch) -> Result<Product> {
        self.run(move |c| products::update_settings(c, id, &patch)).await
    }

    async fn set_product_disabled(&self, id: ProductId, disabled: bool) -> Result<()> {
        self.run(move |c| products::set_disabled(c, id, disabled)).await
    }

    async fn active_secrets(&self, id: ProductId, now: DateTime<Utc>) -> Result<Vec<String>> {
        self.run(move |c| products::active_secrets(c, id, now)).await
    }

    async fn rotate_secret(&self, id: ProductId, previous_valid_for: Duration, now: DateTime<Utc>) -> Result<String> {
        self.run(move |c| products::rotate_secret(c, id, previous_valid_for, now)).await
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
        self.run(move |c| users::create(c, row, now)).await
    }

    async fn verify_password(&self, email: &str, password: &str) -> Result<Option<User>> {
        let email = normalize_email(email);
        let found = self.run(move |c| users::credentials(c, &email)).await?;
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
        self.run(move |c| users::get(c, id)).await
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = normalize_email(email);
        self.run(move |c| users::get_by_email(c, &email)).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.run(|c| users::list(c)).await
    }

    async fn set_password(&self, user_id: i64, password: &str) -> Result<()> {
        check_password(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await?;
        self.run(move |c| users::set_password_hash(c, user_id, &hash)).await
    }

    async fn set_user_admin(&self, user_id: i64, admin: bool) -> Result<()> {
        self.run(move |c| users::set_admin(c, user_id, admin)).await
    }

    async fn grant(&self, user_id: i64, product: ProductId, role: Role, license_keys: bool) -> Result<()> {
        self.run(move |c| users::grant(c, user_id, product, role, license_keys)).await
    }

    async fn revoke_grant(&self, user_id: i64, product: ProductId) -> Result<bool> {
        self.run(move |c| users::revoke_grant(c, user_id, product)).await
    }

    async fn visible_products(&self, user_id: i64) -> Result<Vec<ProductAccess>> {
        self.run(move |c| users::visible_products(c, user_id)).await
    }

    async fn permission(&self, user_id: i64, product: ProductId) -> Result<Option<Permission>> {
        self.run(move |c| users::permission(c, user_id, product)).await
    }

    async fn set_current_product(&self, user_id: i64, product: ProductId) -> Result<()> {
        self.run(move |c| users::set_current_product(c, user_id, product)).await
    }

    async fn current_product(&self, user_id: i64) -> Result<Option<ProductId>> {
        self.run(move |c| users::current_product(c, user_id)).await
    }

    async fn create_session(
        &self,
        user_id: i64,
        csrf_binding: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<String> {
        let csrf = csrf_binding.to_owned();
        self.run(move |c| sessions::create(c, user_id, &csrf, now, lifetime)).await
    }

    async fn find_session(&self, token: &str, now: DateTime<Utc>) -> Result<SessionLookup> {
        let token = token.to_owned();
        self.run(move |c| sessions::find(c, &token, now)).await
    }

    async fn delete_session(&self, token: &str) -> Result<bool> {
        let token = token.to_owned();
        self.run(move |c| sessions::delete(c, &token)).await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64> {
        self.run(move |c| sessions::delete_for_user(c, user_id)).await
    }

    async fn create_token(
        &self,
        user_id: i64,
        products: Vec<ProductId>,
        read_only: bool,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(TokenInfo, String)> {
        self.run(move |c| tokens::create(c, user_id, products, read_only, expires_at, now)).await
    }

    async fn find_token(&self, token: &str, now: DateTime<Utc>) -> Result<TokenLookup> {
        let token = token.to_owned();
        self.run(move |c| tokens::find(c, &token, now)).await
    }

    async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>> {
        self.run(move |c| tokens::list(c, user_id)).await
    }

    async fn revoke_token(&self, token_id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.run(move |c| tokens::revoke(c, token_id, now)).await
    }

    async fn get_license_key(&self, product: ProductId, key: &str) -> Result<Option<LicenseKeyRecord>> {
        let key = key.to_owned();
        self.run(move |c| license_keys::get(c, product, &key)).await
    }

    async fn upsert_license_key(&self, product: ProductId, record: LicenseKeyRecord) -> Result<bool> {
        self.run(move |c| license_keys::upsert(c, product, &record)).await
    }

    async fn auto_collect_license_key(
        &self,
        product: ProductId,
        key: &str,
        today: NaiveDate,
    ) -> Result<(LicenseKeyRecord, bool)> {
        let key = key.to_owned();
        self.run(move |c| license_keys::auto_collect(c, product, &key, today)).await
    }

    async fn list_license_keys(
        &self,
        product: ProductId,
        start_at: Option<String>,
        limit: usize,
    ) -> Result<Vec<LicenseKeyRecord>> {
        self.run(move |c| license_keys::list(c, product, start_at.as_deref(), limit)).await
    }

    async fn update_license_keys(
        &self,
        product: ProductId,
        patches: Vec<LicenseKeyPatch>,
        today: NaiveDate,
    ) -> Result<(u64, u64)> {
        self.run(move |c| license_keys::update_many(c, product, &patches, today)).await
    }

    async fn delete_license_keys(&self, product: ProductId, keys: Vec<String>) -> Result<Vec<String>> {
        self.run(move |c| license_keys::delete_many(c, product, &keys)).await
    }

    async fn installation_control(&self, product: ProductId, client: ClientId) -> Result<InstallationControl> {
        self.run(move |c| installations::control(c, product, client)).await
    }

    async fn event_settings(&self, product: ProductId) -> Result<Vec<EventSetting>> {
        self.run(move |c| event_settings::list(c, product)).await
    }

    async fn set_event_settings(&self, product: ProductId, items: Vec<EventSetting>) -> Result<Vec<bool>> {
        self.run(move |c| event_settings::set(c, product, &items)).await
    }

    async fn back_off_states(&self, product: ProductId) -> Result<BackOffStates> {
        self.run(move |c| installations::back_off_states(c, product)).await
    }

    async fn set_installation_disabled(&self, product: ProductId, client: ClientId, disabled: bool) -> Result<()> {
        self.run(move |c| installations::set_disabled(c, product, client, disabled)).await
    }

    async fn start_back_off(&self, product: ProductId, client: Option<ClientId>, until: DateTime<Utc>) -> Result<()> {
        self.run(move |c| installations::start_back_off(c, product, client, until)).await
    }

    async fn record_back_off_answer(&self, product: ProductId, client: ClientId) -> Result<()> {
        self.run(move |c| installations::record_back_off_answer(c, product, client)).await
    }

    async fn clear_back_off(&self, product: ProductId, client: Option<ClientId>) -> Result<()> {
        self.run(move |c| installations::clear_back_off(c, product, client)).await
    }

    async fn issue_download(
        &self,
        product: ProductId,
        file_name: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedDownload> {
        let file_name = file_name.to_string();
        self.run(move |c| downloads::issue(c, product, &file_name, expires_at)).await
    }

    async fn claim_download(&self, token: &str, now: DateTime<Utc>, lease: Duration) -> Result<Option<DownloadGrant>> {
        let token = token.to_string();
        self.run(move |c| downloads::claim(c, &token, now, lease)).await
    }

    async fn finish_download(&self, token: &str, completed: bool) -> Result<()> {
        let token = token.to_string();
        self.run(move |c| downloads::finish(c, &token, completed)).await
    }

    async fn prune_downloads(&self, now: DateTime<Utc>) -> Result<u64> {
        self.run(move |c| downloads::prune(c, now)).await
    }

    async fn record_erasure(&self, product: ProductId, client: ClientId, at: DateTime<Utc>) -> Result<()> {
        self.run(move |c| downloads::record_erasure(c, product, client, at)).await
    }

    async fn erasures(&self, product: ProductId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Erasure>> {
        self.run(move |c| downloads::erasures(c, product, from, to)).await
    }

    async fn prune_erasures(&self, product: ProductId, before: DateTime<Utc>) -> Result<u64> {
        self.run(move |c| downloads::prune_erasures(c, product, before)).await
    }

    async fn shared_server_key(&self, candidate: [u8; 32]) -> Result<[u8; 32]> {
        self.run(move |c| server_keys::shared(c, CSRF_KEY_NAME, &candidate)).await
    }

    async fn take_token(&self, key: &str, rate: f64, burst: f64, now_s: f64) -> Result<Option<u64>> {
        Ok(self.limits.take_token(key, rate, burst, now_s))
    }

    async fn window_blocked(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>> {
        Ok(self.limits.window_blocked(key, limit, window_s, now_s))
    }

    async fn window_record(&self, key: &str, window_s: i64, now_s: i64) -> Result<()> {
        self.limits.window_record(key, window_s, now_s);
        Ok(())
    }

    async fn window_try_record(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>> {
        Ok(self.limits.window_try_record(key, limit, window_s, now_s))
    }

    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: StdDuration) -> Result<bool> {
        Ok(self.limits.acquire_lease(key, holder, limit, ttl))
    }

    async fn renew_lease(&self, key: &str, holder: &str, ttl: StdDuration) -> Result<bool> {
        Ok(self.limits.renew_lease(key, holder, ttl))
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<()> {
        self.limits.release_lease(key, holder);
        Ok(())
    }

    async fn prune_limits(&self, now_s: i64) -> Result<u64> {
        Ok(self.limits.prune(now_s))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;
    use tempfile::TempDir;

    use super::*;
    use crate::conformance::{self, t0};

    fn open_temp() -> (TempDir, SqliteCatalog) {
        let dir = tempfile::tempdir().unwrap();
        let cat = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        (dir, cat)
    }

    macro_rules! conformance_tests {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                let (_dir, cat) = open_temp();
                let cat: Arc<dyn Catalog> = Arc::new(cat);
                conformance::$name(cat.as_ref()).await;
            }
        )*};
    }

    conformance_tests!(
        products,
        product_settings,
        secrets,
        users,
        grants,
        sessions,
        session_cleanup,
        tokens,
        license_keys,
        license_key_bulk,
        installations,
        event_settings,
        back_off_states,
        downloads,
        erasures,
        server_key,
        limits,
        leases,
        limits_prune,
    );

    fn raw(dir: &TempDir) -> Connection {
        Connection::open(dir.path().join("catalog.sqlite")).unwrap()
    }

    #[tokio::test]
    async fn reopening_is_idempotent() {
        let (dir, cat) = open_temp();
        let (p, _) = cat.create_product("Demo", None, t0()).await.unwrap();
        drop(cat);
        let again = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let third = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        assert_eq!(again.get_product(p.id).await.unwrap().map(|p| p.name), Some("Demo".into()));
        assert_eq!(third.list_products().await.unwrap().len(), 1);
        let conn = raw(&dir);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SqliteCatalog::schema_version());
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    /// Server and CLI starting at the same moment on a new file: one migrates, none fails.
    #[test]
    fn concurrent_first_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || SqliteCatalog::open(&path).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let version: i64 = raw(&dir).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SqliteCatalog::schema_version());
    }

    /// An unknown email costs an argon2 verification too, so timing does not reveal it.
    #[tokio::test]
    async fn unknown_users_take_as_long() {
        let (_dir, cat) = open_temp();
        cat.create_user(
            NewUser {
                email: "known@example.com".into(),
                name: String::new(),
                surname: String::new(),
                admin: false,
                password: "pw".into(),
            },
            t0(),
        )
        .await
        .unwrap();
        let mut known = std::time::Duration::MAX;
        let mut unknown = std::time::Duration::MAX;
        for _ in 0..3 {
            let start = std::time::Instant::now();
            assert!(cat.verify_password("known@example.com", "wrong").await.unwrap().is_none());
            known = known.min(start.elapsed());
            let start = std::time::Instant::now();
            assert!(cat.verify_password("unknown@example.com", "wrong").await.unwrap().is_none());
            unknown = unknown.min(start.elapsed());
        }
        // Lenient bound: noise only slows runs down, and the minimum filters it out.
        assert!(unknown * 3 >= known, "unknown {unknown:?} vs known {known:?}");
    }

    #[tokio::test]
    async fn refuses_a_newer_schema() {
        let (dir, cat) = open_temp();
        drop(cat);
        raw(&dir).pragma_update(None, "user_version", 999).unwrap();
        match SqliteCatalog::open(&dir.path().join("catalog.sqlite")) {
            Err(CatalogError::SchemaTooNew { found: 999, .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened a newer schema"),
        }
    }

    #[tokio::test]
    async fn stores_only_argon2id_hashes_and_digests() {
        let (dir, cat) = open_temp();
        let user = cat
            .create_user(
                NewUser {
                    email: "a@example.com".into(),
                    name: String::new(),
                    surname: String::new(),
                    admin: false,
                    password: "correct horse".into(),
                },
                t0(),
            )
            .await
            .unwrap();
        let session = cat.create_session(user.id, "csrf", t0(), Duration::hours(1)).await.unwrap();
        let (_, token) = cat.create_token(user.id, Vec::new(), false, None, t0()).await.unwrap();
        let conn = raw(&dir);
        let hash: String =
            conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [user.id], |r| r.get(0)).unwrap();
        assert_ne!(hash, "correct horse");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let stored: Vec<u8> = conn.query_row("SELECT token_hash FROM auth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, crate::credentials::digest(&session).to_vec());
        let stored: Vec<u8> = conn.query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, crate::credentials::digest(&token).to_vec());
    }

    /// A server and the admin CLI hold the same file open and both write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_can_write() {
        let (dir, server) = open_temp();
        let cli = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let (p, _) = cli.create_product("From CLI", None, t0()).await.unwrap();
        let u = cli
            .create_user(
                NewUser {
                    email: "cli@example.com".into(),
                    name: String::new(),
                    surname: String::new(),
                    admin: false,
                    password: "pw".into(),
                },
                t0(),
            )
            .await
            .unwrap();
        cli.grant(u.id, p.id, Role::Viewer, false).await.unwrap();
        // The server sees the CLI's writes at once and writes itself.
        assert!(server.permission(u.id, p.id).await.unwrap().is_some());
        let session = server.create_session(u.id, "c", t0(), Duration::hours(1)).await.unwrap();
        assert!(matches!(cli.find_session(&session, t0()).await.unwrap(), SessionLookup::Valid(_)));

        // Interleaved writers on both handles: the busy timeout serializes them, none fails.
        let mut tasks = Vec::new();
        for i in 0..40u64 {
            let cat = if i % 2 == 0 { server.clone() } else { cli.clone() };
            let product = p.id;
            tasks.push(tokio::spawn(async move {
                let client = ClientId::from_u64(i);
                cat.start_back_off(product, Some(client), t0() + Duration::days(1)).await?;
                cat.auto_collect_license_key(product, &format!("K-{i}"), t0().date_naive()).await?;
                cat.create_session(u.id, "c", t0(), Duration::hours(1)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for i in 0..40u64 {
            let ctl = server.installation_control(p.id, ClientId::from_u64(i)).await.unwrap();
            assert!(ctl.back_off_ever);
            assert!(cli.get_license_key(p.id, &format!("K-{i}")).await.unwrap().is_some());
        }
    }

    /// Concurrent `license/set` calls for one new key: exactly one sees it as unknown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auto_collect_is_atomic() {
        let (dir, a) = open_temp();
        let b = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let (p, _) = a.create_product("P", None, t0()).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let cat = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks
                .push(tokio::spawn(async move { cat.auto_collect_license_key(p.id, "SAME", t0().date_naive()).await }));
        }
        let mut unknown = 0;
        for task in tasks {
            let (_, known) = task.await.unwrap().unwrap();
            if !known {
                unknown += 1;
            }
        }
        assert_eq!(unknown, 1);
    }
}
