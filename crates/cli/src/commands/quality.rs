//! `icsw quality`.

use super::{month, stdout, AsAtArgs, TableFormat};
use crate::Failure;
use chrono::NaiveDate;
use clap::Args;
use icsw_ingest::Landing;
use icsw_model::IcsConfig;
use icsw_quality::{Scope, Severity};
use icsw_query::output::ResultWriter;
use icsw_query::WarehouseContext;
use icsw_store::Warehouse;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct QualityArgs {
    /// The morning after this night (default: the latest extract loaded).
    #[arg(long, conflicts_with = "period")]
    date: Option<NaiveDate>,
    /// A month, YYYY-MM.
    #[arg(long)]
    period: Option<String>,
    /// One trust (ODS code).
    #[arg(long)]
    trust: Option<String>,
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    format: TableFormat,
    /// The landing zone, for folders still without a manifest.
    #[arg(long, default_value = "landing")]
    landing: PathBuf,
    /// List the checks with their severities instead.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    as_at: AsAtArgs,
}

pub async fn run(w: &Warehouse, config: &IcsConfig, a: &QualityArgs) -> Result<(), Failure> {
    if a.list {
        for c in icsw_quality::CHECKS {
            println!("{:<46} {:<8} {}", c.id, c.severity.name(), c.description);
        }
        return Ok(());
    }
    let ctx = WarehouseContext::at(w, (&a.as_at).into(), config).await?;
    let scope = match (&a.period, a.date) {
        (Some(p), _) => Scope::Period(month(p)?),
        (None, Some(d)) => Scope::Date(d),
        (None, None) => *icsw_quality::default_scopes(ctx.view())
            .first()
            .ok_or_else(|| Failure::Usage("nothing is loaded yet".into()))?,
    };
    let arriving = Landing::new(&a.landing).arriving();
    let findings = icsw_quality::run(&ctx, config, scope, a.trust.as_deref(), &arriving).await?;
    if matches!(a.format, TableFormat::Table) {
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        eprintln!(
            "{} finding(s) for {scope}: {errors} error(s), {} warning(s)",
            findings.len(),
            findings.len() - errors
        );
    }
    let batch = icsw_quality::findings_batch(&findings);
    let mut writer = ResultWriter::new(a.format.into(), batch.schema(), stdout())?;
    writer.write(&batch)?;
    writer.finish()?.flush()?;
    Ok(())
}
