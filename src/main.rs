use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    match poolsleuth::cli::run(poolsleuth::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain on one line: "cannot read x: No such file".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
