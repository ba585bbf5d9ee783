//! `icsw report`.

use super::{month, returns_failure, stdout, write_frame, AsAtArgs, TableFormat};
use crate::Failure;
use clap::Args;
use icsw_model::IcsConfig;
use icsw_query::WarehouseContext;
use icsw_store::Warehouse;

#[derive(Args)]
pub struct ReportArgs {
    /// The report's name (see --list).
    name: Option<String>,
    /// List the reports with their descriptions.
    #[arg(long)]
    list: bool,
    /// The month, YYYY-MM.
    #[arg(long)]
    period: Option<String>,
    /// One trust (ODS code); default every trust.
    #[arg(long)]
    trust: Option<String>,
    /// frequent-attenders: the attendances in the 12 months that make a
    /// frequent attender (default 6: more than five a year).
    #[arg(long, value_name = "N")]
    min_attendances: Option<u32>,
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    format: TableFormat,
    #[command(flatten)]
    as_at: AsAtArgs,
}

pub async fn run(w: &Warehouse, config: &IcsConfig, a: &ReportArgs) -> Result<(), Failure> {
    let Some(name) = a.name.as_deref().filter(|_| !a.list) else {
        for r in icsw_returns::reports() {
            println!("{:<16} {}\n{:<16} {}\n", r.name, r.title, "", r.description);
        }
        return Ok(());
    };
    let period = month(
        a.period
            .as_deref()
            .ok_or_else(|| Failure::Usage("--period YYYY-MM is required".into()))?,
    )?;
    let ctx = WarehouseContext::at(w, (&a.as_at).into(), config).await?;
    let options = icsw_returns::ReportOptions {
        min_attendances: a.min_attendances,
    };
    let df = icsw_returns::report(&ctx, name, period, a.trust.as_deref(), &options)
        .await
        .map_err(returns_failure)?;
    write_frame(df, a.format.into(), stdout()).await?;
    // A linked measure reads every trust's records over its window: say
    // when some of them are not loaded (the figures are still written).
    let reasons = icsw_returns::report_completeness(ctx.view(), config, name, period)
        .map_err(returns_failure)?
        .unwrap_or_default();
    if !reasons.is_empty() {
        eprintln!(
            "incomplete: the {name} report for {period} reads days or snapshots not loaded:\n{}",
            reasons
                .iter()
                .map(|r| format!("  - {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}
