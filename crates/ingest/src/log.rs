//! The load log and the quarantine, stored as Parquet under `log/` and
//! queried as the tables `loads`, `load_files`, `quarantine` and
//! `superseded`.

use crate::error::Result;
use crate::summary::{FileSummary, LoadSummary};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::SchemaRef;
use icsw_model::london::date_to_day;
use icsw_store::log_schema::{load_files_schema, loads_schema};
use icsw_store::{layout, StoreWriter, Warehouse};
use std::sync::Arc;

/// Opens a Parquet writer onto a warehouse path.
pub(crate) fn open_writer(
    warehouse: &Warehouse,
    relative: &str,
    schema: SchemaRef,
    row_group_rows: usize,
) -> Result<StoreWriter> {
    Ok(warehouse.parquet_writer(relative, schema, row_group_rows)?)
}

pub(crate) async fn write_one(
    warehouse: &Warehouse,
    relative: &str,
    batch: RecordBatch,
) -> Result<()> {
    let mut w = open_writer(warehouse, relative, batch.schema(), 64 * 1024)?;
    w.write(&batch).await?;
    w.close().await?;
    Ok(())
}

fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// Writes the `loads` and `load_files` rows of a load.
pub(crate) async fn write_load_log(warehouse: &Warehouse, s: &LoadSummary) -> Result<()> {
    let day = s.extract_date.map(date_to_day).unwrap_or(0);
    let t = |f: fn(&FileSummary) -> u64| -> i64 { s.files.iter().map(f).sum::<u64>() as i64 };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![s.load_id as i64])),
        Arc::new(StringArray::from(vec![s.trust.clone()])),
        Arc::new(Date32Array::from(vec![day])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![s.extracted_at.map(micros)]).with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![s.source_system.clone()])),
        Arc::new(StringArray::from(vec![s.manifest_sha256.clone()])),
        Arc::new(StringArray::from(vec![s.outcome.code()])),
        Arc::new(BooleanArray::from(vec![s.late])),
        Arc::new(StringArray::from(vec![s
            .refusal
            .as_ref()
            .map(|r| r.kind.code().to_string())])),
        Arc::new(StringArray::from(vec![s
            .refusal
            .as_ref()
            .map(|r| r.to_string())
            .or_else(|| s.note.clone())])),
        Arc::new(TimestampMicrosecondArray::from(vec![micros(s.started_at)]).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(vec![micros(s.finished_at)]).with_timezone("UTC")),
        Arc::new(Int64Array::from(vec![s.files.len() as i64])),
        Arc::new(Int64Array::from(vec![t(|f| f.rows_read)])),
        Arc::new(Int64Array::from(vec![t(|f| f.rows_stored)])),
        Arc::new(Int64Array::from(vec![t(|f| f.rows_quarantined)])),
        Arc::new(Int64Array::from(vec![t(|f| f.rows_rejected)])),
        Arc::new(Int64Array::from(vec![t(|f| f.rows_warned)])),
        Arc::new(Int64Array::from(vec![s.rows_superseded as i64])),
    ];
    let batch = RecordBatch::try_new(loads_schema(), cols)?;
    write_one(
        warehouse,
        &layout::log_file("loads", s.load_id, "loads"),
        batch,
    )
    .await?;

    let n = s.files.len();
    let files = &s.files;
    let col_u = |f: fn(&FileSummary) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            files.iter().map(|x| f(x) as i64),
        ))
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![s.load_id as i64; n])),
        Arc::new(StringArray::from(vec![s.trust.clone(); n])),
        Arc::new(Date32Array::from(vec![day; n])),
        Arc::new(StringArray::from_iter_values(
            files.iter().map(|f| f.feed.name()),
        )),
        Arc::new(StringArray::from_iter_values(
            files.iter().map(|f| f.path.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            files.iter().map(|f| f.sha256.as_str()),
        )),
        col_u(|f| f.rows_manifest),
        col_u(|f| f.rows_read),
        col_u(|f| f.rows_stored),
        col_u(|f| f.rows_quarantined),
        col_u(|f| f.rows_rejected),
        col_u(|f| f.rows_warned),
        Arc::new(Date32Array::from_iter(
            files.iter().map(|f| f.covers.map(|c| date_to_day(c.from))),
        )),
        Arc::new(Date32Array::from_iter(
            files.iter().map(|f| f.covers.map(|c| date_to_day(c.to))),
        )),
    ];
    let batch = RecordBatch::try_new(load_files_schema(), cols)?;
    write_one(
        warehouse,
        &layout::log_file("load_files", s.load_id, "load_files"),
        batch,
    )
    .await
}
