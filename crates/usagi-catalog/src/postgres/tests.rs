//! The conformance suite and PostgreSQL-specific checks, against a real server.
//!
//! They run when `USAGI_TEST_POSTGRES_URL` names a database the tests may create schemas in
//! (`.ci/run` starts one); each test gets a fresh schema, dropped when it passes. Without the
//! variable every test prints a SKIPPED line straight to stderr (past the test harness's
//! capture) and returns, so a run without PostgreSQL says so.

use std::io::Write;
use std::sync::Arc;

use chrono::Duration;
use tokio_postgres::NoTls;

use super::*;
use crate::conformance::{self, t0};

/// The variable naming the test database.
const URL_VAR: &str = "USAGI_TEST_POSTGRES_URL";

/// A fresh schema in the test database and a catalog on it.
struct TestDb {
    url: String,
    base: String,
    catalog: PostgresCatalog,
}

impl TestDb {
    /// `None` (after printing why) when no test database is configured.
    async fn create(test: &str) -> Option<TestDb> {
        let base = match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                let _ = writeln!(std::io::stderr(), "SKIPPED postgres::tests::{test}: {URL_VAR} is not set");
                return None;
            }
        };
        let url = PostgresCatalog::scratch_schema(&base).await.expect("test schema");
        let catalog = PostgresCatalog::connect(&url).await.expect("catalog connects");
        Some(TestDb { url, base, catalog })
    }

    /// A direct connection to the test schema, for looking at what is stored.
    async fn raw(&self) -> tokio_postgres::Client {
        let config: tokio_postgres::Config = self.url.parse().expect("url");
        let (client, connection) = config.connect(NoTls).await.expect("raw connection");
        tokio::spawn(connection);
        client
    }

    /// Drops the schema (only passing tests get here; a failed one leaves it to inspect).
    async fn drop_schema(self) {
        let schema: String = self.raw().await.query_one("SELECT current_schema()", &[]).await.unwrap().get(0);
        drop(self.catalog);
        let config: tokio_postgres::Config = self.base.parse().expect("url");
        let (client, connection) = config.connect(NoTls).await.expect("connection");
        tokio::spawn(connection);
        client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drop schema");
    }
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let Some(db) = TestDb::create(stringify!($name)).await else { return };
            let cat: Arc<dyn Catalog> = Arc::new(db.catalog.clone());
            conformance::$name(cat.as_ref()).await;
            db.drop_schema().await;
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

fn new_user(email: &str) -> NewUser {
    NewUser { email: email.into(), name: String::new(), surname: String::new(), admin: false, password: "pw".into() }
}

#[tokio::test]
async fn reconnecting_is_idempotent() {
    let Some(db) = TestDb::create("reconnecting_is_idempotent").await else { return };
    let (p, _) = db.catalog.create_product("Demo", None, t0()).await.unwrap();
    let again = PostgresCatalog::connect(&db.url).await.unwrap();
    assert_eq!(again.get_product(p.id).await.unwrap().map(|p| p.name), Some("Demo".into()));
    let versions: Vec<i64> = db
        .raw()
        .await
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=PostgresCatalog::schema_version()).collect::<Vec<_>>());
    db.drop_schema().await;
}

/// Several servers starting at the same moment on an empty database: one migrates, none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_connects() {
    let Some(db) = TestDb::create("concurrent_first_connects").await else { return };
    // A second fresh schema, so that nothing has migrated it yet.
    let url = PostgresCatalog::scratch_schema(&db.base).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresCatalog::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let fresh = PostgresCatalog::connect(&url).await.unwrap();
    let count: i64 =
        fresh.client().await.unwrap().query_one("SELECT count(*) FROM schema_migrations", &[]).await.unwrap().get(0);
    assert_eq!(count, PostgresCatalog::schema_version());
    let schema: String = fresh.client().await.unwrap().query_one("SELECT current_schema()", &[]).await.unwrap().get(0);
    drop(fresh);
    db.raw().await.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    db.drop_schema().await;
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let Some(db) = TestDb::create("refuses_a_newer_schema").await else { return };
    db.raw().await.execute("INSERT INTO schema_migrations (version) VALUES (999)", &[]).await.unwrap();
    match PostgresCatalog::connect(&db.url).await {
        Err(CatalogError::SchemaTooNew { found: 999, .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("opened a newer schema"),
    }
    db.drop_schema().await;
}

#[tokio::test]
async fn bad_urls_are_invalid() {
    assert!(matches!(PostgresCatalog::connect("postgres://h:notaport/db").await, Err(CatalogError::Invalid(_))));
    assert!(is_postgres_url("postgres://u@127.0.0.1/usagi") && is_postgres_url("PostgreSQL://x"));
    assert!(!is_postgres_url("/var/lib/usagi/catalog.sqlite"));
}

/// The same stored forms as the SQLite catalog: argon2id PHC strings and SHA-256 digests.
#[tokio::test]
async fn stores_only_argon2id_hashes_and_digests() {
    let Some(db) = TestDb::create("stores_only_argon2id_hashes_and_digests").await else { return };
    let cat = &db.catalog;
    let mut nu = new_user("a@example.com");
    nu.password = "correct horse".into();
    let user = cat.create_user(nu, t0()).await.unwrap();
    let session = cat.create_session(user.id, "csrf", t0(), Duration::hours(1)).await.unwrap();
    let (_, token) = cat.create_token(user.id, Vec::new(), false, None, t0()).await.unwrap();
    let raw = db.raw().await;
    let hash: String =
        raw.query_one("SELECT password_hash FROM users WHERE id = $1", &[&user.id]).await.unwrap().get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let stored: Vec<u8> = raw.query_one("SELECT token_hash FROM auth_sessions", &[]).await.unwrap().get(0);
    assert_eq!(stored, crate::credentials::digest(&session).to_vec());
    let stored: Vec<u8> = raw.query_one("SELECT token_hash FROM api_tokens", &[]).await.unwrap().get(0);
    assert_eq!(stored, crate::credentials::digest(&token).to_vec());
    // NUL cannot be stored in PostgreSQL text: bad input, not a storage failure.
    assert!(matches!(
        cat.auto_collect_license_key(user_product(cat).await, "K\0", t0().date_naive()).await,
        Err(CatalogError::Invalid(_))
    ));
    drop(raw);
    db.drop_schema().await;
}

async fn user_product(cat: &PostgresCatalog) -> ProductId {
    cat.create_product("P", None, t0()).await.unwrap().0.id
}

/// Two servers on one database: each sees the other's sessions and tokens at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_state() {
    let Some(db) = TestDb::create("two_servers_share_state").await else { return };
    let a = db.catalog.clone();
    let b = PostgresCatalog::connect(&db.url).await.unwrap();
    let (p, _) = a.create_product("Shared", None, t0()).await.unwrap();
    let u = b.create_user(new_user("shared@example.com"), t0()).await.unwrap();
    b.grant(u.id, p.id, Role::Viewer, false).await.unwrap();
    assert!(a.permission(u.id, p.id).await.unwrap().is_some());
    let session = a.create_session(u.id, "c", t0(), Duration::hours(1)).await.unwrap();
    assert!(matches!(b.find_session(&session, t0()).await.unwrap(), SessionLookup::Valid(_)));
    assert!(b.delete_session(&session).await.unwrap());
    assert_eq!(a.find_session(&session, t0()).await.unwrap(), SessionLookup::Unknown);
    let (info, token) = b.create_token(u.id, vec![p.id], true, None, t0()).await.unwrap();
    assert!(matches!(a.find_token(&token, t0()).await.unwrap(), TokenLookup::Valid(_)));
    assert!(a.revoke_token(info.id, t0()).await.unwrap());
    assert_eq!(b.find_token(&token, t0()).await.unwrap(), TokenLookup::Invalid);

    // Interleaved writers on both handles; the session cap holds across them.
    let mut tasks = Vec::new();
    for i in 0..60u64 {
        let cat = if i % 2 == 0 { a.clone() } else { b.clone() };
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
    let sessions: i64 = db.raw().await.query_one("SELECT count(*) FROM auth_sessions", &[]).await.unwrap().get(0);
    assert_eq!(sessions, i64::try_from(crate::MAX_SESSIONS_PER_USER).unwrap());
    for i in 0..60u64 {
        assert!(a.installation_control(p.id, ClientId::from_u64(i)).await.unwrap().back_off_ever);
        assert!(b.get_license_key(p.id, &format!("K-{i}")).await.unwrap().is_some());
    }
    db.drop_schema().await;
}

/// Racing `license/set` calls for one new key on two servers: exactly one sees it as unknown;
/// racing claims of one download URL: exactly one transfer gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writes_are_atomic() {
    let Some(db) = TestDb::create("racing_writes_are_atomic").await else { return };
    let a = db.catalog.clone();
    let b = PostgresCatalog::connect(&db.url).await.unwrap();
    let (p, _) = a.create_product("P", None, t0()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cat = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { cat.auto_collect_license_key(p.id, "SAME", t0().date_naive()).await }));
    }
    let mut unknown = 0;
    for task in tasks {
        if !task.await.unwrap().unwrap().1 {
            unknown += 1;
        }
    }
    assert_eq!(unknown, 1);

    let issued = a.issue_download(p.id, "f.zip", t0() + Duration::hours(24)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cat = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = issued.token.clone();
        tasks.push(tokio::spawn(async move { cat.claim_download(&token, t0(), Duration::minutes(30)).await }));
    }
    let mut claimed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);

    // A bulk update racing auto-collection of the keys it inserts: all of it lands, none fails.
    let patches: Vec<_> =
        (0..40).map(|i| LicenseKeyPatch { quota: Some(Some(7)), ..LicenseKeyPatch::new(format!("B-{i}")) }).collect();
    let bulk = {
        let b = b.clone();
        tokio::spawn(async move { b.update_license_keys(p.id, patches, t0().date_naive()).await })
    };
    for i in (0..40).rev() {
        a.auto_collect_license_key(p.id, &format!("B-{i}"), t0().date_naive()).await.unwrap();
    }
    let (inserted, updated) = bulk.await.unwrap().unwrap();
    assert_eq!(inserted + updated, 40);
    for i in 0..40 {
        assert_eq!(a.get_license_key(p.id, &format!("B-{i}")).await.unwrap().unwrap().quota, Some(7));
    }
    db.drop_schema().await;
}

/// Runs `call` 40 times at once, alternating between the two handles; how many got `true`.
async fn race<F, Fut>(a: &PostgresCatalog, b: &PostgresCatalog, call: F) -> u32
where
    F: Fn(PostgresCatalog, u32) -> Fut,
    Fut: std::future::Future<Output = crate::Result<bool>> + Send + 'static,
{
    let tasks: Vec<_> =
        (0..40u32).map(|i| tokio::spawn(call(if i.is_multiple_of(2) { a.clone() } else { b.clone() }, i))).collect();
    let mut yes = 0;
    for task in tasks {
        yes += u32::from(task.await.unwrap().unwrap());
    }
    yes
}

/// Two servers racing on one limit: the limit holds exactly, whichever process asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_hold_across_servers_under_races() {
    let Some(db) = TestDb::create("limits_hold_across_servers_under_races").await else { return };
    let a = db.catalog.clone();
    let b = PostgresCatalog::connect(&db.url).await.unwrap();

    // 40 takes from a bucket of 10 at a pinned instant: exactly 10 tokens.
    let granted =
        race(&a, &b, |cat, _| async move { Ok(cat.take_token("rate:s1", 1.0, 10.0, 50.0).await?.is_none()) }).await;
    assert_eq!(granted, 10);

    // 40 license calls against a limit of 5: exactly 5 recorded.
    let recorded =
        race(&a, &b, |cat, _| async move { Ok(cat.window_try_record("license:p:c", 5, 3600, 50).await?.is_none()) })
            .await;
    assert_eq!(recorded, 5);
    let events: Vec<i64> = db.raw().await.query_one("SELECT events FROM limit_windows", &[]).await.unwrap().get(0);
    assert_eq!(events, vec![50; 5]);

    // 40 holders after 3 slots: exactly 3 leases.
    let ttl = std::time::Duration::from_secs(30);
    let held =
        race(&a, &b, |cat, i| async move { cat.acquire_lease("reports:s1", &format!("h{i}"), 3, ttl).await }).await;
    assert_eq!(held, 3);
    let rows: i64 = db.raw().await.query_one("SELECT count(*) FROM limit_leases", &[]).await.unwrap().get(0);
    assert_eq!(rows, 3);
    drop(b);
    db.drop_schema().await;
}
