//! Liveness and readiness probes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::ErrorBody;
use super::{ApiResult, AppState};
use crate::index::IndexStats;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
    pub index: IndexStats,
}

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The server is alive", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready when the index answers a query.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The index is open and readable, with its counts", body = Readiness),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Readiness>> {
    let stats = state.blocking(|index, _| Ok(index.stats()?)).await?;
    Ok(Json(Readiness {
        status: "ready",
        index: stats,
    }))
}
