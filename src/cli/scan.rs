//! `poolsleuth scan`: analyse a folder of drivers (a copy of System32\drivers, a DriverStore,
//! an extracted driver package) on all cores, and store the results locally or on a server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{DataDirArg, LogArgs, Writer, init_tracing, open_index};
use crate::driver::authenticode::SignatureStatus;
use crate::driver::authenticode::catalog::{self, Catalog};
use crate::driver::identity::sha256_hex;
use crate::driver::{AnalysisLimits, DriverAnalysis, analyze_hashed};
use crate::import::{DriverBatch, DriverStoreStatus, ImportError, known_driver, store_catalogs};
use crate::index::{IndexError, SearchIndex};
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders; folders are walked recursively.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// File extensions taken from folders (files named on the command line are always taken);
    /// `.cat` files are catalogs, which sign Windows' own drivers.
    #[arg(long, value_delimiter = ',', default_value = "sys,cat")]
    pub ext: Vec<String>,
    /// Parallel analyses (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Largest driver file analyzed, in bytes.
    #[arg(long, env = "POOLSLEUTH_MAX_DRIVER_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_driver_bytes: u64,
    /// Upload to a running server (`http://HOST:PORT`) instead of writing the local data dir.
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
#[derive(Clone)]
enum Outcome {
    Stored {
        tags: Vec<String>,
    },
    Duplicate {
        tags: Vec<String>,
    },
    Failed(String),
    /// A catalog (`.cat`), stored or known: whether its signature verifies, and how many
    /// files it lists.
    Catalog {
        valid: bool,
        members: usize,
    },
    /// Analyzed, but the data disk was full (the message says how much is free): nothing is
    /// wrong with the file, and a scan once space is free stores it.
    DiskFull(String),
}

impl Outcome {
    /// A file whose storing failed: for want of space, or for another reason.
    fn not_stored(error: &ImportError) -> Self {
        match error {
            ImportError::Index(IndexError::DiskFull { .. }) => Self::DiskFull(error.to_string()),
            _ => Self::Failed(format!("not stored: {error}")),
        }
    }
}

pub async fn run(args: ScanArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let files = collect_files(&args.paths, &args.ext)?;
    if files.is_empty() {
        bail!("{}", no_drivers_message(&args.paths, &args.ext));
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
    // Catalogs first: the drivers they list are then marked catalog-signed as they are stored
    // (the other order works too, at the cost of rewriting the drivers already stored).
    let (catalogs, drivers): (Vec<PathBuf>, Vec<PathBuf>) =
        files.iter().cloned().partition(|p| is_catalog_file(p));
    let files: Vec<PathBuf> = catalogs.iter().chain(&drivers).cloned().collect();
    let mut catalogs_updated = 0;
    let outcomes = match &args.server {
        Some(server) => {
            let token = args.token.clone().context(
                "--server needs --token (or POOLSLEUTH_ADMIN_TOKEN), the server's admin token",
            )?;
            let mut outcomes = upload_all(server, &token, &catalogs, jobs, &progress).await?;
            outcomes.extend(upload_all(server, &token, &drivers, jobs, &progress).await?);
            outcomes
        }
        None => {
            let vendors = Arc::new(VendorDirectory::embedded());
            let index = open_index(&args.data.data_dir, vendors.clone(), Writer::Scan).await?;
            let limits = AnalysisLimits {
                max_file_bytes: args.max_driver_bytes,
                ..AnalysisLimits::default()
            };
            let progress = progress.clone();
            let (outcomes, updated) = tokio::task::spawn_blocking(move || {
                let (mut outcomes, updated) =
                    store_catalogs_locally(&catalogs, jobs, &index, &vendors, &progress);
                outcomes.extend(analyse_locally(
                    &drivers, jobs, &limits, &index, &vendors, &progress,
                ));
                (outcomes, updated)
            })
            .await?;
            catalogs_updated = updated;
            outcomes
        }
    };
    progress.finish_and_clear();
    let failed = print_summary(&files, &outcomes, catalogs_updated);
    if let Some(full) = outcomes.iter().find_map(|o| match o {
        Outcome::DiskFull(message) => Some(message),
        _ => None,
    }) {
        let stored = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Stored { .. }))
            .count();
        bail!(
            "stored {stored} of {} driver files because {full}; scan again once space is free",
            files.len()
        );
    }
    // A script running a scan must see that something was not analyzed.
    if failed > 0 {
        bail!(
            "{failed} of {} driver files could not be analyzed (listed above); the others were stored",
            files.len()
        );
    }
    Ok(())
}

/// Says in words that there was nothing to scan, where it looked, and what to do.
fn no_drivers_message(paths: &[PathBuf], extensions: &[String]) -> String {
    let places: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let kinds: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
    format!(
        "No drivers to scan: {} holds no {} files (subfolders included). Point scan at a folder of drivers, such as a copy of C:\\Windows\\System32\\drivers, or name other file extensions with --ext.",
        places.join(", "),
        kinds.join(" or ")
    )
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

/// A catalog goes by its extension (`.cat`), as in `System32\CatRoot`.
fn is_catalog_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("cat"))
}

/// Reads and checks the catalogs on `jobs` threads, then stores them in one go; one outcome
/// per file, and how many stored drivers they made catalog-signed.
fn store_catalogs_locally(
    files: &[PathBuf],
    jobs: usize,
    index: &SearchIndex,
    vendors: &VendorDirectory,
    progress: &ProgressBar,
) -> (Vec<Outcome>, usize) {
    if files.is_empty() {
        return (Vec::new(), 0);
    }
    let read = |path: &PathBuf| -> Result<Catalog, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
        let sha256 = sha256_hex(&bytes);
        catalog::read(&file_name(path), &bytes, sha256).map_err(|e| e.to_string())
    };
    let chunk = files.len().div_ceil(jobs.max(1));
    let results: Vec<Result<Catalog, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let worker = scope.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let r = read(p);
                            progress.inc(1);
                            r
                        })
                        .collect::<Vec<_>>()
                });
                (part.len(), worker)
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|(count, w)| {
                w.join()
                    .unwrap_or_else(|_| vec![Err("the catalog reader failed".into()); count])
            })
            .collect()
    });
    let readable: Vec<Catalog> = results.iter().filter_map(|r| r.clone().ok()).collect();
    let stored = store_catalogs(index, vendors, &readable);
    let updated = stored.as_ref().map_or(0, |(_, r)| r.drivers_updated);
    let outcomes = results
        .into_iter()
        .map(|r| match (r, &stored) {
            (Err(message), _) => Outcome::Failed(message),
            (Ok(_), Err(error)) => Outcome::not_stored(error),
            (Ok(c), Ok(_)) => Outcome::Catalog {
                valid: c.signature.status == SignatureStatus::Valid,
                members: c.members.len(),
            },
        })
        .collect();
    (outcomes, updated)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A batch is committed once it holds this many new drivers...
const BATCH_FILES: usize = 64;
/// ...or once its oldest driver has waited this long, so a crash loses little work.
const BATCH_WAIT: Duration = Duration::from_secs(2);

/// What a worker made of one file: an outcome already, or an analysis for the storer.
enum Analyzed {
    Done(Outcome),
    New(Box<DriverAnalysis>),
}

/// Analyses on `jobs` threads while this thread stores what they find, one index commit per
/// batch of new drivers (see [`DriverBatch`]).
fn analyse_locally(
    files: &[PathBuf],
    jobs: usize,
    limits: &AnalysisLimits,
    index: &SearchIndex,
    vendors: &VendorDirectory,
    progress: &ProgressBar,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<Option<Outcome>> = (0..files.len()).map(|_| None).collect();
    let (sender, receiver) = mpsc::channel::<(usize, Analyzed)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(files.len()) {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    progress.set_message(file_name(path));
                    if sender.send((i, analyze_one(path, limits, index))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut batch = DriverBatch::default();
        // Indexes of the files in the batch, with the tags they will have stored.
        let mut in_batch: Vec<(usize, Vec<String>)> = Vec::new();
        let mut batch_started = Instant::now();
        loop {
            let received = if batch.is_empty() {
                receiver.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                receiver.recv_timeout(BATCH_WAIT.saturating_sub(batch_started.elapsed()))
            };
            match received {
                Ok((i, Analyzed::Done(outcome))) => {
                    outcomes[i] = Some(outcome);
                    progress.inc(1);
                }
                Ok((i, Analyzed::New(analysis))) => {
                    let tags = tag_names(&analysis);
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    match batch.add(index, vendors, *analysis) {
                        // Reported once its batch is committed.
                        Ok((DriverStoreStatus::Stored, _)) => in_batch.push((i, tags)),
                        Ok((DriverStoreStatus::Duplicate, _)) => {
                            outcomes[i] = Some(Outcome::Duplicate { tags });
                            progress.inc(1);
                        }
                        Err(error) => {
                            outcomes[i] = Some(Outcome::not_stored(&error));
                            progress.inc(1);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    commit_batch(&mut batch, &mut in_batch, index, &mut outcomes, progress);
                    break;
                }
            }
            if batch.len() >= BATCH_FILES
                || (!batch.is_empty() && batch_started.elapsed() >= BATCH_WAIT)
            {
                commit_batch(&mut batch, &mut in_batch, index, &mut outcomes, progress);
            }
        }
    });
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("not analyzed".into())))
        .collect()
}

/// Commits a batch; its files are stored, or all fail with the commit's error.
fn commit_batch(
    batch: &mut DriverBatch,
    in_batch: &mut Vec<(usize, Vec<String>)>,
    index: &SearchIndex,
    outcomes: &mut [Option<Outcome>],
    progress: &ProgressBar,
) {
    let committed = batch.commit(index);
    for (i, tags) in in_batch.drain(..) {
        outcomes[i] = Some(match &committed {
            Ok(()) => Outcome::Stored { tags },
            Err(error) => Outcome::not_stored(error),
        });
        progress.inc(1);
    }
}

fn tag_names(analysis: &DriverAnalysis) -> Vec<String> {
    analysis.tags.iter().map(|t| t.tag.to_string()).collect()
}

/// Reads and hashes one file; a file the index knows is done without analysis.
fn analyze_one(path: &Path, limits: &AnalysisLimits, index: &SearchIndex) -> Analyzed {
    let failed = |message: String| Analyzed::Done(Outcome::Failed(message));
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(error) => return failed(format!("cannot read: {error}")),
    };
    if size > limits.max_file_bytes {
        return failed(format!(
            "the file is {size} bytes, over the {}-byte limit for driver analysis",
            limits.max_file_bytes
        ));
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return failed(format!("cannot read: {error}")),
    };
    let sha256 = sha256_hex(&bytes);
    match known_driver(index, &sha256) {
        Ok(Some(known)) => {
            let tags = known.driver.as_deref().map(tag_names).unwrap_or_default();
            return Analyzed::Done(Outcome::Duplicate { tags });
        }
        Ok(None) => {}
        Err(error) => return failed(format!("cannot look the file up: {error}")),
    }
    match analyze_hashed(&file_name(path), &bytes, sha256, limits) {
        Ok(analysis) => Analyzed::New(Box::new(analysis)),
        Err(error) => failed(error.to_string()),
    }
}

/// Most files one upload request carries: the server commits a request's new drivers together.
const UPLOAD_FILES: usize = 16;
/// Most bytes of files one upload request carries (a larger file goes alone).
const UPLOAD_BYTES: u64 = 32 * 1024 * 1024;

/// Splits the files into upload requests: at most [`UPLOAD_FILES`] files and [`UPLOAD_BYTES`]
/// each, and no more files per request than it takes to keep `jobs` requests busy. `sizes` are
/// the file sizes; the result holds index ranges into them, in order.
fn upload_batches(sizes: &[u64], jobs: usize) -> Vec<std::ops::Range<usize>> {
    let per_request = sizes.len().div_ceil(jobs.max(1)).clamp(1, UPLOAD_FILES);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && (i - start == per_request || bytes + size > UPLOAD_BYTES) {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    batches
}

/// Uploads the files to the server's `POST /api/v1/drivers`, several per request (see
/// [`upload_batches`]), `jobs` requests at a time.
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
    let url = super::endpoint(&super::server_url(server)?, &["api", "v1", "drivers"])?.to_string();
    check_token(&http, &url, token).await?;
    let sizes: Vec<u64> = files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut tasks = Vec::new();
    for batch in upload_batches(&sizes, jobs) {
        let permit = semaphore.clone().acquire_owned().await?;
        let (http, url, token, paths, progress) = (
            http.clone(),
            url.clone(),
            token.to_owned(),
            files[batch].to_vec(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let outcomes = upload_batch(&http, &url, &token, &paths).await;
            progress.inc(paths.len() as u64);
            drop(permit);
            outcomes
        }));
    }
    let mut outcomes = Vec::with_capacity(files.len());
    for task in tasks {
        outcomes.extend(task.await?);
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

/// Uploads some files as one multipart request; one outcome per file, in order. A server whose
/// body limit (413) or request timeout (408) the request exceeds gets the files one by one
/// instead.
async fn upload_batch(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    paths: &[PathBuf],
) -> Vec<Outcome> {
    let (outcomes, too_much) = upload_files(http, url, token, paths).await;
    if !too_much || paths.len() == 1 {
        return outcomes;
    }
    let mut alone = Vec::with_capacity(paths.len());
    for path in paths {
        let (outcome, _) = upload_files(http, url, token, std::slice::from_ref(path)).await;
        alone.extend(outcome);
    }
    alone
}

/// One multipart request with the files that can be read; their outcomes in order, and whether
/// the server found the request too large or too long.
async fn upload_files(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    paths: &[PathBuf],
) -> (Vec<Outcome>, bool) {
    let mut outcomes: Vec<Option<Outcome>> = paths.iter().map(|_| None).collect();
    let mut form = reqwest::multipart::Form::new();
    let mut sent = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        match tokio::fs::read(path).await {
            Ok(bytes) => {
                let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name(path));
                form = form.part("files", part);
                sent.push(i);
            }
            Err(error) => outcomes[i] = Some(Outcome::Failed(format!("cannot read: {error}"))),
        }
    }
    let mut too_much = false;
    if !sent.is_empty() {
        let answers = match http
            .post(url)
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
        {
            Ok(response) => {
                too_much = matches!(
                    response.status(),
                    reqwest::StatusCode::PAYLOAD_TOO_LARGE | reqwest::StatusCode::REQUEST_TIMEOUT
                );
                answers_of(response, sent.len()).await
            }
            Err(error) => failed_all(sent.len(), format!("cannot reach the server: {error}")),
        };
        for (i, outcome) in sent.into_iter().zip(answers) {
            outcomes[i] = Some(outcome);
        }
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("no answer from the server".into())))
        .collect();
    (outcomes, too_much)
}

fn failed_all(count: usize, message: String) -> Vec<Outcome> {
    (0..count)
        .map(|_| Outcome::Failed(message.clone()))
        .collect()
}

/// The server's outcome for each of the `count` files of an upload, in order, or the request's
/// failure for all.
async fn answers_of(response: reqwest::Response, count: usize) -> Vec<Outcome> {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no details");
        if status == reqwest::StatusCode::INSUFFICIENT_STORAGE {
            let full = Outcome::DiskFull(format!("on the server, {message}"));
            return (0..count).map(|_| full.clone()).collect();
        }
        return failed_all(count, format!("HTTP {status}: {message}"));
    }
    let files = body["files"].as_array().map_or(&[][..], Vec::as_slice);
    (0..count)
        .map(|i| match files.get(i) {
            Some(file) => file_outcome(file),
            None => Outcome::Failed("the server's answer lists fewer files than were sent".into()),
        })
        .collect()
}

/// One file's entry of the server's upload report.
fn file_outcome(file: &serde_json::Value) -> Outcome {
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
        Some("catalog") => Outcome::Catalog {
            valid: file["catalog"]["signature"]["status"] == "valid",
            members: file["catalog"]["members"].as_u64().unwrap_or(0) as usize,
        },
        _ => Outcome::Failed(file["error"].as_str().unwrap_or("unknown error").to_owned()),
    }
}

/// Prints what was stored and what failed; returns how many failed.
fn print_summary(files: &[PathBuf], outcomes: &[Outcome], catalogs_updated: usize) -> usize {
    let mut catalogs = 0;
    let mut valid_catalogs = 0;
    let mut members = 0;
    let mut stored = 0;
    let mut duplicates = 0;
    let mut tags = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    let mut not_stored = 0;
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
            Outcome::Catalog { valid, members: m } => {
                catalogs += 1;
                if *valid {
                    valid_catalogs += 1;
                    members += m;
                }
            }
            // Said once, after the summary.
            Outcome::DiskFull(_) => not_stored += 1,
        }
    }
    let not_stored = if not_stored > 0 {
        format!(", {not_stored} analyzed but not stored (the data disk is full)")
    } else {
        String::new()
    };
    let mut out = format!(
        "{} drivers: {stored} analyzed and stored, {duplicates} already known{not_stored}, {} errors; {} distinct tags found\n",
        files.len() - catalogs,
        failures.len(),
        tags.len()
    );
    if catalogs > 0 {
        let updated = if catalogs_updated > 0 {
            format!("; {catalogs_updated} drivers stored before are now catalog-signed")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{catalogs} catalogs: {valid_catalogs} with a valid signature, listing {members} file hashes{updated}\n"
        ));
    }
    for (path, message) in &failures {
        out.push_str(&format!("  error: {}: {message}\n", path.display()));
    }
    // A reader that went away (`| head`) ends the command quietly.
    let _ = super::write_stdout(&out);
    failures.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_carry_several_files_per_request() {
        // 15 small files, two requests at a time: two requests of 8 and 7 files.
        assert_eq!(upload_batches(&[1_000; 15], 2), vec![0..8, 8..15]);
        // Never more than UPLOAD_FILES per request.
        let batches = upload_batches(&[1_000; 450], 2);
        assert_eq!(batches.len(), 450usize.div_ceil(UPLOAD_FILES));
        assert!(batches.iter().all(|b| b.len() <= UPLOAD_FILES));
        // Nor more than UPLOAD_BYTES, except a single larger file, which goes alone.
        let mib = 1024 * 1024;
        let sizes = [20 * mib, 20 * mib, 40 * mib, mib];
        assert_eq!(upload_batches(&sizes, 1), vec![0..1, 1..2, 2..3, 3..4]);
        assert_eq!(upload_batches(&[], 4), Vec::<std::ops::Range<usize>>::new());
    }
}
