//! `ping`: test connection, product id and secret (callhome §8).

use axum::response::Response;
use usagi_protocol::parse_ping;
use usagi_protocol::wire::PingResponse;

use super::{json_body, CallhomeError, Verified};
use crate::state::AppState;

pub(super) async fn handle(_app: &AppState, v: Verified) -> Result<Response, CallhomeError> {
    parse_ping(&v.json).map_err(|e| CallhomeError::syntax(e.to_string()))?;
    Ok(json_body(&PingResponse { ok: true, product_id: v.product.id, protocol_version: 1, server_time: v.received_at }))
}
