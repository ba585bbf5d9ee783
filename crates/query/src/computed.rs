//! Tables computed when a session first scans them, and kept for the rest
//! of the session (the session is for one view, which never changes).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::future::Future;
use std::sync::Arc;

/// The batches of a table once computed.
#[derive(Debug, Default)]
pub struct Computed(tokio::sync::OnceCell<Arc<MemTable>>);

impl Computed {
    /// Scans the table, running `compute` for its batches the first time
    /// (later scans do not poll it).
    pub async fn scan(
        &self,
        schema: SchemaRef,
        compute: impl Future<Output = Result<Vec<RecordBatch>>>,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = self
            .0
            .get_or_try_init(|| async {
                Ok::<_, datafusion::error::DataFusionError>(Arc::new(MemTable::try_new(
                    schema,
                    vec![compute.await?],
                )?))
            })
            .await?;
        table.scan(state, projection, filters, limit).await
    }
}
