//! `poolsleuth healthcheck`: asks a running server's `/healthz`, for container health checks
//! (the runtime image has no curl). Exit status 0 when healthy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address (as given to `serve`); an unspecified address such as
    /// 0.0.0.0 is checked on loopback.
    #[arg(long, env = "POOLSLEUTH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout_secs: u64,
}

pub async fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let mut addr = args.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let url = format!("http://{addr}/healthz");
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    if !response.status().is_success() {
        bail!("{url} answered HTTP {}", response.status());
    }
    super::write_stdout("healthy\n")
}
