//! `poolsleuth export`: one source as a CSV list in the import format, from the local data
//! dir or a running server, to a file or standard output.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::{DataDirArg, LogArgs, init_tracing, open_index};
use crate::export::export_source;
use crate::vendor::VendorDirectory;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The source's name, as `GET /api/v1/lists` shows it (`poolsleuth-community`, `wdk`,
    /// `driver:SHA256`).
    pub name: String,
    /// Read from a running server instead of the local data dir.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Write the list to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub log: LogArgs,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
    let csv = match &args.server {
        Some(server) => fetch_from_server(server, &args.name).await?,
        None => {
            let vendors = Arc::new(VendorDirectory::embedded());
            let index = open_index(&args.data.data_dir, vendors).await?;
            let name = args.name.clone();
            match tokio::task::spawn_blocking(move || export_source(&index, &name)).await?? {
                Some(exported) => exported.csv,
                None => bail!(
                    "no source named {:?} in {}",
                    args.name,
                    args.data.data_dir.display()
                ),
            }
        }
    };
    match &args.output {
        Some(path) => {
            tokio::fs::write(path, &csv)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?;
            let rows = csv.lines().filter(|l| !l.starts_with('#')).count() - 1;
            eprintln!(
                "source {:?}: {rows} rows written to {}",
                args.name,
                path.display()
            );
        }
        None => print!("{csv}"),
    }
    Ok(())
}

async fn fetch_from_server(server: &str, name: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(server.trim_end_matches('/'))
        .with_context(|| format!("{server:?} is not a server URL"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("{server:?} is not a server URL"))?
        .extend(["api", "v1", "lists", name, "export"]);
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()?
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    super::server_answer(response, "export").await
}
