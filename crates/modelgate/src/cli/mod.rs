//! Command-line interface (DESIGN §8).

mod admin;
mod config;
mod models;
mod serve;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "modelgate",
    version,
    about = "One OpenAI-compatible endpoint in front of many model providers."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides [server] listen; 127.0.0.1:0 picks a free port.
        #[arg(long)]
        listen: Option<String>,
        /// Add the demo models, the mock provider and a demo account; print a key.
        #[arg(long)]
        demo: bool,
    },
    /// Validate a config file; names the offending field and line.
    CheckConfig { file: PathBuf },
    /// List the catalog.
    Models {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        operation: Option<String>,
        /// Include the demo models `serve --demo` adds.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Administer accounts, keys, credits and usage on the configured database.
    Admin {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Run the provider simulator (OpenAI, Anthropic and Gemini wire formats).
    Mock {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// Require this API key from clients.
        #[arg(long)]
        api_key: Option<String>,
    },
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MODELGATE_LOG")
        // Shutdown's progress (cli::serve) at info: an operator sees what was drained.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,modelgate::cli=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            demo,
        } => serve::serve(config, listen, demo).await,
        Command::CheckConfig { file } => {
            let loaded = config::load(Some(file), false)?;
            println!(
                "ok: {} models, {} providers",
                loaded.catalog.models().count(),
                loaded.catalog.providers().count()
            );
            Ok(())
        }
        Command::Models {
            config,
            operation,
            demo,
        } => models::print_models(config, operation.as_deref(), demo),
        Command::Migrate { config } => {
            let loaded = config::load(config, false)?;
            config::open_store(&loaded.file).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { config, command } => admin::run(config, command).await,
        Command::Mock { listen, api_key } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            println!("listening on {addr}");
            modelgate_simulator::serve(listener, modelgate_simulator::SimulatorConfig { api_key })
                .await
                .map_err(|e| e.to_string())
        }
    }
}
