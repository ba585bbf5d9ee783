//! `icsw demo`: load the bundled sample data, print the headline figures,
//! then serve them.

use super::load::load;
use super::returns_failure;
use super::serve::ServeOptions;
use crate::Failure;
use clap::Args;
use datafusion::prelude::{col, lit};
use icsw_model::IcsConfig;
use icsw_query::{SqlFile, WarehouseContext};
use icsw_store::Warehouse;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct DemoArgs {
    /// The landing zone to load (default: the bundled sample_data/).
    #[arg(long)]
    pub landing: Option<PathBuf>,
    /// Print the figures and stop, without serving.
    #[arg(long)]
    pub no_serve: bool,
    #[command(flatten)]
    pub serve: ServeOptions,
}

/// The bundled sample data: ./sample_data, or the repository's.
fn sample_data() -> PathBuf {
    let here = PathBuf::from("sample_data");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data")
}

type ReportFilter = Option<(&'static str, &'static str)>;

/// The headline reports the demo prints, with the rows it shows.
const REPORTS: &[(&str, &str, ReportFilter)] = &[
    (
        "A&E 4-hour performance, all types",
        "ae-performance",
        Some(("type", "All")),
    ),
    (
        "RTT incomplete pathways (Part_2)",
        "rtt-waits",
        Some(("part", "Part_2")),
    ),
    ("Activity", "activity", None),
];

fn demo_sql(name: &str, text: &str) -> SqlFile {
    SqlFile::parse(name, text).expect("the project's demo SQL has a valid header")
}

pub async fn run(w: &Warehouse, config: &IcsConfig, a: &DemoArgs) -> Result<(), Failure> {
    let landing = a.landing.clone().unwrap_or_else(sample_data);
    eprintln!(
        "icsw demo: loading {} into {}",
        landing.display(),
        w.location()
    );
    load(w, config, &landing).await?;
    let ctx = WarehouseContext::latest(w, config).await?;
    let mut out = std::io::stdout();
    print_query(
        &ctx,
        &mut out,
        &demo_sql("loads", include_str!("../../../../sql/demo/loads.sql")),
    )
    .await?;
    let Some(period) = ctx.view().latest_complete_month() else {
        writeln!(out, "\nNo data loaded.")?;
        return Ok(());
    };
    writeln!(
        out,
        "\nStatutory returns for {period} (icsw return KIND --period {period}):"
    )?;
    // As `icsw return` would: completeness and the data-quality gate.
    let assessed = icsw_returns::assess_all(&ctx, config, period, None, &icsw_quality::QualityGate)
        .await
        .map_err(returns_failure)?;
    for p in assessed {
        writeln!(
            out,
            "  {:<9} {}",
            p.kind.name(),
            if p.complete {
                "complete: ready to publish".to_string()
            } else {
                format!("held: {}", p.reasons.join("; "))
            }
        )?;
    }
    for (title, name, filter) in REPORTS {
        let df = icsw_returns::report(&ctx, name, period, None, &Default::default())
            .await
            .map_err(returns_failure)?;
        let df = df.filter(col("level").not_eq(lit("provider_commissioner_function")))?;
        let df = match filter {
            Some((c, v)) => df.filter(col(*c).eq(lit(*v)))?,
            None => df,
        };
        let batches = df.collect().await?;
        writeln!(
            out,
            "\n{title}, {period} (icsw report {name} --period {period})"
        )?;
        writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
        )?;
    }
    print_query(
        &ctx,
        &mut out,
        &demo_sql(
            "quarantine",
            include_str!("../../../../sql/demo/quarantine.sql"),
        ),
    )
    .await?;
    icsw_quality::register_findings_table(&ctx, config)?;
    print_query(
        &ctx,
        &mut out,
        &demo_sql("quality", include_str!("../../../../sql/demo/quality.sql")),
    )
    .await?;
    Ok(())
}

/// Runs a demo query and prints it under its title.
async fn print_query(
    ctx: &WarehouseContext,
    out: &mut impl Write,
    file: &SqlFile,
) -> anyhow::Result<()> {
    let batches = ctx.file(file, &[]).await?.collect().await?;
    writeln!(out, "\n{}", file.title)?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        writeln!(out, "(none)")?;
    } else {
        writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
        )?;
    }
    Ok(())
}
