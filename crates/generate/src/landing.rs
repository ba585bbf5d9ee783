//! Writing extracts into a landing zone as the contract lays them out:
//! the Parquet files first, `_manifest.json` (with rows and sha256) last.
//! The generator and the tests' hand-written fixtures both use this.

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use icsw_model::manifest::{ManifestFileJson, ManifestJson, MANIFEST_FILE};
use icsw_model::{ColumnKind, Feed};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file of an extract.
#[derive(Clone, Debug)]
pub struct ExtractFile {
    pub feed: Feed,
    pub name: String,
    pub batches: Vec<RecordBatch>,
    pub covers: Option<(NaiveDate, NaiveDate)>,
}

impl ExtractFile {
    pub fn new(feed: Feed, batch: RecordBatch, covers: Option<(NaiveDate, NaiveDate)>) -> Self {
        ExtractFile {
            feed,
            name: format!("{}.parquet", feed.name()),
            batches: vec![batch],
            covers,
        }
    }
}

/// One night's extract of one trust.
#[derive(Clone, Debug)]
pub struct ExtractSpec {
    pub trust: String,
    pub extract_date: NaiveDate,
    pub extracted_at: DateTime<Utc>,
    pub source_system: String,
    pub files: Vec<ExtractFile>,
}

/// What was written for one file: its manifest entry.
#[derive(Clone, Debug)]
pub struct WrittenFile {
    pub feed: Feed,
    pub name: String,
    pub rows: u64,
    pub sha256: String,
    pub covers: Option<(NaiveDate, NaiveDate)>,
}

pub fn folder(landing: &Path, trust: &str, date: NaiveDate) -> PathBuf {
    landing
        .join(trust)
        .join(date.format("%Y-%m-%d").to_string())
}

/// Writes a Parquet file.
pub fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> std::io::Result<u64> {
    let f = std::fs::File::create(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).map_err(std::io::Error::other)?;
    let mut rows = 0;
    for b in batches {
        w.write(b).map_err(std::io::Error::other)?;
        rows += b.num_rows() as u64;
    }
    w.close().map_err(std::io::Error::other)?;
    Ok(rows)
}

pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path)?;
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Writes the extract's files, then its manifest. Returns the folder.
pub fn write_extract(
    landing: &Path,
    spec: &ExtractSpec,
) -> std::io::Result<(PathBuf, Vec<WrittenFile>)> {
    let dir = folder(landing, &spec.trust, spec.extract_date);
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    for f in &spec.files {
        let path = dir.join(&f.name);
        let schema = f
            .batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| delivery_schema(f.feed));
        let rows = write_parquet(&path, schema, &f.batches)?;
        written.push(WrittenFile {
            feed: f.feed,
            name: f.name.clone(),
            rows,
            sha256: file_sha256(&path)?,
            covers: f.covers,
        });
    }
    write_manifest(&dir, spec, &written)?;
    Ok((dir, written))
}

/// The manifest of an extract as written.
pub fn manifest(spec: &ExtractSpec, files: &[WrittenFile]) -> ManifestJson {
    ManifestJson::new(
        &spec.trust,
        spec.extract_date,
        spec.extracted_at,
        &spec.source_system,
        files
            .iter()
            .map(|f| ManifestFileJson::new(f.feed, &f.name, f.rows, &f.sha256, f.covers))
            .collect(),
    )
}

/// Writes `_manifest.json` (last: it marks the extract complete).
pub fn write_manifest(
    dir: &Path,
    spec: &ExtractSpec,
    files: &[WrittenFile],
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&manifest(spec, files)).expect("json");
    let tmp = dir.join("._manifest.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, dir.join(MANIFEST_FILE))
}

/// The schema a feed is delivered in by default: strings Utf8, dates
/// Date32, timestamps naive microseconds (London wall-clock), booleans.
pub fn delivery_schema(feed: Feed) -> SchemaRef {
    Arc::new(Schema::new(
        feed.columns()
            .iter()
            .map(|c| {
                let t = match c.kind {
                    ColumnKind::Str | ColumnKind::Code(_) => DataType::Utf8,
                    ColumnKind::Date => DataType::Date32,
                    ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                    ColumnKind::Bool => DataType::Boolean,
                };
                Field::new(c.name, t, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// A batch of a feed from JSON objects: dates as `YYYY-MM-DD`, timestamps
/// as `YYYY-MM-DD HH:MM:SS` London wall-clock; absent keys are null. For
/// hand-written fixtures.
pub fn batch_from_json(feed: Feed, rows: &[Value]) -> RecordBatch {
    batch_from_json_schema(delivery_schema(feed), rows)
}

/// As [`batch_from_json`], with a schema of the caller's.
pub fn batch_from_json_schema(schema: SchemaRef, rows: &[Value]) -> RecordBatch {
    let mut d = ReaderBuilder::new(schema.clone())
        .build_decoder()
        .expect("decoder");
    d.serialize(rows).expect("rows fit the schema");
    d.flush()
        .expect("flush")
        .unwrap_or_else(|| RecordBatch::new_empty(schema))
}
