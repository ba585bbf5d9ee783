//! The subcommands, one module each: each parses its arguments into a
//! library call and prints what it returns.

mod demo;
mod generate;
mod load;
mod quality;
mod report;
mod returns;
mod serve;
mod spc;
mod sql;

pub use demo::DemoArgs;
pub use generate::GenerateArgs;
pub use load::{LoadArgs, RebuildArgs};
pub use quality::QualityArgs;
pub use report::ReportArgs;
pub use returns::ReturnArgs;
pub use serve::{ServeArgs, TokenArgs};
pub use spc::SpcArgs;
pub use sql::SqlArgs;

use crate::{Cli, Command, Failure};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use icsw_model::IcsConfig;
use icsw_query::output::{Format, ResultWriter};
use icsw_store::{AsAt, Warehouse};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--as-at` / `--as-at-load`, for every command that reads the warehouse.
#[derive(Args, Clone, Default)]
pub struct AsAtArgs {
    /// Read the warehouse as it stood with only the extracts dated on or
    /// before this date (YYYY-MM-DD).
    #[arg(long, conflicts_with = "as_at_load")]
    as_at: Option<NaiveDate>,
    /// Read the warehouse as it stood after this load (a load id).
    #[arg(long)]
    as_at_load: Option<u64>,
}

impl From<&AsAtArgs> for AsAt {
    fn from(a: &AsAtArgs) -> Self {
        AsAt {
            date: a.as_at,
            load: a.as_at_load,
        }
    }
}

/// `--format` of `report` and `quality`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TableFormat {
    Table,
    Csv,
    Json,
}

impl From<TableFormat> for Format {
    fn from(f: TableFormat) -> Self {
        match f {
            TableFormat::Table => Format::Table,
            TableFormat::Csv => Format::Csv,
            TableFormat::Json => Format::Json,
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<IcsConfig> {
    let path = match &cli.config {
        Some(p) => p.clone(),
        None if Path::new("icsw.toml").exists() => PathBuf::from("icsw.toml"),
        None => return Ok(IcsConfig::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading configuration {}", path.display()))?;
    IcsConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))
}

fn open_warehouse(cli: &Cli, default: &str) -> anyhow::Result<Warehouse> {
    let location = cli.warehouse.clone().unwrap_or_else(|| default.to_string());
    Ok(Warehouse::open(&location)?)
}

pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let config = load_config(&cli)?;
    let warehouse = || open_warehouse(&cli, "warehouse");
    match &cli.command {
        Command::Load(a) => {
            let report = load::load(&warehouse()?, &config, &a.landing).await?;
            return Ok(if report.loads.iter().any(|l| l.refusal.is_some()) {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            });
        }
        Command::RebuildDerived(a) => load::rebuild(&warehouse()?, &config, a).await?,
        Command::Sql(a) => sql::run(&warehouse()?, &config, a).await?,
        Command::Return(a) => returns::run(&warehouse()?, &config, a).await?,
        Command::Quality(a) => quality::run(&warehouse()?, &config, a).await?,
        Command::Report(a) => report::run(&warehouse()?, &config, a).await?,
        Command::Spc(a) => spc::run(warehouse, &config, a).await?,
        Command::Serve(a) => {
            serve::serve(warehouse()?, config, &a.serve, Some(a.landing.clone())).await?
        }
        Command::Token(a) => serve::token(a),
        Command::Generate(a) => generate::run(a)?,
        Command::Demo(a) => {
            let w = open_warehouse(&cli, "demo-warehouse")?;
            demo::run(&w, &config, a).await?;
            if !a.no_serve {
                serve::serve(w, config, &a.serve.with_doors(), a.landing.clone()).await?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A query's error: the user's (exit 2) or a failure (exit 1).
fn query_failure(e: icsw_query::Error) -> Failure {
    if e.is_users() {
        Failure::Usage(e.to_string())
    } else {
        Failure::Error(e.into())
    }
}

fn returns_failure(e: icsw_returns::Error) -> Failure {
    match e {
        icsw_returns::Error::Invalid(m) => Failure::Usage(m),
        icsw_returns::Error::Query(q) => query_failure(q),
        icsw_returns::Error::Held(p) => Failure::Held(format!(
            "the {} return for {} is held and was not written:\n{}\n(--allow-incomplete writes it anyway, marked complete: false)",
            p.kind,
            p.period,
            p.reasons
                .iter()
                .map(|r| format!("  - {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
        e => Failure::Error(e.into()),
    }
}

fn month(s: &str) -> Result<icsw_model::Month, Failure> {
    icsw_model::Month::parse(s).map_err(|e| Failure::Usage(e.to_string()))
}

/// Streams a query's result to `out` in `format`.
async fn write_frame(
    df: datafusion::prelude::DataFrame,
    format: Format,
    out: Box<dyn Write + Send>,
) -> Result<(), Failure> {
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| query_failure(e.into()))?;
    let mut writer = ResultWriter::new(format, stream.schema(), out)?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch.map_err(|e| query_failure(e.into()))?)?;
    }
    writer.finish()?.flush()?;
    Ok(())
}

/// Standard output, buffered.
fn stdout() -> Box<dyn Write + Send> {
    Box::new(std::io::BufWriter::new(std::io::stdout()))
}
