//! Liveness and readiness probes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiResult, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the index answers a query.
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let stats = state.blocking(|index, _| Ok(index.stats()?)).await?;
    Ok(Json(json!({ "status": "ready", "index": stats })))
}
