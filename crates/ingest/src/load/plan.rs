//! Planning: the manifest's files found, checked (sha256, rows, schema)
//! and opened, and the dates each period feed replaces.

use crate::error::{Error, Refusal, RefusalKind, Result};
use crate::manifest::{Manifest, ManifestFile};
use crate::validate::{check_schema, FileLayout, RowContext};
use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStream;
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use icsw_model::london::{date_to_day, local_day_of_instant};
use icsw_model::{Feed, FeedKind};
use icsw_store::{DateRange, TrustState};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

use super::Job;

/// A checked file, ready to read.
pub(super) struct PlannedFile<'m> {
    pub(super) index: u32,
    pub(super) mf: &'m ManifestFile,
    pub(super) path: PathBuf,
    pub(super) layout: FileLayout,
    pub(super) ctx: RowContext,
}

/// One feed of the extract.
pub(super) struct FeedPlan<'m> {
    pub(super) feed: Feed,
    pub(super) files: Vec<PlannedFile<'m>>,
    /// A late extract's snapshot feed: every row is skipped.
    pub(super) late_snapshot: bool,
    /// Period feeds: the dates this extract replaces (its covers, less the
    /// dates a later extract already covered), as day ranges.
    pub(super) replaced: Vec<(i32, i32)>,
    /// Dates in covers that a later extract covered.
    pub(super) later_covered: Vec<(i32, i32)>,
}

impl Job<'_> {
    /// Checks the files themselves: present, sha256, Parquet, row counts,
    /// schema. Builds the per-feed plan.
    pub(super) async fn plan<'m>(
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
}

/// Rows read from a landed file at a time.
const BATCH_ROWS: usize = 64 * 1024;

/// A landed file's rows, in batches of `BATCH_ROWS`.
pub(super) async fn read_landed(path: &Path) -> Result<ParquetRecordBatchStream<tokio::fs::File>> {
    Ok(open_landed(path)
        .await?
        .with_batch_size(BATCH_ROWS)
        .build()?)
}

/// A landed Parquet file, opened for reading.
pub(super) async fn open_landed(
    path: &Path,
) -> Result<ParquetRecordBatchStreamBuilder<tokio::fs::File>> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|source| Error::Landing {
            path: path.display().to_string(),
            source,
        })?;
    Ok(ParquetRecordBatchStreamBuilder::new(f).await?)
}

pub(super) async fn sha256_file(path: &Path) -> std::io::Result<String> {
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
