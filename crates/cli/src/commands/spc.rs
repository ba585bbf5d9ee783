//! `icsw spc`: a Making Data Count chart of any series, from a CSV file or
//! a query of the warehouse.

use super::{query_failure, returns_failure, AsAtArgs};
use crate::Failure;
use anyhow::Context;
use clap::{Args, ValueEnum};
use datafusion::prelude::{CsvReadOptions, SessionContext};
use icsw_model::IcsConfig;
use icsw_query::WarehouseContext;
use icsw_returns::spc::SpcRequest;
use icsw_spc::table::{self, Table};
use icsw_spc::{ChartStyle, Direction, Options};
use icsw_store::Warehouse;
use std::path::PathBuf;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["csv", "sql"])))]
pub struct SpcArgs {
    /// Read the series from this CSV file (with a header row).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Or from this read-only query of the warehouse.
    #[arg(long)]
    sql: Option<String>,
    /// The column of the x axis (a date or a number; one row per x).
    #[arg(long)]
    x: String,
    /// The column of the values (empty or null is a gap, never a 0).
    #[arg(long)]
    y: String,
    /// One chart per value of this column.
    #[arg(long)]
    facet: Option<String>,
    /// Which way is better.
    #[arg(long, value_enum, default_value_t = Improvement::Higher)]
    improvement: Improvement,
    /// The target, for the assurance icon.
    #[arg(long)]
    target: Option<f64>,
    /// x values at which the limits are calculated again (comma-separated,
    /// as the x column shows them, e.g. 2018-04-01).
    #[arg(long, value_delimiter = ',')]
    rebase: Vec<String>,
    /// Fix the limits after this many points (12 or more).
    #[arg(long)]
    fix_after: Option<usize>,
    /// Do not screen out large moving ranges.
    #[arg(long)]
    no_screen: bool,
    #[arg(long, value_enum, default_value_t = SpcFormat::Csv)]
    format: SpcFormat,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With --format csv, also write the summary (one row per facet and
    /// rebase group) to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
    #[command(flatten)]
    as_at: AsAtArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Improvement {
    Higher,
    Lower,
    Neutral,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SpcFormat {
    Csv,
    Json,
    Svg,
}

pub async fn run(
    warehouse: impl FnOnce() -> anyhow::Result<Warehouse>,
    config: &IcsConfig,
    a: &SpcArgs,
) -> Result<(), Failure> {
    let df = match (&a.csv, &a.sql) {
        (Some(path), _) => {
            let ext = path
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            let path = path
                .to_str()
                .ok_or_else(|| Failure::Usage("the CSV path is not UTF-8".into()))?;
            SessionContext::new()
                .read_csv(path, CsvReadOptions::new().file_extension(&ext))
                .await
                .map_err(|e| Failure::Usage(format!("reading {path}: {e}")))?
        }
        (None, Some(q)) => {
            let ctx = WarehouseContext::at(&warehouse()?, (&a.as_at).into(), config).await?;
            icsw_quality::register_findings_table(&ctx, config)?;
            ctx.sql(q).await.map_err(query_failure)?
        }
        (None, None) => return Err(Failure::Usage("give --csv FILE or --sql QUERY".into())),
    };
    let req = SpcRequest {
        x: a.x.clone(),
        y: a.y.clone(),
        facet: a.facet.clone(),
        direction: match a.improvement {
            Improvement::Higher => Direction::HigherIsBetter,
            Improvement::Lower => Direction::LowerIsBetter,
            Improvement::Neutral => Direction::Neither,
        },
        rebase: a.rebase.clone(),
        options: Options {
            fix_after: a.fix_after,
            no_screening: a.no_screen,
            target: a.target,
            ..Default::default()
        },
    };
    let charts = icsw_returns::spc::charts(df, &req)
        .await
        .map_err(returns_failure)?;
    let text = match a.format {
        SpcFormat::Csv => {
            if let Some(p) = &a.summary {
                std::fs::write(p, table::summary_csv(&table::summary_rows(&charts)))
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            table::points_csv(&table::point_rows(&charts))
        }
        SpcFormat::Json => {
            let mut s = serde_json::to_string_pretty(&Table::of(&charts))?;
            s.push('\n');
            s
        }
        SpcFormat::Svg => table::facets_svg(
            &charts,
            &a.y,
            &ChartStyle {
                title: String::new(),
                y_label: a.y.clone(),
                width: 900,
                height: 360,
                percent: false,
            },
        ),
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
