//! `icsw load`: every complete extract not loaded yet, in extract-date order
//! per trust, each published as one warehouse version.

use crate::error::{Error, Refusal, RefusalKind, Result};
use crate::landing::{discover, ArrivingFolder, LandedExtract, Landing};
use crate::log::{open_writer, write_load_log, write_one};
use crate::manifest::{Manifest, ManifestFile};
use crate::merge::{merge_period_feed, scan_stored_ids, StoredIdRow};
use crate::progress::Progress;
use crate::validate::{
    canonicalize, check_schema, shown_value, Canonical, Checker, FileLayout, RowContext,
};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use futures::StreamExt;
use icsw_model::london::{date_to_day, day_to_date, local_day_of_instant};
use icsw_model::reason::warnings_text;
use icsw_model::{Feed, FeedKind, IcsConfig, Reason};
use icsw_store::log_schema::{quarantine_schema, superseded_schema};
use icsw_store::{
    Coverage, DataFile, DateRange, FeedState, LoadOutcome, RefusedExtract, SnapshotInfo,
    StoreWriter, TrustState, VersionState, Warehouse,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use xxhash_rust::xxh3::xxh3_128;

const BATCH_ROWS: usize = 64 * 1024;
/// Flush open month writers when their buffered row groups pass this.
const WRITER_MEMORY: usize = 96 * 1024 * 1024;

/// What one file of a load became.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    pub feed: Feed,
    pub path: String,
    pub sha256: String,
    pub covers: Option<DateRange>,
    pub rows_manifest: u64,
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_quarantined: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    /// Quarantined rows by reason code.
    pub quarantined: BTreeMap<&'static str, u64>,
}

/// One load attempt.
#[derive(Clone, Debug, Serialize)]
pub struct LoadSummary {
    pub load_id: u64,
    pub trust: String,
    pub extract_date: Option<NaiveDate>,
    pub extracted_at: Option<DateTime<Utc>>,
    pub source_system: Option<String>,
    pub manifest_sha256: String,
    pub outcome: LoadOutcome,
    pub late: bool,
    pub refusal: Option<Refusal>,
    /// A warning about a load that went through (a late extract).
    pub note: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub files: Vec<FileSummary>,
    /// Stored rows of other date ranges replaced by newer rows with the same id.
    pub rows_superseded: u64,
    /// The span of the manifest's `covers`, when it could be read.
    pub covers: Option<DateRange>,
}

impl LoadSummary {
    pub fn rows_read(&self) -> u64 {
        self.files.iter().map(|f| f.rows_read).sum()
    }
    pub fn rows_stored(&self) -> u64 {
        self.files.iter().map(|f| f.rows_stored).sum()
    }
    pub fn rows_quarantined(&self) -> u64 {
        self.files.iter().map(|f| f.rows_quarantined).sum()
    }
    pub fn rows_rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rows_rejected).sum()
    }
    pub fn rows_warned(&self) -> u64 {
        self.files.iter().map(|f| f.rows_warned).sum()
    }
}

/// An extract not loaded this run, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub trust: String,
    pub extract_date: String,
    pub why: &'static str,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub loads: Vec<LoadSummary>,
    pub skipped: Vec<Skipped>,
    /// Folders without a manifest yet.
    pub arriving: Vec<ArrivingFolder>,
    /// The warehouse version after the run.
    pub version: u64,
}

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
        let (next, summary) = job.run().await?;
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

fn manifest_rows(ex: &LandedExtract) -> u64 {
    Manifest::parse(&ex.manifest_bytes, &ex.trust, &ex.extract_date)
        .map(|m| m.total_rows())
        .unwrap_or(0)
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

/// A checked file, ready to read.
struct PlannedFile<'m> {
    index: u32,
    mf: &'m ManifestFile,
    path: PathBuf,
    layout: FileLayout,
    ctx: RowContext,
}

/// One feed of the extract.
struct FeedPlan<'m> {
    feed: Feed,
    files: Vec<PlannedFile<'m>>,
    /// A late extract's snapshot feed: every row is skipped.
    late_snapshot: bool,
    /// Period feeds: the dates this extract replaces (its covers, less the
    /// dates a later extract already covered), as day ranges.
    replaced: Vec<(i32, i32)>,
    /// Dates in covers that a later extract covered.
    later_covered: Vec<(i32, i32)>,
}

#[derive(Clone, Copy)]
struct DupInfo {
    conflict: bool,
    first_clean: Option<(u32, u64)>,
}

/// What the checking pass learned of a feed.
#[derive(Default)]
struct FeedCheck {
    rows_read: u64,
    rejected: u64,
    /// Ids with more than one row in the delivery.
    dups: HashMap<u128, DupInfo>,
    /// Ids the warehouse holds from a later extract.
    held: HashSet<u128>,
    /// Stored rows to drop: file path -> row positions, with what they were.
    superseded: HashMap<String, HashMap<u64, StoredIdRow>>,
}

fn in_ranges(ranges: &[(i32, i32)], d: i32) -> bool {
    ranges.iter().any(|&(a, b)| a <= d && d <= b)
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
        summary.covers = manifest
            .files
            .iter()
            .filter_map(|f| f.covers)
            .reduce(|a, b| DateRange::new(a.from.min(b.from), a.to.max(b.to)));

        let plans = match self.plan(&manifest, &previous, summary.late).await? {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        // Check every feed before writing anything.
        let mut checks = Vec::with_capacity(plans.len());
        for plan in &plans {
            match self.check_feed(plan, &previous).await? {
                Ok(c) => checks.push(c),
                Err(r) => return Ok(Err(r)),
            }
        }
        if let Some(r) = self.guards(&plans, &checks, &previous) {
            return Ok(Err(r));
        }
        // Write.
        let mut next = previous.clone();
        for (plan, check) in plans.iter().zip(&checks) {
            let (files, new_files) = self.write_feed(plan, check, &manifest).await?;
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
                let superseded: u64 = check.superseded.values().map(|m| m.len() as u64).sum();
                summary.rows_superseded += superseded;
                self.write_superseded(plan.feed, check).await?;
                let replaced: Vec<DateRange> = plan
                    .replaced
                    .iter()
                    .map(|&(a, b)| DateRange::new(day_to_date(a), day_to_date(b)))
                    .collect();
                let kept = merge_period_feed(
                    self.warehouse,
                    plan.feed,
                    &self.ex.trust,
                    self.version,
                    &feed_state.files,
                    &plan.replaced,
                    &check.superseded,
                    self.config.load.row_group_rows,
                )
                .await?;
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

    /// Checks the files themselves: present, sha256, Parquet, row counts,
    /// schema. Builds the per-feed plan.
    async fn plan<'m>(
        &self,
        manifest: &'m Manifest,
        previous: &TrustState,
        late: bool,
    ) -> Result<Result<Vec<FeedPlan<'m>>, Refusal>> {
        let extracted_at_us = manifest.extracted_at.timestamp_micros();
        let extracted_day = local_day_of_instant(extracted_at_us);
        let mut planned = Vec::new();
        for (i, mf) in manifest.files.iter().enumerate() {
            let path = self.ex.folder.join(&mf.path);
            let file = Some(mf.path.as_str());
            let refuse = |kind, column: Option<&str>, message: String| {
                Ok(Err(self.refusal(
                    kind,
                    file,
                    Some(mf.feed),
                    column,
                    message,
                )))
            };
            let sha = match sha256_file(&path).await {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return refuse(
                        RefusalKind::MissingFile,
                        None,
                        "named in the manifest but not in the folder".into(),
                    )
                }
                Err(source) => {
                    return Err(Error::Landing {
                        path: path.display().to_string(),
                        source,
                    })
                }
            };
            if sha != mf.sha256 {
                return refuse(
                    RefusalKind::Sha256Mismatch,
                    None,
                    format!(
                        "sha256 is {sha}, the manifest says {}: a damaged or partial transfer",
                        mf.sha256
                    ),
                );
            }
            let builder = match open_landed(&path).await {
                Ok(b) => b,
                Err(e) => {
                    return refuse(
                        RefusalKind::UnreadableFile,
                        None,
                        format!("not readable Parquet: {e}"),
                    )
                }
            };
            let rows = builder.metadata().file_metadata().num_rows() as u64;
            if rows != mf.rows {
                return refuse(
                    RefusalKind::RowCountMismatch,
                    None,
                    format!("holds {rows} rows, the manifest says {}", mf.rows),
                );
            }
            let layout = match check_schema(mf.feed, builder.schema()) {
                Ok(l) => l,
                Err((column, message)) => {
                    return refuse(
                        RefusalKind::SchemaDrift,
                        Some(&column),
                        format!("schema drift: {message}"),
                    )
                }
            };
            planned.push(PlannedFile {
                index: i as u32,
                mf,
                path,
                layout,
                ctx: RowContext {
                    covers: mf.covers.map(|c| (date_to_day(c.from), date_to_day(c.to))),
                    extracted_at_us,
                    extracted_day,
                },
            });
        }
        let mut plans = Vec::new();
        for feed in manifest.feeds() {
            let files: Vec<PlannedFile<'m>> = {
                let mut v = Vec::new();
                for p in std::mem::take(&mut planned) {
                    if p.mf.feed == feed {
                        v.push(p);
                    } else {
                        planned.push(p);
                    }
                }
                v.sort_by_key(|p| p.index);
                v
            };
            let covers: Vec<DateRange> = files.iter().filter_map(|f| f.mf.covers).collect();
            let covers = DateRange::normalise(covers);
            let mut later_covered = Vec::new();
            let mut replaced = Vec::new();
            if feed.kind() == FeedKind::Period {
                let old = previous.feeds.get(&feed);
                for r in &covers {
                    // Split each covered range by whether a later extract
                    // already stands for it.
                    let mut d = r.from;
                    while d <= r.to {
                        let later = old
                            .and_then(|f| f.covered_by(d))
                            .is_some_and(|c| c.extract_date > self.date);
                        let day = date_to_day(d);
                        let target = if later {
                            &mut later_covered
                        } else {
                            &mut replaced
                        };
                        match target.last_mut() {
                            Some((_, b)) if *b + 1 == day => *b = day,
                            _ => target.push((day, day)),
                        }
                        d = d.succ_opt().expect("date in range");
                    }
                }
            }
            plans.push(FeedPlan {
                feed,
                files,
                late_snapshot: late && feed.kind() == FeedKind::Snapshot,
                replaced,
                later_covered,
            });
        }
        Ok(Ok(plans))
    }

    /// Pass 1: validates every row, finds repeated ids, and (period feeds)
    /// stored rows elsewhere with the same ids. Ids are held in memory at
    /// most `ids_in_memory` at a time: a larger delivery takes more passes.
    async fn check_feed(
        &self,
        plan: &FeedPlan<'_>,
        previous: &TrustState,
    ) -> Result<Result<FeedCheck, Refusal>> {
        let mut check = FeedCheck::default();
        if plan.late_snapshot {
            check.rows_read = plan.files.iter().map(|f| f.mf.rows).sum();
            return Ok(Ok(check));
        }
        let total: u64 = plan.files.iter().map(|f| f.mf.rows).sum();
        let parts = total.div_ceil(self.config.load.ids_in_memory as u64).max(1);
        let stored = previous
            .feeds
            .get(&plan.feed)
            .map(|f| f.files.clone())
            .unwrap_or_default();
        for part in 0..parts {
            let mut ids: HashMap<u128, IdEntry> = HashMap::new();
            for f in &plan.files {
                let mut stream = open_landed(&f.path)
                    .await?
                    .with_batch_size(BATCH_ROWS)
                    .build()?;
                let mut row: u64 = 0;
                while let Some(batch) = stream.next().await {
                    let batch = match batch {
                        Ok(b) => b,
                        Err(e) => {
                            return Ok(Err(self.refusal(
                                RefusalKind::UnreadableFile,
                                Some(&f.mf.path),
                                Some(plan.feed),
                                None,
                                format!("not readable Parquet after row {row}: {e}"),
                            )))
                        }
                    };
                    let canon = match canonicalize(plan.feed, &f.layout, &batch) {
                        Ok(c) => c,
                        Err(e) => {
                            return Ok(Err(self.refusal(
                                RefusalKind::SchemaDrift,
                                Some(&f.mf.path),
                                Some(plan.feed),
                                None,
                                format!("cannot convert to the contract's types: {e}"),
                            )))
                        }
                    };
                    let checker = Checker::new(plan.feed, &canon, &f.ctx);
                    let content = content_rows(&canon)?;
                    for i in 0..canon.rows {
                        let early = checker.early_reason(i);
                        if part == 0 {
                            check.rows_read += 1;
                            if early.is_some() {
                                check.rejected += 1;
                            }
                        }
                        let Some(id) = checker.id(i) else { continue };
                        let h = xxh3_128(id.as_bytes());
                        if ((h >> 64) as u64) % parts != part {
                            continue;
                        }
                        let c = xxh3_128(content.row(i).as_ref());
                        let covered = checker
                            .activity_day(i)
                            .is_some_and(|d| in_ranges(&plan.later_covered, d));
                        let e = ids.entry(h).or_insert(IdEntry {
                            content: c,
                            conflict: false,
                            first_clean: None,
                            copies: 0,
                            clean_copies: 0,
                        });
                        if e.content != c {
                            e.conflict = true;
                        }
                        e.copies += 1;
                        if early.is_none() {
                            e.clean_copies += 1;
                            if !covered && e.first_clean.is_none() {
                                e.first_clean = Some((f.index, row + i as u64));
                            }
                        }
                    }
                    row += canon.rows as u64;
                    if part == 0 {
                        self.progress.rows(canon.rows as u64);
                    }
                }
            }
            if plan.feed.kind() == FeedKind::Period && !stored.is_empty() {
                let found =
                    scan_stored_ids(self.warehouse, plan.feed, &stored, &plan.replaced, |h| {
                        ((h >> 64) as u64) % parts == part
                            && ids
                                .get(&h)
                                .is_some_and(|e| !e.conflict && e.first_clean.is_some())
                    })
                    .await?;
                for (path, r) in found {
                    if self.date > r.extract_date {
                        check
                            .superseded
                            .entry(path)
                            .or_default()
                            .insert(r.position, r);
                    } else {
                        check.held.insert(r.id_hash);
                    }
                }
            }
            for (h, e) in ids {
                if e.conflict {
                    check.rejected += u64::from(e.clean_copies);
                }
                if e.copies > 1 {
                    check.dups.insert(
                        h,
                        DupInfo {
                            conflict: e.conflict,
                            first_clean: e.first_clean,
                        },
                    );
                }
            }
        }
        Ok(Ok(check))
    }

    /// The contract's two guards (section 4).
    fn guards(
        &self,
        plans: &[FeedPlan<'_>],
        checks: &[FeedCheck],
        previous: &TrustState,
    ) -> Option<Refusal> {
        let l = &self.config.load;
        for (plan, check) in plans.iter().zip(checks) {
            if check.rows_read > 0
                && check.rejected as f64 > l.max_rejected_fraction * check.rows_read as f64
            {
                return Some(self.refusal(
                    RefusalKind::TooManyRejected,
                    None,
                    Some(plan.feed),
                    None,
                    format!(
                        "held: {} of {} rows of {} were rejected, more than the {}% allowed",
                        check.rejected,
                        check.rows_read,
                        plan.feed,
                        l.max_rejected_fraction * 100.0
                    ),
                ));
            }
            if plan.feed.kind() == FeedKind::Snapshot && !plan.late_snapshot {
                if let Some(prev) = previous
                    .feeds
                    .get(&plan.feed)
                    .and_then(|f| f.snapshot.as_ref())
                {
                    if (check.rows_read as f64) < l.min_snapshot_fraction * prev.rows_read as f64 {
                        return Some(self.refusal(
                            RefusalKind::ShrunkenSnapshot,
                            None,
                            Some(plan.feed),
                            None,
                            format!(
                                "held: snapshot {} has {} rows, fewer than {}% of the {} of the snapshot of {}",
                                plan.feed,
                                check.rows_read,
                                l.min_snapshot_fraction * 100.0,
                                prev.rows_read,
                                prev.extract_date
                            ),
                        ));
                    }
                }
            }
        }
        None
    }

    /// Pass 2: writes stored rows (period feeds split by month) and
    /// quarantined rows.
    async fn write_feed(
        &self,
        plan: &FeedPlan<'_>,
        check: &FeedCheck,
        manifest: &Manifest,
    ) -> Result<(Vec<FileSummary>, Vec<DataFile>)> {
        let trust = &self.ex.trust;
        let feed = plan.feed;
        let mut writers = MonthWriters::new(self, feed);
        let mut quarantine: Option<StoreWriter> = None;
        let mut summaries = Vec::new();
        for f in &plan.files {
            let mut s = FileSummary {
                feed,
                path: f.mf.path.clone(),
                sha256: f.mf.sha256.clone(),
                covers: f.mf.covers,
                rows_manifest: f.mf.rows,
                rows_read: 0,
                rows_stored: 0,
                rows_quarantined: 0,
                rows_rejected: 0,
                rows_warned: 0,
                quarantined: BTreeMap::new(),
            };
            let mut stream = open_landed(&f.path)
                .await?
                .with_batch_size(BATCH_ROWS)
                .build()?;
            let mut row: u64 = 0;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let canon = canonicalize(feed, &f.layout, &batch)?;
                let checker = Checker::new(feed, &canon, &f.ctx);
                let n = canon.rows;
                let mut keep = Vec::with_capacity(n);
                let mut warnings: Vec<Option<String>> = Vec::with_capacity(n);
                let mut days: Vec<Option<i32>> = Vec::with_capacity(n);
                let mut q_rows: Vec<u32> = Vec::new();
                let mut q_info: Vec<(Reason, Option<usize>)> = Vec::new();
                for i in 0..n {
                    let position = row + i as u64;
                    let decision = if plan.late_snapshot {
                        Err((Reason::LateSnapshotSkipped, None))
                    } else {
                        decide(&checker, check, plan, f.index, position, i)
                    };
                    match decision {
                        Ok(w) => {
                            keep.push(true);
                            if w != 0 {
                                s.rows_warned += 1;
                            }
                            warnings.push(warnings_text(w));
                            days.push(checker.activity_day(i));
                        }
                        Err((reason, col)) => {
                            keep.push(false);
                            warnings.push(None);
                            days.push(None);
                            q_rows.push(i as u32);
                            q_info.push((reason, col));
                            *s.quarantined.entry(reason.code()).or_default() += 1;
                            if reason.is_rejection() {
                                s.rows_rejected += 1;
                            }
                        }
                    }
                }
                s.rows_read += n as u64;
                s.rows_quarantined += q_rows.len() as u64;
                let stored = stored_batch(
                    feed,
                    trust,
                    &canon,
                    &days,
                    &warnings,
                    self.version,
                    self.date,
                    manifest.extracted_at,
                    &f.mf.path,
                    row,
                    &BooleanArray::from(keep),
                )?;
                s.rows_stored += stored.num_rows() as u64;
                writers.write(stored).await?;
                if !q_rows.is_empty() {
                    let qb =
                        self.quarantine_batch(feed, &f.mf.path, &canon, row, &q_rows, &q_info)?;
                    if quarantine.is_none() {
                        quarantine = Some(open_writer(
                            self.warehouse,
                            &icsw_store::layout::log_file(
                                "quarantine",
                                self.version,
                                &format!("{trust}-{feed}"),
                            ),
                            quarantine_schema(),
                            self.config.load.row_group_rows,
                        )?);
                    }
                    quarantine.as_mut().expect("opened").write(&qb).await?;
                }
                row += n as u64;
                self.progress.rows(n as u64);
            }
            debug_assert_eq!(s.rows_read, s.rows_stored + s.rows_quarantined);
            summaries.push(s);
        }
        if let Some(q) = quarantine {
            q.close().await?;
        }
        let files = writers.finish().await?;
        Ok((summaries, files))
    }

    fn quarantine_batch(
        &self,
        feed: Feed,
        file: &str,
        canon: &Canonical,
        first_row: u64,
        rows: &[u32],
        info: &[(Reason, Option<usize>)],
    ) -> Result<RecordBatch> {
        let n = rows.len();
        let specs = feed.columns();
        let records = record_json(feed, canon, rows)?;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![self.version as i64; n])),
            Arc::new(StringArray::from(vec![self.ex.trust.as_str(); n])),
            Arc::new(Date32Array::from(vec![date_to_day(self.date); n])),
            Arc::new(StringArray::from(vec![feed.name(); n])),
            Arc::new(StringArray::from(vec![file; n])),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|&r| (first_row + u64::from(r) + 1) as i64),
            )),
            Arc::new(StringArray::from_iter(rows.iter().map(|&r| {
                let ids = canon.columns[0].as_string::<i32>();
                ids.is_valid(r as usize)
                    .then(|| ids.value(r as usize))
                    .filter(|v| !v.trim().is_empty())
            }))),
            Arc::new(StringArray::from_iter(
                info.iter().map(|(_, c)| c.map(|c| specs[c].name)),
            )),
            Arc::new(StringArray::from_iter(rows.iter().zip(info).map(
                |(&r, (reason, c))| match reason {
                    Reason::LateSnapshotSkipped => None,
                    _ => shown_value(canon, c.unwrap_or(0), r as usize),
                },
            ))),
            Arc::new(StringArray::from_iter_values(
                info.iter().map(|(r, _)| r.code()),
            )),
            Arc::new(StringArray::from(records)),
        ];
        Ok(RecordBatch::try_new(quarantine_schema(), cols)?)
    }

    async fn write_superseded(&self, feed: Feed, check: &FeedCheck) -> Result<()> {
        let rows: Vec<&StoredIdRow> = check.superseded.values().flat_map(|m| m.values()).collect();
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![self.version as i64; n])),
            Arc::new(StringArray::from(vec![self.ex.trust.as_str(); n])),
            Arc::new(StringArray::from(vec![feed.name(); n])),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.id.as_str()),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.activity_day),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date_to_day(r.extract_date)),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.load_id as i64),
            )),
        ];
        let batch = RecordBatch::try_new(superseded_schema(), cols)?;
        write_one(
            self.warehouse,
            &icsw_store::layout::log_file(
                "superseded",
                self.version,
                &format!("{}-{feed}", self.ex.trust),
            ),
            batch,
        )
        .await
    }
}

struct IdEntry {
    content: u128,
    conflict: bool,
    first_clean: Option<(u32, u64)>,
    copies: u32,
    clean_copies: u32,
}

/// The fate of one row in pass 2: stored with its warnings, or quarantined
/// with its reason and column. Rejections first (section 6's order), then
/// the bookkeeping reasons.
fn decide(
    checker: &Checker<'_>,
    check: &FeedCheck,
    plan: &FeedPlan<'_>,
    file: u32,
    position: u64,
    i: usize,
) -> Result<u8, (Reason, Option<usize>)> {
    if let Some((r, c)) = checker.early_reason(i) {
        return Err((r, Some(c)));
    }
    let id = checker
        .id(i)
        .expect("a row without an id has an early reason");
    let h = xxh3_128(id.as_bytes());
    let dup = check.dups.get(&h);
    if dup.is_some_and(|d| d.conflict) {
        return Err((Reason::DuplicateId, Some(0)));
    }
    if let Some(d) = checker.activity_day(i) {
        if in_ranges(&plan.later_covered, d) {
            let c = plan
                .feed
                .activity_column()
                .and_then(|n| plan.feed.columns().iter().position(|s| s.name == n));
            return Err((Reason::CoveredByLaterExtract, c));
        }
    }
    if dup.is_some_and(|d| d.first_clean != Some((file, position))) {
        return Err((Reason::ExactDuplicate, Some(0)));
    }
    if check.held.contains(&h) {
        return Err((Reason::IdHeldByLaterExtract, Some(0)));
    }
    Ok(checker.warnings(i))
}

/// Rows of the contract columns in a comparable byte form (for exact
/// duplicates: every contract column equal).
fn content_rows(canon: &Canonical) -> Result<datafusion::arrow::row::Rows> {
    let fields = canon
        .columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let conv = RowConverter::new(fields)?;
    Ok(conv.convert_columns(&canon.columns)?)
}

/// The quarantined rows' contract columns as JSON objects.
fn record_json(feed: Feed, canon: &Canonical, rows: &[u32]) -> Result<Vec<String>> {
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
        feed.columns()
            .iter()
            .zip(&canon.columns)
            .map(|(s, c)| {
                datafusion::arrow::datatypes::Field::new(s.name, c.data_type().clone(), true)
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema, canon.columns.clone())?;
    let batch = take_record_batch(&batch, &UInt32Array::from(rows.to_vec()))?;
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
        w.write(&batch)?;
        w.finish()?;
    }
    let text = String::from_utf8(buf)?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The rows `keep` picks, in the feed's stored schema.
#[allow(clippy::too_many_arguments)]
fn stored_batch(
    feed: Feed,
    trust: &str,
    canon: &Canonical,
    days: &[Option<i32>],
    warnings: &[Option<String>],
    load_id: u64,
    extract_date: NaiveDate,
    extracted_at: DateTime<Utc>,
    file: &str,
    first_row: u64,
    keep: &BooleanArray,
) -> Result<RecordBatch> {
    let n = canon.rows;
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(feed.stored_schema().fields().len());
    cols.push(Arc::new(StringArray::from(vec![trust; n])));
    cols.extend(canon.columns.iter().cloned());
    if feed.kind() == FeedKind::Period {
        // Quarantined rows get day 0; they are filtered out.
        cols.push(Arc::new(Date32Array::from_iter_values(
            days.iter().map(|d| d.unwrap_or(0)),
        )));
    }
    cols.push(Arc::new(Int64Array::from(vec![load_id as i64; n])));
    cols.push(Arc::new(Date32Array::from(vec![
        date_to_day(extract_date);
        n
    ])));
    cols.push(Arc::new(
        TimestampMicrosecondArray::from(vec![extracted_at.timestamp_micros(); n])
            .with_timezone("UTC"),
    ));
    cols.push(Arc::new(StringArray::from(vec![file; n])));
    cols.push(Arc::new(Int64Array::from_iter_values(
        (0..n as u64).map(|i| (first_row + i + 1) as i64),
    )));
    cols.push(Arc::new(StringArray::from(warnings.to_vec())));
    // Filter before building the batch: quarantined rows may hold nulls
    // where the stored schema allows none.
    let cols = cols
        .iter()
        .map(|c| datafusion::arrow::compute::filter(c, keep))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let rows = keep.true_count();
    Ok(RecordBatch::try_new_with_options(
        feed.stored_schema(),
        cols,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// One open output file: where it goes, its rows and activity dates.
struct PartWriter {
    writer: StoreWriter,
    path: String,
    rows: u64,
    min: Option<i32>,
    max: Option<i32>,
}

/// Writers for a feed's stored rows: one file per month of activity
/// (period feeds) or one for the snapshot.
struct MonthWriters<'a> {
    job: &'a Job<'a>,
    feed: Feed,
    open: BTreeMap<String, PartWriter>,
    seq: u32,
}

impl<'a> MonthWriters<'a> {
    fn new(job: &'a Job<'a>, feed: Feed) -> Self {
        MonthWriters {
            job,
            feed,
            open: BTreeMap::new(),
            seq: 0,
        }
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.feed.kind() == FeedKind::Snapshot {
            return self.write_part("snapshot".into(), batch, None).await;
        }
        let days = batch
            .column_by_name("activity_date")
            .expect("period feeds have activity_date")
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("Date32")
            .clone();
        let mut by_month: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (i, d) in days.values().iter().enumerate() {
            let m = icsw_model::Month::of(day_to_date(*d)).to_string();
            by_month.entry(m).or_default().push(i as u32);
        }
        for (month, idx) in by_month {
            let part = if idx.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(idx))?
            };
            let d = part
                .column_by_name("activity_date")
                .expect("activity_date")
                .as_any()
                .downcast_ref::<Date32Array>()
                .expect("Date32")
                .clone();
            let range = d
                .values()
                .iter()
                .copied()
                .fold(None, |acc: Option<(i32, i32)>, x| {
                    Some(acc.map_or((x, x), |(a, b)| (a.min(x), b.max(x))))
                });
            self.write_part(month, part, range).await?;
        }
        Ok(())
    }

    async fn write_part(
        &mut self,
        key: String,
        batch: RecordBatch,
        range: Option<(i32, i32)>,
    ) -> Result<()> {
        if !self.open.contains_key(&key) {
            let rel = icsw_store::layout::data_file(
                self.feed.name(),
                &self.job.ex.trust,
                &key,
                self.job.version,
                self.seq,
            );
            self.seq += 1;
            let w = open_writer(
                self.job.warehouse,
                &rel,
                self.feed.stored_schema(),
                self.job.config.load.row_group_rows,
            )?;
            self.open.insert(
                key.clone(),
                PartWriter {
                    writer: w,
                    path: rel,
                    rows: 0,
                    min: None,
                    max: None,
                },
            );
        }
        let part = self.open.get_mut(&key).expect("opened");
        part.writer.write(&batch).await?;
        part.rows += batch.num_rows() as u64;
        if let Some((a, b)) = range {
            part.min = Some(part.min.map_or(a, |x| x.min(a)));
            part.max = Some(part.max.map_or(b, |x| x.max(b)));
        }
        // Keep buffered row groups bounded however many months are open.
        let buffered: usize = self
            .open
            .values()
            .map(|p| p.writer.in_progress_size())
            .sum();
        if buffered > WRITER_MEMORY {
            if let Some(big) = self
                .open
                .values_mut()
                .max_by_key(|p| p.writer.in_progress_size())
            {
                big.writer.flush().await?;
            }
        }
        Ok(())
    }

    async fn finish(self) -> Result<Vec<DataFile>> {
        let mut out = Vec::new();
        for (_, p) in self.open {
            p.writer.close().await?;
            let bytes = self.job.warehouse.size_of(&p.path).await?;
            out.push(DataFile {
                path: p.path,
                rows: p.rows,
                bytes,
                min_date: p.min.map(day_to_date),
                max_date: p.max.map(day_to_date),
                load_id: self.job.version,
            });
        }
        Ok(out)
    }
}

/// A landed Parquet file, opened for reading.
async fn open_landed(path: &Path) -> Result<ParquetRecordBatchStreamBuilder<tokio::fs::File>> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|source| Error::Landing {
            path: path.display().to_string(),
            source,
        })?;
    Ok(ParquetRecordBatchStreamBuilder::new(f).await?)
}

async fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
