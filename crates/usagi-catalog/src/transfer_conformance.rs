//! [`CatalogTransfer`] between backends: a product filled through the [`Catalog`] API is
//! exported, imported elsewhere and must read back the same, credentials included.

use std::io::Write;

use chrono::{Duration, NaiveDate};
use usagi_types::{ClientId, ProductId};

use crate::conformance::t0;
use crate::{
    Catalog, CatalogError, CatalogTransfer, EventSetting, LicenseKeyRecord, NewUser, PostgresCatalog,
    ProductSettingsPatch, ProductSnapshot, Role, SqliteCatalog, TokenLookup,
};

fn new_user(email: &str, admin: bool) -> NewUser {
    NewUser { email: email.into(), name: "N".into(), surname: "S".into(), admin, password: format!("pw-{email}") }
}

/// Fills a product with one of everything; returns its id and a bearer token of `v@x.io`.
async fn fill(c: &impl Catalog) -> (ProductId, String) {
    let now = t0();
    let (p, _) = c.create_product("Migrated", None, now).await.unwrap();
    let (other, _) = c.create_product("Stays", None, now).await.unwrap();
    c.rotate_secret(p.id, Duration::days(3), now).await.unwrap();
    c.update_product_settings(
        p.id,
        ProductSettingsPatch {
            retention_days: Some(400),
            max_active_installations: Some(Some(9)),
            custom_property_names: [(2, Some("Edition".to_string()))].into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let viewer = c.create_user(new_user("v@x.io", false), now).await.unwrap();
    c.create_user(new_user("root@x.io", true), now).await.unwrap();
    let outsider = c.create_user(new_user("other@x.io", false), now).await.unwrap();
    c.grant(viewer.id, p.id, Role::Editor, true).await.unwrap();
    c.grant(outsider.id, other.id, Role::Viewer, false).await.unwrap();
    c.set_current_product(viewer.id, p.id).await.unwrap();
    let (_, bearer) = c.create_token(viewer.id, vec![p.id], true, None, now).await.unwrap();
    let (revoked, _) = c.create_token(viewer.id, vec![], false, None, now).await.unwrap();
    c.revoke_token(revoked.id, now).await.unwrap();
    c.create_token(viewer.id, vec![other.id], false, None, now).await.unwrap();
    c.create_token(outsider.id, vec![], false, None, now).await.unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    c.upsert_license_key(p.id, LicenseKeyRecord { quota: Some(3), ..LicenseKeyRecord::auto_collected("K-1", day) })
        .await
        .unwrap();
    c.auto_collect_license_key(p.id, "K-2", day).await.unwrap();
    c.set_event_settings(
        p.id,
        vec![
            EventSetting { category: None, name: "open".into(), basic: true, advanced: true },
            EventSetting { category: Some("ui".into()), name: "click".into(), basic: false, advanced: false },
        ],
    )
    .await
    .unwrap();
    c.set_installation_disabled(p.id, ClientId::from_u64(7), true).await.unwrap();
    c.start_back_off(p.id, Some(ClientId::from_u64(u64::MAX - 1)), now + Duration::days(2)).await.unwrap();
    c.start_back_off(p.id, None, now + Duration::days(1)).await.unwrap();
    c.record_erasure(p.id, ClientId::from_u64(42), now).await.unwrap();
    (p.id, bearer)
}

/// The snapshot with the ids that are the source catalog's own blanked out.
fn without_ids(mut s: ProductSnapshot) -> ProductSnapshot {
    for u in &mut s.users {
        u.user.id = 0;
    }
    for t in &mut s.tokens {
        t.info.id = 0;
        t.info.user_id = 0;
    }
    s
}

async fn round_trip<S, T>(source: &S, target: &T)
where
    S: Catalog + CatalogTransfer,
    T: Catalog + CatalogTransfer,
{
    let (id, bearer) = fill(source).await;
    let snapshot = source.export_product(id).await.unwrap().expect("product exported");
    assert_eq!(snapshot.users.len(), 2, "the grantee and the server admin, not the outsider");
    assert_eq!(snapshot.tokens.len(), 2, "the viewer's tokens that cover the product");
    assert_eq!(snapshot.secrets.len(), 2);

    let first = target.import_product(&snapshot).await.unwrap();
    assert!(first.product_created);
    assert_eq!((first.users_created, first.tokens_created), (2, 2));
    let copied = target.export_product(id).await.unwrap().expect("product imported");
    assert_eq!(without_ids(copied.clone()), without_ids(snapshot.clone()));

    // Credentials work at the target: the password hash, the token digest, the secrets.
    let user = target.verify_password("v@x.io", "pw-v@x.io").await.unwrap().expect("password copied");
    assert_eq!(target.permission(user.id, id).await.unwrap().map(|p| p.role), Some(Role::Editor));
    assert_eq!(target.current_product(user.id).await.unwrap(), Some(id));
    assert!(matches!(target.find_token(&bearer, t0()).await.unwrap(), TokenLookup::Valid(t) if t.read_only));
    assert_eq!(target.active_secrets(id, t0()).await.unwrap(), source.active_secrets(id, t0()).await.unwrap());
    let control = target.installation_control(id, ClientId::from_u64(7)).await.unwrap();
    assert!(control.disabled && control.back_off_until == Some(t0() + Duration::days(1)));
    assert_eq!(target.back_off_states(id).await.unwrap(), source.back_off_states(id).await.unwrap());

    // A re-run changes nothing and creates nothing twice.
    let again = target.import_product(&snapshot).await.unwrap();
    assert_eq!((again.product_created, again.users_created, again.tokens_created), (false, 0, 0));
    assert_eq!(target.export_product(id).await.unwrap(), Some(copied));
    assert_eq!(target.list_users().await.unwrap().len(), 2);

    // A product of the same id made at the target is not overwritten.
    let mut foreign = snapshot.clone();
    foreign.product.created_at += Duration::seconds(1);
    assert!(matches!(target.import_product(&foreign).await, Err(CatalogError::AlreadyExists(_))));
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> SqliteCatalog {
    SqliteCatalog::open(&dir.path().join(name)).unwrap()
}

#[tokio::test]
async fn sqlite_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&sqlite(&dir, "a.sqlite"), &sqlite(&dir, "b.sqlite")).await;
}

#[tokio::test]
async fn sqlite_to_postgres_and_back() {
    let base = match std::env::var("USAGI_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED transfer_conformance::sqlite_to_postgres_and_back: USAGI_TEST_POSTGRES_URL is not set"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let pg = |url: String| async move { PostgresCatalog::connect(&url).await.unwrap() };
    let a = pg(PostgresCatalog::scratch_schema(&base).await.unwrap()).await;
    round_trip(&sqlite(&dir, "a.sqlite"), &a).await;
    let b = pg(PostgresCatalog::scratch_schema(&base).await.unwrap()).await;
    round_trip(&b, &sqlite(&dir, "b.sqlite")).await;
}
