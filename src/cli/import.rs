//! `poolsleuth import`: a tag list into the local data dir or a running server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::{DataDirArg, LogArgs, Writer, init_tracing, open_index};
use crate::import::{ImportReport, ListSource, import_list};
use crate::pooltag_list::ListFormat;
use crate::vendor::VendorDirectory;

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
    /// Send the list to a running server (`http://HOST:PORT`) instead of writing the local
    /// data dir.
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

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let _log_writer = init_tracing(&args.log);
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
        let index = open_index(&args.data.data_dir, vendors.clone(), Writer::Import).await?;
        let source = ListSource {
            name,
            version: args.list_version.clone(),
            origin: Some(args.list.clone()),
            format,
        };
        tokio::task::spawn_blocking(move || import_list(&index, &vendors, &source, &bytes))
            .await??
    };
    print_report(&report)
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
    let url = super::endpoint(&super::server_url(server)?, &["api", "v1", "lists"])?;
    let mut query = vec![("name", name.to_owned()), ("origin", args.list.clone())];
    if let Some(version) = &args.list_version {
        query.push(("version", version.clone()));
    }
    if let Some(format) = format {
        query.push(("format", format.to_string()));
    }
    let response = http
        .post(url.clone())
        .query(&query)
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let body = super::server_answer(response, "import").await?;
    serde_json::from_str(&body).context("the server's answer is not an import report")
}

fn print_report(report: &ImportReport) -> anyhow::Result<()> {
    use std::fmt::Write;
    let mut out = format!(
        "source {:?} ({} format): {} imported, {} replaced, {} lines skipped\n",
        report.source, report.format, report.imported, report.replaced, report.skipped
    );
    const SHOWN: usize = 20;
    for skipped in report.skipped_lines.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "  line {}: {} | {}",
            skipped.line, skipped.reason, skipped.text
        );
    }
    if report.skipped as usize > SHOWN {
        let _ = writeln!(out, "  … and {} more", report.skipped as usize - SHOWN);
    }
    super::write_stdout(&out)
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
}
