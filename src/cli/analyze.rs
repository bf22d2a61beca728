//! `poolsleuth analyze`: pool snapshots in, ranked suspect drivers out, as a text table (or
//! JSON), locally against the data dir or through a running server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::multipart::{Form, Part};

use super::{DEFAULT_DATA_DIR, LogArgs, ReadDataDirArg, ReadOnlyKnowledge, init_tracing};
use crate::attribution::{
    AnalyzeOptions, InputFile, KnowledgeView, ScanTarget, analyze, read_inputs, render_text,
};
use crate::causes::CauseBook;
use crate::snapshot::SnapshotFormat;
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Snapshot files (poolmon, !poolused, !verifier, CSV/TSV, markdown, JSON); several files
    /// are one series, put in order by their times, else by their counts since boot, else as
    /// given (the answer says which).
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The loaded-driver list: the PowerShell list with file versions (`drivers.csv`),
    /// `driverquery /v /fo csv`, or their JSON form.
    #[arg(long)]
    pub drivers: Option<String>,
    /// Force the snapshot format instead of detecting it.
    #[arg(long)]
    pub format: Option<String>,
    /// Analyze through a running server instead of the local data dir.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Print the full analysis as JSON instead of the text table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: ReadDataDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub async fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let format = args
        .format
        .as_deref()
        .map(str::parse::<SnapshotFormat>)
        .transpose()?;
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {path}"))?;
        if bytes.starts_with(b"MZ") {
            // The scan goes where this analysis reads: the server asked, or the local data dir.
            let into = match &args.server {
                Some(server) => format!(
                    " --server {server} --token {}",
                    crate::driver_upload::TOKEN_PLACEHOLDER
                ),
                None => String::new(),
            };
            anyhow::bail!(
                "{path}: this is a driver: use poolsleuth scan {path}{into} to find the pool tags it allocates (analyze reads pool snapshots: poolmon, !poolused, …)"
            );
        }
        files.push(InputFile {
            name: Some(file_name(path)),
            bytes,
        });
    }
    let drivers = match &args.drivers {
        Some(path) => Some(
            tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read {path}"))?,
        ),
        None => None,
    };
    // An error about the one file given names it, as an editor would: `snap.txt: line 1: …`.
    let single = (args.files.len() == 1).then(|| args.files[0].clone());
    let output = if let Some(server) = &args.server {
        through_server(server, files, drivers, format, args.json)
            .await
            .map_err(|e| name_the_file(single.as_deref(), e))?
    } else {
        let data_dir = args.data.data_dir.clone();
        let json = args.json;
        tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let vendors = VendorDirectory::embedded();
            let (view, causes) = local_knowledge(&data_dir, &vendors)?;
            let input = read_inputs(&files, drivers.as_deref(), format, &view)
                .map_err(|e| name_the_file(single.as_deref(), e.into()))?;
            // A scan into the data dir this analysis read is what the next one sees.
            let options = AnalyzeOptions {
                causes,
                scan_target: ScanTarget::LocalDataDir(
                    (data_dir != Path::new(DEFAULT_DATA_DIR))
                        .then(|| data_dir.display().to_string()),
                ),
                ..AnalyzeOptions::default()
            };
            let analysis = analyze(&input, &view, &vendors, &options);
            Ok(if json {
                serde_json::to_string_pretty(&analysis)?
            } else {
                render_text(&analysis)
            })
        })
        .await??
    };
    if output.ends_with('\n') {
        super::write_stdout(&output)
    } else {
        super::write_stdout(&format!("{output}\n"))
    }
}

/// The knowledge base a local analysis answers from (said on stderr), never made here.
fn local_knowledge(
    data_dir: &Path,
    vendors: &VendorDirectory,
) -> anyhow::Result<(KnowledgeView, Arc<CauseBook>)> {
    let knowledge = ReadOnlyKnowledge::open(
        data_dir,
        vendors,
        "use --server URL (or set POOLSLEUTH_SERVER) to analyze through it; an analysis needs no token",
    )?;
    Ok((
        KnowledgeView::load(&knowledge.index)?,
        knowledge.index.causes().book(),
    ))
}

/// Puts the file's path before an error about it, unless the error already names it.
fn name_the_file(single: Option<&str>, error: anyhow::Error) -> anyhow::Error {
    match single {
        Some(path) if !format!("{error:#}").starts_with(&format!("{}:", file_name(path))) => {
            error.context(path.to_owned())
        }
        _ => error,
    }
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

pub(super) async fn through_server(
    server: &str,
    files: Vec<InputFile>,
    drivers: Option<Vec<u8>>,
    format: Option<SnapshotFormat>,
    json: bool,
) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let url = super::endpoint(&super::server_url(server)?, &["api", "v1", "analyze"])?;
    let mut query = vec![("output", if json { "json" } else { "text" })];
    if let Some(format) = format {
        query.push(("format", format.name()));
    }
    // One part per snapshot file (a series), `drivers` for the driver list.
    // File names go as written (the server shows them in the report), minus what would break
    // the part header.
    let mut form = Form::new().percent_encode_noop();
    for (i, file) in files.into_iter().enumerate() {
        let name: String = file
            .name
            .unwrap_or_else(|| format!("snapshot-{i}"))
            .chars()
            .map(|c| {
                if c == '"' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        form = form.part(
            format!("snapshot{i}"),
            Part::bytes(file.bytes).file_name(name),
        );
    }
    if let Some(drivers) = drivers {
        form = form.part("drivers", Part::bytes(drivers).file_name("drivers.csv"));
    }
    let response = http
        .post(url.clone())
        .query(&query)
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let body = super::server_answer(response, "analysis").await?;
    Ok(if json {
        // Pretty-print for people; the server sends it compact. (serde_json's `preserve_order`
        // keeps the fields in the order a local analysis prints them.)
        serde_json::from_str::<serde_json::Value>(&body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or(body)
    } else {
        body
    })
}
