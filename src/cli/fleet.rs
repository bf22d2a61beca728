//! `poolsleuth fleet simulate`: a synthetic fleet of Windows hosts sent through a server's
//! fleet ingest, to try fleet watch and to measure it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::collect::parse_interval;
use crate::ingest_client::{IngestClient, http_client};
use crate::synthetic_fleet::{
    FIXED_VERSION, FleetPlan, LEAKING_DRIVER, LEAKING_TAG, LEAKING_VERSION, send_fleet,
};

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Send a synthetic fleet through a server's fleet ingest: hosts with ~300-tag poolmon
    /// screens and driver lists, a few leaking a tag of one driver version, one of them
    /// updated half-way (the growth then stops), the rest flat.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// How many hosts.
    #[arg(long, default_value_t = 20)]
    pub hosts: usize,
    /// How many days of samples per host (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub days: f64,
    /// Time between two samples of a host (`15m`, `1h`).
    #[arg(long, default_value = "15m", value_parser = parse_interval)]
    pub interval: Duration,
    /// The time of the first sample (RFC 3339); by default `--days` before now, so the
    /// last sample is recent.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<OffsetDateTime>,
    /// The same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The server to send to.
    #[arg(long, env = "POOLSLEUTH_SERVER")]
    pub server: String,
    /// The ingest token (or the admin token).
    #[arg(long, env = "POOLSLEUTH_INGEST_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Samples in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// No progress lines, only the summary.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (2026-11-01T00:00:00Z): {e}"))
}

pub async fn run(args: FleetArgs) -> anyhow::Result<()> {
    match args.command {
        FleetCommand::Simulate(args) => simulate(args).await,
    }
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let start = match args.start {
        Some(start) => start,
        None => {
            let span = Duration::from_secs_f64((args.days * 86_400.0).clamp(0.0, 1e9));
            let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
            now - span
        }
    };
    let plan = FleetPlan::new(args.hosts, args.days, args.interval, start, args.seed)
        .map_err(anyhow::Error::msg)?;
    let server = super::server_url(&args.server)?;
    let client = IngestClient::new(server.clone(), args.token, http_client());
    let total = plan.total_samples();
    eprintln!(
        "poolsleuth: {} hosts × {} samples ({} in all) to {server}: {} leak `{}` ({LEAKING_DRIVER} {LEAKING_VERSION}); sim-00000 is updated to {FIXED_VERSION} at sample {}",
        plan.hosts,
        plan.samples_per_host,
        total,
        plan.leaking_hosts(),
        LEAKING_TAG,
        plan.samples_per_host / 2
    );
    let started = Instant::now();
    let last_said = AtomicU64::new(0);
    let quiet = args.quiet;
    let report = send_fleet(&plan, &client, args.concurrency, move |sent, failed| {
        // A line a second at most.
        let secs = started.elapsed().as_secs();
        if quiet || secs == last_said.swap(secs, Ordering::Relaxed) {
            return;
        }
        let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprintln!("poolsleuth: sent {sent} of {total} samples ({failed} refused), {rate:.0}/s");
    })
    .await
    .context("the simulation stopped")?;
    super::write_stdout(&format!(
        "sent {} samples of {} hosts in {:.1} s: {:.1} samples/s ({} refused)\n",
        report.sent,
        plan.hosts,
        report.elapsed.as_secs_f64(),
        report.samples_per_second(),
        report.failed
    ))?;
    if report.failed > 0 {
        anyhow::bail!("{} samples were refused (said above)", report.failed);
    }
    Ok(())
}
