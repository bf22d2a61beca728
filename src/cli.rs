//! Command-line interface: argument types and one `run` per subcommand.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::http::{AppState, HttpConfig};
use crate::import::{ImportReport, ListSource, SeedOutcome, import_list, seed_default};
use crate::index::SearchIndex;
use crate::pooltag_list::ListFormat;
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
    /// Where the knowledge base is kept (created and seeded on first start).
    #[arg(long, env = "POOLSLEUTH_DATA_DIR", default_value = "poolsleuth-data")]
    pub data_dir: PathBuf,
}

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
    #[arg(long, env = "POOLSLEUTH_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds after which a request is abandoned with 408.
    #[arg(long, env = "POOLSLEUTH_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file path or an http(s) URL of the list.
    pub list: String,
    /// Source name the entries are stored under; re-importing the same name replaces them.
    /// Defaults to the file name without extension.
    #[arg(long)]
    pub name: Option<String>,
    /// The list's own version or date, kept as provenance.
    #[arg(long = "list-version")]
    pub list_version: Option<String>,
    /// Force the list format instead of detecting it.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["pooltag", "csv", "tsv"]))]
    pub format: Option<String>,
    /// Send the list to a running server instead of writing the local data dir.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Admin token of that server.
    #[arg(long, env = "POOLSLEUTH_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub fn init_tracing(log: &LogArgs) {
    // tantivy narrates every commit at info level; keep it to warnings unless asked for.
    let directives = if log.log_level.contains("tantivy") {
        log.log_level.clone()
    } else {
        format!("{},tantivy=warn", log.log_level)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Import(args) => import(args).await,
    }
}

/// Opens the index of a data dir and seeds it on first use.
pub async fn open_index(
    data_dir: &Path,
    vendors: Arc<VendorDirectory>,
) -> anyhow::Result<Arc<SearchIndex>> {
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<SearchIndex>> {
        let index = SearchIndex::open(&data_dir)?;
        match seed_default(&index, &vendors)? {
            SeedOutcome::Seeded(n) => tracing::info!(
                entries = n,
                "seeded a new data dir with the embedded default knowledge base"
            ),
            SeedOutcome::Refreshed(n) => {
                tracing::info!(entries = n, "refreshed the embedded default knowledge base")
            }
            SeedOutcome::Unchanged => {}
        }
        Ok(Arc::new(index))
    })
    .await?
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(&args.log);
    let vendors = Arc::new(VendorDirectory::embedded());
    let index = open_index(&args.data.data_dir, vendors.clone()).await?;
    let stats = index.stats()?;
    if args
        .admin_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        bail!("the admin token is empty; set a real secret or leave it unset to disable writes");
    }
    let state = AppState {
        index,
        vendors,
        config: Arc::new(HttpConfig {
            admin_token: args.admin_token,
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
        }),
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        data_dir = %args.data.data_dir.display(),
        entries = stats.entries,
        sources = stats.sources,
        writes = if state.config.admin_token.is_some() { "enabled" } else { "disabled (no admin token)" },
        "poolsleuth listening"
    );
    crate::http::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("shut down cleanly");
    Ok(())
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

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    init_tracing(&args.log);
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_source_name(&args.list),
    };
    let format = args
        .format
        .as_deref()
        .map(str::parse::<ListFormat>)
        .transpose()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let bytes = read_list(&http, &args.list).await?;
    let report = if let Some(server) = &args.server {
        let token = args.token.as_deref().context(
            "--server needs --token (or POOLSLEUTH_ADMIN_TOKEN), the server's admin token",
        )?;
        send_to_server(&http, server, token, &name, &args, format, bytes).await?
    } else {
        let vendors = Arc::new(VendorDirectory::embedded());
        let index = open_index(&args.data.data_dir, vendors.clone()).await?;
        let source = ListSource {
            name,
            version: args.list_version.clone(),
            origin: Some(args.list.clone()),
            format,
        };
        tokio::task::spawn_blocking(move || import_list(&index, &vendors, &source, &bytes))
            .await??
    };
    print_report(&report);
    Ok(())
}

/// `pooltag.txt` → `pooltag`; URLs use their last path segment.
fn default_source_name(list: &str) -> String {
    let last = list
        .trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(list);
    let stem = last.rsplit_once('.').map_or(last, |(stem, _)| stem);
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "imported".into()
    } else {
        cleaned
    }
}

async fn read_list(http: &reqwest::Client, list: &str) -> anyhow::Result<Vec<u8>> {
    if list.starts_with("http://") || list.starts_with("https://") {
        let response = http
            .get(list)
            .send()
            .await
            .with_context(|| format!("cannot fetch {list}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("fetching {list} failed: HTTP {status}");
        }
        Ok(response.bytes().await?.to_vec())
    } else {
        tokio::fs::read(list)
            .await
            .with_context(|| format!("cannot read {list}"))
    }
}

async fn send_to_server(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    name: &str,
    args: &ImportArgs,
    format: Option<ListFormat>,
    bytes: Vec<u8>,
) -> anyhow::Result<ImportReport> {
    let url = format!("{}/api/v1/lists", server.trim_end_matches('/'));
    let mut query = vec![("name", name.to_owned()), ("origin", args.list.clone())];
    if let Some(version) = &args.list_version {
        query.push(("version", version.clone()));
    }
    if let Some(format) = format {
        query.push(("format", format.to_string()));
    }
    let response = http
        .post(&url)
        .query(&query)
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        bail!("the server refused the import (HTTP {status}): {message}");
    }
    serde_json::from_str(&body).context("the server's answer is not an import report")
}

fn print_report(report: &ImportReport) {
    println!(
        "source {:?} ({} format): {} imported, {} replaced, {} lines skipped",
        report.source, report.format, report.imported, report.replaced, report.skipped
    );
    const SHOWN: usize = 20;
    for skipped in report.skipped_lines.iter().take(SHOWN) {
        println!(
            "  line {}: {} | {}",
            skipped.line, skipped.reason, skipped.text
        );
    }
    if report.skipped as usize > SHOWN {
        println!("  … and {} more", report.skipped as usize - SHOWN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_default_to_the_file_stem() {
        assert_eq!(default_source_name("/x/triage/pooltag.txt"), "pooltag");
        assert_eq!(default_source_name(r"C:\lists\my list.csv"), "my-list");
        assert_eq!(
            default_source_name("https://example.com/lists/tags.tsv"),
            "tags"
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
