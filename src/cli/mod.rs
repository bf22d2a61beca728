//! Command-line interface: the subcommand enum, shared arguments, and one module per
//! subcommand with its own `run`.

mod analyze;
mod export;
mod healthcheck;
mod import;
mod scan;
mod serve;

pub use analyze::AnalyzeArgs;
pub use export::ExportArgs;
pub use healthcheck::HealthcheckArgs;
pub use import::ImportArgs;
pub use scan::ScanArgs;
pub use serve::ServeArgs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::import::{SeedOutcome, seed_embedded_lists};
use crate::index::{IndexError, SearchIndex};
use crate::vendor::VendorDirectory;

#[derive(Debug, Parser)]
#[command(
    name = "poolsleuth",
    version,
    about = "Which driver is leaking kernel pool memory, who makes it, and what to do about it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service (browser pages and JSON API).
    Serve(ServeArgs),
    /// Import a pooltag.txt-style or CSV/TSV tag list from a file or URL.
    Import(ImportArgs),
    /// Write one source as a CSV list in the import format (to import on another server).
    Export(ExportArgs),
    /// Rank the drivers behind a pool leak from poolmon, !poolused or other snapshots.
    Analyze(AnalyzeArgs),
    /// Analyze driver files (.sys) for vendor, version, signer and the pool tags they use.
    Scan(ScanArgs),
    /// Check that a running server answers (for container health checks).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(
        long,
        env = "POOLSLEUTH_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,
    /// Log level or tracing filter (e.g. `info`, `poolsleuth=debug,tower_http=info`).
    #[arg(long, env = "POOLSLEUTH_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// Where the knowledge base is kept (created and seeded on first start); a relative path,
    /// such as the default, is relative to the working directory.
    #[arg(long, env = "POOLSLEUTH_DATA_DIR", default_value = "poolsleuth-data")]
    pub data_dir: PathBuf,
}

/// Installs the log subscriber. Lines are written by a background thread (a request never
/// waits on stderr); keep the returned guard alive until exit so the last lines are flushed.
#[must_use = "dropping the guard stops the log writer"]
pub fn init_tracing(log: &LogArgs) -> tracing_appender::non_blocking::WorkerGuard {
    // tantivy narrates every commit at info level; keep it to warnings unless asked for.
    let directives = if log.log_level.contains("tantivy") {
        log.log_level.clone()
    } else {
        format!("{},tantivy=warn", log.log_level)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(use_colour())
        .with_writer(writer);
    let _ = match log.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    guard
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Analyze(args) => analyze::run(args).await,
        Command::Scan(args) => scan::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

/// Opens the index of a data dir and seeds it on first use.
pub async fn open_index(
    data_dir: &Path,
    vendors: Arc<VendorDirectory>,
) -> anyhow::Result<Arc<SearchIndex>> {
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<SearchIndex>> {
        let index = open_retrying_the_lock(&data_dir)?;
        for (source, outcome) in seed_embedded_lists(&index, &vendors)? {
            match outcome {
                SeedOutcome::Seeded(n) => {
                    tracing::info!(source, entries = n, "seeded an embedded tag list")
                }
                SeedOutcome::Refreshed(n) => {
                    tracing::info!(source, entries = n, "refreshed an embedded tag list")
                }
                SeedOutcome::NameTaken => tracing::warn!(
                    source,
                    "an imported source has the name of an embedded list; it is kept and the embedded list is not seeded"
                ),
                SeedOutcome::Unchanged => {}
            }
        }
        Ok(Arc::new(index))
    })
    .await?
}

/// How long opening the data directory retries its lock. A process just killed with
/// `kill -9` can hold it for a moment more (until the kernel has closed its files), so a
/// restart straight after waits instead of refusing.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

fn open_retrying_the_lock(data_dir: &Path) -> Result<SearchIndex, IndexError> {
    let deadline = std::time::Instant::now() + LOCK_RETRY;
    loop {
        match SearchIndex::open(data_dir) {
            Err(IndexError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            opened => return opened,
        }
    }
}

/// Colour only for a person at a terminal: not when the output goes to a file or a pipe, and
/// not when `NO_COLOR` is set (<https://no-color.org>).
pub fn use_colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
}

/// The body of a server's answer, or an error carrying the server's own message (our API
/// answers errors as `{"error": {"message": ...}}`).
async fn server_answer(response: reqwest::Response, what: &str) -> anyhow::Result<String> {
    let status = response.status();
    let body = response.text().await?;
    if status.is_success() {
        return Ok(body);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        anyhow::bail!(
            "the server refused the token: give the admin token the server was started with (--token or POOLSLEUTH_ADMIN_TOKEN)"
        )
    }
    // A JSON error, or a text one (`error: …`) when text was asked for.
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            let text = body.trim_end();
            text.strip_prefix("error: ").unwrap_or(text).to_owned()
        });
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        // The server read what was sent and says what is wrong with it, as a local run would.
        anyhow::bail!("{message}")
    }
    anyhow::bail!("the server refused the {what} (HTTP {status}): {message}")
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (docker stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
