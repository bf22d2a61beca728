//! `poolsleuth collect`: on the leaking Windows machine, reads the pool tags and the loaded
//! drivers (no poolmon, no WDK) and writes them as files or sends them to a server's analysis.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::attribution::InputFile;
use crate::collect::{CollectError, Collected, collect_now, parse_interval, schtasks_command};

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Write the pool snapshot (poolmon `-b` layout) and the driver list (CSV) into this
    /// directory, one pair of files per sample.
    #[arg(long, value_name = "DIR", required_unless_present = "server")]
    pub out: Option<PathBuf>,
    /// Send each sample to this server's analysis (`/api/v1/analyze`) and print its answer.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: Option<String>,
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
        return super::write_stdout(&format!("{}\n", install_task_command(&args)?));
    }
    loop {
        // Reading the kernel's counters fails for good (not Windows, not elevated, a Windows
        // without the class): that ends even a watch.
        let sample = tokio::task::spawn_blocking(collect_now).await??;
        for warning in &sample.warnings {
            eprintln!("poolsleuth: {warning}");
        }
        let delivered = deliver(&args, sample).await;
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

async fn deliver(args: &CollectArgs, sample: Collected) -> anyhow::Result<()> {
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
    if let Some(server) = &args.server {
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

/// The `schtasks` line for this executable with the same destination.
fn install_task_command(args: &CollectArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut rest = String::new();
    if let Some(dir) = &args.out {
        rest.push_str(&format!("--out \\\"{}\\\" ", dir.display()));
    }
    if let Some(server) = &args.server {
        rest.push_str(&format!("--server {server} "));
    }
    let minutes = args.every.map_or(15, |d| (d.as_secs() / 60).max(1));
    Ok(schtasks_command(&exe.display().to_string(), &rest, minutes))
}
