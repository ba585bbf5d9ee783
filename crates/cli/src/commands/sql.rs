//! `icsw sql`.

use super::{query_failure, stdout, write_frame, AsAtArgs};
use crate::Failure;
use anyhow::Context;
use clap::{Args, ValueEnum};
use icsw_model::IcsConfig;
use icsw_query::output::Format;
use icsw_query::WarehouseContext;
use icsw_store::Warehouse;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct SqlArgs {
    /// The query; read from stdin when absent.
    query: Option<String>,
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    format: SqlFormat,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    as_at: AsAtArgs,
}

/// `--format` of `sql`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SqlFormat {
    Table,
    Csv,
    Json,
    #[value(alias = "ndjson")]
    Jsonl,
    Parquet,
    /// The Arrow IPC stream format.
    Arrow,
}

impl From<SqlFormat> for Format {
    fn from(f: SqlFormat) -> Self {
        match f {
            SqlFormat::Table => Format::Table,
            SqlFormat::Csv => Format::Csv,
            SqlFormat::Json => Format::Json,
            SqlFormat::Jsonl => Format::JsonLines,
            SqlFormat::Parquet => Format::Parquet,
            SqlFormat::Arrow => Format::ArrowStream,
        }
    }
}

pub async fn run(w: &Warehouse, config: &IcsConfig, a: &SqlArgs) -> Result<(), Failure> {
    let query = match &a.query {
        Some(q) => q.clone(),
        None => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s
        }
    };
    if query.trim().is_empty() {
        return Err(Failure::Usage("no query given".into()));
    }
    let ctx = WarehouseContext::at(w, (&a.as_at).into(), config).await?;
    icsw_quality::register_findings_table(&ctx, config)?;
    let df = ctx.sql(&query).await.map_err(query_failure)?;
    let out: Box<dyn Write + Send> = match &a.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => stdout(),
    };
    write_frame(df, a.format.into(), out).await
}
