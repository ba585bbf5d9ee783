//! `icsw`: the command line. Parses arguments, shows progress, prints
//! results; the libraries do the work.

mod commands;
mod progress;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "icsw",
    version,
    about = "An analytics and reporting warehouse for an NHS integrated care system"
)]
pub struct Cli {
    /// The warehouse: a directory, or an s3:// or az:// URL
    /// [default: ./warehouse; for demo, ./demo-warehouse].
    #[arg(long, global = true, env = "ICSW_WAREHOUSE")]
    warehouse: Option<String>,
    /// The ICS configuration file (default: ./icsw.toml when it exists,
    /// otherwise the four North West London acute trusts).
    #[arg(long, global = true, env = "ICSW_CONFIG")]
    config: Option<PathBuf>,
    /// Log more (repeat for more still).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check and load every complete extract not loaded yet.
    Load(commands::LoadArgs),
    /// Derive again the tables stored with each version (RTT periods and
    /// findings) that are missing or out of date, and publish them.
    RebuildDerived(commands::RebuildArgs),
    /// Run a read-only SQL query (the query as an argument or on stdin).
    Sql(commands::SqlArgs),
    /// Write a statutory return (rtt, ae or activity) for a month as CSV.
    Return(commands::ReturnArgs),
    /// Run the data-quality checks for a night or a month.
    Quality(commands::QualityArgs),
    /// Show a headline report for a month (see --list).
    Report(commands::ReportArgs),
    /// A Making Data Count SPC chart of any series (a CSV file or a query),
    /// as NHSRplotthedots computes it: CSV, JSON or SVG.
    Spc(commands::SpcArgs),
    /// Serve the dashboards, returns, SQL and the API over HTTP.
    Serve(commands::ServeArgs),
    /// Make an access token (prints the token, and the configuration lines
    /// holding only its hash).
    Token(commands::TokenArgs),
    /// Write synthetic extracts into a landing zone.
    Generate(commands::GenerateArgs),
    /// Load the bundled sample data into a local warehouse, show the headline
    /// figures, and serve them.
    Demo(commands::DemoArgs),
}

/// How the command failed: a user's mistake (exit 2) or a failure (exit 1).
pub enum Failure {
    Usage(String),
    /// The publication gate held a return (exit 4).
    Held(String),
    Error(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Error(e.into())
    }
}

/// A server starts again with glibc's malloc arenas bounded
/// ([`icsw_server::MALLOC_ARENA_MAX`]) unless the environment sets them; if
/// that cannot be done it carries on as it is.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("MALLOC_ARENA_MAX", icsw_server::MALLOC_ARENA_MAX)
            .exec();
        eprintln!("warning: could not bound malloc arenas: {err}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        bound_malloc_arenas();
    }
    let filter = match cli.verbose {
        0 => "warn,icsw_ingest=info,icsw_cli=info",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ICSW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Held(m)) => {
            eprintln!("{m}");
            ExitCode::from(4)
        }
        Err(Failure::Error(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
