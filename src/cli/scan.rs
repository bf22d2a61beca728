//! `poolsleuth scan`: analyse a folder of drivers (a copy of System32\drivers, a DriverStore,
//! an extracted driver package) on all cores, and store the results locally or on a server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{DataDirArg, LogArgs, init_tracing, open_index};
use crate::driver::{AnalysisLimits, analyze};
use crate::import::{DriverStoreStatus, store_driver};
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders; folders are walked recursively.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// File extensions taken from folders (files named on the command line are always taken).
    #[arg(long, value_delimiter = ',', default_value = "sys")]
    pub ext: Vec<String>,
    /// Parallel analyses (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Largest driver file analysed, in bytes.
    #[arg(long, env = "POOLSLEUTH_MAX_DRIVER_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_driver_bytes: u64,
    /// Upload to a running server instead of writing the local data dir.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Admin token of that server.
    #[arg(long, env = "POOLSLEUTH_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// No progress bar (for logs and scripts).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

/// What happened to one file.
enum Outcome {
    Stored { tags: Vec<String> },
    Duplicate { tags: Vec<String> },
    Failed(String),
}

pub async fn run(args: ScanArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let files = collect_files(&args.paths, &args.ext)?;
    if files.is_empty() {
        bail!(
            "no driver files (*.{}) under {:?}",
            args.ext.join(", *."),
            args.paths
        );
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let outcomes = match &args.server {
        Some(server) => {
            let token = args.token.clone().context(
                "--server needs --token (or POOLSLEUTH_ADMIN_TOKEN), the server's admin token",
            )?;
            upload_all(server, &token, &files, jobs, &progress).await?
        }
        None => {
            let vendors = Arc::new(VendorDirectory::embedded());
            let index = open_index(&args.data.data_dir, vendors.clone()).await?;
            let limits = AnalysisLimits {
                max_file_bytes: args.max_driver_bytes,
                ..AnalysisLimits::default()
            };
            let files = files.clone();
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || {
                analyse_locally(&files, jobs, &limits, &index, &vendors, &progress)
            })
            .await?
        }
    };
    progress.finish_and_clear();
    let failed = print_summary(&files, &outcomes);
    // A script running a scan must see that something was not analysed.
    if failed > 0 {
        bail!(
            "{failed} of {} driver files could not be analysed (listed above); the others were stored",
            files.len()
        );
    }
    Ok(())
}

fn collect_files(paths: &[PathBuf], extensions: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let wanted = |path: &Path| {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|w| w.eq_ignore_ascii_case(e)))
    };
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            pending.push(path.clone());
        } else {
            files.push(path.clone());
        }
    }
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "folder skipped");
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Symlinks are not followed: a link loop must not make the walk endless.
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() && wanted(&path) => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Analyses on `jobs` threads; storing is serialised by the index's writer.
fn analyse_locally(
    files: &[PathBuf],
    jobs: usize,
    limits: &AnalysisLimits,
    index: &crate::index::SearchIndex,
    vendors: &VendorDirectory,
    progress: &ProgressBar,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(files.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    progress.set_message(file_name(path));
                    let outcome = analyse_one(path, limits, index, vendors);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                    progress.inc(1);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("not analysed".into())))
        .collect()
}

fn analyse_one(
    path: &Path,
    limits: &AnalysisLimits,
    index: &crate::index::SearchIndex,
    vendors: &VendorDirectory,
) -> Outcome {
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(error) => return Outcome::Failed(format!("cannot read: {error}")),
    };
    if size > limits.max_file_bytes {
        return Outcome::Failed(format!(
            "the file is {size} bytes, over the {}-byte limit for driver analysis",
            limits.max_file_bytes
        ));
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::Failed(format!("cannot read: {error}")),
    };
    let analysis = match analyze(&file_name(path), &bytes, limits) {
        Ok(analysis) => analysis,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let tags = analysis.tags.iter().map(|t| t.tag.to_string()).collect();
    match store_driver(index, vendors, analysis) {
        Ok((DriverStoreStatus::Stored, _)) => Outcome::Stored { tags },
        Ok((DriverStoreStatus::Duplicate, _)) => Outcome::Duplicate { tags },
        Err(error) => Outcome::Failed(format!("not stored: {error}")),
    }
}

/// Uploads each file to the server's `POST /api/v1/drivers`, `jobs` at a time.
async fn upload_all(
    server: &str,
    token: &str,
    files: &[PathBuf],
    jobs: usize,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<Outcome>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let url = format!("{}/api/v1/drivers", server.trim_end_matches('/'));
    check_token(&http, &url, token).await?;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut tasks = Vec::with_capacity(files.len());
    for path in files {
        let permit = semaphore.clone().acquire_owned().await?;
        let (http, url, token, path, progress) = (
            http.clone(),
            url.clone(),
            token.to_owned(),
            path.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let outcome = upload_one(&http, &url, &token, &path).await;
            progress.inc(1);
            drop(permit);
            outcome
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await?);
    }
    if let Some(Outcome::Failed(message)) = outcomes.first()
        && (message.contains("HTTP 401") || message.contains("HTTP 403"))
    {
        bail!("the server refused the upload: {message}");
    }
    Ok(outcomes)
}

/// Asks the server whether it takes the token before sending any driver: an empty multipart
/// upload is refused with 401/403 for a bad token and with 400 (nothing to store) for a good one.
/// Without this, a server refusing a large upload early may close the connection while the file
/// is still being sent, and the client sees a broken connection instead of the 401.
async fn check_token(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<()> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new())
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        super::server_answer(response, "upload").await?;
    }
    Ok(())
}

async fn upload_one(http: &reqwest::Client, url: &str, token: &str, path: &Path) -> Outcome {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::Failed(format!("cannot read: {error}")),
    };
    let response = http
        .post(url)
        .query(&[("name", file_name(path))])
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(format!("cannot reach the server: {error}")),
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no details");
        return Outcome::Failed(format!("HTTP {status}: {message}"));
    }
    let file = &body["files"][0];
    let tags = file["analysis"]["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t["tag"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match file["status"].as_str() {
        Some("stored") => Outcome::Stored { tags },
        Some("duplicate") => Outcome::Duplicate { tags },
        _ => Outcome::Failed(file["error"].as_str().unwrap_or("unknown error").to_owned()),
    }
}

/// Prints what was stored and what failed; returns how many failed.
fn print_summary(files: &[PathBuf], outcomes: &[Outcome]) -> usize {
    let mut stored = 0;
    let mut duplicates = 0;
    let mut tags = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (path, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Outcome::Stored { tags: t } => {
                stored += 1;
                tags.extend(t.iter().cloned());
            }
            Outcome::Duplicate { tags: t } => {
                duplicates += 1;
                tags.extend(t.iter().cloned());
            }
            Outcome::Failed(message) => failures.push((path, message)),
        }
    }
    println!(
        "{} drivers: {stored} analysed and stored, {duplicates} already known, {} errors; {} distinct tags found",
        files.len(),
        failures.len(),
        tags.len()
    );
    for (path, message) in &failures {
        println!("  error: {}: {message}", path.display());
    }
    failures.len()
}
