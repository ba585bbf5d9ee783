//! Writing query results as CSV, JSON, a table, Parquet or an Arrow IPC
//! stream, batch by batch, so a result is never held whole.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text, for a terminal (collects at most `TABLE_ROWS` rows).
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Newline-delimited JSON objects.
    JsonLines,
    Parquet,
    /// The Arrow IPC stream format.
    ArrowStream,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::JsonLines,
            "parquet" => Format::Parquet,
            "arrow" => Format::ArrowStream,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::JsonLines => "application/x-ndjson",
            Format::Parquet => "application/vnd.apache.parquet",
            Format::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }
}

/// Rows a table shows before saying how many more there were.
pub const TABLE_ROWS: usize = 1000;

/// A writer of one result in one format (one per query: its size is no
/// concern).
#[allow(clippy::large_enum_variant)]
pub enum ResultWriter<W: Write + Send> {
    Table {
        out: W,
        batches: Vec<RecordBatch>,
        rows: usize,
        more: usize,
        schema: SchemaRef,
    },
    Csv(datafusion::arrow::csv::Writer<W>),
    Json(datafusion::arrow::json::ArrayWriter<W>),
    JsonLines(datafusion::arrow::json::LineDelimitedWriter<W>),
    Parquet(Box<ArrowWriter<W>>),
    Arrow(datafusion::arrow::ipc::writer::StreamWriter<W>),
}

impl<W: Write + Send> ResultWriter<W> {
    pub fn new(format: Format, schema: SchemaRef, out: W) -> Result<Self, ArrowError> {
        Ok(match format {
            Format::Table => ResultWriter::Table {
                out,
                batches: Vec::new(),
                rows: 0,
                more: 0,
                schema,
            },
            Format::Csv => ResultWriter::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            ),
            Format::Json => ResultWriter::Json(datafusion::arrow::json::ArrayWriter::new(out)),
            Format::JsonLines => {
                ResultWriter::JsonLines(datafusion::arrow::json::LineDelimitedWriter::new(out))
            }
            Format::Parquet => ResultWriter::Parquet(Box::new(
                ArrowWriter::try_new(out, schema, None)
                    .map_err(|e| ArrowError::ExternalError(Box::new(e)))?,
            )),
            Format::ArrowStream => ResultWriter::Arrow(
                datafusion::arrow::ipc::writer::StreamWriter::try_new(out, &schema)?,
            ),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match self {
            ResultWriter::Table {
                batches,
                rows,
                more,
                ..
            } => {
                let room = TABLE_ROWS.saturating_sub(*rows);
                let take = room.min(batch.num_rows());
                if take > 0 {
                    batches.push(batch.slice(0, take));
                    *rows += take;
                }
                *more += batch.num_rows() - take;
                Ok(())
            }
            ResultWriter::Csv(w) => w.write(batch),
            ResultWriter::Json(w) => w.write(batch),
            ResultWriter::JsonLines(w) => w.write(batch),
            // One row group a batch, so the file streams out as it is made.
            ResultWriter::Parquet(w) => w
                .write(batch)
                .and_then(|_| w.flush())
                .map_err(|e| ArrowError::ExternalError(Box::new(e))),
            ResultWriter::Arrow(w) => w.write(batch),
        }
    }

    /// Finishes the output and returns the writer.
    pub fn finish(self) -> Result<W, ArrowError> {
        match self {
            ResultWriter::Table {
                mut out,
                batches,
                rows,
                more,
                schema,
            } => {
                let text = if batches.is_empty() {
                    let names: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    format!("{}\n(no rows)", names.join(" | "))
                } else {
                    datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string()
                };
                writeln!(out, "{text}")?;
                if more > 0 {
                    writeln!(
                        out,
                        "({rows} rows shown of {}; use --format csv for all)",
                        rows + more
                    )?;
                }
                Ok(out)
            }
            ResultWriter::Csv(w) => Ok(w.into_inner()),
            ResultWriter::Json(mut w) => {
                w.finish()?;
                Ok(w.into_inner())
            }
            ResultWriter::JsonLines(mut w) => {
                w.finish()?;
                Ok(w.into_inner())
            }
            ResultWriter::Parquet(w) => w
                .into_inner()
                .map_err(|e| ArrowError::ExternalError(Box::new(e))),
            ResultWriter::Arrow(mut w) => {
                w.finish()?;
                w.into_inner()
            }
        }
    }
}
