//! Command-line interface: the subcommand enum, shared arguments, and one module per
//! subcommand with its own `run`.

mod analyze;
mod collect;
mod export;
mod fleet;
mod healthcheck;
mod import;
mod scan;
mod serve;

pub use analyze::AnalyzeArgs;
pub use collect::CollectArgs;
pub use export::ExportArgs;
pub use fleet::FleetArgs;
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
    about = "Which driver is leaking kernel pool memory, who makes it, and what to do about it.",
    long_about = "Which driver is leaking kernel pool memory, who makes it, and what to do about it.\n\npoolsleuth keeps a knowledge base of Windows pool tags (Microsoft's pooltag.txt, its starter lists, lists you import and the drivers you scan) and reads pool snapshots (poolmon, !poolused) to rank the drivers behind what grows. Start the web service with `poolsleuth serve`, or use the commands below from a terminal."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service: the search, analysis and upload pages and the JSON API, on the
    /// knowledge base in the data directory.
    Serve(ServeArgs),
    /// Import a tag list (the WDK's pooltag.txt, or CSV/TSV) from a file or URL into the
    /// knowledge base, so its tags are known.
    Import(ImportArgs),
    /// Write one source of the knowledge base as a CSV list in the import format, to import
    /// on another server.
    Export(ExportArgs),
    /// Name the driver behind a kernel pool leak: reads poolmon, !poolused or other pool
    /// snapshots (several hours apart for growth) and ranks the drivers, with what to do.
    Analyze(AnalyzeArgs),
    /// Find the pool tags driver files (.sys) allocate, with vendor, version and signer, and
    /// add them to the knowledge base, for tags no list knows.
    Scan(ScanArgs),
    /// On the leaking Windows machine: read the kernel's pool tags and the loaded drivers with
    /// their versions (no poolmon, no WDK), and write them as files (`--out DIR`) or send them
    /// to a server's analysis (`--server URL`), once or `--every 15m`.
    Collect(CollectArgs),
    /// Fleet watch tools: `fleet simulate` sends a synthetic fleet of hosts through a
    /// server's fleet ingest.
    Fleet(FleetArgs),
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
    /// Where the knowledge base is kept; made and seeded with the starter lists when missing
    /// (the command says so). A relative path, such as the default, is relative to the
    /// working directory.
    #[arg(long, env = "POOLSLEUTH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// The data directory of a command that only reads.
#[derive(Debug, Args)]
pub struct ReadDataDirArg {
    /// The knowledge base to read; never made by this command: without one, the starter lists
    /// built into poolsleuth answer. A relative path, such as the default, is relative to the
    /// working directory.
    #[arg(long, env = "POOLSLEUTH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

pub const DEFAULT_DATA_DIR: &str = "poolsleuth-data";

/// A data directory as a person reads it: a relative path says what it is relative to.
pub fn shown_dir(data_dir: &Path) -> String {
    if data_dir.is_relative() {
        format!("{} (relative to the working directory)", data_dir.display())
    } else {
        data_dir.display().to_string()
    }
}

/// The server a command talks to, from `--server`: `host:port` without a scheme means
/// `http://host:port`.
pub fn server_url(server: &str) -> anyhow::Result<reqwest::Url> {
    let server = server.trim().trim_end_matches('/');
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| {
        anyhow::anyhow!("--server {server:?} is not a server address ({e}): give http://HOST:PORT")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        anyhow::bail!("--server {server:?} is not a server address: give http://HOST:PORT");
    }
    Ok(url)
}

/// `url` with `segments` added to its path (each one percent-encoded as needed).
pub fn endpoint(server: &reqwest::Url, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
    let mut url = server.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("{server} is not a server URL"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Writes to standard output. A reader that went away (`poolsleuth export … | head -2`) wants
/// no more of it: that ends the command quietly, with success, instead of a panic.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// What a command writing a data directory says when another process holds it.
#[derive(Debug, Clone, Copy)]
pub enum Writer {
    Serve,
    Import,
    Scan,
}

impl Writer {
    fn when_locked(self) -> &'static str {
        match self {
            Self::Serve => {
                "stop the other process first, or start this server on another --data-dir"
            }
            Self::Import => {
                "import through the running server instead: poolsleuth import FILE --server URL --token TOKEN (or stop it first)"
            }
            Self::Scan => {
                "scan into the running server instead: poolsleuth scan PATH --server URL --token TOKEN (or stop it first)"
            }
        }
    }
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
        Command::Collect(args) => collect::run(args).await,
        Command::Fleet(args) => fleet::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

/// Opens the index of a data dir and seeds it on first use, saying on stderr when it makes
/// one; `writer` says what to do when another process holds it.
pub async fn open_index(
    data_dir: &Path,
    vendors: Arc<VendorDirectory>,
    writer: Writer,
) -> anyhow::Result<Arc<SearchIndex>> {
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<SearchIndex>> {
        let new = !data_dir.join("index").is_dir();
        let index = match open_retrying_the_lock(&data_dir) {
            Err(e @ IndexError::Locked(_)) => {
                anyhow::bail!("{e}: {}", writer.when_locked())
            }
            opened => opened?,
        };
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
        if new {
            let entries = index.entry_count()?;
            match writer {
                // The server says it in its log, whose lines a log shipper may read as JSON.
                Writer::Serve => tracing::info!(
                    data_dir = %data_dir.display(),
                    entries,
                    "made a new knowledge base, seeded with the starter lists"
                ),
                Writer::Import | Writer::Scan => eprintln!(
                    "poolsleuth: made a new knowledge base at {} ({} entries from the starter lists built into poolsleuth); --data-dir or POOLSLEUTH_DATA_DIR chooses another",
                    shown_dir(&data_dir),
                    crate::http::thousands(entries)
                ),
            }
        }
        Ok(Arc::new(index))
    })
    .await?
}

/// A knowledge base for a command that only reads (`analyze`, `export`): the data directory
/// when there is one, else the starter lists built into the binary in a scratch index
/// removed on drop. Never makes a data directory; says on stderr which one answers.
pub struct ReadOnlyKnowledge {
    pub index: SearchIndex,
    /// Whether the starter lists answer, for lack of a data directory.
    pub starter_only: bool,
    _scratch: Option<ScratchDir>,
}

impl ReadOnlyKnowledge {
    /// `locked`: what to do when a running server holds the data directory.
    pub fn open(data_dir: &Path, vendors: &VendorDirectory, locked: &str) -> anyhow::Result<Self> {
        let shown = shown_dir(data_dir);
        if !data_dir.join("index").is_dir() {
            let scratch = ScratchDir::new()?;
            let index = SearchIndex::open(&scratch.0)?;
            seed_embedded_lists(&index, vendors)?;
            eprintln!(
                "poolsleuth: no knowledge base at {shown}: answering from the starter lists built into poolsleuth ({} entries). To answer from a server's knowledge base, add --server URL or set POOLSLEUTH_SERVER.",
                crate::http::thousands(index.entry_count()?)
            );
            return Ok(Self {
                index,
                starter_only: true,
                _scratch: Some(scratch),
            });
        }
        let index = match SearchIndex::open(data_dir) {
            Err(IndexError::Locked(_)) => anyhow::bail!(
                "the knowledge base at {shown} is held by a running poolsleuth server: {locked}"
            ),
            opened => opened?,
        };
        eprintln!(
            "poolsleuth: answering from the knowledge base at {shown} ({} entries). To ask a server instead, add --server URL or set POOLSLEUTH_SERVER.",
            crate::http::thousands(index.entry_count()?)
        );
        Ok(Self {
            index,
            starter_only: false,
            _scratch: None,
        })
    }
}

/// A directory under the system's temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "poolsleuth-scratch-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&path).map_err(|e| {
            anyhow::anyhow!("cannot make a scratch directory {}: {e}", path.display())
        })?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
