//! The HTTP edge: routing, state, middleware. Handlers stay thin; the work is in the domain
//! modules, run off the async runtime.

mod analyze;
mod api;
mod auth;
mod body;
mod causes;
mod charts;
mod connections;
mod drivers;
mod error;
mod fleet;
mod fleet_pages;
mod health;
mod metrics;
mod openapi;
mod origin;
mod pages;
mod schema;
mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use tokio::net::TcpListener;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::Semaphore;
use tower_http::LatencyUnit;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use connections::ConnectionLimits;
pub use error::{AnalysisStage, ApiError, ApiPath, ApiResult, PageError, PageResult};
pub use openapi::{ApiDoc, document as openapi_document};
pub use views::{counted, thousands};

use crate::alerts::{AlertConfig, Alerter};
use crate::attribution::KnowledgeCache;
use crate::driver::AnalysisLimits;
use crate::fleet::{Fleet, FleetConfig};
use crate::index::SearchIndex;
use crate::list_refresh::{self, FollowedList, RefreshBoard};
use crate::vendor::VendorDirectory;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `None`: write endpoints are refused.
    pub admin_token: Option<String>,
    /// Largest request body accepted on upload routes.
    pub max_body_bytes: usize,
    /// Largest snapshot upload (the public analysis routes): far above any real poolmon log.
    pub max_snapshot_bytes: usize,
    pub request_timeout: Duration,
    /// Bounds on one driver analysis (file size cap, instruction budget).
    pub analysis_limits: AnalysisLimits,
    pub connections: ConnectionLimits,
    /// Lists imported again by URL on a schedule (`serve --refresh-list NAME=URL`).
    pub followed_lists: Vec<FollowedList>,
    /// How often the followed lists are imported again.
    pub list_refresh_interval: Duration,
    /// The token that pushes fleet samples and nothing else (`POOLSLEUTH_INGEST_TOKEN`).
    pub ingest_token: Option<String>,
    /// The fleet database and its settings.
    pub fleet: FleetConfig,
    /// Where and how often host alerts are posted (`serve --alert-webhook`); `None`: none.
    pub alerts: Option<AlertConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            admin_token: None,
            max_body_bytes: 128 * 1024 * 1024,
            max_snapshot_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(120),
            analysis_limits: AnalysisLimits::default(),
            connections: ConnectionLimits::default(),
            followed_lists: Vec::new(),
            list_refresh_interval: Duration::from_secs(24 * 3600),
            ingest_token: None,
            fleet: FleetConfig::default(),
            alerts: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub index: Arc<SearchIndex>,
    pub vendors: Arc<VendorDirectory>,
    pub config: Arc<HttpConfig>,
    /// Bounds how many driver and snapshot analyses run at once (CPU-heavy; one per core).
    pub analysis_slots: Arc<Semaphore>,
    /// The in-memory view of the knowledge base that snapshot attribution reads.
    pub knowledge: Arc<KnowledgeCache>,
    /// Bytes of snapshot uploads held at once, server-wide (one permit per byte): public
    /// analyses cannot take more memory than this plus what the running analyses build.
    pub snapshot_memory: Arc<Semaphore>,
    /// The outcome of each followed list's last refresh, for `/sources`.
    pub list_refresh: Arc<RefreshBoard>,
    /// Keys the upload form's remembered-token cookie (see [`auth::upload_cookie`]).
    pub cookie_key: Arc<auth::CookieKey>,
    /// The hosts' samples and states.
    pub fleet: Arc<Fleet>,
    /// Posts host alerts to the webhook of [`HttpConfig::alerts`], when one is set.
    pub alerter: Option<Alerter>,
}

/// The snapshot upload budget, in multiples of the largest snapshot: a few big uploads at
/// once, and any number of typical ones (a 3,000-tag screen is 170 KB).
const SNAPSHOT_BUDGET_UPLOADS: usize = 4;

/// The environment variable of [`HttpConfig::max_body_bytes`], named in 413 answers.
pub const MAX_BODY_SETTING: &str = "POOLSLEUTH_MAX_BODY_BYTES";
/// The environment variable of [`HttpConfig::max_snapshot_bytes`].
pub const MAX_SNAPSHOT_SETTING: &str = "POOLSLEUTH_MAX_SNAPSHOT_BYTES";

impl AppState {
    pub fn new(index: Arc<SearchIndex>, vendors: Arc<VendorDirectory>, config: HttpConfig) -> Self {
        metrics::install();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let snapshot_budget = config
            .max_snapshot_bytes
            .saturating_mul(SNAPSHOT_BUDGET_UPLOADS)
            .min(Semaphore::MAX_PERMITS);
        // The index lives in `DATA_DIR/index`; the fleet's SQLite file beside it.
        let data_dir = index
            .dir()
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_owned();
        let fleet = Arc::new(Fleet::new(config.fleet.clone(), &data_dir));
        let alerter = config
            .alerts
            .as_ref()
            .map(|a| Alerter::new(a.webhook.clone(), a.every, crate::alerts::webhook_client()));
        Self {
            index,
            vendors,
            fleet,
            config: Arc::new(config),
            analysis_slots: Arc::new(Semaphore::new(cores)),
            knowledge: Arc::new(KnowledgeCache::new()),
            snapshot_memory: Arc::new(Semaphore::new(snapshot_budget)),
            list_refresh: Arc::new(RefreshBoard::default()),
            cookie_key: Arc::new(auth::CookieKey::random()),
            alerter,
        }
    }

    /// Rebuilds the knowledge view after a write (an import, an upload, a delete), so the
    /// writer's next analysis sees the change; analyses meanwhile answer from the previous
    /// view ([`KnowledgeCache::latest`]) instead of waiting.
    pub async fn rebuild_view(&self) -> ApiResult<()> {
        let (cache, index) = (self.knowledge.clone(), self.index.clone());
        tokio::task::spawn_blocking(move || cache.view(&index)).await??;
        Ok(())
    }

    /// Runs blocking index work on the blocking pool, keeping the request's span.
    pub async fn blocking<T, F>(&self, work: F) -> ApiResult<T>
    where
        F: FnOnce(&SearchIndex, &VendorDirectory) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(&state.index, &state.vendors)))
            .await?
    }

    /// Runs CPU-bound request work (a snapshot analysis) on the worker thread that read the
    /// request, where the request body is still in this core's cache.
    ///
    /// `brief` work (a few milliseconds at most, see [`BRIEF_ANALYSIS_BYTES`]) simply runs:
    /// the worker is busy for that long, as it would be parsing any request, and the other
    /// worker goes on serving meanwhile. Longer work first hands this worker's other tasks to
    /// another thread (`block_in_place`), so a big upload does not stall them. The handoff is
    /// not free: it wakes a thread and puts more runnable threads than cores on the machine,
    /// which then time-slice. Measured on 3,000-tag snapshots with 16 connections on 2 cores,
    /// running them in place gave 930-1,025 analyses/s against 646-683/s with the handoff.
    /// The request timeout cannot interrupt the work either way; inputs are capped. A
    /// current-thread runtime (some tests) uses the blocking pool.
    pub async fn in_place<T, F>(&self, brief: bool, work: F) -> ApiResult<T>
    where
        F: FnOnce(&SearchIndex, &VendorDirectory) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if tokio::runtime::Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
            if brief {
                return work(&self.index, &self.vendors);
            }
            return tokio::task::block_in_place(|| work(&self.index, &self.vendors));
        }
        self.blocking(work).await
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api::router(&state.config))
        .merge(causes::router(&state.config))
        .merge(drivers::router(&state.config))
        .merge(analyze::router(&state.config))
        .merge(fleet::router(&state.config))
        .merge(pages::router(state.config.max_body_bytes))
        .merge(fleet_pages::router())
        .merge(health::router())
        .route("/metrics", axum::routing::get(metrics::render))
        .merge(openapi::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::map_response(json_ends_with_newline))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), route, id)
                })
                // One line per request: status and latency, inside the span with route and id.
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::map_response(
            move |response: axum::response::Response| async move {
                error::timeout_response(timeout.as_secs(), response)
            },
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // On every answer, so error pages from the fallbacks carry it too.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(pages::CONTENT_SECURITY_POLICY),
        ))
}

/// Every JSON answer ends with a newline, as a text file does, so that the shell prompt after
/// `curl` starts on a line of its own. Answers already ending with one (the analysis, errors)
/// and streamed ones pass untouched.
async fn json_ends_with_newline(response: axum::response::Response) -> axum::response::Response {
    use axum::body::{Body, HttpBody};
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json || response.body().size_hint().exact().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::response::Response::from_parts(parts, Body::empty());
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return axum::response::Response::from_parts(parts, Body::from(bytes));
    }
    let mut with_newline = Vec::with_capacity(bytes.len() + 1);
    with_newline.extend_from_slice(&bytes);
    with_newline.push(b'\n');
    parts.headers.remove(header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, Body::from(with_newline))
}

/// Serves until `shutdown` completes, then finishes in-flight requests (within the shutdown
/// grace period).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_refresher, stopped) = tokio::sync::oneshot::channel();
    let refresher = tokio::spawn(refresh_knowledge(state.clone(), stopped));
    let (stop_following, stop_follow) = tokio::sync::oneshot::channel();
    let follower = (!state.config.followed_lists.is_empty()).then(|| {
        tokio::spawn(list_refresh::follow(
            state.config.followed_lists.clone(),
            state.config.list_refresh_interval,
            state.index.clone(),
            state.vendors.clone(),
            state.list_refresh.clone(),
            stop_follow,
        ))
    });
    let (stop_retention, retention_stopped) = tokio::sync::oneshot::channel();
    let retention = tokio::spawn(fleet::keep_retention(
        state.fleet.clone(),
        retention_stopped,
    ));
    let limits = state.config.connections.clone();
    connections::serve_connections(listener, router(state), &limits, shutdown).await;
    // Let a rebuild or an import in progress finish, so the index is released when `serve`
    // returns.
    let _ = stop_following.send(());
    if let Some(follower) = follower {
        let _ = follower.await;
    }
    let _ = stop_refresher.send(());
    let _ = refresher.await;
    let _ = stop_retention.send(());
    let _ = retention.await;
    Ok(())
}

/// Uploads up to this size are analyzed in place without a handoff (see
/// [`AppState::in_place`]): about 4,500 poolmon rows, 1-3 ms of parsing and ranking.
pub const BRIEF_ANALYSIS_BYTES: usize = 256 * 1024;

/// How often the background task checks whether the knowledge base changed.
const KNOWLEDGE_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps the attribution view of the knowledge base current in the background: it is built at
/// start and again soon after every import or delete, so the first analysis after a change does
/// not wait for the rebuild (seconds on a knowledge base of 100,000 entries).
async fn refresh_knowledge(state: AppState, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(KNOWLEDGE_REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        if state.knowledge.is_current(&state.index) {
            continue;
        }
        let (cache, index) = (state.knowledge.clone(), state.index.clone());
        match tokio::task::spawn_blocking(move || cache.view(&index)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "rebuilding the attribution view failed; analyses retry it");
            }
            Err(error) => tracing::error!(%error, "the attribution view rebuild panicked"),
        }
    }
}
