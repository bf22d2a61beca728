//! `poolsleuth analyze`: pool snapshots in, ranked suspect drivers out, as a text table (or
//! JSON), locally against the data dir or through a running server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::multipart::{Form, Part};

use super::{DataDirArg, LogArgs, init_tracing, open_index};
use crate::attribution::{
    AnalyzeOptions, InputFile, KnowledgeView, analyze, read_inputs, render_text,
};
use crate::snapshot::SnapshotFormat;
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Snapshot files (poolmon, !poolused, !verifier, CSV/TSV, markdown, JSON); several files
    /// are one series, oldest first unless the snapshots carry times.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The loaded-driver list (`driverquery /v /fo csv` or JSON).
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
    pub data: DataDirArg,
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
    let output = if let Some(server) = &args.server {
        through_server(server, files, drivers, format, args.json).await?
    } else {
        let vendors = Arc::new(VendorDirectory::embedded());
        let index = open_index(&args.data.data_dir, vendors.clone()).await?;
        let json = args.json;
        tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let input = read_inputs(&files, drivers.as_deref(), format)?;
            let view = KnowledgeView::load(&index)?;
            let analysis = analyze(&input, &view, &vendors, &AnalyzeOptions::default());
            Ok(if json {
                serde_json::to_string_pretty(&analysis)?
            } else {
                render_text(&analysis)
            })
        })
        .await??
    };
    print!("{output}");
    if !output.ends_with('\n') {
        println!();
    }
    Ok(())
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

async fn through_server(
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
    let url = format!("{}/api/v1/analyze", server.trim_end_matches('/'));
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
        .post(&url)
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
