//! `optout`: the user opted out before the SDK started (callhome §8, §9.7).

use axum::response::Response;
use usagi_ingest::{LogEntry, OptOutEntry};
use usagi_protocol::parse_optout;
use usagi_protocol::wire::OptOutResponse;

use super::{clamp, json_body, CallhomeError, Verified};
use crate::state::AppState;

pub(super) async fn handle(app: &AppState, v: Verified) -> Result<Response, CallhomeError> {
    let req = parse_optout(&v.json).map_err(|e| CallhomeError::syntax(e.to_string()))?;
    let entry = OptOutEntry {
        product: v.product.id,
        client: req.client_id,
        app_name: req.app_name,
        machine_id: req.machine_id,
        t: clamp(req.t, v.received_at),
        received_at: v.received_at,
    };
    app.ingest.commit(LogEntry::OptOut(entry)).await.map_err(|e| {
        tracing::error!(error = %e, "could not store an opt-out");
        CallhomeError::unavailable("could not store the opt-out; retry later")
    })?;
    Ok(json_body(&OptOutResponse { opted_out: true, server_time: v.received_at }))
}
