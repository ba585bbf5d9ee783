//! Reading and writing Parquet files in the warehouse's object store.

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::arrow::{AsyncArrowWriter, ParquetRecordBatchStreamBuilder};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::properties::WriterProperties;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::sync::Arc;

use crate::Warehouse;

fn to_parquet_err(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

/// An [`AsyncFileReader`] over one object whose size is known (from the
/// version that lists it), so the footer is read without a HEAD request.
#[derive(Clone, Debug)]
pub struct StoreFileReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl AsyncFileReader for StoreFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        self.store
            .get_range(&self.path, range)
            .map_err(to_parquet_err)
            .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(to_parquet_err)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// A Parquet writer onto a warehouse object. The object appears whole when
/// the writer closes (a multipart upload, or a rename on a local disk).
pub type StoreWriter = AsyncArrowWriter<BufWriter>;

impl Warehouse {
    /// Opens a Parquet file of the warehouse for streaming reads.
    pub async fn parquet_reader(
        &self,
        relative: &str,
        size: u64,
    ) -> Result<ParquetRecordBatchStreamBuilder<StoreFileReader>> {
        let reader = StoreFileReader {
            store: self.store().clone(),
            path: self.path(relative),
            size,
        };
        ParquetRecordBatchStreamBuilder::new(reader).await
    }

    /// Opens a Parquet writer onto `relative`, Snappy-compressed, with row
    /// groups of at most `row_group_rows`.
    pub fn parquet_writer(
        &self,
        relative: &str,
        schema: SchemaRef,
        row_group_rows: usize,
    ) -> Result<StoreWriter> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(row_group_rows))
            .build();
        let w = BufWriter::new(self.store().clone(), self.path(relative));
        AsyncArrowWriter::try_new(w, schema, Some(props))
    }
}
