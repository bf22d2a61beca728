//! Fleet watch over HTTP: hosts push samples (`POST /api/v1/hosts/{host}/snapshots`), the
//! admin creates per-host tokens, and anyone reads the hosts and the fleet.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::analyze::read_for_sample;
use super::api::query_params;
use super::auth::{Admin, Ingest};
use super::schema::{AnalyzeForm, BinaryFile, ErrorBody, SnapshotFormatName};
use super::{ApiError, ApiPath, ApiResult, AppState, HttpConfig};
use crate::alerts::{Alert, AlertLevel, Alerter};
use crate::attribution::AnalyzeOptions;
use crate::fleet::{
    Fleet, FleetOverview, HostDetail, HostName, HostSummary, Ingested, IssuedToken, NewSample,
    StateChange, StateKind,
};

pub fn router(config: &HttpConfig) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(config.max_snapshot_bytes);
    Router::new()
        .route("/api/v1/hosts/{host}/snapshots", post(ingest).layer(limit))
        .route("/api/v1/hosts/{host}/tokens", post(issue_token))
        .route("/api/v1/hosts", get(hosts))
        .route("/api/v1/hosts/{host}", get(host))
        .route("/api/v1/fleet", get(overview))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestParams {
    /// When the snapshot was taken (RFC 3339, `2026-12-07T12:00:00Z`); default: when it
    /// arrives. An older sample than the host's newest is stored in its place in time.
    taken_at: Option<String>,
    /// The snapshot's format; detected from the content when absent.
    #[param(value_type = Option<SnapshotFormatName>)]
    format: Option<String>,
}

/// A sample's time: RFC 3339, not before 1970 and not more than a day ahead of this server's
/// clock (a clock that far off would put the sample past every other, or out of any window).
fn parse_taken_at(text: &str, now: OffsetDateTime) -> ApiResult<OffsetDateTime> {
    let shown = crate::excerpt::bound_message(text);
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|e| {
        ApiError::BadRequest(format!(
            "taken_at {shown:?} is not an RFC 3339 time such as 2026-12-07T12:00:00Z: {e}"
        ))
    })?;
    if at < OffsetDateTime::UNIX_EPOCH || at > now + time::Duration::DAY {
        return Err(ApiError::BadRequest(format!(
            "taken_at {shown:?} is before 1970 or more than a day ahead of the server's clock"
        )));
    }
    Ok(at)
}

/// `POST /api/v1/hosts/{host}/snapshots`: stores one sample of a host.
///
/// Takes what `/api/v1/analyze` takes (a snapshot as the body, or multipart with a snapshot
/// part and an optional `drivers` part) and stores it as one sample of `host`, then reads the
/// host's state again over its window. Needs the ingest token, a token created for this host,
/// or the admin token.
#[utoipa::path(
    post,
    path = "/api/v1/hosts/{host}/snapshots",
    tag = "fleet",
    params(
        ("host" = String, Path, description = "The host: 1 to 63 letters, digits, '-', '_' or '.'"),
        IngestParams,
    ),
    request_body(
        description = "One snapshot as the body, or multipart with a snapshot part and an optional `drivers` part (the driver list with versions)",
        content(
            (String = "text/plain", example = " Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n NtfF Paged     10 (   0)         5 (   0)        5    1000 (   0)     200\n"),
            (inline(BinaryFile) = "application/octet-stream"),
            (inline(AnalyzeForm) = "multipart/form-data"),
        ),
    ),
    security(("ingest_token" = []), ("admin_token" = [])),
    responses(
        (status = 201, description = "The sample was stored; the host's state after it, and the change when it changed", body = Ingested),
        (status = 400, description = "A bad host name, a bad taken_at, no snapshot in the request, an unknown format, an unreadable multipart body", body = ErrorBody),
        (status = 401, description = "Missing or wrong token (ingest, this host's, or admin)", body = ErrorBody),
        (status = 404, description = "No route: the host name is empty", body = ErrorBody),
        (status = 408, description = "The request took longer than the server's request timeout", body = ErrorBody),
        (status = 413, description = "The body is larger than the server's snapshot limit", body = ErrorBody),
        (status = 422, description = "A snapshot or driver list the server cannot read, or a snapshot without pool tags; nothing was stored", body = ErrorBody),
        (status = 503, description = "The analysis deadline passed, the snapshot budget is spent, or the index is locked", body = ErrorBody),
        (status = 507, description = "The fleet database's disk is full; nothing was stored", body = ErrorBody),
    )
)]
async fn ingest(
    State(state): State<AppState>,
    access: Ingest,
    params: Result<Query<IngestParams>, QueryRejection>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Ingested>)> {
    let params = query_params(params)?;
    let received_at = OffsetDateTime::now_utc();
    let taken_at = match params.taken_at.as_deref() {
        Some(text) => parse_taken_at(text, received_at)?,
        None => received_at,
    };
    let read = read_for_sample(&state, request, params.format.as_deref()).await?;
    let sample = NewSample::from_input(read.input, taken_at, received_at)?;
    let options = AnalyzeOptions {
        causes: read.causes,
        ..AnalyzeOptions::default()
    };
    let ingested = state
        .fleet
        .ingest(
            &access.host,
            sample,
            read.view,
            state.vendors.clone(),
            options,
        )
        .await?;
    metrics::counter!("poolsleuth_fleet_samples_total").increment(1);
    tracing::debug!(host = %access.host, by = ?access.by, state = ingested.state.as_str(), "fleet sample stored");
    if let (Some(alerter), Some(change)) = (&state.alerter, &ingested.change) {
        alert_on(alerter, change);
    }
    Ok((StatusCode::CREATED, Json(ingested)))
}

/// Hands a change into `growing` or `leaking` to the webhook sender, which keeps to one alert
/// per host and tag per `--alert-every` and never makes the ingest wait.
fn alert_on(alerter: &Alerter, change: &StateChange) {
    let level = match change.state {
        StateKind::Growing => AlertLevel::Growing,
        StateKind::Leaking => AlertLevel::Leaking,
        StateKind::Healthy | StateKind::Collecting => return,
    };
    let Some(g) = &change.growth else {
        return;
    };
    alerter.notify(Alert {
        host: change.host.to_string(),
        level,
        tag: g.tag,
        pool: g.pool,
        driver: g.driver.clone(),
        driver_version: g.version.clone(),
        rate_bytes_per_hour: Some(g.bytes_per_hour),
        headline: change.headline.replace('`', ""),
        host_url: None,
    });
}

/// `POST /api/v1/hosts/{host}/tokens`: creates a token that pushes this host's samples only.
///
/// The token is in the answer once; the server keeps only its SHA-256.
#[utoipa::path(
    post,
    path = "/api/v1/hosts/{host}/tokens",
    tag = "fleet",
    params(("host" = String, Path, description = "The host the token pushes samples of")),
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "The new token (shown this once)", body = IssuedToken),
        (status = 400, description = "A bad host name", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "Writes are disabled: the server has no admin token", body = ErrorBody),
        (status = 404, description = "No route: the host name is empty", body = ErrorBody),
        (status = 408, description = "The request took longer than the server's request timeout", body = ErrorBody),
        (status = 507, description = "The fleet database's disk is full", body = ErrorBody),
    )
)]
async fn issue_token(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(host): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let host = HostName::parse(&host)?;
    Ok((
        StatusCode::CREATED,
        Json(state.fleet.issue_token(&host).await?),
    ))
}

/// Every host.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HostList {
    /// Worst first: leaking, growing, collecting, healthy (then the fastest growth first).
    pub hosts: Vec<HostSummary>,
}

/// `GET /api/v1/hosts`: every host's state, worst first.
#[utoipa::path(
    get,
    path = "/api/v1/hosts",
    tag = "fleet",
    responses(
        (status = 200, description = "The hosts", body = HostList),
        (status = 408, description = "The request took longer than the server's request timeout", body = ErrorBody),
    )
)]
async fn hosts(State(state): State<AppState>) -> ApiResult<Json<HostList>> {
    Ok(Json(HostList {
        hosts: state.fleet.hosts().await?,
    }))
}

/// `GET /api/v1/hosts/{host}`: one host's state, answer, series and timeline.
#[utoipa::path(
    get,
    path = "/api/v1/hosts/{host}",
    tag = "fleet",
    params(("host" = String, Path, description = "The host")),
    responses(
        (status = 200, description = "The host", body = HostDetail),
        (status = 400, description = "A bad host name", body = ErrorBody),
        (status = 404, description = "No host of that name has sent a sample", body = ErrorBody),
        (status = 408, description = "The request took longer than the server's request timeout", body = ErrorBody),
    )
)]
async fn host(
    State(state): State<AppState>,
    ApiPath(host): ApiPath<String>,
) -> ApiResult<Json<HostDetail>> {
    let host = HostName::parse(&host)?;
    Ok(Json(state.fleet.host(&host).await?))
}

/// `GET /api/v1/fleet`: which driver version the hosts where a tag grows share, and the
/// hosts by severity.
#[utoipa::path(
    get,
    path = "/api/v1/fleet",
    tag = "fleet",
    responses(
        (status = 200, description = "Correlations and hosts", body = FleetOverview),
        (status = 408, description = "The request took longer than the server's request timeout", body = ErrorBody),
    )
)]
async fn overview(State(state): State<AppState>) -> ApiResult<Json<FleetOverview>> {
    Ok(Json(state.fleet.overview().await?))
}

/// How often old samples are rolled up.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Rolls samples past the retention up into hourly rows, every hour, while the fleet
/// database is open (a server nobody pushed to has nothing to roll up).
pub async fn keep_retention(fleet: Arc<Fleet>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(RETENTION_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        if !fleet.is_open() {
            continue;
        }
        match fleet.enforce_retention(OffsetDateTime::now_utc()).await {
            Ok(outcome) if outcome.samples_removed > 0 || outcome.hourly_rows_removed > 0 => {
                tracing::info!(
                    samples = outcome.samples_removed,
                    hourly_rows = outcome.hourly_rows_removed,
                    "fleet retention: old samples rolled up into hourly rows"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "fleet retention failed; retried in an hour"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_times_are_rfc3339_from_1970_to_a_day_ahead() {
        let now = OffsetDateTime::parse("2026-12-07T12:00:00Z", &Rfc3339).unwrap();
        for good in [
            "2026-12-07T11:00:00Z",
            "2026-12-08T11:00:00+00:00",
            "1970-01-01T00:00:00Z",
        ] {
            assert!(parse_taken_at(good, now).is_ok(), "{good}");
        }
        for bad in [
            "yesterday",
            "2026-12-09T12:00:00Z",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
            "",
        ] {
            assert!(parse_taken_at(bad, now).is_err(), "{bad}");
        }
    }
}
