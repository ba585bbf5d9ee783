//! The writing pass: stored rows into one file per month of activity (or
//! the snapshot), quarantined rows with their reasons, superseded rows.

use crate::error::Result;
use crate::log::{open_writer, write_one};
use crate::manifest::Manifest;
use crate::merge::StoredIdRow;
use crate::summary::FileSummary;
use crate::validate::{canonicalize, shown_value, Canonical, Checker};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take_record_batch;
use futures::StreamExt;
use icsw_model::london::{date_to_day, day_to_date};
use icsw_model::reason::warnings_text;
use icsw_model::{Feed, FeedKind, Reason};
use icsw_store::log_schema::{quarantine_schema, superseded_schema};
use icsw_store::{DataFile, StoreWriter};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::duplicates::{decide, FeedCheck};
use super::plan::{read_landed, FeedPlan};
use super::Job;
use super::WRITER_MEMORY;

impl Job<'_> {
    /// Pass 2: writes stored rows (period feeds split by month) and
    /// quarantined rows.
    pub(super) async fn write_feed(
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
            let mut stream = read_landed(&f.path).await?;
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

    pub(super) fn quarantine_batch(
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

    pub(super) async fn write_superseded(&self, feed: Feed, check: &FeedCheck) -> Result<()> {
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

/// The quarantined rows' contract columns as JSON objects.
pub(super) fn record_json(feed: Feed, canon: &Canonical, rows: &[u32]) -> Result<Vec<String>> {
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
pub(super) fn stored_batch(
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
pub(super) struct PartWriter {
    pub(super) writer: StoreWriter,
    pub(super) path: String,
    pub(super) rows: u64,
    pub(super) min: Option<i32>,
    pub(super) max: Option<i32>,
}

/// Writers for a feed's stored rows: one file per month of activity
/// (period feeds) or one for the snapshot.
pub(super) struct MonthWriters<'a> {
    pub(super) job: &'a Job<'a>,
    pub(super) feed: Feed,
    pub(super) open: BTreeMap<String, PartWriter>,
    pub(super) seq: u32,
}

impl<'a> MonthWriters<'a> {
    pub(super) fn new(job: &'a Job<'a>, feed: Feed) -> Self {
        MonthWriters {
            job,
            feed,
            open: BTreeMap::new(),
            seq: 0,
        }
    }

    pub(super) async fn write(&mut self, batch: RecordBatch) -> Result<()> {
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

    pub(super) async fn write_part(
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

    pub(super) async fn finish(self) -> Result<Vec<DataFile>> {
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
