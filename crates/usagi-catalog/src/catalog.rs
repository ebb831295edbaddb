//! The backend-independent catalog interface.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use usagi_types::{ClientId, ProductId};

use crate::download::{DownloadGrant, Erasure, IssuedDownload};
use crate::error::Result;
use crate::event_setting::EventSetting;
use crate::installation::{BackOffStates, InstallationControl};
use crate::license_key::{LicenseKeyPatch, LicenseKeyRecord};
use crate::product::{Product, ProductSettingsPatch};
use crate::session::SessionLookup;
use crate::token::{TokenInfo, TokenLookup};
use crate::user::{NewUser, Permission, ProductAccess, Role, User};

/// Name of the CSRF cookie key in the catalog's shared server keys.
pub(crate) const CSRF_KEY_NAME: &str = "csrf";

/// The catalog store, shared by the server as `Arc<dyn Catalog>`.
///
/// Methods that depend on the current time take `now`/`today`, so that the server's
/// fixed-clock test mode drives them; no implementation reads the clock itself, except for
/// leases, which detect dead holders and so run on real time.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    // ---- products -------------------------------------------------------------------

    /// Creates a product with default settings and returns it with its first secret (shown once).
    /// A random id (not starting with 0) is drawn when `id` is `None`; a taken `id` is `AlreadyExists`.
    async fn create_product(&self, name: &str, id: Option<ProductId>, now: DateTime<Utc>) -> Result<(Product, String)>;

    /// Looks up a product.
    async fn get_product(&self, id: ProductId) -> Result<Option<Product>>;

    /// Every product, by ascending id.
    async fn list_products(&self) -> Result<Vec<Product>>;

    /// Renames a product.
    async fn rename_product(&self, id: ProductId, name: &str) -> Result<Product>;

    /// Validates and applies a settings patch atomically; returns the updated product.
    async fn update_product_settings(&self, id: ProductId, patch: ProductSettingsPatch) -> Result<Product>;

    /// Disables or re-enables a product's call-home endpoints.
    async fn set_product_disabled(&self, id: ProductId, disabled: bool) -> Result<()>;

    /// The product's secrets valid at `now` as lowercase hex: the current one first, then
    /// the previous one while it has not expired. Empty for an unknown product.
    async fn active_secrets(&self, id: ProductId, now: DateTime<Utc>) -> Result<Vec<String>>;

    /// Makes a new current secret (returned once); the old current one stays valid for
    /// `previous_valid_for` (zero or negative: not at all) and any older one is dropped.
    async fn rotate_secret(&self, id: ProductId, previous_valid_for: Duration, now: DateTime<Utc>) -> Result<String>;

    // ---- users ----------------------------------------------------------------------

    /// Creates a user; the email is normalized to lowercase and must be unique.
    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User>;

    /// Checks a login; `None` for an unknown email or a wrong password, in about the same time.
    async fn verify_password(&self, email: &str, password: &str) -> Result<Option<User>>;

    /// Looks up a user by id.
    async fn get_user(&self, id: i64) -> Result<Option<User>>;

    /// Looks up a user by email (case-insensitively, through normalization).
    async fn get_user_by_email(&self, email: &str) -> Result<Option<User>>;

    /// Every user, by ascending id.
    async fn list_users(&self) -> Result<Vec<User>>;

    /// Replaces a user's password. Sessions are left alone; call `delete_user_sessions` to end them.
    async fn set_password(&self, user_id: i64, password: &str) -> Result<()>;

    /// Makes a user a server administrator or takes that away.
    async fn set_user_admin(&self, user_id: i64, admin: bool) -> Result<()>;

    // ---- grants ---------------------------------------------------------------------

    /// Gives a user a role (and the `licenseKeys` flag) on a product, replacing any earlier grant.
    async fn grant(&self, user_id: i64, product: ProductId, role: Role, license_keys: bool) -> Result<()>;

    /// Removes a user's grant on a product; false if there was none.
    async fn revoke_grant(&self, user_id: i64, product: ProductId) -> Result<bool>;

    /// The products a user sees, by ascending id; server admins see all as admin with the flag.
    async fn visible_products(&self, user_id: i64) -> Result<Vec<ProductAccess>>;

    /// A user's permission on a product; `None` if the product is invisible to them or unknown.
    async fn permission(&self, user_id: i64, product: ProductId) -> Result<Option<Permission>>;

    /// Records the product of the user's latest successful product-scoped request.
    async fn set_current_product(&self, user_id: i64, product: ProductId) -> Result<()>;

    /// The product recorded by `set_current_product`, if any; `NotFound` for an unknown user.
    async fn current_product(&self, user_id: i64) -> Result<Option<ProductId>>;

    // ---- cookie sessions --------------------------------------------------------------

    /// Starts a session bound to the `RUI-Csrf` value issued with it and returns its token
    /// (shown once). A user's 51st session evicts the oldest.
    async fn create_session(
        &self,
        user_id: i64,
        csrf_binding: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<String>;

    /// Looks up a session token.
    async fn find_session(&self, token: &str, now: DateTime<Utc>) -> Result<SessionLookup>;

    /// Ends one session; false if the token was unknown.
    async fn delete_session(&self, token: &str) -> Result<bool>;

    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64>;

    // ---- API tokens -------------------------------------------------------------------

    /// Creates a bearer token (returned once, with its stored description).
    /// `products` narrows it (empty = every product the user sees).
    async fn create_token(
        &self,
        user_id: i64,
        products: Vec<ProductId>,
        read_only: bool,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(TokenInfo, String)>;

    /// Looks up a bearer token; unknown, revoked and expired tokens are all `Invalid`.
    async fn find_token(&self, token: &str, now: DateTime<Utc>) -> Result<TokenLookup>;

    /// A user's tokens, revoked and expired ones included, by ascending id.
    async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>>;

    /// Revokes a token; false if it is unknown or already revoked.
    async fn revoke_token(&self, token_id: i64, now: DateTime<Utc>) -> Result<bool>;

    // ---- license keys -----------------------------------------------------------------

    /// Looks up one key of a product's registry.
    async fn get_license_key(&self, product: ProductId, key: &str) -> Result<Option<LicenseKeyRecord>>;

    /// Inserts or replaces a key; returns true if it was inserted. On replace the key's
    /// origin (`added_date`, `auto_collected`) is kept from the stored record.
    async fn upsert_license_key(&self, product: ProductId, record: LicenseKeyRecord) -> Result<bool>;

    /// `license/set`'s registry step: atomically inserts an unknown key as auto-collected
    /// (`unknown`, all flags false, added today) and returns the record and whether the
    /// key was known before the call.
    async fn auto_collect_license_key(
        &self,
        product: ProductId,
        key: &str,
        today: NaiveDate,
    ) -> Result<(LicenseKeyRecord, bool)>;

    /// Up to `limit` keys of a product's registry in code-point order, from `start_at`
    /// (inclusive) on; empty for an unknown product.
    async fn list_license_keys(
        &self,
        product: ProductId,
        start_at: Option<String>,
        limit: usize,
    ) -> Result<Vec<LicenseKeyRecord>>;

    /// `updateKeys`: applies every patch in one transaction, all or nothing (a key listed
    /// twice is `Invalid`). Unsent fields of stored keys are kept; new keys are manual and
    /// added `today`. Returns `(inserted, updated)`.
    async fn update_license_keys(
        &self,
        product: ProductId,
        patches: Vec<LicenseKeyPatch>,
        today: NaiveDate,
    ) -> Result<(u64, u64)>;

    /// `deleteKeys`: removes the listed keys in one transaction and returns those that
    /// were not in the registry, in request order (a key listed twice is `Invalid`).
    async fn delete_license_keys(&self, product: ProductId, keys: Vec<String>) -> Result<Vec<String>>;

    // ---- event tracking flags -----------------------------------------------------------

    /// Every event of a product whose flags were set or which was pre-registered.
    async fn event_settings(&self, product: ProductId) -> Result<Vec<EventSetting>>;

    /// Sets the flags of the listed events atomically (creating rows as needed); returns,
    /// per item, whether the event already had a row.
    async fn set_event_settings(&self, product: ProductId, items: Vec<EventSetting>) -> Result<Vec<bool>>;

    // ---- installation controls --------------------------------------------------------

    /// The controls in force for an installation, product-wide back-off included (all off for an unknown product).
    async fn installation_control(&self, product: ProductId, client: ClientId) -> Result<InstallationControl>;

    /// The back-off state of every installation of a product that ever had one.
    async fn back_off_states(&self, product: ProductId) -> Result<BackOffStates>;

    /// Disables or re-enables one installation.
    async fn set_installation_disabled(&self, product: ProductId, client: ClientId, disabled: bool) -> Result<()>;

    /// Starts a back-off ending at `until` for one installation, or for all installations of
    /// the product when `client` is `None`. A per-installation start also marks `back_off_ever`.
    async fn start_back_off(&self, product: ProductId, client: Option<ClientId>, until: DateTime<Utc>) -> Result<()>;

    /// Marks that the server answered an installation with a back-off instruction (for
    /// product-wide back-offs, which cannot mark installations the catalog has never seen).
    async fn record_back_off_answer(&self, product: ProductId, client: ClientId) -> Result<()>;

    /// Ends a back-off: one installation's own, or with `None` the product-wide one and every
    /// installation's own. `back_off_ever` is kept.
    async fn clear_back_off(&self, product: ProductId, client: Option<ClientId>) -> Result<()>;

    // ---- export downloads and erasures -----------------------------------------------------

    /// Issues a single-use download URL token for one export file, valid until `expires_at`.
    async fn issue_download(
        &self,
        product: ProductId,
        file_name: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedDownload>;

    /// Claims a download token for one transfer: `None` when it is unknown, spent, expired or
    /// another transfer holds it. The claim lapses at `now + lease` unless finished first.
    async fn claim_download(&self, token: &str, now: DateTime<Utc>, lease: Duration) -> Result<Option<DownloadGrant>>;

    /// Ends a claimed transfer: a complete one spends the token, a failed one releases it.
    async fn finish_download(&self, token: &str, completed: bool) -> Result<()>;

    /// Forgets tokens that are spent or expired before `now`; returns how many.
    async fn prune_downloads(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Records that an installation was erased at `at`.
    async fn record_erasure(&self, product: ProductId, client: ClientId, at: DateTime<Utc>) -> Result<()>;

    /// Erasures of a product in `[from, to)`, oldest first.
    async fn erasures(&self, product: ProductId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Erasure>>;

    /// Forgets erasures recorded before `before` (once no export file can need them); returns how many.
    async fn prune_erasures(&self, product: ProductId, before: DateTime<Utc>) -> Result<u64>;

    // ---- server keys ----------------------------------------------------------------------

    /// The key that signs CSRF cookies, the same for every server on this catalog (so that a
    /// cookie issued by one is accepted by all): the stored key, or `candidate` once stored
    /// when there is none yet (the first server to ask decides).
    async fn shared_server_key(&self, candidate: [u8; 32]) -> Result<[u8; 32]>;

    // ---- limits (reporting-api §1.12, callhome §7) -------------------------------------
    //
    // On PostgreSQL every server on the catalog shares them (behind a load balancer a client
    // gets one limit, not one per server); the SQLite catalog, owned by one process, keeps
    // them in memory so that limiting a request costs no write.

    /// Takes one token from `key`'s bucket (`rate` per second, at most `burst`; a new key's
    /// bucket is full) at `now_s` (seconds); when it is empty, the seconds to wait.
    async fn take_token(&self, key: &str, rate: f64, burst: f64, now_s: f64) -> Result<Option<u64>>;

    /// When `key` has `limit` events in the `window_s` seconds before `now_s`: the seconds
    /// until the oldest of them leaves the window.
    async fn window_blocked(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>>;

    /// Records one event of `key` at `now_s`, counted for `window_s` seconds.
    async fn window_record(&self, key: &str, window_s: i64, now_s: i64) -> Result<()>;

    /// Records one event unless `key` is at its limit, as one atomic step; on refusal the
    /// seconds to wait (as [`Catalog::window_blocked`]).
    async fn window_try_record(&self, key: &str, limit: u32, window_s: i64, now_s: i64) -> Result<Option<u64>>;

    /// Takes one of the `limit` leases on `key` for `holder` (a name unique to the caller),
    /// valid for `ttl` unless renewed; false when `limit` live leases are held already.
    /// Expired leases (of a holder that died) count for nothing.
    async fn acquire_lease(&self, key: &str, holder: &str, limit: u32, ttl: StdDuration) -> Result<bool>;

    /// Extends `holder`'s lease on `key` to `ttl` from now; false when it has expired already
    /// (someone else may hold it now).
    async fn renew_lease(&self, key: &str, holder: &str, ttl: StdDuration) -> Result<bool>;

    /// Ends `holder`'s lease on `key`; nothing when it holds none.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<()>;

    /// Forgets what limits nobody any more: events out of their window, buckets idle for an
    /// hour (full again), expired leases. Returns how many keys or leases went.
    async fn prune_limits(&self, now_s: i64) -> Result<u64>;
}
