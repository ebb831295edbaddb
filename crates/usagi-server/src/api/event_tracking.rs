//! Event tracking management (reporting-api §8): list the known events, set their flags.

use axum::extract::{Path, Request, State};
use serde_json::json;
use usagi_catalog::EventSetting;
use usagi_reporting::event_tracking::{self, EventFlags, ShowEvents};
use usagi_types::{ApiError, JsonObject};

use super::body::{query_params, read_body};
use super::principal::{authenticate, product_scope, rate_limit, Need};
use super::response::{json, ApiResult};
use crate::state::AppState;

/// Largest `PUT /v3/event-tracking` body (reporting-api §1.6).
const MAX_UPDATE_BODY: usize = 8 << 20;

fn catalog_error(e: usagi_catalog::CatalogError) -> ApiError {
    tracing::error!(error = %e, "event settings could not be read or written");
    ApiError::server("the event settings could not be read or written")
}

fn to_flags(s: EventSetting) -> EventFlags {
    EventFlags { category: s.category, name: s.name, basic: s.basic, advanced: s.advanced }
}

/// `GET /v3/event-tracking/{product_id}[?showEvents=…]`.
pub async fn list(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&app, &parts.headers).await?;
    rate_limit(&app, &principal).await?;
    let scope = product_scope(&app, &principal, &product, Need::VIEWER).await?;
    let params = query_params(&parts.uri, false, &["showEvents"])?;
    let show_raw = params.other.iter().find(|(k, _)| k == "showEvents").map(|(_, v)| v.as_str());
    let show = ShowEvents::parse(show_raw)?;
    let explicit: Vec<EventFlags> =
        app.catalog.event_settings(scope.product.id).await.map_err(catalog_error)?.into_iter().map(to_flags).collect();
    let events = event_tracking::known_events(
        app.warehouse.as_ref(),
        scope.product.id,
        &explicit,
        scope.product.settings.new_events_basic,
    )
    .await?;
    Ok(json(&event_tracking::listing(&events, show)))
}

/// `PUT /v3/event-tracking/{product_id}` (role editor): sets the flags of the listed events.
pub async fn update(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (parts, body) = request.into_parts();
    let principal = authenticate(&app, &parts.headers).await?;
    rate_limit(&app, &principal).await?;
    let scope = product_scope(&app, &principal, &product, Need::EDITOR).await?;
    query_params(&parts.uri, false, &[])?;
    let bytes = read_body(&parts.headers, body, MAX_UPDATE_BODY).await?.unwrap_or_default();
    let items = event_tracking::parse_update(&JsonObject::parse_body(&bytes)?)?;
    // "Already existed" covers events received (warehouse) and events with flags (catalog).
    let explicit: Vec<EventFlags> =
        app.catalog.event_settings(scope.product.id).await.map_err(catalog_error)?.into_iter().map(to_flags).collect();
    let known = event_tracking::known_events(app.warehouse.as_ref(), scope.product.id, &explicit, true).await?;
    let known: std::collections::HashSet<(Option<String>, String)> =
        known.into_iter().map(|e| (e.flags.category, e.flags.name)).collect();
    let updated = items.iter().filter(|f| known.contains(&(f.category.clone(), f.name.clone()))).count();
    let settings = items
        .into_iter()
        .map(|f| EventSetting { category: f.category, name: f.name, basic: f.basic, advanced: f.advanced })
        .collect::<Vec<_>>();
    let total = settings.len();
    app.catalog.set_event_settings(scope.product.id, settings).await.map_err(catalog_error)?;
    Ok(json(&json!({"result": {"updated": updated, "created": total - updated}})))
}
