//! The single-installation profile `reporting/clientProfile` (reporting-api §15.2): everything
//! known about one installation.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use usagi_types::{ApiError, ClientId, NULL_TEXT};
use usagi_warehouse::columns::{property_column, ColumnType};
use usagi_warehouse::{ObservationSource, Param, Warehouse};

use crate::client_list::{json_value, CURRENT_NAMES};
use crate::context::ReportContext;
use crate::query::Query;

/// Catalog-side state of the installation, looked up by the server.
#[derive(Debug, Clone, Default)]
pub struct InstallationStatus {
    /// Disabled by the operator.
    pub disabled: bool,
    /// Ever answered with a back-off.
    pub back_off_historical: bool,
    /// End of the back-off in force (own or product-wide), if any.
    pub back_off_until: Option<DateTime<Utc>>,
}

/// Most sessions and exceptions listed.
const RECENT_SESSIONS: usize = 50;
const RECENT_EXCEPTIONS: usize = 20;

fn iso_ms(t: i64) -> Value {
    DateTime::from_timestamp_millis(t)
        .map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
}

/// A stored history value (text) in the property's own JSON type.
fn history_value(name: &str, value: Option<&str>) -> Value {
    let Some(v) = value else { return Value::String(NULL_TEXT.into()) };
    match property_column(name).map(|c| c.ty) {
        Some(ColumnType::Int) => v.parse::<i64>().map_or(Value::String(v.into()), Value::from),
        Some(ColumnType::Bool) => v.parse::<bool>().map_or(Value::String(v.into()), Value::Bool),
        _ => Value::String(v.into()),
    }
}

/// Runs the profile; `None` when the installation has no activity (404).
pub async fn run(
    wh: &dyn Warehouse,
    ctx: &ReportContext,
    client: ClientId,
    status: &InstallationStatus,
) -> Result<Option<Value>, ApiError> {
    let id = client.as_u64();
    let names: Vec<&str> = CURRENT_NAMES
        .iter()
        .copied()
        .filter(|n| !matches!(*n, "lifetimeEventUsage" | "reachOutDeliveries.auto" | "reachOutDeliveries.manual"))
        .filter(|n| *n != "licenseKey" || ctx.license_keys)
        .collect();
    // Current data: one row of `clients`.
    let mut q = Query::new(wh.dialect());
    let product = q.bind(Param::Int(ctx.product.as_u64() as i64));
    let cid = q.bind(Param::UInt(id));
    let mut exprs = Vec::new();
    for n in &names {
        exprs.push(match *n {
            "optOut.historical" => "c.opt_out_historical".to_string(),
            "optOut.current" => "c.opt_out_current".to_string(),
            "backOff.historical" | "backOff.current" => "CAST(NULL AS BOOLEAN)".to_string(),
            n => crate::access::value_sql(n, "c").map_or("CAST(NULL AS VARCHAR)".into(), |v| v.expr),
        });
    }
    let sql = format!(
        "SELECT c.date_installed, c.date_last_seen, c.lifetime_sessions, c.lifetime_runtime_ms, \
         c.opt_out_historical, c.opt_out_current, \
         c.active_days, \
         c.lifetime_exceptions, \
         c.last_sync_at, \
         {} FROM clients c WHERE c.product_id = {product} AND c.client_id = {cid}",
        exprs.join(", ")
    );
    let rows = q.run(wh, sql).await?;
    let Some(row) = rows.rows.into_iter().next() else { return Ok(None) };
    let (installed, last_seen) = (row[0].as_date(), row[1].as_date());
    let back_off_current = status.back_off_until.is_some_and(|u| ctx.now < u);
    let mut properties = Map::new();
    properties.insert("clientId".into(), Value::String(client.to_string()));
    for (n, cell) in names.iter().zip(&row[9..]) {
        let v = match *n {
            "clientId" => continue,
            "backOff.historical" => Value::Bool(status.back_off_historical),
            "backOff.current" => Value::Bool(back_off_current),
            _ => json_value(cell),
        };
        properties.insert(n.to_string(), v);
    }

    let product_id = Param::Int(ctx.product.as_u64() as i64);
    let run = |sql: String| {
        let mut q = Query::new(wh.dialect());
        let p = q.bind(product_id.clone());
        let c = q.bind(Param::UInt(id));
        let sql = sql.replace("{p}", &p).replace("{c}", &c);
        async move { q.run(wh, sql).await }
    };
    // Envelope: machine id, app name and SDK of the latest sync.
    let envelope = run(format!(
        "SELECT payload FROM observations WHERE product_id = {{p}} AND client_id = {{c}} AND source = {} \
             ORDER BY t DESC, seq DESC LIMIT 1",
        ObservationSource::Envelope as u8
    ))
    .await?;
    let env: Value = envelope
        .rows
        .first()
        .and_then(|r| r[0].as_str())
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map_or(Value::String(NULL_TEXT.into()), |s| Value::String(s.into()));

    // By name, not position: ClickHouse 18.16 reads `ORDER BY 1` as the constant 1.
    let usage = run(
        "SELECT category, name, n, first_day, last_day FROM client_events WHERE product_id = {p} AND client_id = {c} \
         ORDER BY category NULLS FIRST, name"
            .into(),
    )
    .await?;
    let event_usage: Vec<Value> = usage
        .rows
        .iter()
        .map(|r| {
            json!({"eventCategory": r[0].as_str(), "eventName": r[1].as_str(), "eventCount": r[2].as_i64().unwrap_or(0),
                   "dateFirstUsed": json_value(&r[3]), "dateLastUsed": json_value(&r[4])})
        })
        .collect();

    // Property history: the end-of-day values that differ from the previous known one.
    let oldest = ctx.today - Duration::days(i64::from(ctx.retention_days));
    let history =
        run("SELECT CAST(day AS VARCHAR), name, value FROM property_days WHERE product_id = {p} AND client_id = {c} \
         ORDER BY name, day"
            .into())
        .await?;
    let mut changes: Vec<(String, String, Value)> = Vec::new();
    let mut previous: Option<(String, Option<String>)> = None;
    for r in &history.rows {
        let (Some(day), Some(name)) = (r[0].as_str(), r[1].as_str()) else { continue };
        let value = r[2].as_str().map(str::to_string);
        let changed = previous.as_ref().is_none_or(|(n, v)| n != name || *v != value);
        previous = Some((name.to_string(), value.clone()));
        if changed && properties.contains_key(name) && day >= oldest.format("%Y-%m-%d").to_string().as_str() {
            changes.push((day.to_string(), name.to_string(), history_value(name, value.as_deref())));
        }
    }
    changes.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let property_history: Vec<Value> =
        changes.into_iter().map(|(d, n, v)| json!({"date": d, "property": n, "value": v})).collect();

    // Sessions, newest first; open = the last of its key, ended by no stop.
    let sessions = run(
        format!(
            // Closed: a stop mark at its end, or a later group of the same key. Portable SQL
            // (no window function or correlated subquery; one join per SELECT).
            "SELECT x.session_key, x.start_t, x.end_t, (x.stopped = 1 OR x.grp < g.max_grp) \
             FROM (SELECT s.session_key AS session_key, s.grp AS grp, s.start_t AS start_t, s.end_t AS end_t, \
                          max(coalesce(m.hit, 0)) AS stopped \
                   FROM (SELECT * FROM sessions WHERE product_id = {{p}} AND client_id = {{c}}) s \
                   LEFT JOIN (SELECT coalesce(session_id, '') AS session_key, t, 1 AS hit FROM session_marks \
                              WHERE product_id = {{p}} AND client_id = {{c}} AND kind = 2) m \
                     ON m.session_key = s.session_key AND m.t = s.end_t \
                   GROUP BY s.session_key, s.grp, s.start_t, s.end_t) x \
             JOIN (SELECT session_key, max(grp) AS max_grp FROM sessions \
                   WHERE product_id = {{p}} AND client_id = {{c}} GROUP BY session_key) g ON g.session_key = x.session_key \
             ORDER BY x.start_t DESC LIMIT {RECENT_SESSIONS}"
        )
    )
    .await?;
    let recent_sessions: Vec<Value> = sessions
        .rows
        .iter()
        .map(|r| {
            let key = r[0].as_str().unwrap_or("");
            let (start, end) = (r[1].as_i64().unwrap_or(0), r[2].as_i64().unwrap_or(0));
            json!({"sessionId": if key.is_empty() { Value::Null } else { Value::String(key.into()) },
                   "start": iso_ms(start), "end": iso_ms(end), "runtimeMinutes": (end - start).max(0) / 60_000,
                   "closed": r[3].as_bool().unwrap_or(false)})
        })
        .collect();
    let exceptions = run(
        format!(
            "SELECT t, session_id, class_name, method_name, message FROM exceptions \
             WHERE product_id = {{p}} AND client_id = {{c}} ORDER BY t DESC, seq DESC, idx DESC LIMIT {RECENT_EXCEPTIONS}"
        )
    )
    .await?;
    let recent_exceptions: Vec<Value> = exceptions
        .rows
        .iter()
        .map(|r| {
            json!({"timestamp": iso_ms(r[0].as_i64().unwrap_or(0)), "sessionId": r[1].as_str(),
                   "className": r[2].as_str(), "methodName": r[3].as_str(), "message": r[4].as_str()})
        })
        .collect();

    let n = i64::from(ctx.days_until_declared_lost);
    let lost = last_seen.is_some_and(|l| l + Duration::days(n) <= ctx.today);
    let result = json!({
        "clientId": client.to_string(),
        "machineId": text(&env["machineId"]),
        "appName": text(&env["appName"]),
        "sdk": {"name": text(&env["sdkName"]), "version": text(&env["sdkVersion"])},
        "dateInstalled": installed.map(|d| d.format("%Y-%m-%d").to_string()),
        "dateLastSeen": last_seen.map(|d| d.format("%Y-%m-%d").to_string()),
        "lastSyncAt": row[8].as_i64().map_or(Value::Null, iso_ms),
        "status": {
            "lost": lost,
            "daysUntilDeclaredLost": n,
            "optOut": {"historical": row[4].as_bool().unwrap_or(false), "current": row[5].as_bool().unwrap_or(false)},
            "backOff": {"historical": status.back_off_historical, "current": back_off_current,
                        "until": status.back_off_until.map(|u| iso_ms(u.timestamp_millis()))},
            "disabled": status.disabled,
        },
        "properties": properties,
        "lifetime": {
            "sessionCount": row[2].as_i64().unwrap_or(0),
            "runtimeMinutes": row[3].as_i64().unwrap_or(0) / 60_000,
            "activeDays": row[6].as_i64().unwrap_or(0),
            "eventCount": usage.rows.iter().filter_map(|r| r[2].as_i64()).sum::<i64>(),
            "exceptionCount": row[7].as_i64().unwrap_or(0),
            "eventUsage": event_usage,
        },
        "propertyHistory": property_history,
        "recentSessions": recent_sessions,
        "recentExceptions": recent_exceptions,
    });
    Ok(Some(json!({ "result": result })))
}
