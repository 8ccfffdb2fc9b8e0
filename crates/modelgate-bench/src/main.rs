//! `mg-bench`: the load generator behind `bench/overhead`. `load` sends chat
//! completions to one loopback target and prints its results as one JSON line;
//! `report` turns the script's combined results into the summary line and table.

mod client;
mod load;
mod report;
mod stats;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mg-bench",
    about = "Gateway overhead benchmark: load generator and report."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send chat completions to one loopback target; print the results as JSON.
    Load(LoadArgs),
    /// Print the summary line and table for a combined results file (from bench/overhead).
    Report {
        file: PathBuf,
        /// Write the results plus the derived summary here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Mode {
    /// Open loop at --rate requests per second, plain completions.
    Rate,
    /// Closed loop over --concurrency keep-alive connections, as fast as they answer.
    Closed,
    /// Open loop at --rate with `stream: true`; records time to the first content chunk.
    Stream,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Chat completions URL, e.g. http://127.0.0.1:8080/v1/chat/completions (loopback only).
    #[arg(long)]
    pub url: String,
    /// The `model` field of the request body.
    #[arg(long)]
    pub model: String,
    /// Authorization header value, e.g. "Bearer mg-...".
    #[arg(long)]
    pub auth: Option<String>,
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Requests per second (rate and stream modes).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Connections in closed mode.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Cap on requests in flight in the open-loop modes (late ones wait and count as slow).
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
    /// Tokio worker threads of the generator (it shares the machine with both servers).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The user message.
    #[arg(
        long,
        default_value = "please say these ten short words back to me now"
    )]
    pub prompt: String,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Load(args) => run_load(&args),
        Command::Report { file, out } => report::run(&file, out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mg-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_load(args: &LoadArgs) -> Result<(), String> {
    if !(args.duration > 0.0 && args.duration <= 600.0) {
        return Err("--duration must be in (0, 600] seconds".into());
    }
    if !(args.rate > 0.0 && args.rate <= 100_000.0) || args.concurrency == 0 {
        return Err("--rate must be in (0, 100000] and --concurrency at least 1".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let target = Arc::new(client::Target::new(args)?);
        let duration = Duration::from_secs_f64(args.duration);
        let samples = match args.mode {
            Mode::Closed => load::closed_loop(target, args.concurrency, duration).await,
            Mode::Rate | Mode::Stream => {
                let pace = load::Pace {
                    rate: args.rate,
                    duration,
                    max_in_flight: args.max_in_flight.max(1),
                    stream: args.mode == Mode::Stream,
                };
                load::open_loop(target, pace).await
            }
        };
        println!("{}", stats::to_json(args, &samples));
        if samples.latencies.is_empty() {
            return Err(format!(
                "no request succeeded: {}",
                samples
                    .first_error
                    .as_deref()
                    .unwrap_or("no request was sent")
            ));
        }
        Ok(())
    })
}
