//! `poolsleuth serve`: the web service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::{DataDirArg, LogArgs, Writer, init_tracing, open_index, shutdown_signal};
use crate::alerts::{AlertConfig, parse_webhook_url};
use crate::collect::parse_interval;
use crate::driver::AnalysisLimits;
use crate::fleet::{FleetConfig, Thresholds};
use crate::http::{AppState, ConnectionLimits, HttpConfig};
use crate::list_refresh::FollowedList;
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "POOLSLEUTH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Token that write endpoints require as `Authorization: Bearer TOKEN`; without one, writes are refused.
    #[arg(long, env = "POOLSLEUTH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Largest request body accepted by upload endpoints, in bytes.
    #[arg(long, env = "POOLSLEUTH_MAX_BODY_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest snapshot upload to the public analysis routes (`/api/v1/analyze`, `/analyze`), in bytes.
    #[arg(long, env = "POOLSLEUTH_MAX_SNAPSHOT_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_snapshot_bytes: usize,
    /// Largest single driver file analyzed, in bytes.
    #[arg(long, env = "POOLSLEUTH_MAX_DRIVER_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_driver_bytes: u64,
    /// Seconds after which a request is abandoned with 408.
    #[arg(long, env = "POOLSLEUTH_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's headers, after connecting or after the
    /// previous response (so also the idle keep-alive limit); then the connection is closed.
    #[arg(long, env = "POOLSLEUTH_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "POOLSLEUTH_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT before their
    /// connections are closed.
    #[arg(long, env = "POOLSLEUTH_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// A list to import again by URL on a schedule, as `NAME=URL` (repeat for several); a
    /// failed fetch keeps the previous entries.
    #[arg(
        long = "refresh-list",
        value_name = "NAME=URL",
        env = "POOLSLEUTH_REFRESH_LIST",
        value_delimiter = ','
    )]
    pub refresh_lists: Vec<FollowedList>,
    /// Hours between two imports of each `--refresh-list` (fractions allowed).
    #[arg(long, env = "POOLSLEUTH_REFRESH_HOURS", default_value_t = 24.0)]
    pub refresh_hours: f64,
    /// Token that pushes fleet samples (`POST /api/v1/hosts/{host}/snapshots`) and nothing
    /// else, as `Authorization: Bearer TOKEN`; the admin token and per-host tokens work too.
    #[arg(long, env = "POOLSLEUTH_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// The fleet database: `postgres://user@host/db`; without it, SQLite in the data dir
    /// (`fleet.sqlite`).
    #[arg(long, env = "POOLSLEUTH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Days raw fleet samples are kept; older ones are rolled up into hourly rows, kept a year.
    #[arg(long, env = "POOLSLEUTH_RETENTION_DAYS", default_value_t = 14)]
    pub retention_days: u32,
    /// Steady growth of a tag at or above this many bytes per hour makes a host `leaking`
    /// (below it, `growing`).
    #[arg(long, env = "POOLSLEUTH_LEAK_BYTES_PER_HOUR", default_value_t = 1024.0 * 1024.0)]
    pub leak_bytes_per_hour: f64,
    /// Post a JSON message (with a `text` field chat webhooks show) to this http(s) URL
    /// when a host starts growing or leaking.
    #[arg(long, value_name = "URL", env = "POOLSLEUTH_ALERT_WEBHOOK", value_parser = parse_webhook_url)]
    pub alert_webhook: Option<reqwest::Url>,
    /// At most one alert per host and tag this often (`6h`, `30m`).
    #[arg(long, value_name = "INTERVAL", env = "POOLSLEUTH_ALERT_EVERY", default_value = "6h", value_parser = parse_interval)]
    pub alert_every: Duration,
    #[command(flatten)]
    pub log: LogArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let vendors = Arc::new(VendorDirectory::embedded());
    let index = open_index(&args.data.data_dir, vendors.clone(), Writer::Serve).await?;
    let stats = index.stats()?;
    if args
        .admin_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        bail!("the admin token is empty; set a real secret or leave it unset to disable writes");
    }
    if args
        .ingest_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        bail!("the ingest token is empty; set a real secret or leave it unset");
    }
    if args.retention_days == 0 {
        bail!("--retention-days must be at least 1");
    }
    if !args.leak_bytes_per_hour.is_finite() || args.leak_bytes_per_hour <= 0.0 {
        bail!("--leak-bytes-per-hour must be a positive number");
    }
    if !args.refresh_hours.is_finite() || args.refresh_hours <= 0.0 {
        bail!(
            "--refresh-hours must be a positive number of hours, not {}",
            args.refresh_hours
        );
    }
    let state = AppState::new(
        index,
        vendors,
        HttpConfig {
            admin_token: args.admin_token,
            max_body_bytes: args.max_body_bytes,
            max_snapshot_bytes: args.max_snapshot_bytes,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            analysis_limits: AnalysisLimits {
                max_file_bytes: args.max_driver_bytes,
                ..AnalysisLimits::default()
            },
            followed_lists: args.refresh_lists,
            alerts: args.alert_webhook.map(|webhook| AlertConfig {
                webhook,
                every: args.alert_every,
            }),
            list_refresh_interval: Duration::from_secs_f64((args.refresh_hours * 3600.0).max(1.0)),
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
                max_connections: args.max_connections.max(1),
                shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
            },
            ingest_token: args.ingest_token,
            fleet: FleetConfig {
                database_url: args.database_url,
                retention_days: args.retention_days,
                thresholds: Thresholds {
                    leak_bytes_per_hour: args.leak_bytes_per_hour,
                },
            },
        },
    );
    // The fleet database opens (and migrates) at start: a wrong URL stops the server here.
    let database = state
        .fleet
        .database()
        .await
        .context("cannot open the fleet database")?;
    let database_backend = database.backend.as_str();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        data_dir = %args.data.data_dir.display(),
        entries = stats.entries,
        fleet_database = database_backend,
        sources = stats.sources,
        writes = if state.config.admin_token.is_some() { "enabled" } else { "disabled (no admin token)" },
        alerts = state.config.alerts.as_ref().map_or_else(|| "off".to_owned(), |a| format!("{} at most every {} s per host and tag", a.webhook.host_str().unwrap_or("?"), a.every.as_secs())),
        "poolsleuth listening"
    );
    crate::http::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}
