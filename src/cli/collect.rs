//! `poolsleuth collect`: on the leaking Windows machine, reads the pool tags and the loaded
//! drivers (no poolmon, no WDK) and writes them as files or sends them to a server's analysis.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::attribution::InputFile;
use crate::collect::{CollectError, Collected, collect_now, parse_interval, schtasks_command};
use crate::ingest_client::{HostName, INGEST_TOKEN_PLACEHOLDER, IngestClient, Sample, http_client};

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Write the pool snapshot (poolmon `-b` layout) and the driver list (CSV) into this
    /// directory, one pair of files per sample.
    #[arg(long, value_name = "DIR", required_unless_present = "server")]
    pub out: Option<PathBuf>,
    /// Send each sample to this server's analysis (`/api/v1/analyze`) and print its answer;
    /// with `--host`, to its fleet ingest instead.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
    /// Send each sample to the server's fleet watch as this host's
    /// (`/api/v1/hosts/NAME/snapshots`): 1 to 63 letters, digits, `-`, `_` or `.`.
    #[arg(long, value_name = "NAME", requires = "server", value_parser = HostName::parse)]
    pub host: Option<HostName>,
    /// The fleet ingest token (or the host's own token) for `--host`.
    #[arg(long, env = "POOLSLEUTH_INGEST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Keep taking a sample this often until stopped (`15m`, `1h`, `90s`).
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<Duration>,
    /// Print the `schtasks` command that runs this collect as SYSTEM every 15 minutes (or
    /// `--every`); it is printed for you to run, never run.
    #[arg(long)]
    pub install_task: bool,
}

pub async fn run(args: CollectArgs) -> anyhow::Result<()> {
    if args.install_task {
        if !cfg!(windows) {
            return Err(CollectError::NotWindows {
                os: std::env::consts::OS,
            }
            .into());
        }
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        return super::write_stdout(&format!(
            "{}\n",
            install_task_command(&args, &exe.display().to_string())
        ));
    }
    if args.host.is_some() && args.token.is_none() {
        anyhow::bail!(
            "--host sends to the server's fleet ingest, which needs a token: give --token (or set POOLSLEUTH_INGEST_TOKEN) with the ingest token, the host's own token or the admin token"
        );
    }
    // One client for every sample of a watch.
    let ingest = match (&args.host, &args.server, &args.token) {
        (Some(_), Some(server), Some(token)) => Some(IngestClient::new(
            super::server_url(server)?,
            token.clone(),
            http_client(),
        )),
        _ => None,
    };
    loop {
        // Reading the kernel's counters fails for good (not Windows, not elevated, a Windows
        // without the class): that ends even a watch.
        let sample = tokio::task::spawn_blocking(collect_now).await??;
        for warning in &sample.warnings {
            eprintln!("poolsleuth: {warning}");
        }
        let delivered = deliver(&args, ingest.as_ref(), sample).await;
        let Some(every) = args.every else {
            return delivered;
        };
        // A watch keeps going through a sample it could not send or write (the server
        // restarting, a full disk): said on stderr, and the next sample comes on time.
        if let Err(e) = delivered {
            eprintln!(
                "poolsleuth: this sample was not delivered: {e:#}; the next in {} s",
                every.as_secs()
            );
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = super::shutdown_signal() => return Ok(()),
        }
    }
}

async fn deliver(
    args: &CollectArgs,
    ingest: Option<&IngestClient>,
    sample: Collected,
) -> anyhow::Result<()> {
    let (pool_name, drivers_name) = sample.file_names();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
        for (name, text) in [
            (&pool_name, &sample.snapshot.text),
            (&drivers_name, &sample.drivers_csv),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        eprintln!(
            "poolsleuth: wrote {} ({} tags) and {} ({} drivers) to {}",
            pool_name,
            sample.tag_count,
            drivers_name,
            sample.driver_count,
            dir.display()
        );
    }
    if let (Some(ingest), Some(host)) = (ingest, &args.host) {
        let sent = Sample {
            taken_at: sample.taken_at,
            snapshot_name: pool_name,
            snapshot: sample.snapshot.text.into_bytes(),
            drivers: Some(sample.drivers_csv.into_bytes()),
        };
        ingest.send(host, &sent).await?;
        eprintln!(
            "poolsleuth: sent the sample of {host} ({} tags, {} drivers)",
            sample.tag_count, sample.driver_count
        );
    } else if let Some(server) = &args.server {
        let snapshot = InputFile {
            name: Some(pool_name),
            bytes: sample.snapshot.text.into_bytes(),
        };
        let answer = super::analyze::through_server(
            server,
            vec![snapshot],
            Some(sample.drivers_csv.into_bytes()),
            None,
            false,
        )
        .await?;
        super::write_stdout(&answer)?;
    }
    Ok(())
}

/// The `schtasks` line for the executable `exe` with the same destination. The token is
/// never printed: its placeholder stands in its place.
fn install_task_command(args: &CollectArgs, exe: &str) -> String {
    let mut rest = String::new();
    if let Some(dir) = &args.out {
        rest.push_str(&format!("--out \\\"{}\\\" ", dir.display()));
    }
    if let Some(host) = &args.host {
        rest.push_str(&format!("--host {host} "));
    }
    if let Some(server) = &args.server {
        rest.push_str(&format!("--server {server} "));
    }
    if args.host.is_some() {
        rest.push_str(&format!("--token {INGEST_TOKEN_PLACEHOLDER} "));
    }
    let minutes = args.every.map_or(15, |d| (d.as_secs() / 60).max(1));
    schtasks_command(exe, &rest, minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        collect: CollectArgs,
    }

    fn args(line: &[&str]) -> Result<CollectArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("collect").chain(line.iter().copied()))
            .map(|c| c.collect)
    }

    #[test]
    fn the_task_sends_to_fleet_ingest_with_the_token_placeholder() {
        let args = args(&[
            "--host",
            "web-01",
            "--server",
            "http://h:8080",
            "--token",
            "secret",
            "--install-task",
        ])
        .unwrap();
        let task = install_task_command(&args, "C:\\Tools\\poolsleuth.exe");
        assert_eq!(
            task,
            "schtasks /Create /TN \"poolsleuth collect\" /SC MINUTE /MO 15 /RU SYSTEM /RL HIGHEST /F /TR \"\\\"C:\\Tools\\poolsleuth.exe\\\" collect --host web-01 --server http://h:8080 --token YOUR-INGEST-TOKEN\""
        );
        assert!(!task.contains("secret"), "{task}");
    }

    #[test]
    fn a_host_name_is_checked_as_the_server_checks_it() {
        let e = args(&["--host", "web 01", "--server", "http://h:8080"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a host name"), "{e}");
        let e = args(&["--host", &"x".repeat(64), "--server", "http://h:8080"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a host name"), "{e}");
        // Fleet ingest needs a server to send to.
        assert!(args(&["--host", "web-01"]).is_err());
        assert!(args(&["--host", "web-01", "--server", "h:8080"]).is_ok());
    }
}
