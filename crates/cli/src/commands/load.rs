//! `icsw load`.

use crate::progress::LoadProgress;
use clap::Args;
use icsw_ingest::{load_all, rebuild_derived, Landing, LoadReport};
use icsw_model::IcsConfig;
use icsw_store::Warehouse;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct LoadArgs {
    /// The landing zone: <landing>/<trust>/<extract_date>/_manifest.json.
    #[arg(long, default_value = "landing")]
    pub landing: PathBuf,
}

/// Loads every complete extract not loaded yet, with a progress bar, and
/// says what happened.
pub async fn load(w: &Warehouse, config: &IcsConfig, landing: &Path) -> anyhow::Result<LoadReport> {
    let progress = LoadProgress::new();
    let report = load_all(&Landing::new(landing), w, config, &progress).await;
    progress.finish();
    let report = report?;
    for s in &report.skipped {
        tracing::debug!("{} {}: skipped, {}", s.trust, s.extract_date, s.why);
    }
    for a in &report.arriving {
        tracing::info!(
            "{} {}: no manifest yet (still arriving)",
            a.trust,
            a.extract_date
        );
    }
    let refused = report.loads.iter().filter(|l| l.refusal.is_some()).count();
    eprintln!(
        "{} extract(s) loaded, {} refused, {} skipped (already loaded or unchanged), {} still arriving; warehouse version {}",
        report.loads.len() - refused,
        refused,
        report.skipped.len(),
        report.arriving.len(),
        report.version
    );
    Ok(report)
}

#[derive(Args)]
pub struct RebuildArgs {
    /// Derive every table again, current or not.
    #[arg(long)]
    pub all: bool,
}

/// Derives what is missing or out of date and says what it published.
pub async fn rebuild(w: &Warehouse, config: &IcsConfig, a: &RebuildArgs) -> anyhow::Result<()> {
    let (derived, version) = rebuild_derived(w, config, a.all).await?;
    for (trust, table, rows) in &derived {
        eprintln!("{trust}: {table} derived ({rows} rows)");
    }
    if derived.is_empty() {
        eprintln!("every derived table is current; warehouse version {version}");
    } else {
        eprintln!("published warehouse version {version}");
    }
    Ok(())
}
