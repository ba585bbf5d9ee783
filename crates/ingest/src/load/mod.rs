//! `icsw load`: every complete extract not loaded yet, in extract-date order
//! per trust, each published as one warehouse version. One module a pass:
//! `plan` (the manifest's files checked and opened), `duplicates` (the
//! checking pass: rows read, duplicate ids, guards), `write` (stored and
//! quarantined rows, replacement by covers); this one runs them in order.

mod duplicates;
mod plan;
mod write;

use crate::error::{Refusal, RefusalKind, Result};
use crate::landing::{discover, LandedExtract, Landing};
use crate::log::write_load_log;
use crate::manifest::Manifest;
use crate::merge::merge_period_feed;
use crate::parallel::run_all;
use crate::progress::Progress;
use crate::summary::{LoadReport, LoadSummary, Skipped};
use chrono::{NaiveDate, Utc};
use icsw_model::london::day_to_date;
use icsw_model::{Feed, FeedKind, IcsConfig};
use icsw_store::{
    Coverage, DateRange, FeedState, LoadOutcome, RefusedExtract, SnapshotInfo, TrustState,
    VersionState, Warehouse,
};

/// Flush open month writers when their buffered row groups pass this.
const WRITER_MEMORY: usize = 96 * 1024 * 1024;

/// Loads every complete extract under `landing` that is not loaded yet.
pub async fn load_all(
    landing: &Landing,
    warehouse: &Warehouse,
    config: &IcsConfig,
    progress: &dyn Progress,
) -> Result<LoadReport> {
    let lock = icsw_store::LoadLock::acquire(warehouse).await?;
    let result = run(landing, warehouse, config, progress).await;
    lock.release().await?;
    result
}

async fn run(
    landing: &Landing,
    warehouse: &Warehouse,
    config: &IcsConfig,
    progress: &dyn Progress,
) -> Result<LoadReport> {
    let (complete, arriving) = discover(landing)?;
    let mut state = warehouse.current().await?;
    let mut report = LoadReport {
        arriving,
        ..Default::default()
    };
    for ex in complete {
        let date = ex
            .extract_date
            .parse::<NaiveDate>()
            .expect("discover checks dates");
        let trust_state = state.trusts.get(&ex.trust);
        if trust_state.is_some_and(|t| t.is_loaded(date)) {
            report.skipped.push(Skipped {
                trust: ex.trust.clone(),
                extract_date: ex.extract_date.clone(),
                why: "already loaded",
            });
            continue;
        }
        if trust_state
            .and_then(|t| t.refused.get(&date))
            .is_some_and(|r| r.manifest_sha256 == ex.manifest_sha256)
        {
            report.skipped.push(Skipped {
                trust: ex.trust.clone(),
                extract_date: ex.extract_date.clone(),
                why: "refused before and its manifest has not changed",
            });
            continue;
        }
        let version = state.version + 1;
        clear_unpublished(warehouse, version).await?;
        progress.extract_started(&ex.trust, &ex.extract_date, manifest_rows(&ex));
        let job = Job {
            ex: &ex,
            date,
            version,
            state: &state,
            warehouse,
            config,
            progress,
        };
        let (mut next, summary) = job.run().await?;
        // The tables derived from what changed, in the same version.
        icsw_query::derived::refresh(
            warehouse,
            &mut next,
            version,
            config.load.row_group_rows,
            false,
        )
        .await?;
        write_load_log(warehouse, &summary).await?;
        warehouse.publish(&next).await?;
        match &summary.refusal {
            Some(r) => tracing::error!("{r}"),
            None => tracing::debug!(
                trust = %summary.trust,
                extract_date = %ex.extract_date,
                load_id = summary.load_id,
                outcome = summary.outcome.code(),
                rows_read = summary.rows_read(),
                rows_stored = summary.rows_stored(),
                rows_quarantined = summary.rows_quarantined(),
                "extract loaded{}",
                if summary.late { " late: only dates no later extract covered" } else { "" }
            ),
        }
        progress.extract_finished(&summary);
        report.loads.push(summary);
        state = next;
    }
    report.version = state.version;
    Ok(report)
}

/// Derives every derived table that is not current (every one when
/// `force`), under the load lock, and publishes the result as a version of
/// its own when anything was derived: for a warehouse written before a
/// table was stored, or after a change to how one is derived. Returns what
/// was derived and the version published (the current one when nothing
/// was).
pub async fn rebuild_derived(
    warehouse: &Warehouse,
    config: &IcsConfig,
    force: bool,
) -> Result<(icsw_query::derived::Refreshed, u64)> {
    let lock = icsw_store::LoadLock::acquire(warehouse).await?;
    let result = async {
        let mut state = warehouse.current().await?;
        let version = state.version + 1;
        clear_unpublished(warehouse, version).await?;
        let derived = icsw_query::derived::refresh(
            warehouse,
            &mut state,
            version,
            config.load.row_group_rows,
            force,
        )
        .await?;
        if derived.is_empty() {
            return Ok((derived, state.version));
        }
        state.version = version;
        state.created_at = Utc::now();
        state.trust = None;
        state.extract_date = None;
        state.outcome = None;
        warehouse.publish(&state).await?;
        Ok((derived, version))
    }
    .await;
    lock.release().await?;
    result
}

fn manifest_rows(ex: &LandedExtract) -> u64 {
    Manifest::parse(&ex.manifest_bytes, &ex.trust, &ex.extract_date)
        .map(|m| m.total_rows())
        .unwrap_or(0)
}

/// What writing one feed of an extract made.
struct Written {
    files: Vec<crate::summary::FileSummary>,
    /// The new data files.
    new_files: Vec<icsw_store::DataFile>,
    /// Period feeds: the stored files kept (rewritten where partly replaced).
    kept: Vec<icsw_store::DataFile>,
}

/// Removes log files a killed load left for `version`, which was never
/// published (data files it left are simply never referenced).
async fn clear_unpublished(warehouse: &Warehouse, version: u64) -> Result<()> {
    for table in icsw_store::log_schema::LOG_TABLES {
        let n = warehouse
            .remove_prefix(&icsw_store::layout::log_version_dir(table, version))
            .await?;
        if n > 0 {
            tracing::warn!(
                version,
                table,
                files = n,
                "removed files of an unfinished load"
            );
        }
    }
    Ok(())
}

/// One extract's load.
struct Job<'a> {
    ex: &'a LandedExtract,
    date: NaiveDate,
    version: u64,
    state: &'a VersionState,
    warehouse: &'a Warehouse,
    config: &'a IcsConfig,
    progress: &'a dyn Progress,
}

impl Job<'_> {
    fn refusal(
        &self,
        kind: RefusalKind,
        file: Option<&str>,
        feed: Option<Feed>,
        column: Option<&str>,
        message: String,
    ) -> Refusal {
        Refusal {
            kind,
            trust: self.ex.trust.clone(),
            extract_date: self.ex.extract_date.clone(),
            file: file.map(str::to_string),
            feed,
            column: column.map(str::to_string),
            message,
        }
    }

    async fn run(&self) -> Result<(VersionState, LoadSummary)> {
        let started_at = Utc::now();
        let mut summary = LoadSummary {
            load_id: self.version,
            trust: self.ex.trust.clone(),
            extract_date: Some(self.date),
            extracted_at: None,
            source_system: None,
            manifest_sha256: self.ex.manifest_sha256.clone(),
            outcome: LoadOutcome::Refused,
            late: false,
            refusal: None,
            note: None,
            started_at,
            finished_at: started_at,
            files: Vec::new(),
            rows_superseded: 0,
            covers: None,
            feeds: Vec::new(),
        };
        let result = self.load(&mut summary).await?;
        summary.finished_at = Utc::now();
        let mut next = self.state.clone();
        next.version = self.version;
        next.created_at = summary.finished_at;
        next.trust = Some(self.ex.trust.clone());
        next.extract_date = Some(self.date);
        match result {
            Err(refusal) => {
                summary.outcome = LoadOutcome::Refused;
                let t = next.trusts.entry(self.ex.trust.clone()).or_default();
                t.refused.insert(
                    self.date,
                    RefusedExtract {
                        manifest_sha256: self.ex.manifest_sha256.clone(),
                        load_id: self.version,
                        reason: refusal.to_string(),
                        covers: summary.covers,
                        feeds: summary.feeds.clone(),
                    },
                );
                summary.refusal = Some(refusal);
            }
            Ok(trust_state) => {
                summary.outcome = if summary.late {
                    LoadOutcome::LoadedLate
                } else {
                    LoadOutcome::Loaded
                };
                next.trusts.insert(self.ex.trust.clone(), trust_state);
            }
        }
        next.outcome = Some(summary.outcome);
        Ok((next, summary))
    }

    /// Writes one checked feed: its stored and quarantined rows, and for a
    /// period feed its superseded rows and the stored files it replaces
    /// rows of, rewritten.
    async fn write_one(
        &self,
        plan: &plan::FeedPlan<'_>,
        check: &duplicates::FeedCheck,
        manifest: &Manifest,
        previous: &TrustState,
    ) -> Result<Written> {
        let (files, new_files) = self.write_feed(plan, check, manifest).await?;
        if plan.feed.kind() == FeedKind::Snapshot {
            return Ok(Written {
                files,
                new_files,
                kept: Vec::new(),
            });
        }
        self.write_superseded(plan.feed, check).await?;
        let stored = previous
            .feeds
            .get(&plan.feed)
            .map(|f| f.files.as_slice())
            .unwrap_or_default();
        let kept = merge_period_feed(
            self.warehouse,
            plan.feed,
            &self.ex.trust,
            self.version,
            stored,
            &plan.replaced,
            &check.superseded,
            self.config.load.row_group_rows,
        )
        .await?;
        Ok(Written {
            files,
            new_files,
            kept,
        })
    }

    /// Loads the extract; the outer `Err` stops the run, the inner one
    /// refuses the extract.
    async fn load(&self, summary: &mut LoadSummary) -> Result<Result<TrustState, Refusal>> {
        let Some(trust_config) = self.config.trust(&self.ex.trust) else {
            return Ok(Err(self.refusal(
                RefusalKind::UnknownTrust,
                None,
                None,
                None,
                format!(
                    "trust {} is not configured in this ICS (configured: {})",
                    self.ex.trust,
                    self.config
                        .trusts
                        .iter()
                        .map(|t| t.ods.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )));
        };
        let manifest = match Manifest::parse(
            &self.ex.manifest_bytes,
            &self.ex.trust,
            &self.ex.extract_date,
        ) {
            Ok(m) => m,
            Err(r) => return Ok(Err(r)),
        };
        summary.extracted_at = Some(manifest.extracted_at);
        summary.source_system = Some(if manifest.source_system.is_empty() {
            trust_config.source_system.clone()
        } else {
            manifest.source_system.clone()
        });
        let previous = self
            .state
            .trusts
            .get(&self.ex.trust)
            .cloned()
            .unwrap_or_default();
        summary.late = previous.latest_extract_date.is_some_and(|d| d > self.date);
        summary.feeds = manifest.files.iter().map(|f| f.feed).collect();
        summary.feeds.sort();
        summary.feeds.dedup();
        summary.covers = manifest
            .files
            .iter()
            .filter_map(|f| f.covers)
            .reduce(|a, b| DateRange::new(a.from.min(b.from), a.to.max(b.to)));

        let plans = match self.plan(&manifest, &previous, summary.late).await? {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        // Check every feed before writing anything (the feeds on every core).
        let mut checks = Vec::with_capacity(plans.len());
        let checked = run_all(
            plans
                .iter()
                .map(|plan| self.check_feed(plan, &previous))
                .collect(),
        )
        .await;
        for c in checked {
            match c? {
                Ok(c) => checks.push(c),
                Err(r) => return Ok(Err(r)),
            }
        }
        if let Some(r) = self.guards(&plans, &checks, &previous) {
            return Ok(Err(r));
        }
        // Write (the feeds on every core), then record what each wrote.
        let mut next = previous.clone();
        let written = run_all(
            plans
                .iter()
                .zip(&checks)
                .map(|(plan, check)| self.write_one(plan, check, &manifest, &previous))
                .collect(),
        )
        .await;
        for ((plan, check), w) in plans.iter().zip(&checks).zip(written) {
            let Written {
                files,
                new_files,
                kept,
            } = w?;
            summary.files.extend(files);
            let feed_state = next.feeds.entry(plan.feed).or_default();
            if plan.feed.kind() == FeedKind::Snapshot {
                if !plan.late_snapshot {
                    *feed_state = FeedState {
                        files: new_files,
                        coverage: Vec::new(),
                        snapshot: Some(SnapshotInfo {
                            extract_date: self.date,
                            extracted_at: manifest.extracted_at,
                            load_id: self.version,
                            rows_read: check.rows_read,
                        }),
                    };
                }
            } else {
                summary.rows_superseded += check
                    .superseded
                    .values()
                    .map(|m| m.len() as u64)
                    .sum::<u64>();
                let replaced: Vec<DateRange> = plan
                    .replaced
                    .iter()
                    .map(|&(a, b)| DateRange::new(day_to_date(a), day_to_date(b)))
                    .collect();
                feed_state.files = kept.into_iter().chain(new_files).collect();
                feed_state.set_coverage(
                    &replaced,
                    &Coverage {
                        from: self.date,
                        to: self.date,
                        extract_date: self.date,
                        extracted_at: manifest.extracted_at,
                        load_id: self.version,
                    },
                );
            }
        }
        if summary.late {
            summary.note = Some(format!(
                "late: an extract dated {} was already loaded; only dates no later extract covered were loaded, and snapshot feeds were skipped",
                previous.latest_extract_date.expect("late implies a later load")
            ));
            tracing::warn!(trust = %self.ex.trust, extract_date = %self.ex.extract_date, "late extract");
        }
        next.mark_loaded(self.date);
        next.data_version = self.version;
        Ok(Ok(next))
    }
}
