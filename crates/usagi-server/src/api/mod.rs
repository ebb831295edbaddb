//! The v3 Reporting API (reporting-api.md).
//!
//! Every route is declared once in [`routes`]; the router and the OpenAPI document
//! are both built from that table, so neither can miss an endpoint.

pub mod admin;
pub mod auth;
pub mod body;
pub mod conventions;
pub mod cookies;
pub mod engagement;
pub mod event_tracking;
pub mod exports;
pub mod license_keys;
pub mod meta;
pub mod openapi;
pub mod principal;
pub mod reports;
pub mod response;

use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// The request body an operation documents.
#[derive(Debug, Clone, Copy)]
pub enum Doc {
    /// No body.
    None,
    /// A JSON body with the named component schema.
    Json(&'static str),
}

/// One endpoint: its path, methods, documentation and handler.
pub struct Route {
    /// Path template, e.g. `/v3/reporting/generic/dateRange/{product_id}`.
    pub path: &'static str,
    /// The main method (`GET`, `POST`, `PUT`).
    pub method: &'static str,
    /// Also served as `GET …?query=` (Q in §17).
    pub query: bool,
    /// Whether authentication is required.
    pub auth: bool,
    /// OpenAPI tag (the vendor's section).
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Request body schema.
    pub request: Doc,
    /// Success status and response schema (None = no body).
    pub response: (u16, Option<&'static str>),
    /// The handler(s).
    pub handler: fn() -> MethodRouter<AppState>,
}

/// Every `/v3` route.
pub fn routes() -> Vec<Route> {
    vec![
        Route {
            path: "/v3/request-csrf",
            method: "GET",
            query: false,
            auth: false,
            tag: "Auth",
            summary: "Issue the RUI-Csrf cookie",
            request: Doc::None,
            response: (204, None),
            handler: || get(auth::request_csrf),
        },
        Route {
            path: "/v3/auth/web",
            method: "POST",
            query: false,
            auth: false,
            tag: "Auth",
            summary: "Log in with user name and password; sets RUI-Session-Token and RUI-Csrf",
            request: Doc::Json("LoginRequest"),
            response: (200, Some("LoginResponse")),
            handler: || post(auth::web),
        },
        Route {
            path: "/v3/auth/logout",
            method: "POST",
            query: false,
            auth: false,
            tag: "Auth",
            summary: "Invalidate this session, all sessions, or all sessions of the given credentials",
            request: Doc::Json("LogoutRequest"),
            response: (204, None),
            handler: || post(auth::logout),
        },
        Route {
            path: "/v3/meta/productProperties/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Metadata Queries",
            summary: "The property catalogue: every property with its type, filter type and capabilities",
            request: Doc::None,
            response: (200, Some("ProductPropertiesResponse")),
            handler: || get(meta::product_properties),
        },
        Route {
            path: "/v3/meta/propertyValues/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Metadata Queries",
            summary: "The distinct values a filter on a property can match, paged by startAfter",
            request: Doc::Json("PropertyValuesRequest"),
            response: (200, Some("PropertyValuesResponse")),
            handler: || post(reports::property_values).get(reports::property_values),
        },
        Route {
            path: "/v3/meta/oldestReportedDate/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Metadata Queries",
            summary: "The oldest day a report may start on (today minus the product's retention)",
            request: Doc::None,
            response: (200, Some("OldestReportedDateResponse")),
            handler: || get(meta::oldest_reported_date),
        },
        Route {
            path: "/v3/event-tracking/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Event Tracking Management",
            summary: "The known events with their basic/advanced flags and first/last day seen (?showEvents=)",
            request: Doc::None,
            response: (200, Some("EventTrackingResponse")),
            handler: || get(event_tracking::list).put(event_tracking::update),
        },
        Route {
            path: "/v3/event-tracking/{product_id}",
            method: "PUT",
            query: false,
            auth: true,
            tag: "Event Tracking Management",
            summary: "Set the basic/advanced flags of the listed events atomically (role editor)",
            request: Doc::Json("EventTrackingUpdateRequest"),
            response: (200, Some("EventTrackingUpdateResponse")),
            handler: || get(event_tracking::list).put(event_tracking::update),
        },
        Route {
            path: "/v3/reporting/generic/dateRange/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Generic Reports",
            summary: "New, active and lost installations over a date range, optionally split by day, week or month",
            request: Doc::Json("GenericDateRangeRequest"),
            response: (200, Some("GenericReportResponse")),
            handler: || post(reports::generic_date_range).get(reports::generic_date_range),
        },
        Route {
            path: "/v3/reporting/generic/current/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Generic Reports",
            summary: "New, active and lost installations from startDate to today",
            request: Doc::Json("GenericCurrentRequest"),
            response: (200, Some("GenericReportResponse")),
            handler: || post(reports::generic_current).get(reports::generic_current),
        },
        Route {
            path: "/v3/reporting/engagement/usageDistribution/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "User Engagement Histograms",
            summary: "Installations active in a range by active days, sessions and runtime, with cross-histograms",
            request: Doc::Json("UsageDistributionRequest"),
            response: (200, Some("UsageDistributionResponse")),
            handler: || post(engagement::usage_distribution).get(engagement::usage_distribution),
        },
        Route {
            path: "/v3/reporting/engagement/churnAndEngagement/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "User Engagement Histograms",
            summary: "Engaged and lost shares of an installation cohort, per period after each install day",
            request: Doc::Json("ChurnAndEngagementRequest"),
            response: (200, Some("ChurnAndEngagementResponse")),
            handler: || post(engagement::churn_and_engagement).get(engagement::churn_and_engagement),
        },
        Route {
            path: "/v3/reporting/churn/histogram/days/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "User Engagement Histograms",
            summary: "Installations lost in a range by lifetime active days",
            request: Doc::Json("ChurnHistogramRequest"),
            response: (200, Some("ChurnHistogramResponse")),
            handler: || post(engagement::churn_days).get(engagement::churn_days),
        },
        Route {
            path: "/v3/reporting/churn/histogram/sessions/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "User Engagement Histograms",
            summary: "Installations lost in a range by lifetime sessions",
            request: Doc::Json("ChurnHistogramRequest"),
            response: (200, Some("ChurnHistogramResponse")),
            handler: || post(engagement::churn_sessions).get(engagement::churn_sessions),
        },
        Route {
            path: "/v3/reporting/churn/histogram/runtime/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "User Engagement Histograms",
            summary: "Installations lost in a range by lifetime runtime minutes",
            request: Doc::Json("ChurnHistogramRequest"),
            response: (200, Some("ChurnHistogramResponse")),
            handler: || post(engagement::churn_runtime).get(engagement::churn_runtime),
        },
        Route {
            path: "/v3/reporting/eventTracking/basic/dataTable/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary:
                "Per category and basic event: occurrences and custom value sums with per-user and per-session averages",
            request: Doc::Json("EventDataTableRequest"),
            response: (200, Some("EventDataTableResponse")),
            handler: || post(reports::event_basic_data_table).get(reports::event_basic_data_table),
        },
        Route {
            path: "/v3/reporting/eventTracking/basic/timeline/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "Occurrences or custom values of events per day, week or month, optionally divided",
            request: Doc::Json("EventTimelineRequest"),
            response: (200, Some("EventTimelineResponse")),
            handler: || post(reports::event_basic_timeline).get(reports::event_basic_timeline),
        },
        Route {
            path: "/v3/reporting/eventTracking/advanced/fullReport/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "Per advanced event: counts, users who used it or not, per-user and per-session averages, usage frequency",
            request: Doc::Json("EventFullReportRequest"),
            response: (200, Some("EventFullReportResponse")),
            handler: || post(reports::event_full_report).get(reports::event_full_report),
        },
        Route {
            path: "/v3/reporting/eventTracking/lifetime/dataTable/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "All-time event counts of the units active in a range: users who used each event, per-user and per-active-day averages",
            request: Doc::Json("LifetimeDataTableRequest"),
            response: (200, Some("LifetimeDataTableResponse")),
            handler: || post(reports::event_lifetime_data_table).get(reports::event_lifetime_data_table),
        },
        Route {
            path: "/v3/reporting/eventTracking/lifetime/histogram/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "Units active in a range by all-time event count and average count per active day, week and month",
            request: Doc::Json("LifetimeHistogramRequest"),
            response: (200, Some("LifetimeHistogramResponse")),
            handler: || post(reports::event_lifetime_histogram).get(reports::event_lifetime_histogram),
        },
        Route {
            path: "/v3/reporting/eventTracking/churn/lifetime/dataTable/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "The lifetime data table over the installations lost in a range",
            request: Doc::Json("ChurnLifetimeDataTableRequest"),
            response: (200, Some("LifetimeDataTableResponse")),
            handler: || post(reports::event_churn_data_table).get(reports::event_churn_data_table),
        },
        Route {
            path: "/v3/reporting/eventTracking/churn/lifetime/histogram/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Event Tracking Reports",
            summary: "The lifetime histograms over the installations lost in a range",
            request: Doc::Json("ChurnLifetimeHistogramRequest"),
            response: (200, Some("LifetimeHistogramResponse")),
            handler: || post(reports::event_churn_histogram).get(reports::event_churn_histogram),
        },
        Route {
            path: "/v3/licenseKeys/listKeys/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "License Key Registry Management",
            summary: "A page of registry keys in code-point order, with active installations and quota use (flag licenseKeys)",
            request: Doc::Json("ListKeysRequest"),
            response: (200, Some("ListKeysResponse")),
            handler: || post(license_keys::list).get(license_keys::list),
        },
        Route {
            path: "/v3/licenseKeys/updateKeys/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "License Key Registry Management",
            summary: "Insert or update 1-10,000 registry keys, all or nothing (role editor and flag licenseKeys)",
            request: Doc::Json("UpdateKeysRequest"),
            response: (200, Some("UpdateKeysResponse")),
            handler: || post(license_keys::update),
        },
        Route {
            path: "/v3/licenseKeys/deleteKeys/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "License Key Registry Management",
            summary: "Delete 1-10,000 registry keys, naming those not found (role editor and flag licenseKeys)",
            request: Doc::Json("DeleteKeysRequest"),
            response: (200, Some("DeleteKeysResponse")),
            handler: || post(license_keys::delete),
        },
        Route {
            path: "/v3/reporting/clientPropertyList/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Client Profile Report",
            summary: "A page of installations with their current data and, optionally, their daily values",
            request: Doc::Json("ClientPropertyListRequest"),
            response: (200, Some("ClientPropertyListResponse")),
            handler: || post(reports::client_property_list).get(reports::client_property_list),
        },
        Route {
            path: "/v3/reporting/clientProfile/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Client Profile Report",
            summary: "Everything known about one installation (?clientId=): properties, history, sessions, exceptions",
            request: Doc::None,
            response: (200, Some("ClientProfileResponse")),
            handler: || get(reports::client_profile),
        },
        Route {
            path: "/v3/customEventTracking/getLastLines/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Custom Event Tracking",
            summary: "The newest custom events (events with a custom map), with the installation's properties of that day",
            request: Doc::Json("LastLinesRequest"),
            response: (200, Some("LastLinesResponse")),
            handler: || post(reports::custom_event_last_lines).get(reports::custom_event_last_lines),
        },
        Route {
            path: "/v3/exceptionTracking/getLastLines/{product_id}",
            method: "POST",
            query: true,
            auth: true,
            tag: "Exception Tracking",
            summary: "The newest exceptions, with the installation's properties of that day",
            request: Doc::Json("LastLinesRequest"),
            response: (200, Some("LastLinesResponse")),
            handler: || post(reports::exception_last_lines).get(reports::exception_last_lines),
        },
        Route {
            path: "/v3/customEventTracking/listFiles/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Custom Event Tracking",
            summary: "Custom event files by server receive date: today's open file, finalized days, monthly roll-ups",
            request: Doc::None,
            response: (200, Some("RecordFilesResponse")),
            handler: || get(exports::custom_event_files),
        },
        Route {
            path: "/v3/customEventTracking/getDownloadUrl/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "Custom Event Tracking",
            summary: "A single-use download URL for a listed custom event file",
            request: Doc::Json("DownloadUrlRequest"),
            response: (200, Some("DownloadUrlResponse")),
            handler: || post(exports::custom_event_download_url),
        },
        Route {
            path: "/v3/exceptionTracking/listFiles/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Exception Tracking",
            summary: "Exception files by server receive date: today's open file, finalized days, monthly roll-ups",
            request: Doc::None,
            response: (200, Some("RecordFilesResponse")),
            handler: || get(exports::exception_files),
        },
        Route {
            path: "/v3/exceptionTracking/getDownloadUrl/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "Exception Tracking",
            summary: "A single-use download URL for a listed exception file",
            request: Doc::Json("DownloadUrlRequest"),
            response: (200, Some("DownloadUrlResponse")),
            handler: || post(exports::exception_download_url),
        },
        Route {
            path: "/v3/rawEvents/download/listFiles/{product_id}",
            method: "GET",
            query: false,
            auth: true,
            tag: "Raw Data Exports",
            summary: "Finalized daily raw data files (sessions, events, exceptions, client properties), newest first",
            request: Doc::None,
            response: (200, Some("RawFilesResponse")),
            handler: || get(exports::raw_files),
        },
        Route {
            path: "/v3/rawEvents/download/getDownloadUrl/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "Raw Data Exports",
            summary: "A single-use download URL for a listed raw data file",
            request: Doc::Json("DownloadUrlRequest"),
            response: (200, Some("DownloadUrlResponse")),
            handler: || post(exports::raw_download_url),
        },
        Route {
            path: "/v3/download/{token}",
            method: "GET",
            query: false,
            auth: false,
            tag: "Raw Data Exports",
            summary: "Download a file once through its URL; no credentials (the token is one), spent by a complete transfer, expires after 24 h",
            request: Doc::None,
            response: (200, Some("ZipFile")),
            handler: || get(exports::download),
        },
        Route {
            path: "/v3/admin/erase/{product_id}",
            method: "POST",
            query: false,
            auth: true,
            tag: "Administration",
            summary: "Erase every record of one installation (server administrators; an addition to the vendor's API)",
            request: Doc::Json("EraseRequest"),
            response: (200, Some("EraseResponse")),
            handler: || post(admin::erase),
        },
        Route {
            path: "/v3/openapi.json",
            method: "GET",
            query: false,
            auth: false,
            tag: "Meta",
            summary: "This OpenAPI 3.1 description",
            request: Doc::None,
            response: (200, Some("OpenApiDocument")),
            handler: || get(openapi::serve),
        },
    ]
}

/// The `/v3` router, built from [`routes`].
pub fn router() -> Router<AppState> {
    let mut r = Router::new();
    let mut seen = std::collections::HashSet::new();
    for route in routes() {
        // A path with several methods has one entry per method, each naming the same handlers.
        if seen.insert(route.path) {
            r = r.route(route.path, (route.handler)().fallback(conventions::no_route));
        }
    }
    r
}
