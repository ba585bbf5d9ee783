//! The schemas of the load log tables under `log/` (written by the loader,
//! read by the query layer): `loads`, `load_files`, `quarantine`,
//! `superseded`.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use icsw_model::feed::utc_micros;
use std::sync::{Arc, OnceLock};

/// The log tables, by name.
pub const LOG_TABLES: [&str; 4] = ["loads", "load_files", "quarantine", "superseded"];

/// The schema of a log table.
pub fn schema_of(name: &str) -> Option<SchemaRef> {
    Some(match name {
        "loads" => loads_schema(),
        "load_files" => load_files_schema(),
        "quarantine" => quarantine_schema(),
        "superseded" => superseded_schema(),
        _ => return None,
    })
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

/// One row per load attempt.
pub fn loads_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            int("load_id"),
            utf8("trust", false),
            Field::new("extract_date", DataType::Date32, false),
            Field::new("extracted_at", utc_micros(), true),
            utf8("source_system", true),
            utf8("manifest_sha256", false),
            utf8("outcome", false),
            Field::new("late", DataType::Boolean, false),
            utf8("refusal", true),
            utf8("message", true),
            Field::new("started_at", utc_micros(), false),
            Field::new("finished_at", utc_micros(), false),
            int("files"),
            int("rows_read"),
            int("rows_stored"),
            int("rows_quarantined"),
            int("rows_rejected"),
            int("rows_warned"),
            int("rows_superseded"),
        ]))
    })
    .clone()
}

/// One row per file of each load.
pub fn load_files_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            int("load_id"),
            utf8("trust", false),
            Field::new("extract_date", DataType::Date32, false),
            utf8("feed", false),
            utf8("path", false),
            utf8("sha256", false),
            int("rows_manifest"),
            int("rows_read"),
            int("rows_stored"),
            int("rows_quarantined"),
            int("rows_rejected"),
            int("rows_warned"),
            Field::new("covers_from", DataType::Date32, true),
            Field::new("covers_to", DataType::Date32, true),
        ]))
    })
    .clone()
}

/// One row per quarantined row.
pub fn quarantine_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            int("load_id"),
            utf8("trust", false),
            Field::new("extract_date", DataType::Date32, false),
            utf8("feed", false),
            utf8("file", false),
            // 1-based row number in the delivered file.
            int("row_number"),
            // The row's id (attendance_id, spell_id, ...), when present.
            utf8("record_id", true),
            utf8("column_name", true),
            utf8("value", true),
            utf8("reason", false),
            // Every contract column of the row, as JSON.
            utf8("record", false),
        ]))
    })
    .clone()
}

/// One row per stored row replaced by a newer row with the same id from a
/// different date range (contract section 4).
pub fn superseded_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            int("load_id"),
            utf8("trust", false),
            utf8("feed", false),
            utf8("record_id", false),
            Field::new("stored_activity_date", DataType::Date32, false),
            Field::new("stored_extract_date", DataType::Date32, false),
            int("stored_load_id"),
        ]))
    })
    .clone()
}
