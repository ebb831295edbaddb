//! Behaviour every [`Catalog`] backend must show, written against the trait so that each
//! backend's tests run the same checks (the SQLite tests call these; a PostgreSQL backend
//! will too).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use usagi_types::{ClientId, ProductId};

use crate::{
    Catalog, CatalogError, LicenseKeyPatch, LicenseKeyRecord, LicenseType, NewUser, Permission, ProductSettingsPatch,
    Role, SessionLookup, TokenLookup, User, MAX_SESSIONS_PER_USER,
};

/// The fixed "now" of these tests: 2024-03-19T10:00:00Z.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 19, 10, 0, 0).unwrap()
}

fn pid(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn new_user(email: &str, admin: bool) -> NewUser {
    NewUser {
        email: email.into(),
        name: "Test".into(),
        surname: "User".into(),
        admin,
        password: "correct horse".into(),
    }
}

async fn user(cat: &dyn Catalog, email: &str, admin: bool) -> User {
    cat.create_user(new_user(email, admin), t0()).await.unwrap()
}

fn invalid_text<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
    match r {
        Err(CatalogError::Invalid(msg)) => msg,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Creating, reading and listing products; id rules.
pub(crate) async fn products(cat: &dyn Catalog) {
    let (p, secret) = cat.create_product("  Demo App ", Some(pid("2376158762")), t0()).await.unwrap();
    assert_eq!(p.id.as_str(), "2376158762");
    assert_eq!(p.name, "Demo App");
    assert_eq!(p.created_at, t0());
    assert!(!p.disabled);
    assert_eq!(p.settings, crate::ProductSettings::default());
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(cat.get_product(p.id).await.unwrap(), Some(p.clone()));

    match cat.create_product("Again", Some(p.id), t0()).await {
        Err(CatalogError::AlreadyExists(what)) => assert!(what.contains("2376158762")),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let (random, _) = cat.create_product("Random", None, t0()).await.unwrap();
    assert_eq!(random.id.as_str().len(), 10);
    assert!(!random.id.as_str().starts_with('0'));
    let (leading_zero, _) = cat.create_product("Zero", Some(pid("0000000042")), t0()).await.unwrap();

    let listed: Vec<_> = cat.list_products().await.unwrap().into_iter().map(|p| p.id).collect();
    let mut expected = vec![p.id, random.id, leading_zero.id];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(cat.get_product(pid("1111111111")).await.unwrap(), None);
    assert!(invalid_text(cat.create_product("   ", None, t0()).await).starts_with("name"));

    let renamed = cat.rename_product(p.id, "Demo").await.unwrap();
    assert_eq!(renamed.name, "Demo");
    assert!(matches!(cat.rename_product(pid("1111111111"), "x").await, Err(CatalogError::NotFound(_))));
}

/// Settings patches are validated, persisted and atomic.
pub(crate) async fn product_settings(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("Demo", None, t0()).await.unwrap();
    let updated = cat
        .update_product_settings(
            p.id,
            ProductSettingsPatch {
                days_until_declared_lost: Some(30),
                max_active_installations: Some(Some(100)),
                new_events_basic: Some(false),
                custom_property_names: [(1, Some("Download Source".into())), (20, Some("Last".into()))].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.settings.days_until_declared_lost, 30);
    assert_eq!(updated.settings.max_active_installations, Some(100));
    assert!(!updated.settings.new_events_basic);
    assert_eq!(updated.settings.custom_property_names[&1], "Download Source");
    assert_eq!(cat.get_product(p.id).await.unwrap(), Some(updated.clone()));
    // The names also come back through list and visible_products (batched loading).
    let listed = cat.list_products().await.unwrap();
    assert_eq!(listed[0].settings.custom_property_names.len(), 2);

    let msg = invalid_text(
        cat.update_product_settings(
            p.id,
            ProductSettingsPatch { retention_days: Some(2000), next_sync_seconds: Some(86_401), ..Default::default() },
        )
        .await,
    );
    assert!(msg.starts_with("nextSyncSeconds"), "{msg}");
    // All-or-nothing: the valid part of the rejected patch was not stored.
    assert_eq!(cat.get_product(p.id).await.unwrap().unwrap().settings.retention_days, 1095);
    let msg = invalid_text(
        cat.update_product_settings(
            p.id,
            ProductSettingsPatch { days_until_declared_lost: Some(366), ..Default::default() },
        )
        .await,
    );
    assert!(msg.starts_with("daysUntilDeclaredLost"), "{msg}");
    let msg = invalid_text(
        cat.update_product_settings(p.id, ProductSettingsPatch { back_off_days: Some(0), ..Default::default() }).await,
    );
    assert!(msg.starts_with("backOffDays"), "{msg}");

    let cleared = cat
        .update_product_settings(
            p.id,
            ProductSettingsPatch {
                max_active_installations: Some(None),
                custom_property_names: [(1, None)].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.settings.max_active_installations, None);
    assert_eq!(cleared.settings.custom_property_names.len(), 1);
    assert_eq!(cat.get_product(p.id).await.unwrap(), Some(cleared));

    cat.set_product_disabled(p.id, true).await.unwrap();
    assert!(cat.get_product(p.id).await.unwrap().unwrap().disabled);
    cat.set_product_disabled(p.id, false).await.unwrap();
    assert!(!cat.get_product(p.id).await.unwrap().unwrap().disabled);
    assert!(matches!(cat.set_product_disabled(pid("1111111111"), true).await, Err(CatalogError::NotFound(_))));
    assert!(matches!(
        cat.update_product_settings(pid("1111111111"), ProductSettingsPatch::default()).await,
        Err(CatalogError::NotFound(_))
    ));
}

/// Secret rotation keeps the previous secret until its expiry, and never more than two.
pub(crate) async fn secrets(cat: &dyn Catalog) {
    let (p, s1) = cat.create_product("Demo", None, t0()).await.unwrap();
    assert_eq!(cat.active_secrets(p.id, t0()).await.unwrap(), vec![s1.clone()]);
    let s2 = cat.rotate_secret(p.id, Duration::hours(1), t0()).await.unwrap();
    assert_ne!(s1, s2);
    assert_eq!(cat.active_secrets(p.id, t0()).await.unwrap(), vec![s2.clone(), s1.clone()]);
    let later = t0() + Duration::minutes(59);
    assert_eq!(cat.active_secrets(p.id, later).await.unwrap(), vec![s2.clone(), s1.clone()]);
    assert_eq!(cat.active_secrets(p.id, t0() + Duration::hours(1)).await.unwrap(), vec![s2.clone()]);

    // Rotating again while s1 is still valid drops s1: at most two secrets are active.
    let s3 = cat.rotate_secret(p.id, Duration::days(1), t0()).await.unwrap();
    assert_eq!(cat.active_secrets(p.id, t0()).await.unwrap(), vec![s3.clone(), s2]);
    let s4 = cat.rotate_secret(p.id, Duration::zero(), t0()).await.unwrap();
    assert_eq!(cat.active_secrets(p.id, t0()).await.unwrap(), vec![s4]);
    assert!(cat.active_secrets(pid("1111111111"), t0()).await.unwrap().is_empty());
    assert!(matches!(
        cat.rotate_secret(pid("1111111111"), Duration::hours(1), t0()).await,
        Err(CatalogError::NotFound(_))
    ));
}

/// Users: normalization, uniqueness, password verification.
pub(crate) async fn users(cat: &dyn Catalog) {
    let u = cat.create_user(new_user("  Test.User@Example.COM ", false), t0()).await.unwrap();
    assert_eq!(u.email, "test.user@example.com");
    assert_eq!((u.name.as_str(), u.surname.as_str()), ("Test", "User"));
    assert!(u.user_token.len() >= 16);
    assert_eq!(u.created_at, t0());
    match cat.create_user(new_user("TEST.USER@example.com", false), t0()).await {
        Err(CatalogError::AlreadyExists(_)) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let other = user(cat, "other@example.com", true).await;
    assert_ne!(other.user_token, u.user_token);
    assert!(other.admin);

    assert_eq!(cat.get_user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(cat.get_user_by_email("TEST.user@example.com").await.unwrap(), Some(u.clone()));
    assert_eq!(cat.get_user(9999).await.unwrap(), None);
    assert_eq!(cat.list_users().await.unwrap(), vec![u.clone(), other.clone()]);

    assert_eq!(cat.verify_password("Test.User@example.com", "correct horse").await.unwrap(), Some(u.clone()));
    assert_eq!(cat.verify_password("test.user@example.com", "wrong").await.unwrap(), None);
    assert_eq!(cat.verify_password("nobody@example.com", "correct horse").await.unwrap(), None);

    cat.set_password(u.id, "battery staple").await.unwrap();
    assert_eq!(cat.verify_password("test.user@example.com", "correct horse").await.unwrap(), None);
    assert!(cat.verify_password("test.user@example.com", "battery staple").await.unwrap().is_some());
    assert!(matches!(cat.set_password(9999, "x").await, Err(CatalogError::NotFound(_))));
    assert!(invalid_text(cat.set_password(u.id, "").await).starts_with("password"));

    assert!(invalid_text(cat.create_user(new_user("not-an-email", false), t0()).await).starts_with("email"));
    let mut no_password = new_user("np@example.com", false);
    no_password.password.clear();
    assert!(invalid_text(cat.create_user(no_password, t0()).await).starts_with("password"));

    cat.set_user_admin(u.id, true).await.unwrap();
    assert!(cat.get_user(u.id).await.unwrap().unwrap().admin);
}

/// Grants, visibility, permissions and the current product.
pub(crate) async fn grants(cat: &dyn Catalog) {
    let (a, _) = cat.create_product("A", Some(pid("2000000000")), t0()).await.unwrap();
    let (b, _) = cat.create_product("B", Some(pid("1000000000")), t0()).await.unwrap();
    let viewer = user(cat, "viewer@example.com", false).await;
    let admin = user(cat, "admin@example.com", true).await;

    assert!(cat.visible_products(viewer.id).await.unwrap().is_empty());
    assert_eq!(cat.permission(viewer.id, a.id).await.unwrap(), None);

    cat.grant(viewer.id, a.id, Role::Viewer, false).await.unwrap();
    let perm = cat.permission(viewer.id, a.id).await.unwrap().unwrap();
    assert_eq!(perm, Permission { role: Role::Viewer, license_keys: false });
    // Upsert: a second grant replaces the first.
    cat.grant(viewer.id, a.id, Role::Editor, true).await.unwrap();
    cat.grant(viewer.id, b.id, Role::Viewer, false).await.unwrap();
    let visible = cat.visible_products(viewer.id).await.unwrap();
    let summary: Vec<_> =
        visible.iter().map(|v| (v.product.id, v.permission.role, v.permission.license_keys)).collect();
    assert_eq!(summary, vec![(b.id, Role::Viewer, false), (a.id, Role::Editor, true)]);
    assert!(cat.permission(viewer.id, a.id).await.unwrap().unwrap().role >= Role::Editor);

    assert!(cat.revoke_grant(viewer.id, b.id).await.unwrap());
    assert!(!cat.revoke_grant(viewer.id, b.id).await.unwrap());
    assert_eq!(cat.permission(viewer.id, b.id).await.unwrap(), None);
    assert_eq!(cat.visible_products(viewer.id).await.unwrap().len(), 1);

    // Server admins see every product as admin with the licenseKeys flag, without grants.
    let all = cat.visible_products(admin.id).await.unwrap();
    assert_eq!(all.iter().map(|v| v.product.id).collect::<Vec<_>>(), vec![b.id, a.id]);
    assert!(all.iter().all(|v| v.permission == Permission::SERVER_ADMIN));
    assert_eq!(cat.permission(admin.id, b.id).await.unwrap(), Some(Permission::SERVER_ADMIN));
    assert_eq!(cat.permission(admin.id, pid("1111111111")).await.unwrap(), None);
    assert_eq!(cat.permission(9999, a.id).await.unwrap(), None);

    assert!(matches!(
        cat.grant(viewer.id, pid("1111111111"), Role::Viewer, false).await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(matches!(cat.grant(9999, a.id, Role::Viewer, false).await, Err(CatalogError::NotFound(_))));

    assert_eq!(cat.current_product(viewer.id).await.unwrap(), None);
    cat.set_current_product(viewer.id, a.id).await.unwrap();
    cat.set_current_product(viewer.id, a.id).await.unwrap();
    assert_eq!(cat.current_product(viewer.id).await.unwrap(), Some(a.id));
    cat.set_current_product(viewer.id, b.id).await.unwrap();
    assert_eq!(cat.current_product(viewer.id).await.unwrap(), Some(b.id));
    assert!(matches!(cat.set_current_product(viewer.id, pid("1111111111")).await, Err(CatalogError::NotFound(_))));
    assert!(matches!(cat.set_current_product(9999, a.id).await, Err(CatalogError::NotFound(_))));
}

/// Cookie sessions: lookup, CSRF binding, expiry, logout, the 50-session cap.
pub(crate) async fn sessions(cat: &dyn Catalog) {
    let u = user(cat, "s@example.com", false).await;
    let other = user(cat, "o@example.com", false).await;
    let lifetime = Duration::seconds(39_600);
    let token = cat.create_session(u.id, "csrf-1", t0(), lifetime).await.unwrap();
    assert_eq!(token.len(), 43);
    let SessionLookup::Valid(session) = cat.find_session(&token, t0()).await.unwrap() else {
        panic!("session should be valid");
    };
    assert_eq!(session.user_id, u.id);
    assert_eq!(session.expires_at, t0() + lifetime);
    assert!(session.csrf_matches("csrf-1"));
    assert!(!session.csrf_matches("csrf-2"));

    // Use does not extend a session; it expires exactly at the end of its lifetime.
    let almost = t0() + lifetime - Duration::seconds(1);
    assert!(matches!(cat.find_session(&token, almost).await.unwrap(), SessionLookup::Valid(_)));
    assert_eq!(cat.find_session(&token, t0() + lifetime).await.unwrap(), SessionLookup::Expired);

    assert_eq!(cat.find_session("not a token", t0()).await.unwrap(), SessionLookup::Unknown);
    let forged = crate::credentials::new_session_token();
    assert_eq!(cat.find_session(&forged, t0()).await.unwrap(), SessionLookup::Unknown);

    assert!(cat.delete_session(&token).await.unwrap());
    assert!(!cat.delete_session(&token).await.unwrap());
    assert_eq!(cat.find_session(&token, t0()).await.unwrap(), SessionLookup::Unknown);

    // The 51st session evicts the oldest, and only that user's.
    let others_session = cat.create_session(other.id, "c", t0(), lifetime).await.unwrap();
    let mut tokens = Vec::new();
    for i in 0..=MAX_SESSIONS_PER_USER {
        let at = t0() + Duration::seconds(i64::try_from(i).unwrap());
        tokens.push(cat.create_session(u.id, "c", at, lifetime).await.unwrap());
    }
    assert_eq!(cat.find_session(&tokens[0], t0()).await.unwrap(), SessionLookup::Unknown);
    for t in &tokens[1..] {
        assert!(matches!(cat.find_session(t, t0()).await.unwrap(), SessionLookup::Valid(_)));
    }
    assert!(matches!(cat.find_session(&others_session, t0()).await.unwrap(), SessionLookup::Valid(_)));

    assert_eq!(cat.delete_user_sessions(u.id).await.unwrap(), 50);
    assert_eq!(cat.find_session(&tokens[50], t0()).await.unwrap(), SessionLookup::Unknown);
    assert!(matches!(cat.find_session(&others_session, t0()).await.unwrap(), SessionLookup::Valid(_)));

    assert!(matches!(cat.create_session(9999, "c", t0(), lifetime).await, Err(CatalogError::NotFound(_))));
    assert!(invalid_text(cat.create_session(u.id, "c", t0(), Duration::zero()).await).starts_with("lifetime"));
}

/// Expired sessions stay reportable as expired for a grace period, then are cleaned.
pub(crate) async fn session_cleanup(cat: &dyn Catalog) {
    let u = user(cat, "s@example.com", false).await;
    let short = cat.create_session(u.id, "c", t0(), Duration::hours(1)).await.unwrap();
    let after_a_day = t0() + Duration::days(1);
    cat.create_session(u.id, "c", after_a_day, Duration::hours(1)).await.unwrap();
    assert_eq!(cat.find_session(&short, after_a_day).await.unwrap(), SessionLookup::Expired);
    let much_later = t0() + Duration::days(30);
    cat.create_session(u.id, "c", much_later, Duration::hours(1)).await.unwrap();
    assert_eq!(cat.find_session(&short, much_later).await.unwrap(), SessionLookup::Unknown);
}

/// Bearer tokens: format, scope, read-only, expiry, revocation.
pub(crate) async fn tokens(cat: &dyn Catalog) {
    let u = user(cat, "t@example.com", false).await;
    let (a, _) = cat.create_product("A", Some(pid("2000000000")), t0()).await.unwrap();
    let (b, _) = cat.create_product("B", Some(pid("1000000000")), t0()).await.unwrap();
    let expires = t0() + Duration::days(30);
    let (info, token) = cat.create_token(u.id, vec![a.id, b.id, a.id], true, Some(expires), t0()).await.unwrap();
    assert!(token.starts_with("uit_"));
    assert_eq!(token.len(), 47);
    assert_eq!(info.prefix, &token[..8]);
    assert_eq!(info.products, vec![b.id, a.id]);
    assert!(info.read_only);
    assert_eq!(info.expires_at, Some(expires));
    assert_eq!(info.created_at, t0());
    assert!(info.covers_product(a.id));
    assert!(!info.covers_product(pid("3000000000")));

    assert_eq!(cat.find_token(&token, t0()).await.unwrap(), TokenLookup::Valid(info.clone()));
    assert_eq!(cat.find_token(&token, expires).await.unwrap(), TokenLookup::Invalid);
    assert_eq!(cat.find_token("uit_short", t0()).await.unwrap(), TokenLookup::Invalid);
    assert_eq!(cat.find_token(&crate::credentials::new_api_token(), t0()).await.unwrap(), TokenLookup::Invalid);

    let (all, all_token) = cat.create_token(u.id, Vec::new(), false, None, t0()).await.unwrap();
    assert!(all.products.is_empty() && !all.read_only && all.expires_at.is_none());
    assert!(all.covers_product(pid("3000000000")));
    let far_future = t0() + Duration::days(10_000);
    assert!(matches!(cat.find_token(&all_token, far_future).await.unwrap(), TokenLookup::Valid(_)));

    assert!(cat.revoke_token(all.id, t0()).await.unwrap());
    assert!(!cat.revoke_token(all.id, t0()).await.unwrap());
    assert!(!cat.revoke_token(9999, t0()).await.unwrap());
    assert_eq!(cat.find_token(&all_token, t0()).await.unwrap(), TokenLookup::Invalid);

    let listed = cat.list_tokens(u.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], info);
    assert_eq!(listed[1].revoked_at, Some(t0()));
    assert!(cat.list_tokens(9999).await.unwrap().is_empty());

    assert!(matches!(
        cat.create_token(u.id, vec![pid("3000000000")], false, None, t0()).await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(matches!(cat.create_token(9999, Vec::new(), false, None, t0()).await, Err(CatalogError::NotFound(_))));
    assert!(invalid_text(cat.create_token(u.id, Vec::new(), false, Some(t0()), t0()).await).starts_with("expiresAt"));
}

/// The license-key registry: auto-collection and upserts.
pub(crate) async fn license_keys(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let today = NaiveDate::from_ymd_opt(2024, 3, 19).unwrap();
    assert_eq!(cat.get_license_key(p.id, "K-1").await.unwrap(), None);

    let (rec, known) = cat.auto_collect_license_key(p.id, "K-1", today).await.unwrap();
    assert!(!known);
    assert_eq!(rec, LicenseKeyRecord::auto_collected("K-1", today));
    assert_eq!(rec.license_type, LicenseType::Unknown);
    assert!(rec.auto_collected && !rec.activated && !rec.blocked && !rec.allowed && !rec.expired);
    let tomorrow = today.succ_opt().unwrap();
    let (again, known) = cat.auto_collect_license_key(p.id, "K-1", tomorrow).await.unwrap();
    assert!(known);
    assert_eq!(again.added_date, today);
    // Keys are case-sensitive.
    assert!(!cat.auto_collect_license_key(p.id, "k-1", today).await.unwrap().1);

    // Replacing keeps the key's origin; everything else is replaced.
    let mut edited = LicenseKeyRecord {
        license_type: LicenseType::Purchased,
        activated: true,
        allowed: true,
        expiry_date: NaiveDate::from_ymd_opt(2025, 12, 31),
        quota: Some(5),
        notes: Some("ACME Corp".into()),
        auto_collected: false,
        added_date: tomorrow,
        ..again.clone()
    };
    assert!(!cat.upsert_license_key(p.id, edited.clone()).await.unwrap());
    edited.auto_collected = true;
    edited.added_date = today;
    assert_eq!(cat.get_license_key(p.id, "K-1").await.unwrap(), Some(edited.clone()));

    let fresh = LicenseKeyRecord {
        key: "K-2".into(),
        auto_collected: false,
        license_type: LicenseType::Nfr,
        ..LicenseKeyRecord::auto_collected("ignored", today)
    };
    assert!(cat.upsert_license_key(p.id, fresh.clone()).await.unwrap());
    assert_eq!(cat.get_license_key(p.id, "K-2").await.unwrap(), Some(fresh.clone()));
    let (known_fresh, known) = cat.auto_collect_license_key(p.id, "K-2", today).await.unwrap();
    assert!(known);
    assert_eq!(known_fresh, fresh);

    assert!(invalid_text(cat.auto_collect_license_key(p.id, " K-1", today).await).starts_with("licenseKey"));
    let too_long_notes = LicenseKeyRecord { notes: Some("x".repeat(1025)), ..fresh.clone() };
    assert!(invalid_text(cat.upsert_license_key(p.id, too_long_notes).await).starts_with("notes"));
    assert!(matches!(
        cat.auto_collect_license_key(pid("1111111111"), "K-1", today).await,
        Err(CatalogError::NotFound(_))
    ));
    // Registries are per product.
    let (q, _) = cat.create_product("B", None, t0()).await.unwrap();
    assert_eq!(cat.get_license_key(q.id, "K-1").await.unwrap(), None);
}

/// Bulk registry work: cursor listing in code-point order, all-or-nothing updates, deletes.
pub(crate) async fn license_key_bulk(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let today = NaiveDate::from_ymd_opt(2024, 3, 19).unwrap();
    let earlier = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    cat.auto_collect_license_key(p.id, "K-2", earlier).await.unwrap();
    let patch = |key: &str| LicenseKeyPatch::new(key);
    let patches = vec![
        LicenseKeyPatch { quota: Some(Some(5)), notes: Some(Some("ACME".into())), ..patch("K-2") },
        LicenseKeyPatch { license_type: Some(LicenseType::Purchased), blocked: Some(true), ..patch("K-10") },
        patch("\u{e9}t\u{e9}"),
        patch("Z"),
        patch("a"),
    ];
    assert_eq!(cat.update_license_keys(p.id, patches, today).await.unwrap(), (4, 1));
    let k2 = cat.get_license_key(p.id, "K-2").await.unwrap().unwrap();
    assert_eq!(
        k2,
        LicenseKeyRecord {
            quota: Some(5),
            notes: Some("ACME".into()),
            ..LicenseKeyRecord::auto_collected("K-2", earlier)
        },
        "unsent fields and the key's origin are kept"
    );
    let k10 = cat.get_license_key(p.id, "K-10").await.unwrap().unwrap();
    assert!(!k10.auto_collected && k10.added_date == today && k10.blocked && k10.quota.is_none());

    // Code-point order (upper case before lower case before non-ASCII), inclusive cursor.
    let keys = |v: Vec<LicenseKeyRecord>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(keys(cat.list_license_keys(p.id, None, 100).await.unwrap()), ["K-10", "K-2", "Z", "a", "\u{e9}t\u{e9}"]);
    assert_eq!(keys(cat.list_license_keys(p.id, Some("K-2".into()), 2).await.unwrap()), ["K-2", "Z"]);
    assert_eq!(keys(cat.list_license_keys(p.id, Some("K-3".into()), 2).await.unwrap()), ["Z", "a"]);
    assert!(cat.list_license_keys(p.id, Some("\u{fffd}".into()), 2).await.unwrap().is_empty());

    // Null clears; one bad item (or a key listed twice) stores nothing.
    let clear = LicenseKeyPatch { quota: Some(None), notes: Some(None), ..patch("K-2") };
    let bad = LicenseKeyPatch { notes: Some(Some("x".repeat(1025))), ..patch("NEW") };
    assert!(invalid_text(cat.update_license_keys(p.id, vec![clear.clone(), bad], today).await).starts_with("notes"));
    assert!(invalid_text(cat.update_license_keys(p.id, vec![clear.clone(), patch("K-2")], today).await)
        .starts_with("licenseKey"));
    assert_eq!(cat.get_license_key(p.id, "K-2").await.unwrap().unwrap().quota, Some(5));
    assert_eq!(cat.get_license_key(p.id, "NEW").await.unwrap(), None);
    assert_eq!(cat.update_license_keys(p.id, vec![clear], today).await.unwrap(), (0, 1));
    let k2 = cat.get_license_key(p.id, "K-2").await.unwrap().unwrap();
    assert_eq!((k2.quota, k2.notes), (None, None));

    // Deletes report the keys that were not there; duplicates are rejected.
    assert!(invalid_text(cat.delete_license_keys(p.id, vec!["Z".into(), "Z".into()]).await).starts_with("licenseKey"));
    let missing = cat.delete_license_keys(p.id, vec!["Z".into(), "nope".into(), "a".into()]).await.unwrap();
    assert_eq!(missing, ["nope"]);
    assert_eq!(keys(cat.list_license_keys(p.id, None, 100).await.unwrap()), ["K-10", "K-2", "\u{e9}t\u{e9}"]);
    // A deleted key set again by an SDK comes back as auto-collected.
    let (again, known) = cat.auto_collect_license_key(p.id, "Z", today).await.unwrap();
    assert!(!known && again.auto_collected);

    assert!(matches!(
        cat.update_license_keys(pid("1111111111"), vec![patch("K")], today).await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(matches!(
        cat.delete_license_keys(pid("1111111111"), vec!["K".into()]).await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(cat.list_license_keys(pid("1111111111"), None, 10).await.unwrap().is_empty());
}

/// Installation controls, including product-wide back-off.
pub(crate) async fn installations(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let (q, _) = cat.create_product("B", None, t0()).await.unwrap();
    let c1 = ClientId::parse("4F2A9C1E7B3D5A60").unwrap();
    // The high bit set: stored bit-for-bit in a signed column.
    let c2 = ClientId::parse("FFFFFFFFFFFFFFFF").unwrap();

    let none = cat.installation_control(p.id, c1).await.unwrap();
    assert_eq!(none, crate::InstallationControl::default());
    assert_eq!(cat.installation_control(pid("1111111111"), c1).await.unwrap(), none);

    cat.set_installation_disabled(p.id, c2, true).await.unwrap();
    assert!(cat.installation_control(p.id, c2).await.unwrap().disabled);
    assert!(!cat.installation_control(q.id, c2).await.unwrap().disabled);
    assert!(!cat.installation_control(p.id, c1).await.unwrap().disabled);

    let week = t0() + Duration::days(7);
    cat.start_back_off(p.id, Some(c1), week).await.unwrap();
    let ctl = cat.installation_control(p.id, c1).await.unwrap();
    assert_eq!(ctl.back_off_until, Some(week));
    assert!(ctl.back_off_ever && ctl.backing_off(t0()) && !ctl.backing_off(week));
    assert_eq!(ctl.remaining_back_off_days(t0()), 7);

    // Product-wide: applies to installations the catalog has never seen, not to other products.
    let c3 = ClientId::parse("0000000000000003").unwrap();
    let two_weeks = t0() + Duration::days(14);
    cat.start_back_off(p.id, None, two_weeks).await.unwrap();
    for c in [c1, c2, c3] {
        assert_eq!(cat.installation_control(p.id, c).await.unwrap().back_off_until, Some(two_weeks));
    }
    assert!(cat.installation_control(p.id, c2).await.unwrap().disabled);
    assert_eq!(cat.installation_control(q.id, c3).await.unwrap().back_off_until, None);
    assert!(!cat.installation_control(p.id, c3).await.unwrap().back_off_ever);
    cat.record_back_off_answer(p.id, c3).await.unwrap();
    assert!(cat.installation_control(p.id, c3).await.unwrap().back_off_ever);

    // The later end binds.
    let month = t0() + Duration::days(30);
    cat.start_back_off(p.id, Some(c1), month).await.unwrap();
    assert_eq!(cat.installation_control(p.id, c1).await.unwrap().back_off_until, Some(month));

    cat.clear_back_off(p.id, Some(c1)).await.unwrap();
    let ctl = cat.installation_control(p.id, c1).await.unwrap();
    assert_eq!(ctl.back_off_until, Some(two_weeks));
    assert!(ctl.back_off_ever);
    cat.start_back_off(p.id, Some(c1), month).await.unwrap();
    cat.clear_back_off(p.id, None).await.unwrap();
    for c in [c1, c2, c3] {
        let ctl = cat.installation_control(p.id, c).await.unwrap();
        assert_eq!(ctl.back_off_until, None);
    }
    assert!(cat.installation_control(p.id, c1).await.unwrap().back_off_ever);

    cat.set_installation_disabled(p.id, c2, false).await.unwrap();
    assert!(!cat.installation_control(p.id, c2).await.unwrap().disabled);
    assert!(matches!(cat.start_back_off(pid("1111111111"), None, week).await, Err(CatalogError::NotFound(_))));
    assert!(matches!(cat.set_installation_disabled(pid("1111111111"), c1, true).await, Err(CatalogError::NotFound(_))));
}

/// Event tracking flags: atomic upserts, NULL category distinct from every named one.
pub(crate) async fn event_settings(cat: &dyn Catalog) {
    use crate::EventSetting;
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let (q, _) = cat.create_product("B", None, t0()).await.unwrap();
    let e = |c: Option<&str>, n: &str, basic, advanced| EventSetting {
        category: c.map(str::to_string),
        name: n.into(),
        basic,
        advanced,
    };
    let existed = cat
        .set_event_settings(p.id, vec![e(None, "Open", true, false), e(Some("File"), "Open", true, true)])
        .await
        .unwrap();
    assert_eq!(existed, vec![false, false]);
    let existed = cat
        .set_event_settings(p.id, vec![e(None, "Open", false, false), e(Some("Edit"), "Open", true, false)])
        .await
        .unwrap();
    assert_eq!(existed, vec![true, false], "the NULL category row is found again");
    let mut all = cat.event_settings(p.id).await.unwrap();
    all.sort();
    assert_eq!(
        all,
        vec![e(None, "Open", false, false), e(Some("Edit"), "Open", true, false), e(Some("File"), "Open", true, true)]
    );
    assert!(cat.event_settings(q.id).await.unwrap().is_empty());
}

/// Back-off states as reports read them.
pub(crate) async fn back_off_states(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let c1 = ClientId::parse("4F2A9C1E7B3D5A60").unwrap();
    let c2 = ClientId::parse("FFFFFFFFFFFFFFFF").unwrap();
    assert_eq!(cat.back_off_states(p.id).await.unwrap(), crate::BackOffStates::default());
    cat.start_back_off(p.id, Some(c1), t0() + Duration::days(7)).await.unwrap();
    cat.record_back_off_answer(p.id, c2).await.unwrap();
    let states = cat.back_off_states(p.id).await.unwrap();
    let mut at = states.at(t0());
    at.sort();
    assert_eq!(at, vec![(c1.as_u64(), true, true), (c2.as_u64(), true, false)]);
    let later = states.at(t0() + Duration::days(8));
    assert!(later.iter().all(|(_, _, current)| !current), "the back-off ended");
    assert!(!states.product_wide(t0()));
    cat.start_back_off(p.id, None, t0() + Duration::days(2)).await.unwrap();
    let states = cat.back_off_states(p.id).await.unwrap();
    assert!(states.product_wide(t0()) && !states.product_wide(t0() + Duration::days(3)));
}

pub(crate) async fn downloads(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let lease = Duration::minutes(30);
    let issued = cat.issue_download(p.id, "x_2024-03-18.zip", t0() + Duration::hours(24)).await.unwrap();
    assert_eq!(issued.token.len(), 43, "32 random bytes, base64url");
    let other = cat.issue_download(p.id, "x_2024-03-18.zip", t0() + Duration::hours(24)).await.unwrap();
    assert_ne!(issued.token, other.token, "every URL is new");
    let grant = crate::DownloadGrant { product: p.id, file_name: "x_2024-03-18.zip".into() };

    // A claim holds the token: a second transfer cannot start until it ends or lapses.
    assert_eq!(cat.claim_download(&issued.token, t0(), lease).await.unwrap(), Some(grant.clone()));
    assert_eq!(cat.claim_download(&issued.token, t0(), lease).await.unwrap(), None, "held by a transfer");
    // A failed transfer releases it; a complete one spends it.
    cat.finish_download(&issued.token, false).await.unwrap();
    assert_eq!(cat.claim_download(&issued.token, t0(), lease).await.unwrap(), Some(grant.clone()));
    cat.finish_download(&issued.token, true).await.unwrap();
    assert_eq!(cat.claim_download(&issued.token, t0() + Duration::hours(1), lease).await.unwrap(), None, "spent");
    // A claim whose holder died lapses after the lease.
    assert!(cat.claim_download(&other.token, t0(), lease).await.unwrap().is_some());
    assert!(cat.claim_download(&other.token, t0() + lease, lease).await.unwrap().is_some(), "lapsed claim");
    // Expiry, unknown and malformed tokens.
    let late = cat.issue_download(p.id, "y.zip", t0() + Duration::hours(24)).await.unwrap();
    assert_eq!(cat.claim_download(&late.token, t0() + Duration::hours(24), lease).await.unwrap(), None, "expired");
    assert_eq!(cat.claim_download(&"A".repeat(43), t0(), lease).await.unwrap(), None);
    assert_eq!(cat.claim_download("../etc/passwd", t0(), lease).await.unwrap(), None);
    // Pruning forgets spent and expired tokens only.
    let fresh = cat.issue_download(p.id, "z.zip", t0() + Duration::hours(48)).await.unwrap();
    assert_eq!(cat.prune_downloads(t0() + Duration::hours(25)).await.unwrap(), 3);
    assert!(cat.claim_download(&fresh.token, t0() + Duration::hours(25), lease).await.unwrap().is_some());
}

pub(crate) async fn erasures(cat: &dyn Catalog) {
    let (p, _) = cat.create_product("A", None, t0()).await.unwrap();
    let (q, _) = cat.create_product("B", None, t0()).await.unwrap();
    let c1 = ClientId::parse("4F2A9C1E7B3D5A60").unwrap();
    let c2 = ClientId::parse("FFFFFFFFFFFFFFFF").unwrap();
    cat.record_erasure(p.id, c2, t0() + Duration::hours(2)).await.unwrap();
    cat.record_erasure(p.id, c1, t0()).await.unwrap();
    cat.record_erasure(q.id, c1, t0()).await.unwrap();
    let all = cat.erasures(p.id, t0() - Duration::days(1), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(
        all,
        vec![
            crate::Erasure { client: c1, erased_at: t0() },
            crate::Erasure { client: c2, erased_at: t0() + Duration::hours(2) }
        ],
        "oldest first; the top bit of a client id survives storage"
    );
    let window = cat.erasures(p.id, t0() + Duration::hours(1), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(window.len(), 1, "half-open window");
    assert_eq!(cat.prune_erasures(p.id, t0() + Duration::hours(1)).await.unwrap(), 1);
    assert_eq!(cat.erasures(q.id, t0(), t0() + Duration::days(1)).await.unwrap().len(), 1, "other products untouched");
}

/// The CSRF key: the first candidate is kept, later servers get it.
pub(crate) async fn server_key(cat: &dyn Catalog) {
    let first = [7u8; 32];
    assert_eq!(cat.shared_server_key(first).await.unwrap(), first);
    assert_eq!(cat.shared_server_key([9u8; 32]).await.unwrap(), first, "the stored key wins");
}

/// Token buckets and sliding windows (reporting-api §1.12, callhome §7).
pub(crate) async fn limits(cat: &dyn Catalog) {
    // A bucket of 5 refilled at 4 per second: the burst, then one token per 0.25 s.
    for _ in 0..5 {
        assert_eq!(cat.take_token("rate:a", 4.0, 5.0, 100.0).await.unwrap(), None);
    }
    assert_eq!(cat.take_token("rate:a", 4.0, 5.0, 100.0).await.unwrap(), Some(1));
    assert_eq!(cat.take_token("rate:b", 4.0, 5.0, 100.0).await.unwrap(), None, "keys are independent");
    assert_eq!(cat.take_token("rate:a", 4.0, 5.0, 100.25).await.unwrap(), None);
    assert_eq!(cat.take_token("rate:a", 4.0, 5.0, 100.25).await.unwrap(), Some(1));
    // The wait is the time to the next whole token.
    assert_eq!(cat.take_token("rate:slow", 0.25, 1.0, 0.0).await.unwrap(), None);
    assert_eq!(cat.take_token("rate:slow", 0.25, 1.0, 0.0).await.unwrap(), Some(4));
    assert_eq!(cat.take_token("rate:slow", 0.25, 1.0, 2.0).await.unwrap(), Some(2));
    // A clock that went back (another server's) refills nothing.
    assert_eq!(cat.take_token("rate:slow", 0.25, 1.0, 1.0).await.unwrap(), Some(2));
    assert_eq!(cat.take_token("rate:slow", 0.25, 1.0, 4.0).await.unwrap(), None);

    // Failed logins: checked, then recorded; blocked until the oldest leaves the window.
    let now = 1_000;
    assert_eq!(cat.window_blocked("login:u", 3, 900, now).await.unwrap(), None);
    for t in 0..3 {
        cat.window_record("login:u", 900, now + t).await.unwrap();
    }
    assert_eq!(cat.window_blocked("login:u", 3, 900, now + 10).await.unwrap(), Some(890));
    assert_eq!(cat.window_blocked("login:other", 3, 900, now + 10).await.unwrap(), None);
    assert_eq!(cat.window_blocked("login:u", 3, 900, now + 900).await.unwrap(), None);
    // Client-chosen keys may hold anything, NUL included.
    cat.window_record("login:a\0b", 900, now).await.unwrap();
    assert_eq!(cat.window_blocked("login:a\0b", 1, 900, now).await.unwrap(), Some(900));

    // License calls: check and record in one step; refusals are not recorded.
    for _ in 0..2 {
        assert_eq!(cat.window_try_record("license:p:c", 2, 3600, now).await.unwrap(), None);
    }
    assert_eq!(cat.window_try_record("license:p:c", 2, 3600, now + 600).await.unwrap(), Some(3000));
    assert_eq!(cat.window_try_record("license:p:c", 2, 3600, now + 3600).await.unwrap(), None);
    assert_eq!(cat.window_try_record("license:p:c", 2, 3600, now + 3601).await.unwrap(), None);
    assert_eq!(cat.window_try_record("license:p:c", 2, 3600, now + 3602).await.unwrap(), Some(3598));
}

/// Leases: a cap per key, released by their holder or expiring when it stops renewing.
pub(crate) async fn leases(cat: &dyn Catalog) {
    let ttl = std::time::Duration::from_secs(30);
    assert!(cat.acquire_lease("reports:s1", "h1", 2, ttl).await.unwrap());
    assert!(cat.acquire_lease("reports:s1", "h2", 2, ttl).await.unwrap());
    assert!(!cat.acquire_lease("reports:s1", "h3", 2, ttl).await.unwrap(), "both held");
    assert!(cat.acquire_lease("reports:s2", "h3", 2, ttl).await.unwrap(), "keys are independent");
    cat.release_lease("reports:s1", "h1").await.unwrap();
    cat.release_lease("reports:s1", "nobody").await.unwrap();
    assert!(cat.acquire_lease("reports:s1", "h3", 2, ttl).await.unwrap(), "a released lease is free");
    assert!(cat.renew_lease("reports:s1", "h2", ttl).await.unwrap());
    assert!(!cat.renew_lease("reports:s1", "h1", ttl).await.unwrap(), "released: nothing to renew");

    // A holder that renews keeps its lease past the first expiry; one that stops loses it.
    let short = std::time::Duration::from_millis(400);
    assert!(cat.acquire_lease("bulk:p", "a", 1, short).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(cat.renew_lease("bulk:p", "a", short).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(!cat.acquire_lease("bulk:p", "b", 1, ttl).await.unwrap(), "renewed, still held");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!cat.renew_lease("bulk:p", "a", short).await.unwrap(), "expired");
    assert!(cat.acquire_lease("bulk:p", "b", 1, ttl).await.unwrap(), "a dead holder's lease is free");
}

/// Pruning forgets idle buckets, past windows and expired leases, and nothing live.
pub(crate) async fn limits_prune(cat: &dyn Catalog) {
    cat.take_token("b:idle", 1.0, 1.0, 0.0).await.unwrap();
    cat.take_token("b:busy", 0.125, 1.0, 5_000.0).await.unwrap();
    cat.window_record("w:past", 60, 0).await.unwrap();
    cat.window_record("w:live", 60, 5_000).await.unwrap();
    assert!(cat.acquire_lease("l:dead", "h", 1, std::time::Duration::from_millis(1)).await.unwrap());
    assert!(cat.acquire_lease("l:live", "h", 1, std::time::Duration::from_secs(60)).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(cat.prune_limits(5_000).await.unwrap(), 3);
    assert_eq!(cat.prune_limits(5_000).await.unwrap(), 0);
    assert_eq!(cat.take_token("b:busy", 0.125, 1.0, 5_000.0).await.unwrap(), Some(8), "still empty");
    assert_eq!(cat.window_blocked("w:live", 1, 60, 5_000).await.unwrap(), Some(60));
    assert!(!cat.acquire_lease("l:live", "other", 1, std::time::Duration::from_secs(60)).await.unwrap());
}
