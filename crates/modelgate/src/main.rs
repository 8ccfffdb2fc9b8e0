//! The `modelgate` binary: argument parsing and dispatch to `cli/*`; no logic here.

mod cli;

/// mimalloc: the gateway allocates many small, short-lived buffers per request
/// (JSON, headers); glibc malloc showed ~10% of CPU under load in the profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing();
    match cli::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}
