//! The checking pass: every row read and validated, duplicate ids found
//! (within the delivery and against stored rows of other dates), and the
//! guards that hold an extract that would wipe good data.

use crate::error::{Refusal, RefusalKind, Result};
use crate::merge::{scan_stored_ids, StoredIdRow};
use crate::validate::{canonicalize, Canonical, Checker};
use datafusion::arrow::array::Array;
use datafusion::arrow::row::{RowConverter, SortField};
use futures::StreamExt;
use icsw_model::{FeedKind, Reason};
use icsw_store::TrustState;
use std::collections::{HashMap, HashSet};
use xxhash_rust::xxh3::xxh3_128;

use super::plan::{read_landed, FeedPlan};
use super::Job;

#[derive(Clone, Copy)]
pub(super) struct DupInfo {
    pub(super) conflict: bool,
    pub(super) first_clean: Option<(u32, u64)>,
}

/// What the checking pass learned of a feed.
#[derive(Default)]
pub(super) struct FeedCheck {
    pub(super) rows_read: u64,
    pub(super) rejected: u64,
    /// Ids with more than one row in the delivery.
    pub(super) dups: HashMap<u128, DupInfo>,
    /// Ids the warehouse holds from a later extract.
    pub(super) held: HashSet<u128>,
    /// Stored rows to drop: file path -> row positions, with what they were.
    pub(super) superseded: HashMap<String, HashMap<u64, StoredIdRow>>,
}

pub(super) fn in_ranges(ranges: &[(i32, i32)], d: i32) -> bool {
    ranges.iter().any(|&(a, b)| a <= d && d <= b)
}

impl Job<'_> {
    /// Pass 1: validates every row, finds repeated ids, and (period feeds)
    /// stored rows elsewhere with the same ids. Ids are held in memory at
    /// most `ids_in_memory` at a time: a larger delivery takes more passes.
    pub(super) async fn check_feed(
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
                let mut stream = read_landed(&f.path).await?;
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
    pub(super) fn guards(
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
}

pub(super) struct IdEntry {
    pub(super) content: u128,
    pub(super) conflict: bool,
    pub(super) first_clean: Option<(u32, u64)>,
    pub(super) copies: u32,
    pub(super) clean_copies: u32,
}

/// The fate of one row in pass 2: stored with its warnings, or quarantined
/// with its reason and column. Rejections first (section 6's order), then
/// the bookkeeping reasons.
pub(super) fn decide(
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
pub(super) fn content_rows(canon: &Canonical) -> Result<datafusion::arrow::row::Rows> {
    let fields = canon
        .columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let conv = RowConverter::new(fields)?;
    Ok(conv.convert_columns(&canon.columns)?)
}
