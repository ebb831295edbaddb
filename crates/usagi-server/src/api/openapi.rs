//! The OpenAPI 3.1 description of `/v3`, generated from the route table and the schema types.

use std::sync::OnceLock;

use axum::response::Response;
use serde_json::Value;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn, PathItemBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApiBuilder, PathsBuilder, Ref, Required,
};
use utoipa::{PartialSchema, ToSchema};

use super::{routes, Doc};

/// The error envelope of every failure (reporting-api §1.9).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// `SYNTAX ERROR`, `AUTH ERROR`, `FORBIDDEN`, `NOT FOUND`, `CONFLICT`, `TOO LARGE`, `RATE LIMITED` or `SERVER ERROR`.
    status: String,
    /// One sentence naming the offending field, header or value.
    reason: String,
}

/// `POST /v3/auth/web` body.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LoginRequest {
    /// The login name (an email address), 1–254 characters.
    userName: String,
    /// The password, 1–1024 characters.
    password: String,
}

/// `POST /v3/auth/logout` body; absent or `{}` logs out this session.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LogoutRequest {
    /// true: invalidate every session of the user.
    allSessions: Option<bool>,
    /// With `password`: invalidate every session of that user, no cookie needed.
    userName: Option<String>,
    /// See `userName`.
    password: Option<String>,
}

/// The login answer (reporting-api §6.2); member order is fixed.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LoginResponse {
    /// `{name, surname, email, emailVerified, userToken, isSocialUser, readTos}`.
    account: Value,
    /// `{canAddFreeProduct, limit}`.
    freeware: Value,
    /// Product id → `{name, role}`.
    products: Value,
    /// `{defaultProduct, currentProduct}`.
    userSettings: Value,
    /// `{permissions, config}` of the current product, or null.
    currentProductDetails: Value,
    /// Suggested keep-alive interval, seconds.
    beatInterval: u32,
}

/// `generic/dateRange` request (reporting-api §9.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct GenericDateRangeRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// `day`, `week`, `month` or null.
    dateSplit: Option<String>,
    /// 1–3 distinct of `new`, `active`, `lost`.
    clientStatus: Vec<String>,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// `dateLastSeen` (default) or `dateDeclaredLost`.
    dateReportedLost: Option<String>,
    /// `clientId` (default).
    groupBy: Option<String>,
    /// Property → filter (reporting-api §3); keys are ANDed.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// Segmentation levels (reporting-api §4.1): at most 1 with a dateSplit, else up to 3.
    levels: Option<Levels>,
}

/// One global filter (reporting-api §3.1, §3.4). Which members apply depends on `type`
/// or, for the special filters (`licenseStatus`, `os`, `geography`, `gpu`, `optOut`,
/// `backOff`, `lifetimeEventUsage`, `reachOutDeliveries`), on the property.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct GlobalFilter {
    /// `string`, `stringArray`, `regex`, `number`, `numberRange`, `date`, `dateRange` or `boolean`.
    r#type: Option<String>,
    /// The compared value: a string, an array of 1–1,000 strings, a pattern, a number, a date or a boolean; `"<NULL>"` matches NULL.
    value: Option<Value>,
    /// `numberRange` / `dateRange` lower bound, inclusive.
    min: Option<Value>,
    /// `numberRange` / `dateRange` upper bound, inclusive.
    max: Option<Value>,
}

/// `levels`: consecutive `level1` … `level3`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Levels {
    /// First level.
    level1: Option<Level>,
    /// Second level (no dateSplit).
    level2: Option<Level>,
    /// Third level (no dateSplit).
    level3: Option<Level>,
}

/// One segmentation level (reporting-api §4.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Level {
    /// A segmentable property, a dotted special name (`os.version`, `geography.country`, `gpu.vendor`) or `licenseStatus`, `optOut`, `backOff`.
    property: String,
    /// 1–100 segments, in output order.
    segments: Vec<Segment>,
}

/// A segment object (reporting-api §4.3, §4.4).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct Segment {
    /// `string`, `stringArray`, `regex`, `number` or `numberRange`; absent for flag segments.
    r#type: Option<String>,
    /// The matched value(s); not for `numberRange`.
    value: Option<Value>,
    /// `numberRange` lower bound, inclusive.
    min: Option<f64>,
    /// `numberRange` upper bound, inclusive.
    max: Option<f64>,
    /// `stringArray` / `regex`: one key per distinct matching value.
    split: Option<bool>,
    /// 1–128 characters; required for `numberRange`, non-split `stringArray`/`regex` and flag segments.
    segmentLabel: Option<String>,
    /// licenseStatus segments: flags ANDed (`activated`, `expired`, `blocked`, `allowed`); optOut/backOff: `historical`, `current`.
    activated: Option<bool>,
    /// See `activated`.
    expired: Option<bool>,
    /// See `activated`.
    blocked: Option<bool>,
    /// See `activated`.
    allowed: Option<bool>,
    /// optOut / backOff segments.
    historical: Option<bool>,
    /// optOut / backOff segments.
    current: Option<bool>,
}

/// `generic/current` request (reporting-api §9.2): the range ends today.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct GenericCurrentRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// 1–3 distinct of `new`, `active`, `lost`.
    clientStatus: Vec<String>,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// `dateLastSeen` (default) or `dateDeclaredLost`.
    dateReportedLost: Option<String>,
    /// `clientId` (default).
    groupBy: Option<String>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// Segmentation levels, up to 3.
    levels: Option<Levels>,
}

/// A generic report (reporting-api §9.1 shapes 1–4): `{"result":{"totals":{…}}}`,
/// `{"result":{"<period>":{…},…}}`, `{"result":{"level1":{"<key>":{"totals":{…},"level2":{…}}}}}`
/// or `{"result":{"<period>":{"level1":{…}},…}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GenericReportResponse {
    /// Period keys (`YYYY-MM-DD`), `totals` or `level1` → status counts in the order new, active, lost.
    result: Value,
}

/// `GET /v3/event-tracking` answer (reporting-api §8.1): the null category first, then by code point.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventTrackingResponse {
    /// `[{category: string|null, categoryEventNames: [{eventName, basic, advanced, dateFirstSeen, dateLastSeen}]}]`.
    result: Vec<Value>,
}

/// One item of `PUT /v3/event-tracking`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventFlagsItem {
    /// Category (trimmed, ≤128 characters); null or empty = no category. Required.
    category: Option<String>,
    /// Name (trimmed, 1–128 characters).
    name: String,
    /// Shown in basic reports.
    basic: bool,
    /// Shown in advanced, lifetime and churn reports; true needs `basic` true.
    advanced: bool,
}

/// `PUT /v3/event-tracking` request (reporting-api §8.2).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventTrackingUpdateRequest {
    /// 1–10,000 events, each (category, name) at most once.
    events: Vec<EventFlagsItem>,
}

/// `PUT /v3/event-tracking` answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventTrackingUpdateResponse {
    /// `{updated, created}`: listed events that already existed, and new ones.
    result: Value,
}

/// `licenseKeys/listKeys` filters (reporting-api §12.1), ANDed.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ListKeysFilters {
    /// `string`, `stringArray` or `regex` filter on the key.
    licenseKey: Option<GlobalFilter>,
    /// `string` or `stringArray` filter on the license type.
    licenseType: Option<GlobalFilter>,
    /// An object (or array of objects, ORed) of `activated`, `expired`, `blocked`, `allowed` flags, ANDed; `expired` is the effective value.
    licenseStatus: Option<Value>,
    /// `date` or `dateRange`.
    addedDate: Option<GlobalFilter>,
    /// `date` or `dateRange`; `"<NULL>"` matches keys without an expiry day.
    expiryDate: Option<GlobalFilter>,
    /// A plain boolean.
    autoCollected: Option<bool>,
    /// `number` or `numberRange`; keys without a quota never match.
    overQuotaCount: Option<GlobalFilter>,
}

/// `licenseKeys/listKeys` request (reporting-api §12.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ListKeysRequest {
    /// Filters; absent = every key.
    filters: Option<ListKeysFilters>,
    /// First key of the page (inclusive); the previous page's `nextKey`.
    startAtKey: Option<String>,
    /// 1–10,000 keys per page; default 1,000.
    pageSize: Option<u32>,
}

/// One registry key (reporting-api §12); members in this order.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LicenseKeyRecordSchema {
    /// The key (case-sensitive, 1–256 characters).
    licenseKey: String,
    /// `evaluation`, `purchased`, `freeware`, `unknown`, `nfr`, `custom1`, `custom2` or `custom3`.
    licenseType: String,
    /// Activated flag.
    activated: bool,
    /// Effective expired: the stored flag or an expiry day before today.
    expired: bool,
    /// Blocked flag.
    blocked: bool,
    /// Allowed flag.
    allowed: bool,
    /// Expiry day, `YYYY-MM-DD`, or null.
    expiryDate: Option<String>,
    /// Day the key entered the registry.
    addedDate: String,
    /// True when the key first arrived through the SDK's `license/set`.
    autoCollected: bool,
    /// Installations allowed; null = unlimited.
    quota: Option<u32>,
    /// Installations whose current key this is and that are not lost.
    activeClients: u64,
    /// `activeClients − quota`; null when `quota` is null.
    overQuotaCount: Option<i64>,
    /// Latest `dateLastSeen` of the installations whose current key this is.
    dateLastSeen: Option<String>,
    /// Free text, at most 1,024 characters.
    notes: Option<String>,
}

/// `licenseKeys/listKeys` answer.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ListKeysResponse {
    /// The page, in code-point order of the keys.
    result: Vec<LicenseKeyRecordSchema>,
    /// Whether no further key matches.
    reachedEnd: bool,
    /// `startAtKey` of the next page; present only when `reachedEnd` is false.
    nextKey: Option<String>,
}

/// One item of `licenseKeys/updateKeys`; fields left out keep their stored value.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct KeyUpdateItem {
    /// The key (trimmed, 1–256 characters). Required.
    licenseKey: String,
    /// License type; a new key defaults to `unknown`.
    licenseType: Option<String>,
    /// Activated flag.
    activated: Option<bool>,
    /// Stored expired flag.
    expired: Option<bool>,
    /// Blocked flag (older spelling `blacklisted`).
    blocked: Option<bool>,
    /// Allowed flag (older spelling `whitelisted`).
    allowed: Option<bool>,
    /// Expiry day (`YYYY-MM-DD`, `NOW` or `NOW-n`); null clears it.
    expiryDate: Option<String>,
    /// Installations allowed (≥ 0); null = unlimited.
    quota: Option<u32>,
    /// Free text of at most 1,024 characters; null clears it.
    notes: Option<String>,
}

/// `licenseKeys/updateKeys` request (reporting-api §12.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct UpdateKeysRequest {
    /// 1–10,000 items, each key at most once; applied all or nothing.
    keyUpdates: Vec<KeyUpdateItem>,
}

/// `licenseKeys/updateKeys` answer; 409 CONFLICT while another bulk call on the product runs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpdateKeysResponse {
    /// `{inserted, updated}`.
    result: Value,
}

/// `licenseKeys/deleteKeys` request (reporting-api §12.3).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DeleteKeysRequest {
    /// 1–10,000 keys, each at most once.
    licenseKeys: Vec<String>,
}

/// `licenseKeys/deleteKeys` answer; 409 CONFLICT while another bulk call on the product runs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeleteKeysResponse {
    /// `{deleted, notFound}`: how many keys were removed, and the listed keys that were not in the registry.
    result: Value,
}

/// `engagement/usageDistribution` request (reporting-api §10.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct UsageDistributionRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// Property → filter (reporting-api §3); keys are ANDed.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
}

/// `usageDistribution` answer: `{"result":{"activeDays":{…},"sessions":{…},"runtime":{…}}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsageDistributionResponse {
    /// Metric → bucket label → `{"users":n, <other metric>:{label:n}, <third metric>:{label:n}}`;
    /// every bucket listed, the nested cross-histograms sparse.
    result: Value,
}

/// `engagement/churnAndEngagement` request (reporting-api §10.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ChurnAndEngagementRequest {
    /// Installation window start: `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// Installation window end.
    stopDate: String,
    /// Period length from each installation's install day: `day` (1), `week` (7) or `month` (30 days).
    dateSplit: String,
    /// 1–100; default 12.
    periods: Option<u32>,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// Property → filter; keys are ANDed.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// A segmentable property, or `installationMonth`; needs `segments`.
    segmentBy: Option<String>,
    /// 1–100 segments, in output order (reporting-api §4.3).
    segments: Option<Vec<Segment>>,
}

/// `churnAndEngagement` answer: `{"result":{"all"|"<segment>":{"<k>":{"engaged","engagedPercent","lost","lostPercent"}}}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChurnAndEngagementResponse {
    /// Segment key (`all` without segmentation) → period number → counts and percentages.
    result: Value,
}

/// `churn/histogram/{days|sessions|runtime}` request (reporting-api §10.3).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ChurnHistogramRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// `dateLastSeen` (default) or `dateDeclaredLost`.
    dateReportedLost: Option<String>,
    /// Property → filter; keys are ANDed.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// A segmentable property; needs `segments`.
    segmentBy: Option<String>,
    /// 1–100 segments, in output order.
    segments: Option<Vec<Segment>>,
}

/// A churn histogram: `{"result":{"<bucket>":n,…}}`, or `{"result":{"<segment>":{"<bucket>":n,…},…}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChurnHistogramResponse {
    /// Bucket label → lost installations (every bucket, zero-filled), or segment key → that.
    result: Value,
}

/// One item of `events` (reporting-api §5): a single event or a combination.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct EventItemSchema {
    /// Single event: the category (null = no category). Required with `name`.
    category: Option<String>,
    /// Single event: the name.
    name: Option<String>,
    /// Combination: a label, 1–128 characters, unique in the request.
    combiLabel: Option<String>,
    /// Combination: 1–50 `{category, name, categoryType?, nameType?}` (types `string` or `regex`).
    combiArray: Option<Vec<Value>>,
}

/// `eventTracking/basic/dataTable` request (reporting-api §11.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct EventDataTableRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
}

/// `eventTracking/basic/dataTable` answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventDataTableResponse {
    /// `[{category, categoryUsageSummary, categoryCustomValuesSummary, categoryEventsData: {name: {eventUsage, eventCustomValues}}}]`.
    result: Vec<Value>,
}

/// `eventTracking/basic/timeline` request (reporting-api §11.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct EventTimelineRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// `day`, `week` or `month`.
    dateSplit: String,
    /// `usageCount` (default) or `customValues`.
    dataView: Option<String>,
    /// null, `users`, `sessions`, `runtime` or `usageCounts` (with customValues only).
    divisor: Option<String>,
    /// 1–100 items.
    events: Vec<EventItemSchema>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
}

/// `eventTracking/basic/timeline` answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventTimelineResponse {
    /// Period key → `[{category, name, value} | {combiLabel, value}]` in request order.
    result: Value,
}

/// `eventTracking/advanced/fullReport` request (reporting-api §11.3).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct EventFullReportRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// 1–100 items; default: every advanced event the population used in the range.
    events: Option<Vec<EventItemSchema>>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// A segmentable property (with `segments`).
    segmentBy: Option<String>,
    /// Segment objects (with `segmentBy`).
    segments: Option<Vec<Segment>>,
    /// `alpha` (default) or `eventCounts`.
    sort: Option<String>,
    /// `asc` (default for alpha) or `desc` (default for eventCounts).
    sortDirection: Option<String>,
}

/// `eventTracking/advanced/fullReport` answer: an array, or segment key → array.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventFullReportResponse {
    /// `[{category, name | combiLabel, eventCounts, uniqueUsersUsedAtLeastOnce, uniqueUsersNeverUsed, averageEventCountPerUserAtLeastOnce, averageEventCountPerUserAll, averageEventCountPerSessionUsedAtLeastOnce, averageEventCountPerSessionAll, usageFrequency}]`.
    result: Value,
}

/// `eventTracking/lifetime/dataTable` request (reporting-api §11.4).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LifetimeDataTableRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`: the population is the units active in the range.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// `clientId` (default), `machineId`, `licenseKey` or `C01`–`C20`.
    groupBy: Option<String>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// A segmentable property (with `segments`).
    segmentBy: Option<String>,
    /// Segment objects (with `segmentBy`).
    segments: Option<Vec<Segment>>,
    /// Default: every advanced event the population ever used.
    events: Option<Vec<EventItemSchema>>,
    /// Group elements by category (no combinations then).
    categorizeEvents: Option<bool>,
    /// 1-based page (default 1).
    page: Option<u32>,
    /// 1–1000 (default 100).
    pageSize: Option<u32>,
}

/// `eventTracking/churn/lifetime/dataTable` request (reporting-api §11.6): §11.4 without
/// `groupBy`, plus the lost rule.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ChurnLifetimeDataTableRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`: the population is the installations lost in the range.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// `dateLastSeen` (default) or `dateDeclaredLost`.
    dateReportedLost: Option<String>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// A segmentable property (with `segments`).
    segmentBy: Option<String>,
    /// Segment objects (with `segmentBy`).
    segments: Option<Vec<Segment>>,
    /// Default: every advanced event the population ever used.
    events: Option<Vec<EventItemSchema>>,
    /// Group elements by category.
    categorizeEvents: Option<bool>,
    /// 1-based page.
    page: Option<u32>,
    /// 1–1000.
    pageSize: Option<u32>,
}

/// Lifetime data table answer.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LifetimeDataTableResponse {
    /// `[{eventCategory, eventName | combiLabel, eventCount, usersUsedAtLeastOnce, usersNeverUsed, eventCountPerUserUsedAtLeastOnce, eventCountPerUserUsedAtLeastOnceActiveDay, eventCountPerUserAll, segments?}]` or, categorized, `[{eventCategory, categoryData}]`.
    result: Vec<Value>,
    /// The page.
    page: u32,
    /// The page size.
    pageSize: u32,
    /// Elements (or categories) over all pages.
    totalCount: u32,
}

/// `eventTracking/lifetime/histogram` request (reporting-api §11.5).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LifetimeHistogramRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// `clientId` (default), `machineId`, `licenseKey` or `C01`–`C20`.
    groupBy: Option<String>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// 1–100 items.
    events: Vec<EventItemSchema>,
    /// Per metric (`eventCount`, `averageCountPerActiveDay|Week|Month`): the lower bound.
    lowerBounds: Option<Value>,
    /// Per metric: 1–50 strictly ascending upper bounds, the last may be `"inf"`.
    binUpperBounds: Option<Value>,
}

/// `eventTracking/churn/lifetime/histogram` request (reporting-api §11.7).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ChurnLifetimeHistogramRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    stopDate: String,
    /// 1–365; default: the product setting.
    daysUntilDeclaredLost: Option<u32>,
    /// `dateLastSeen` (default) or `dateDeclaredLost`.
    dateReportedLost: Option<String>,
    /// Property → filter.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// 1–100 items.
    events: Vec<EventItemSchema>,
    /// Per metric: the lower bound.
    lowerBounds: Option<Value>,
    /// Per metric: upper bounds.
    binUpperBounds: Option<Value>,
}

/// Lifetime histogram answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LifetimeHistogramResponse {
    /// `{summary: {usedAtLeastOnce, neverUsed}, histograms: {eventCount, averageCountPerActiveDay, averageCountPerActiveWeek, averageCountPerActiveMonth}}`.
    result: Value,
}

/// `retDailyData` of clientPropertyList.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DailyDataRequest {
    /// `YYYY-MM-DD`, `NOW` or `NOW-n`.
    startDate: String,
    /// At most 366 days after startDate.
    stopDate: String,
    /// Daily-data names or groups (`os`, `geography`, `licenseStatus`).
    properties: Option<Vec<String>>,
}

/// `reporting/clientPropertyList` request (reporting-api §15.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ClientPropertyListRequest {
    /// Inclusive paging cursor: 16 hex characters; null or "" = from the start.
    startAtClientId: Option<String>,
    /// Current-data names or group names; `clientId` always comes first.
    properties: Option<Vec<String>>,
    /// Daily values (alias `reqDailyData`).
    retDailyData: Option<DailyDataRequest>,
    /// Property → filter; standard properties are tested as of today.
    globalFilters: Option<std::collections::BTreeMap<String, GlobalFilter>>,
    /// 1–200 (default 200).
    pageSize: Option<u32>,
}

/// `reporting/clientPropertyList` answer.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ClientPropertyListResponse {
    /// `[{clientId, <requested properties in request order>, dailyData?}]`.
    result: Vec<Value>,
    /// Whether this is the last page.
    reachedEnd: bool,
    /// First client id of the next page (only when reachedEnd is false).
    nextClientId: Option<String>,
}

/// `reporting/clientProfile` answer (reporting-api §15.2).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientProfileResponse {
    /// `{clientId, machineId, appName, sdk, dateInstalled, dateLastSeen, lastSyncAt, status, properties, lifetime, propertyHistory, recentSessions, recentExceptions}`.
    result: Value,
}

/// `getLastLines` request (reporting-api §13.1, §14).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LastLinesRequest {
    /// 1–1000 rows (default 10); an integer or a string of digits.
    lineCount: Option<Value>,
}

/// `getLastLines` answer: the field labels, then the rows newest first.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct LastLinesResponse {
    /// Field key → label, in column order.
    fieldNames: Value,
    /// One object per record with every key of `fieldNames`; NULL as `"<NULL>"`.
    result: Vec<Value>,
}

/// `getDownloadUrl` request (reporting-api §13.3, §16.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DownloadUrlRequest {
    /// A file name as listed by `listFiles`.
    fileName: String,
}

/// `getDownloadUrl` answer.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DownloadUrlResponse {
    /// `<public_url>/v3/download/<token>`: single use, no credentials needed, expires after 24 h.
    downloadUrl: String,
}

/// Today's custom-event or exception file, regenerated at most hourly.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct OpenFileEntry {
    /// `<productId>_cust_<date>.zip` or `<productId>_exc_<date>.zip`.
    fileName: String,
    /// Size of the CSV inside, KiB with three decimals.
    uncompressedSizeKB: f64,
    /// Server receive date of the records inside.
    fileDate: String,
    /// False while a regeneration runs (a download URL is then refused with 409).
    isAvailable: bool,
}

/// A finalized daily file.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct DailyFileEntry {
    /// File name.
    fileName: String,
    /// Size of the files inside, KiB.
    uncompressedSizeKB: f64,
    /// Size of the zip, KiB.
    compressedSizeKB: f64,
    /// Server receive date of the records inside.
    fileDate: String,
}

/// A month's file, from the 1st to the last finalized day.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct MonthlyFileEntry {
    /// `<productId>_cust_<start>_to_<stop>.zip`.
    fileName: String,
    /// Size of the CSV inside, KiB.
    uncompressedSizeKB: f64,
    /// Size of the zip, KiB.
    compressedSizeKB: f64,
    /// First receive day.
    fileStartDate: String,
    /// Last receive day.
    fileStopDate: String,
}

/// `listFiles` answer of custom events and exceptions (reporting-api §13.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct RecordFilesResponse {
    /// Today's file, when built.
    openDailyFiles: Vec<OpenFileEntry>,
    /// Finalized days within `exportRetentionDays`, newest first.
    dailyFiles: Vec<DailyFileEntry>,
    /// One per month within retention, newest first.
    monthlyFiles: Vec<MonthlyFileEntry>,
}

/// A raw data file.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct RawFileEntry {
    /// `<productId>_<date>.zip`.
    fileName: String,
    /// Server receive date of the data inside.
    fileDate: String,
    /// Size of the zip, KiB.
    compressedSizeKB: f64,
}

/// `rawEvents/download/listFiles` answer (reporting-api §16.1).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct RawFilesResponse {
    /// Finalized days within `exportRetentionDays`, newest first; `[]` when none.
    fileList: Vec<RawFileEntry>,
}

/// `POST /v3/admin/erase` request.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct EraseRequest {
    /// The installation, 16 hexadecimal characters (any case).
    clientId: String,
}

/// `POST /v3/admin/erase` answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EraseResponse {
    /// `{clientId, erasedRecords}`: the raw records removed (rollup rows are removed too).
    result: Value,
}

/// `productProperties` answer (reporting-api §7.1).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProductPropertiesResponse {
    /// `[{category, properties:[{name, friendlyName, filterType, dataType, supportsRegex, supportsMeta, supportsNull}]}]`.
    result: Vec<Value>,
}

/// `oldestReportedDate` answer (reporting-api §7.3).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct OldestReportedDateResponse {
    /// `YYYY-MM-DD`.
    oldestDate: String,
}

/// `propertyValues` request (reporting-api §7.2).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct PropertyValuesRequest {
    /// A property with supportsMeta; `os.version` is shorthand for property + granularity.
    property: String,
    /// For os, geography, gpu.
    granularity: Option<String>,
    /// `{"type":"regex","value":…}`.
    filter: Option<Value>,
    /// Exclusive paging cursor: the previous page's `lastValue`.
    startAfter: Option<String>,
    /// geography/os/osLanguage only.
    getFullList: Option<bool>,
}

/// `propertyValues` answer.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct PropertyValuesResponse {
    /// Values sorted by code point, NULL as `<NULL>`, at most 1000.
    result: Vec<String>,
    /// Whether this is the last page.
    reachedEnd: bool,
    /// Present when `reachedEnd` is false.
    lastValue: Option<String>,
}

/// This document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OpenApiDocument {
    /// OpenAPI version.
    openapi: String,
}

fn schema_ref(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

/// Builds the document from the route table.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut paths = PathsBuilder::new();
    for route in routes() {
        let method = match route.method {
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            _ => HttpMethod::Get,
        };
        let mut responses = utoipa::openapi::ResponsesBuilder::new();
        let ok = ResponseBuilder::new().description("Success");
        let ok = match route.response.1 {
            Some("ZipFile") => {
                ok.content("application/zip", ContentBuilder::new().schema(Some(schema_ref("ZipFile"))).build())
            }
            Some(schema) => {
                ok.content("application/json", ContentBuilder::new().schema(Some(schema_ref(schema))).build())
            }
            None => ok,
        };
        responses = responses.response(route.response.0.to_string(), ok.build());
        for (code, what) in [
            ("400", "SYNTAX ERROR: malformed JSON, validation failure, bad product id"),
            ("401", "AUTH ERROR: not authenticated"),
            ("403", "FORBIDDEN: Origin not allowed or missing, or a missing permission"),
            ("404", "NOT FOUND: unknown route or invisible product"),
            ("413", "TOO LARGE: body, URL or result over the limit"),
            ("429", "RATE LIMITED: see Retry-After"),
            ("500", "SERVER ERROR"),
        ] {
            responses = responses.response(
                code,
                ResponseBuilder::new()
                    .description(what)
                    .content("application/json", ContentBuilder::new().schema(Some(schema_ref("ErrorBody"))).build())
                    .build(),
            );
        }
        let responses = responses.build();
        let mut op = OperationBuilder::new()
            .summary(Some(route.summary))
            .tag(route.tag)
            .operation_id(Some(format!(
                "{}{}",
                route.method.to_lowercase(),
                route.path.replace(['/', '{', '}', '-', '.'], "_")
            )))
            .responses(responses.clone());
        if route.path.contains("{token}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("token")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("The one-time token of a download URL"))
                    .schema(Some(String::schema())),
            );
        }
        if route.path.contains("{product_id}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("product_id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("The 10-digit product id"))
                    .schema(Some(String::schema())),
            );
        }
        if let Doc::Json(schema) = route.request {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", ContentBuilder::new().schema(Some(schema_ref(schema))).build())
                    .build(),
            ));
        }
        let mut item = PathItemBuilder::new().operation(method, op.build());
        if route.query {
            let mut get_op = OperationBuilder::new()
                .summary(Some(format!("{} (GET with ?query=<URL-encoded JSON request>)", route.summary)))
                .tag(route.tag)
                .operation_id(Some(format!("get{}", route.path.replace(['/', '{', '}', '-', '.'], "_"))))
                .parameter(
                    ParameterBuilder::new()
                        .name("query")
                        .parameter_in(ParameterIn::Query)
                        .required(Required::False)
                        .description(Some("The request JSON, URL-encoded; handled exactly like the POST body"))
                        .schema(Some(String::schema())),
                )
                .responses(responses);
            if route.path.contains("{product_id}") {
                get_op = get_op.parameter(
                    ParameterBuilder::new()
                        .name("product_id")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(String::schema())),
                );
            }
            item = item.operation(HttpMethod::Get, get_op.build());
        }
        paths = paths.path(route.path, item.build());
    }
    let components = ComponentsBuilder::new()
        .schema("ErrorBody", ErrorBody::schema())
        .schema("LoginRequest", LoginRequest::schema())
        .schema("LogoutRequest", LogoutRequest::schema())
        .schema("LoginResponse", LoginResponse::schema())
        .schema("GenericDateRangeRequest", GenericDateRangeRequest::schema())
        .schema("GenericCurrentRequest", GenericCurrentRequest::schema())
        .schema("GlobalFilter", GlobalFilter::schema())
        .schema("EraseRequest", EraseRequest::schema())
        .schema("DownloadUrlRequest", DownloadUrlRequest::schema())
        .schema("DownloadUrlResponse", DownloadUrlResponse::schema())
        .schema("OpenFileEntry", OpenFileEntry::schema())
        .schema("DailyFileEntry", DailyFileEntry::schema())
        .schema("MonthlyFileEntry", MonthlyFileEntry::schema())
        .schema("RecordFilesResponse", RecordFilesResponse::schema())
        .schema("RawFileEntry", RawFileEntry::schema())
        .schema("RawFilesResponse", RawFilesResponse::schema())
        .schema(
            "ZipFile",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .description(Some("A zip file (reporting-api §16.4)")),
        )
        .schema("EraseResponse", EraseResponse::schema())
        .schema("LastLinesRequest", LastLinesRequest::schema())
        .schema("LastLinesResponse", LastLinesResponse::schema())
        .schema("ClientProfileResponse", ClientProfileResponse::schema())
        .schema("DailyDataRequest", DailyDataRequest::schema())
        .schema("ClientPropertyListRequest", ClientPropertyListRequest::schema())
        .schema("ClientPropertyListResponse", ClientPropertyListResponse::schema())
        .schema("EventItemSchema", EventItemSchema::schema())
        .schema("EventDataTableRequest", EventDataTableRequest::schema())
        .schema("EventDataTableResponse", EventDataTableResponse::schema())
        .schema("EventTimelineRequest", EventTimelineRequest::schema())
        .schema("EventTimelineResponse", EventTimelineResponse::schema())
        .schema("EventFullReportRequest", EventFullReportRequest::schema())
        .schema("EventFullReportResponse", EventFullReportResponse::schema())
        .schema("LifetimeDataTableRequest", LifetimeDataTableRequest::schema())
        .schema("ChurnLifetimeDataTableRequest", ChurnLifetimeDataTableRequest::schema())
        .schema("LifetimeDataTableResponse", LifetimeDataTableResponse::schema())
        .schema("LifetimeHistogramRequest", LifetimeHistogramRequest::schema())
        .schema("ChurnLifetimeHistogramRequest", ChurnLifetimeHistogramRequest::schema())
        .schema("LifetimeHistogramResponse", LifetimeHistogramResponse::schema())
        .schema("EventTrackingResponse", EventTrackingResponse::schema())
        .schema("EventFlagsItem", EventFlagsItem::schema())
        .schema("EventTrackingUpdateRequest", EventTrackingUpdateRequest::schema())
        .schema("EventTrackingUpdateResponse", EventTrackingUpdateResponse::schema())
        .schema("ListKeysFilters", ListKeysFilters::schema())
        .schema("ListKeysRequest", ListKeysRequest::schema())
        .schema("LicenseKeyRecordSchema", LicenseKeyRecordSchema::schema())
        .schema("ListKeysResponse", ListKeysResponse::schema())
        .schema("KeyUpdateItem", KeyUpdateItem::schema())
        .schema("UpdateKeysRequest", UpdateKeysRequest::schema())
        .schema("UpdateKeysResponse", UpdateKeysResponse::schema())
        .schema("DeleteKeysRequest", DeleteKeysRequest::schema())
        .schema("DeleteKeysResponse", DeleteKeysResponse::schema())
        .schema("Levels", Levels::schema())
        .schema("Level", Level::schema())
        .schema("Segment", Segment::schema())
        .schema("GenericReportResponse", GenericReportResponse::schema())
        .schema("UsageDistributionRequest", UsageDistributionRequest::schema())
        .schema("UsageDistributionResponse", UsageDistributionResponse::schema())
        .schema("ChurnAndEngagementRequest", ChurnAndEngagementRequest::schema())
        .schema("ChurnAndEngagementResponse", ChurnAndEngagementResponse::schema())
        .schema("ChurnHistogramRequest", ChurnHistogramRequest::schema())
        .schema("ChurnHistogramResponse", ChurnHistogramResponse::schema())
        .schema("OpenApiDocument", OpenApiDocument::schema())
        .schema("ProductPropertiesResponse", ProductPropertiesResponse::schema())
        .schema("PropertyValuesRequest", PropertyValuesRequest::schema())
        .schema("PropertyValuesResponse", PropertyValuesResponse::schema())
        .schema("OldestReportedDateResponse", OldestReportedDateResponse::schema())
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Usagi Reporting API")
                .version("3.0.0")
                .description(Some(
                    "Wire-compatible with the Usage Intelligence Reporting API 3.0.0. See reporting-api.md.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// `GET /v3/openapi.json`.
pub async fn serve() -> Response {
    static DOC: OnceLock<Value> = OnceLock::new();
    let doc = DOC.get_or_init(|| serde_json::to_value(document()).unwrap_or(Value::Null));
    super::response::json(doc)
}
