//! `license/check` and `license/set` (callhome §7, semantics §12).

use axum::response::Response;
use usagi_catalog::LicenseKeyRecord;
use usagi_ingest::{LicenseSetEntry, LogEntry};
use usagi_protocol::wire::LicenseResponse;
use usagi_protocol::LicenseType as ProtocolLicenseType;
use usagi_protocol::{parse_license_check, parse_license_set};
use usagi_types::ErrorKind;

use super::{clamp, json_body, CallhomeError, Verified};
use crate::state::AppState;

pub(super) async fn handle(app: &AppState, v: Verified, set: bool) -> Result<Response, CallhomeError> {
    let (client, key, t, session_id) = if set {
        let r = parse_license_set(&v.json).map_err(|e| CallhomeError::syntax(e.to_string()))?;
        (r.client_id, r.license_key, Some(r.t), r.session_id)
    } else {
        let r = parse_license_check(&v.json).map_err(|e| CallhomeError::syntax(e.to_string()))?;
        (r.client_id, r.license_key, None, None)
    };
    let now = app.clock.now();
    let catalog_down = |_| CallhomeError::server("catalog unavailable");
    let installation = format!("{}:{}", v.product.id, client);
    if let Some(wait) = app.limits.take_license_call(&installation, now.timestamp()).await.map_err(catalog_down)? {
        return Err(CallhomeError::new(
            ErrorKind::RateLimited { retry_after_s: wait },
            "too many license calls for this installation",
        ));
    }
    let (record, known) = if let Some(t) = t {
        let (record, known) =
            app.catalog.auto_collect_license_key(v.product.id, &key, now.date_naive()).await.map_err(catalog_down)?;
        let entry = LicenseSetEntry {
            product: v.product.id,
            client,
            license_key: key.clone(),
            t: clamp(t, v.received_at),
            session_id,
            received_at: v.received_at,
        };
        app.ingest.commit(LogEntry::LicenseSet(entry)).await.map_err(|e| {
            tracing::error!(error = %e, "could not store a license/set");
            CallhomeError::unavailable("could not store the license key; retry later")
        })?;
        (Some(record), known)
    } else {
        let record = app.catalog.get_license_key(v.product.id, &key).await.map_err(catalog_down)?;
        let known = record.is_some();
        (record, known)
    };
    Ok(json_body(&answer(key, known, record.as_ref(), now.date_naive(), v.received_at)))
}

fn answer(
    key: String,
    known: bool,
    record: Option<&LicenseKeyRecord>,
    today: chrono::NaiveDate,
    server_time: i64,
) -> LicenseResponse {
    match record {
        // A key collected just now is still "unknown" to the caller (callhome §7).
        Some(r) if known => LicenseResponse {
            license_key: key,
            known: true,
            license_type: r.license_type,
            expired: r.expired || r.expiry_date.is_some_and(|d| d < today),
            activated: r.activated,
            blocked: r.blocked,
            allowed: r.allowed,
            expiry_date: r.expiry_date.map(|d| d.format("%Y-%m-%d").to_string()),
            server_time,
        },
        _ => LicenseResponse {
            license_key: key,
            known: false,
            license_type: ProtocolLicenseType::Unknown,
            expired: false,
            activated: false,
            blocked: false,
            allowed: false,
            expiry_date: None,
            server_time,
        },
    }
}
