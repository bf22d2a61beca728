use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    poolsleuth::cli::run(poolsleuth::cli::Cli::parse()).await
}
