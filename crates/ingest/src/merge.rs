//! Bulk replacement of a period feed's stored files (contract section 4):
//! files wholly inside the replaced dates are dropped, files partly inside
//! (or holding rows superseded by id) are rewritten without those rows, and
//! the rest are kept as they are.

use crate::error::Result;
use crate::log::open_writer;
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use datafusion::parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use futures::StreamExt;
use icsw_model::london::{date_to_day, day_to_date};
use icsw_model::Feed;
use icsw_store::{DataFile, StoreFileReader, Warehouse};
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_128;

/// A stored row found to share an id with a new row.
#[derive(Clone, Debug)]
pub(crate) struct StoredIdRow {
    /// 0-based position in its file.
    pub position: u64,
    pub id: String,
    pub id_hash: u128,
    pub activity_day: i32,
    pub extract_date: NaiveDate,
    pub load_id: u64,
}

fn in_ranges(ranges: &[(i32, i32)], d: i32) -> bool {
    ranges.iter().any(|&(a, b)| a <= d && d <= b)
}

fn file_days(f: &DataFile) -> Option<(i32, i32)> {
    Some((date_to_day(f.min_date?), date_to_day(f.max_date?)))
}

fn wholly_replaced(f: &DataFile, replaced: &[(i32, i32)]) -> bool {
    file_days(f).is_some_and(|(a, b)| replaced.iter().any(|&(x, y)| x <= a && b <= y))
}

fn touches(f: &DataFile, replaced: &[(i32, i32)]) -> bool {
    file_days(f).is_none_or(|(a, b)| replaced.iter().any(|&(x, y)| x <= b && a <= y))
}

async fn open_stored(
    warehouse: &Warehouse,
    f: &DataFile,
) -> Result<ParquetRecordBatchStreamBuilder<StoreFileReader>> {
    Ok(warehouse.parquet_reader(&f.path, f.bytes).await?)
}

/// Stored rows outside the replaced dates whose id `wanted` picks, reading
/// only the id and lineage columns.
pub(crate) async fn scan_stored_ids(
    warehouse: &Warehouse,
    feed: Feed,
    files: &[DataFile],
    replaced: &[(i32, i32)],
    wanted: impl Fn(u128) -> bool,
) -> Result<Vec<(String, StoredIdRow)>> {
    let schema = feed.stored_schema();
    let idx = |n: &str| schema.index_of(n).expect("stored column");
    let cols = [
        idx(feed.id_column()),
        idx("activity_date"),
        idx("_extract_date"),
        idx("_load_id"),
    ];
    let mut out = Vec::new();
    for f in files {
        if wholly_replaced(f, replaced) {
            continue;
        }
        let b = open_stored(warehouse, f).await?;
        let mask = ProjectionMask::roots(b.parquet_schema(), cols);
        let mut stream = b.with_projection(mask).with_batch_size(64 * 1024).build()?;
        let mut position = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            // The reader returns projected columns in file order.
            let by = |n: &str| batch.column_by_name(n).expect("projected column");
            let ids = by(feed.id_column()).as_string::<i32>();
            let days = by("activity_date").as_primitive::<Date32Type>();
            let extracts = by("_extract_date").as_primitive::<Date32Type>();
            let loads = by("_load_id").as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let day = days.value(i);
                if !in_ranges(replaced, day) {
                    let h = xxh3_128(ids.value(i).as_bytes());
                    if wanted(h) {
                        out.push((
                            f.path.clone(),
                            StoredIdRow {
                                position: position + i as u64,
                                id: ids.value(i).to_string(),
                                id_hash: h,
                                activity_day: day,
                                extract_date: day_to_date(extracts.value(i)),
                                load_id: loads.value(i) as u64,
                            },
                        ));
                    }
                }
            }
            position += batch.num_rows() as u64;
        }
    }
    Ok(out)
}

/// The files a period feed keeps after replacing `replaced` and dropping
/// `superseded` rows; rewritten files are written under `version`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn merge_period_feed(
    warehouse: &Warehouse,
    feed: Feed,
    trust: &str,
    version: u64,
    files: &[DataFile],
    replaced: &[(i32, i32)],
    superseded: &HashMap<String, HashMap<u64, StoredIdRow>>,
    row_group_rows: usize,
) -> Result<Vec<DataFile>> {
    let mut kept = Vec::new();
    for (n, f) in files.iter().enumerate() {
        let gone = superseded.get(&f.path);
        if wholly_replaced(f, replaced) {
            continue;
        }
        if !touches(f, replaced) && gone.is_none() {
            kept.push(f.clone());
            continue;
        }
        let dir = f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let rel = format!("{dir}/v{version:020}-r{n}.parquet");
        let mut stream = open_stored(warehouse, f)
            .await?
            .with_batch_size(64 * 1024)
            .build()?;
        let mut writer = None;
        let (mut rows, mut min, mut max) = (0u64, i32::MAX, i32::MIN);
        let mut position = 0u64;
        while let Some(batch) = stream.next().await {
            let batch: RecordBatch = batch?;
            let days = batch
                .column_by_name("activity_date")
                .expect("period feed")
                .as_primitive::<Date32Type>()
                .clone();
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| {
                    let p = position + i as u64;
                    Some(
                        !in_ranges(replaced, days.value(i))
                            && !gone.is_some_and(|g| g.contains_key(&p)),
                    )
                })
                .collect();
            position += batch.num_rows() as u64;
            let out = filter_record_batch(&batch, &keep)?;
            if out.num_rows() == 0 {
                continue;
            }
            let d = out
                .column_by_name("activity_date")
                .expect("period feed")
                .as_primitive::<Date32Type>();
            for v in d.values().iter() {
                min = min.min(*v);
                max = max.max(*v);
            }
            rows += out.num_rows() as u64;
            if writer.is_none() {
                writer = Some(open_writer(
                    warehouse,
                    &rel,
                    feed.stored_schema(),
                    row_group_rows,
                )?);
            }
            writer.as_mut().expect("opened").write(&out).await?;
        }
        if let Some(w) = writer {
            w.close().await?;
            let bytes = warehouse.size_of(&rel).await?;
            tracing::debug!(trust, %feed, from = %f.path, to = %rel, rows, "rewrote a partly replaced file");
            kept.push(DataFile {
                path: rel,
                rows,
                bytes,
                min_date: Some(day_to_date(min)),
                max_date: Some(day_to_date(max)),
                load_id: version,
            });
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(a: &str, b: &str) -> DataFile {
        DataFile {
            path: "x".into(),
            rows: 1,
            bytes: 1,
            min_date: Some(a.parse().unwrap()),
            max_date: Some(b.parse().unwrap()),
            load_id: 1,
        }
    }

    #[test]
    fn replaced_or_touched() {
        let d = |s: &str| date_to_day(s.parse().unwrap());
        let r = [(d("2026-10-01"), d("2026-10-31"))];
        assert!(wholly_replaced(&file("2026-10-03", "2026-10-30"), &r));
        assert!(!wholly_replaced(&file("2026-09-30", "2026-10-30"), &r));
        assert!(touches(&file("2026-09-30", "2026-10-01"), &r));
        assert!(!touches(&file("2026-09-01", "2026-09-30"), &r));
    }
}
