//! Administration endpoints beyond the vendor's API.

use std::time::Duration;

use axum::extract::{Path, Request, State};
use serde_json::json;
use usagi_types::{ApiError, ClientId, JsonObject};

use super::body::{query_params, read_body, MAX_BODY};
use super::principal::{authenticate, product_scope, rate_limit, Need};
use super::response::{json, ApiResult};
use crate::state::AppState;

/// `POST /v3/admin/erase/{product_id}` with `{"clientId":"<16 hex>"}` (server administrators
/// only): erases every record and rollup row of one installation from the warehouse.
///
/// **Decision:** batches acknowledged before the call are loaded first, so nothing received
/// before the erasure reappears afterwards; records received later are stored as usual (an
/// installation that should stay silent is disabled with `usagi client disable`).
pub async fn erase(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (parts, body) = request.into_parts();
    let principal = authenticate(&app, &parts.headers).await?;
    rate_limit(&app, &principal).await?;
    let scope = product_scope(&app, &principal, &product, Need::EDITOR).await?;
    if !principal.user.admin {
        return Err(ApiError::forbidden("erasing an installation requires a server administrator").into());
    }
    query_params(&parts.uri, false, &[])?;
    let bytes = read_body(&parts.headers, body, MAX_BODY).await?.unwrap_or_default();
    let body = JsonObject::parse_body(&bytes)?;
    let id_value = body.required("clientId")?;
    let client = ClientId::parse(&id_value.string()?.to_ascii_uppercase())
        .map_err(|_| id_value.error("must be a client id of 16 hexadecimal characters"))?;
    body.finish()?;
    let acked = app.ingest.durable_lsn();
    if !app.ingest.wait_loaded(acked, Duration::from_secs(30)).await {
        return Err(ApiError::server("the warehouse is behind the ingest log; retry the erasure later").into());
    }
    let removed = app.warehouse.erase_installation(scope.product.id, client).await.map_err(|e| {
        tracing::error!(error = %e, "erasure failed");
        ApiError::server("the installation could not be erased")
    })?;
    let now = app.clock.now();
    app.catalog.record_erasure(scope.product.id, client, now).await.map_err(|e| {
        tracing::error!(error = %e, "erasure not recorded");
        ApiError::server("the installation was erased but the erasure could not be recorded; retry")
    })?;
    if let Err(e) = app.exports.after_erasure(scope.product.id, now).await {
        // The next export pass regenerates them; the erasure itself stands.
        tracing::error!(error = %e, "open export files not regenerated after an erasure");
    }
    tracing::info!(product = %scope.product.id, client = %client, removed, "installation erased");
    Ok(json(&json!({"result": {"clientId": client.to_string(), "erasedRecords": removed}})))
}
