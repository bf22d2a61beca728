//! `poolsleuth export`: one source as a CSV list in the import format, from the local data
//! dir or a running server, to a file or standard output. It only reads: without a data
//! dir, the starter lists built into poolsleuth answer, and none is made.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::{LogArgs, ReadDataDirArg, ReadOnlyKnowledge, init_tracing, shown_dir};
use crate::export::{ListExport, export_source};
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The source's name, as `GET /api/v1/lists` shows it (`poolsleuth-community`, `wdk`,
    /// `driver:SHA256`).
    pub name: String,
    /// Read from a running server (`http://HOST:PORT`) instead of the local data dir.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Write the list to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub data: ReadDataDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let (csv, about) = match &args.server {
        Some(server) => fetch_from_server(server, &args.name).await?,
        None => {
            let data_dir = args.data.data_dir.clone();
            let name = args.name.clone();
            let exported = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let knowledge = ReadOnlyKnowledge::open(
                    &data_dir,
                    &VendorDirectory::embedded(),
                    "export from it with --server URL (no token needed), or stop it first",
                )?;
                Ok((
                    export_source(&knowledge.index, &name)?,
                    knowledge.starter_only,
                ))
            })
            .await??;
            match exported {
                (Some(exported), _) => {
                    let about = describe(&exported);
                    (exported.csv, about)
                }
                (None, starter_only) => bail!(
                    "no source named {:?} in {}",
                    args.name,
                    if starter_only {
                        "the starter lists built into poolsleuth (poolsleuth-default, poolsleuth-community)".to_owned()
                    } else {
                        shown_dir(&args.data.data_dir)
                    }
                ),
            }
        }
    };
    match &args.output {
        Some(path) => {
            tokio::fs::write(path, &csv)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{about}: written to {}", path.display());
            Ok(())
        }
        None => super::write_stdout(&csv),
    }
}

/// `source "wdk" (list, version 10.0.26100, imported 2026-…), 4,712 rows`.
fn describe(exported: &ListExport) -> String {
    let source = &exported.source;
    format!(
        "source {:?} ({}{}, imported {}), {} rows",
        source.name,
        source.kind.as_str(),
        source
            .version
            .as_deref()
            .map(|v| format!(", version {v}"))
            .unwrap_or_default(),
        source.imported_at,
        crate::http::thousands(source.entries)
    )
}

/// The CSV and what the server's headers say of its source.
async fn fetch_from_server(server: &str, name: &str) -> anyhow::Result<(String, String)> {
    let url = super::endpoint(
        &super::server_url(server)?,
        &["api", "v1", "lists", name, "export"],
    )?;
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()?
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let about = format!(
        "source {:?}{}{}",
        header(crate::export::HEADER_SOURCE).unwrap_or_else(|| name.to_owned()),
        header(crate::export::HEADER_SOURCE_VERSION)
            .map(|v| format!(", version {v}"))
            .unwrap_or_default(),
        header(crate::export::HEADER_SOURCE_ENTRIES)
            .map(|n| format!(", {n} rows"))
            .unwrap_or_default(),
    );
    Ok((super::server_answer(response, "export").await?, about))
}
