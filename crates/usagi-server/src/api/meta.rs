//! Metadata queries (reporting-api §7): the property catalogue and the oldest reported date.

use axum::extract::{Path, Request, State};
use chrono::Duration;
use serde_json::json;

use super::body::query_params;
use super::principal::{authenticate, product_scope, rate_limit, Need, ProductScope};
use super::response::{json, ApiResult};
use crate::state::AppState;

/// Authentication, rate limit, product scope and parameter checks of a metadata GET.
async fn scope(
    app: &AppState,
    product: &str,
    request: Request,
) -> Result<ProductScope, super::response::ErrorResponse> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(app, &parts.headers).await?;
    rate_limit(app, &principal).await?;
    let scope = product_scope(app, &principal, product, Need::VIEWER).await?;
    query_params(&parts.uri, false, &[])?;
    Ok(scope)
}

/// `GET /v3/meta/productProperties/{product_id}`.
pub async fn product_properties(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    let scope = scope(&app, &product, request).await?;
    let names = &scope.product.settings.custom_property_names;
    Ok(json(&usagi_reporting::properties::product_properties(names, scope.permission.license_keys)))
}

/// `GET /v3/meta/oldestReportedDate/{product_id}`: today − retentionDays.
pub async fn oldest_reported_date(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    let scope = scope(&app, &product, request).await?;
    let oldest = app.clock.today() - Duration::days(i64::from(scope.product.settings.retention_days));
    Ok(json(&json!({"oldestDate": oldest.format("%Y-%m-%d").to_string()})))
}
