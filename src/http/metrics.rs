//! Prometheus metrics: requests by route and status, latency histograms, and the work the
//! service does (analyses, uploads, imports), plus index document counts read at scrape time.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::{ApiResult, AppState};

/// Latency buckets in seconds: tag lookups take well under a millisecond, analyses of big
/// drivers seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder (the `metrics` facade allows one), installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static bucket list is valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist when embedded in a larger program; then ours only renders
        // what it sees, which is nothing - better than failing the request path.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

/// The `# HELP` text of every metric: what it counts, and in which unit.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "poolsleuth_http_requests_total",
        Unit::Count,
        "HTTP requests answered, by method, route template and status code"
    );
    describe_histogram!(
        "poolsleuth_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response, in seconds, by method and route template"
    );
    describe_counter!(
        "poolsleuth_analyses_total",
        Unit::Count,
        "Pool snapshot analyses completed"
    );
    describe_counter!(
        "poolsleuth_driver_files_total",
        Unit::Count,
        "Uploaded driver files processed, by outcome (stored, duplicate, error)"
    );
    describe_counter!(
        "poolsleuth_alerts_total",
        Unit::Count,
        "Host alerts by outcome: sent to the webhook, failed (every retry), dropped (queue full), suppressed (the host and tag alerted within --alert-every)"
    );
    describe_counter!(
        "poolsleuth_list_imports_total",
        Unit::Count,
        "Tag lists imported over the API"
    );
    describe_counter!(
        "poolsleuth_cause_imports_total",
        Unit::Count,
        "Files of known causes imported over the API"
    );
    describe_gauge!(
        "poolsleuth_knowledge_view_builds",
        Unit::Count,
        "Times the in-memory knowledge view used by analyses was built since start"
    );
    describe_gauge!(
        "poolsleuth_knowledge_view_last_build_seconds",
        Unit::Seconds,
        "Duration of the last knowledge view build, in seconds"
    );
    describe_gauge!(
        "poolsleuth_knowledge_view_current",
        "1 when the knowledge view reflects every write to the index, 0 while a rebuild is pending"
    );
    describe_gauge!(
        "poolsleuth_knowledge_view_entries",
        Unit::Count,
        "Tag attributions in the knowledge view analyses read"
    );
    describe_gauge!(
        "poolsleuth_index_entries",
        Unit::Count,
        "Tag attributions stored in the index, from every source"
    );
    describe_gauge!(
        "poolsleuth_index_sources",
        Unit::Count,
        "Sources stored in the index (tag lists and analyzed driver files)"
    );
    describe_counter!(
        "poolsleuth_fleet_samples_total",
        Unit::Count,
        "Fleet samples stored (POST /api/v1/hosts/{host}/snapshots)"
    );
    describe_gauge!(
        "poolsleuth_fleet_hosts",
        Unit::Count,
        "Fleet hosts by state (healthy, collecting, growing, leaking)"
    );
    describe_gauge!(
        "poolsleuth_index_entries_by_source_kind",
        Unit::Count,
        "Tag attributions stored in the index, by the kind of source they came from"
    );
}

/// Makes sure the recorder exists before the first request is counted.
pub fn install() {
    let _ = handle();
}

/// Middleware: counts every request by method, route template and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("poolsleuth_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("poolsleuth_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` in Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 503, description = "The index is locked by another process", body = super::schema::ErrorBody),
    )
)]
pub async fn render(State(state): State<AppState>) -> ApiResult<Response> {
    let knowledge = state.knowledge.clone();
    let (stats, view) = state
        .blocking(move |index, _| Ok((index.stats()?, knowledge.status(index))))
        .await?;
    metrics::gauge!("poolsleuth_knowledge_view_builds").set(view.builds as f64);
    metrics::gauge!("poolsleuth_knowledge_view_last_build_seconds").set(view.last_build_seconds);
    metrics::gauge!("poolsleuth_knowledge_view_current").set(if view.current { 1.0 } else { 0.0 });
    metrics::gauge!("poolsleuth_knowledge_view_entries").set(view.entries as f64);
    metrics::gauge!("poolsleuth_index_entries").set(stats.entries as f64);
    metrics::gauge!("poolsleuth_index_sources").set(stats.sources as f64);
    for (kind, entries) in &stats.entries_by_source_kind {
        metrics::gauge!("poolsleuth_index_entries_by_source_kind", "kind" => *kind)
            .set(*entries as f64);
    }
    // Hosts by state, once the fleet database is open (`serve` opens it at start).
    if state.fleet.is_open() {
        for (kind, hosts) in state.fleet.hosts_by_state().await? {
            metrics::gauge!("poolsleuth_fleet_hosts", "state" => kind.as_str()).set(hosts as f64);
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response())
}
