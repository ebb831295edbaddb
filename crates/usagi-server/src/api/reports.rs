//! Report endpoints: authentication, product scope, request parsing, execution.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use serde_json::Value;
use usagi_reporting::context::{BackOff, ResultLimits};
use usagi_reporting::generic::{self, GenericKind, GenericSpec};
use usagi_reporting::ReportContext;
use usagi_reporting::{client_list, event_advanced, event_lifetime, event_reports, previews};
use usagi_types::{ApiError, JsonObject};
use usagi_warehouse::Warehouse;

use super::body::query_params;
use super::body::report_request;
use super::principal::{authenticate, product_scope, rate_limit, Need, ProductScope};
use super::response::{json, ApiResult};
use crate::state::AppState;

/// Everything a report endpoint does around its own parse and run steps (§1.9 order).
pub async fn run_report<S, Fut>(
    app: AppState,
    product_raw: String,
    request: Request,
    parse: impl FnOnce(&JsonObject, &ReportContext) -> Result<S, ApiError>,
    run: impl FnOnce(Arc<dyn Warehouse>, ReportContext, S) -> Fut,
) -> ApiResult
where
    Fut: Future<Output = Result<Value, ApiError>>,
{
    run_report_as(app, product_raw, request, Need::VIEWER, parse, run).await
}

/// [`run_report`] for a read-only endpoint that needs more than the viewer role (`listKeys`).
pub async fn run_report_as<S, Fut>(
    app: AppState,
    product_raw: String,
    request: Request,
    need: Need,
    parse: impl FnOnce(&JsonObject, &ReportContext) -> Result<S, ApiError>,
    run: impl FnOnce(Arc<dyn Warehouse>, ReportContext, S) -> Fut,
) -> ApiResult
where
    Fut: Future<Output = Result<Value, ApiError>>,
{
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let principal = authenticate(&app, &headers).await?;
    rate_limit(&app, &principal).await?;
    let slot = app.limits.report_slot(&principal.rate_key()).await.map_err(|e| {
        tracing::error!(error = %e, "taking a report slot failed");
        ApiError::server("catalog unavailable")
    })?;
    let slot = slot.ok_or_else(|| ApiError::rate_limited(1, "too many reports running at once"))?;
    let answer = async {
        let scope = product_scope(&app, &principal, &product_raw, need).await?;
        let bytes = report_request(&method, &uri, &headers, body).await?;
        let object = match bytes {
            Some(b) => JsonObject::parse_body(&b)?,
            None => JsonObject::parse_body(b"{}")?,
        };
        let ctx = report_context(&app, &scope).await?;
        let spec = parse(&object, &ctx)?;
        // Read your writes: what was acknowledged before the request is in the answer,
        // unless the warehouse lags by more than the configured bound.
        let acked = app.ingest.durable_lsn();
        app.ingest.wait_loaded(acked, Duration::from_millis(app.config.limits.read_your_writes_ms)).await;
        let budget = Duration::from_secs(app.config.limits.report_time_budget_seconds);
        tokio::time::timeout(budget, run(app.warehouse.clone(), ctx, spec))
            .await
            .map_err(|_| ApiError::server("report exceeded its time budget; narrow the date range or filters"))?
    }
    .await;
    // Freed before answering, so that the client's next report finds the slot free.
    slot.release().await;
    Ok(json(&answer?))
}

/// What a report knows besides its request: product settings, "now", permissions, back-off state.
async fn report_context(app: &AppState, scope: &ProductScope) -> Result<ReportContext, ApiError> {
    let settings = &scope.product.settings;
    let now = app.clock.now();
    let states = app.catalog.back_off_states(scope.product.id).await.map_err(|e| {
        tracing::error!(error = %e, "reading back-off states failed");
        ApiError::server("the report could not be computed")
    })?;
    Ok(ReportContext {
        product: scope.product.id,
        today: now.date_naive(),
        days_until_declared_lost: settings.days_until_declared_lost,
        retention_days: settings.retention_days,
        license_keys: scope.permission.license_keys,
        now,
        back_off: BackOff { product_wide: states.product_wide(now), clients: states.at(now) },
        limits: ResultLimits {
            keys_per_level: app.config.limits.max_keys_per_level,
            numbers: app.config.limits.max_numbers_per_response,
        },
    })
}

/// `GET /v3/reporting/clientProfile/{product_id}?clientId=<16 hex>` (reporting-api §15.2).
pub async fn client_profile(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&app, &parts.headers).await?;
    rate_limit(&app, &principal).await?;
    let scope = product_scope(&app, &principal, &product, Need::VIEWER).await?;
    let params = query_params(&parts.uri, false, &["clientId"])?;
    let raw = params
        .other
        .iter()
        .find(|(k, _)| k == "clientId")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| ApiError::syntax("query parameter 'clientId' is required"))?;
    let client = usagi_types::ClientId::parse(&raw.to_ascii_uppercase())
        .map_err(|_| ApiError::syntax("query parameter 'clientId' must be 16 hexadecimal characters"))?;
    let ctx = report_context(&app, &scope).await?;
    let control = app.catalog.installation_control(scope.product.id, client).await.map_err(|e| {
        tracing::error!(error = %e, "reading installation controls failed");
        ApiError::server("the report could not be computed")
    })?;
    let status = usagi_reporting::client_profile::InstallationStatus {
        disabled: control.disabled,
        back_off_historical: control.back_off_ever,
        back_off_until: control.back_off_until,
    };
    match usagi_reporting::client_profile::run(app.warehouse.as_ref(), &ctx, client, &status).await? {
        Some(v) => Ok(json(&v)),
        None => Err(ApiError::not_found(format!("no installation {client} in this product")).into()),
    }
}

/// `POST|GET /v3/reporting/generic/dateRange/{product_id}`.
pub async fn generic_date_range(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(
        app,
        product,
        request,
        |o, ctx| GenericSpec::parse(o, GenericKind::DateRange, ctx),
        |wh, ctx, spec| async move { generic::run(wh.as_ref(), &ctx, &spec).await },
    )
    .await
}

/// `POST|GET /v3/reporting/generic/current/{product_id}`.
pub async fn generic_current(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    run_report(
        app,
        product,
        request,
        |o, ctx| GenericSpec::parse(o, GenericKind::Current, ctx),
        |wh, ctx, spec| async move { generic::run(wh.as_ref(), &ctx, &spec).await },
    )
    .await
}

/// `POST|GET /v3/meta/propertyValues/{product_id}`.
pub async fn property_values(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    run_report(app, product, request, usagi_reporting::meta::PropertyValuesSpec::parse, |wh, ctx, spec| async move {
        usagi_reporting::meta::run(wh.as_ref(), &ctx, &spec).await
    })
    .await
}

/// The product's known events with their flags, for tier gating (reporting-api §8).
async fn known_events(
    app: &AppState,
    wh: &dyn Warehouse,
    ctx: &ReportContext,
) -> Result<Vec<usagi_reporting::event_tracking::KnownEvent>, ApiError> {
    let product = app.catalog.get_product(ctx.product).await.ok().flatten();
    let default_basic = product.map(|p| p.settings.new_events_basic).unwrap_or(true);
    let explicit = app
        .catalog
        .event_settings(ctx.product)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading event settings failed");
            ApiError::server("the report could not be computed")
        })?
        .into_iter()
        .map(|s| usagi_reporting::event_tracking::EventFlags {
            category: s.category,
            name: s.name,
            basic: s.basic,
            advanced: s.advanced,
        })
        .collect::<Vec<_>>();
    usagi_reporting::event_tracking::known_events(wh, ctx.product, &explicit, default_basic).await
}

/// `POST|GET /v3/reporting/eventTracking/basic/dataTable/{product_id}`.
pub async fn event_basic_data_table(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    let state = app.clone();
    run_report(app, product, request, event_reports::DataTableSpec::parse, |wh, ctx, spec| async move {
        let known = known_events(&state, wh.as_ref(), &ctx).await?;
        event_reports::data_table(wh.as_ref(), &ctx, &spec, &known).await
    })
    .await
}

/// `POST|GET /v3/reporting/eventTracking/basic/timeline/{product_id}`.
pub async fn event_basic_timeline(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    let state = app.clone();
    run_report(app, product, request, event_reports::TimelineSpec::parse, |wh, ctx, spec| async move {
        let known = known_events(&state, wh.as_ref(), &ctx).await?;
        event_reports::timeline(wh.as_ref(), &ctx, &spec, &known).await
    })
    .await
}

/// `POST|GET /v3/reporting/eventTracking/advanced/fullReport/{product_id}`.
pub async fn event_full_report(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    let state = app.clone();
    run_report(app, product, request, event_advanced::FullReportSpec::parse, |wh, ctx, spec| async move {
        let known = known_events(&state, wh.as_ref(), &ctx).await?;
        event_advanced::full_report(wh.as_ref(), &ctx, &spec, &known).await
    })
    .await
}

/// Lifetime and churn-lifetime event reports share one handler shape.
macro_rules! lifetime_handler {
    ($(#[$doc:meta])* $name:ident, $spec:ident, $run:ident, $churn:expr) => {
        $(#[$doc])*
        pub async fn $name(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
            let state = app.clone();
            run_report(app, product, request, |o, ctx| event_lifetime::$spec::parse(o, ctx, $churn), |wh, ctx, spec| async move {
                let known = known_events(&state, wh.as_ref(), &ctx).await?;
                event_lifetime::$run(wh.as_ref(), &ctx, &spec, &known).await
            })
            .await
        }
    };
}

lifetime_handler!(
    /// `POST|GET /v3/reporting/eventTracking/lifetime/dataTable/{product_id}`.
    event_lifetime_data_table, LifetimeTableSpec, data_table, false
);
lifetime_handler!(
    /// `POST|GET /v3/reporting/eventTracking/lifetime/histogram/{product_id}`.
    event_lifetime_histogram, LifetimeHistogramSpec, histogram, false
);
lifetime_handler!(
    /// `POST|GET /v3/reporting/eventTracking/churn/lifetime/dataTable/{product_id}`.
    event_churn_data_table, LifetimeTableSpec, data_table, true
);
lifetime_handler!(
    /// `POST|GET /v3/reporting/eventTracking/churn/lifetime/histogram/{product_id}`.
    event_churn_histogram, LifetimeHistogramSpec, histogram, true
);

/// `POST|GET /v3/reporting/clientPropertyList/{product_id}`.
pub async fn client_property_list(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(app, product, request, client_list::ClientListSpec::parse, |wh, ctx, spec| async move {
        client_list::run(wh.as_ref(), &ctx, &spec).await
    })
    .await
}

/// `POST|GET /v3/customEventTracking/getLastLines/{product_id}`.
pub async fn custom_event_last_lines(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(app, product, request, previews::LastLinesSpec::parse, |wh, ctx, spec| async move {
        previews::last_lines(wh.as_ref(), &ctx, previews::Family::CustomEvents, &spec).await
    })
    .await
}

/// `POST|GET /v3/exceptionTracking/getLastLines/{product_id}`.
pub async fn exception_last_lines(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(app, product, request, previews::LastLinesSpec::parse, |wh, ctx, spec| async move {
        previews::last_lines(wh.as_ref(), &ctx, previews::Family::Exceptions, &spec).await
    })
    .await
}
