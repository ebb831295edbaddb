//! `sync`: one batch of records (callhome §5, §9).

use axum::response::Response;
use chrono::{Duration, NaiveTime};
use usagi_ingest::{BeginSync, IngestError, StoredResponse, SyncEntry};
use usagi_protocol::parse_sync;
use usagi_protocol::wire::{Instruction, SyncResponse};

use super::geo::client_ip;
use super::{clamp, json_body, CallhomeError, Verified};
use crate::state::AppState;

/// Header through which `usagi simulate` replays history with its simulated receive
/// times. Honoured only when the operator enabled `ingest.allow_simulated_receive_time`.
pub const SIMULATED_RECEIVE_TIME: &str = "x-usagi-receive-time";

pub(super) async fn handle(app: &AppState, v: Verified) -> Result<Response, CallhomeError> {
    let batch = parse_sync(&v.json).map_err(|e| CallhomeError::syntax(e.to_string()))?;
    let product = &v.product;
    let settings = &product.settings;
    let now_ms = v.received_at;
    let received_at = simulated_receive_time(app, &v).unwrap_or(now_ms);

    let guard = match app.ingest.begin_sync(product.id, batch.batch_id).await.map_err(ingest_error)? {
        BeginSync::Duplicate(receipt) => {
            let r = receipt.response;
            return Ok(json_body(&SyncResponse {
                accepted: r.accepted,
                dropped: r.dropped,
                ignored: r.ignored,
                duplicate: true,
                next_sync_seconds: r.next_sync_seconds,
                instruction: None,
                reach_out: None,
                server_time: now_ms,
            }));
        }
        BeginSync::Fresh(guard) => guard,
    };

    let total = batch.records.len() as u32 + batch.unknown_kinds;
    if let Some(instruction) = installation_instruction(app, &v, batch.client_id).await? {
        // Discarded: not a contact, no receipt, every record dropped (callhome §9.6).
        drop(guard);
        return Ok(json_body(&SyncResponse {
            accepted: 0,
            dropped: total,
            ignored: 0,
            duplicate: false,
            next_sync_seconds: settings.next_sync_seconds,
            instruction: Some(instruction),
            reach_out: None,
            server_time: now_ms,
        }));
    }

    // Clamp, then drop what is older than the retention horizon (callhome §9.3, §9.4).
    let received_day = chrono::DateTime::from_timestamp_millis(received_at).unwrap_or_default().date_naive();
    let horizon = (received_day - Duration::days(i64::from(settings.retention_days)))
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    let mut records = batch.records;
    for r in &mut records {
        r.t = clamp(r.t, received_at);
    }
    let before = records.len();
    records.retain(|r| r.t >= horizon);
    let dropped = (before - records.len()) as u32;

    let geo = app.geo.as_ref().and_then(|g| {
        let forwarded = v.headers.get("x-forwarded-for").and_then(|h| h.to_str().ok());
        g.lookup(client_ip(v.peer.ip(), forwarded, &app.config.trusted_proxies))
    });

    let response = StoredResponse {
        accepted: records.len() as u32,
        dropped,
        ignored: batch.unknown_kinds,
        next_sync_seconds: settings.next_sync_seconds,
    };
    let entry = SyncEntry {
        product: product.id,
        received_at,
        client: batch.client_id,
        batch_id: batch.batch_id,
        seq: batch.seq,
        machine_id: batch.machine_id,
        app_name: batch.app_name,
        sdk_name: batch.sdk.name,
        sdk_version: batch.sdk.version,
        geo,
        records,
        response,
    };
    guard.commit(entry).await.map_err(ingest_error)?;
    Ok(json_body(&SyncResponse {
        accepted: response.accepted,
        dropped: response.dropped,
        ignored: response.ignored,
        duplicate: false,
        next_sync_seconds: response.next_sync_seconds,
        instruction: None,
        reach_out: None,
        server_time: now_ms,
    }))
}

fn simulated_receive_time(app: &AppState, v: &Verified) -> Option<i64> {
    if !app.config.ingest.allow_simulated_receive_time {
        return None;
    }
    let t: i64 = v.headers.get(SIMULATED_RECEIVE_TIME)?.to_str().ok()?.trim().parse().ok()?;
    // Never in the future: the clock rules must keep holding for replayed history.
    (t <= v.received_at && t >= 0).then_some(t)
}

/// Disable, back-off and quota (callhome §9.6).
async fn installation_instruction(
    app: &AppState,
    v: &Verified,
    client: usagi_types::ClientId,
) -> Result<Option<Instruction>, CallhomeError> {
    let product = &v.product;
    let now = app.clock.now();
    let control = app
        .catalog
        .installation_control(product.id, client)
        .await
        .map_err(|_| CallhomeError::server("catalog unavailable"))?;
    if control.disabled {
        return Ok(Some(Instruction::Disable));
    }
    if control.backing_off(now) {
        app.catalog
            .record_back_off_answer(product.id, client)
            .await
            .map_err(|_| CallhomeError::server("catalog unavailable"))?;
        return Ok(Some(Instruction::BackOffDays(control.remaining_back_off_days(now).max(1))));
    }
    if let Some(quota) = product.settings.max_active_installations {
        let since = v.received_at - 30 * 86_400_000;
        let sql = "SELECT count(DISTINCT client_id), count(*) FILTER (WHERE client_id = $3) \
                   FROM contacts WHERE product_id = $1 AND received_at >= $2";
        let rows = app
            .warehouse
            .query(
                sql.into(),
                vec![
                    usagi_warehouse::Param::Int(product.id.as_u64() as i64),
                    usagi_warehouse::Param::Int(since),
                    usagi_warehouse::Param::UInt(client.as_u64()),
                ],
            )
            .await
            .map_err(|_| CallhomeError::server("warehouse unavailable"))?;
        let row = rows.rows.first();
        let active = row.and_then(|r| r.first()).and_then(|c| c.as_i64()).unwrap_or(0);
        let known = row.and_then(|r| r.get(1)).and_then(|c| c.as_i64()).unwrap_or(0) > 0;
        if !known && active >= i64::from(quota) {
            let days = product.settings.back_off_days.clamp(1, 365);
            let until = now + Duration::days(i64::from(days));
            app.catalog
                .start_back_off(product.id, Some(client), until)
                .await
                .map_err(|_| CallhomeError::server("catalog unavailable"))?;
            return Ok(Some(Instruction::BackOffDays(days)));
        }
    }
    Ok(None)
}

fn ingest_error(e: IngestError) -> CallhomeError {
    match e {
        IngestError::Backlogged | IngestError::ShuttingDown => {
            CallhomeError::unavailable("the server is busy storing earlier data; retry later")
        }
        other => {
            tracing::error!(error = %other, "ingest failed");
            CallhomeError::server("could not store the batch; retry later")
        }
    }
}
