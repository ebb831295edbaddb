//! User engagement histogram endpoints (reporting-api §10), each also as `GET ?query=`.

use axum::extract::{Path, Request, State};
use usagi_reporting::engagement::{self, ChurnEngagementSpec, ChurnHistogramSpec, UsageDistributionSpec};
use usagi_reporting::histogram::Metric;

use super::reports::run_report;
use super::response::ApiResult;
use crate::state::AppState;

/// `POST|GET /v3/reporting/engagement/usageDistribution/{product_id}`.
pub async fn usage_distribution(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(app, product, request, UsageDistributionSpec::parse, |wh, ctx, spec| async move {
        engagement::usage_distribution(wh.as_ref(), &ctx, &spec).await
    })
    .await
}

/// `POST|GET /v3/reporting/engagement/churnAndEngagement/{product_id}`.
pub async fn churn_and_engagement(
    State(app): State<AppState>,
    Path(product): Path<String>,
    request: Request,
) -> ApiResult {
    run_report(app, product, request, ChurnEngagementSpec::parse, |wh, ctx, spec| async move {
        engagement::churn_and_engagement(wh.as_ref(), &ctx, &spec).await
    })
    .await
}

async fn churn_histogram(app: AppState, product: String, request: Request, metric: Metric) -> ApiResult {
    run_report(
        app,
        product,
        request,
        |o, ctx| ChurnHistogramSpec::parse(o, metric, ctx),
        |wh, ctx, spec| async move { engagement::churn_histogram(wh.as_ref(), &ctx, &spec).await },
    )
    .await
}

/// `POST|GET /v3/reporting/churn/histogram/days/{product_id}`.
pub async fn churn_days(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    churn_histogram(app, product, request, Metric::ActiveDays).await
}

/// `POST|GET /v3/reporting/churn/histogram/sessions/{product_id}`.
pub async fn churn_sessions(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    churn_histogram(app, product, request, Metric::Sessions).await
}

/// `POST|GET /v3/reporting/churn/histogram/runtime/{product_id}`.
pub async fn churn_runtime(State(app): State<AppState>, Path(product): Path<String>, request: Request) -> ApiResult {
    churn_histogram(app, product, request, Metric::Runtime).await
}
