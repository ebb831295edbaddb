//! License key registry management (reporting-api §12): list, bulk update, bulk delete.

use axum::extract::{Path, Request, State};
use serde_json::json;
use usagi_catalog::{CatalogError, LicenseKeyRecord};
use usagi_reporting::license_keys::{self, ListKeysSpec, RegistryKey};
use usagi_types::{ApiError, JsonObject, ProductId};

use super::body::{query_params, read_body};
use super::principal::{authenticate, product_scope, rate_limit, Need, ProductScope};
use super::reports::run_report_as;
use super::response::{json, ApiResult};
use crate::ratelimit::Lease;
use crate::state::AppState;

/// Largest `updateKeys` / `deleteKeys` body (reporting-api §1.6).
const MAX_BULK_BODY: usize = 8 << 20;

fn catalog_error(e: CatalogError) -> ApiError {
    match e {
        // The request was validated before; the catalog's own checks agree with it.
        CatalogError::Invalid(reason) => ApiError::syntax(reason),
        CatalogError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
        other => {
            tracing::error!(error = %other, "the license key registry could not be read or written");
            ApiError::server("the license key registry could not be read or written")
        }
    }
}

fn registry_key(r: LicenseKeyRecord) -> RegistryKey {
    RegistryKey {
        key: r.key,
        license_type: r.license_type,
        activated: r.activated,
        expired: r.expired,
        blocked: r.blocked,
        allowed: r.allowed,
        expiry_date: r.expiry_date,
        added_date: r.added_date,
        auto_collected: r.auto_collected,
        quota: r.quota,
        notes: r.notes,
    }
}

/// `POST|GET /v3/licenseKeys/listKeys/{product_id}` (flag licenseKeys).
pub async fn list(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let catalog = app.catalog.clone();
    run_report_as(app, product, request, Need::LICENSE_KEYS, ListKeysSpec::parse, |wh, ctx, spec| async move {
        let product = ctx.product;
        license_keys::run(wh.as_ref(), &ctx, &spec, |start_at, limit| {
            let catalog = catalog.clone();
            async move {
                let rows = catalog.list_license_keys(product, start_at, limit).await.map_err(catalog_error)?;
                Ok(rows.into_iter().map(registry_key).collect())
            }
        })
        .await
    })
    .await
}

/// Steps 1–7 of §1.9 shared by the two bulk calls: the caller, the product and the body.
async fn bulk_request(app: &AppState, product: &str, request: Request) -> Result<(ProductScope, JsonObject), ApiError> {
    let (parts, body) = request.into_parts();
    let principal = authenticate(app, &parts.headers).await?;
    rate_limit(app, &principal).await?;
    let scope = product_scope(app, &principal, product, Need::LICENSE_KEYS_EDITOR).await?;
    query_params(&parts.uri, false, &[])?;
    let bytes = read_body(&parts.headers, body, MAX_BULK_BODY).await?.unwrap_or_default();
    Ok((scope, JsonObject::parse_body(&bytes)?))
}

/// The product's bulk lock (step 8 of §1.9), shared by every server on the catalog: 409 while
/// another bulk call on the product runs.
async fn bulk_slot(app: &AppState, product: ProductId) -> Result<Lease, ApiError> {
    app.limits.bulk_slot(product).await.map_err(catalog_error)?.ok_or_else(|| {
        ApiError::conflict(format!(
            "another updateKeys or deleteKeys call on product {product} is running; retry later"
        ))
    })
}

/// Runs a bulk catalog write to completion on its own task, holding the product's lock, so
/// that a client hanging up mid-call neither cuts the write short nor frees the lock early.
async fn with_slot<T, F>(slot: Lease, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, CatalogError>> + Send + 'static,
{
    tokio::spawn(async move {
        let done = work.await;
        slot.release().await;
        done
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "a bulk license key task failed");
        ApiError::server("the license key registry could not be written")
    })?
    .map_err(catalog_error)
}

/// `POST /v3/licenseKeys/updateKeys/{product_id}` (editor + flag): all-or-nothing upsert.
pub async fn update(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (scope, body) = bulk_request(&app, &product, request).await?;
    let id = scope.product.id;
    let today = app.clock.now().date_naive();
    let patches = license_keys::parse_update(&body, &id, today)?;
    let slot = bulk_slot(&app, id).await?;
    let catalog = app.catalog.clone();
    let (inserted, updated) =
        with_slot(slot, async move { catalog.update_license_keys(id, patches, today).await }).await?;
    Ok(json(&json!({"result": {"inserted": inserted, "updated": updated}})))
}

/// `POST /v3/licenseKeys/deleteKeys/{product_id}` (editor + flag).
pub async fn delete(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (scope, body) = bulk_request(&app, &product, request).await?;
    let id = scope.product.id;
    let keys = license_keys::parse_delete(&body, &id)?;
    let total = keys.len();
    let slot = bulk_slot(&app, id).await?;
    let catalog = app.catalog.clone();
    let not_found = with_slot(slot, async move { catalog.delete_license_keys(id, keys).await }).await?;
    Ok(json(&json!({"result": {"deleted": total - not_found.len(), "notFound": not_found}})))
}
