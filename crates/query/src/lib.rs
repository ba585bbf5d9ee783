//! A DataFusion session over one view of the warehouse: the feeds, the RTT
//! periods derived from events (contract section 5), the load log, the
//! quarantine and the reference tables, with the project's SQL functions.
//! Runs `sql/` files with bound parameters, read-only.
//!
//! Nothing here knows about returns or HTTP: those crates build on this.

mod capped;
pub mod computed;
mod deadline;
pub mod derived;
mod guard;
pub mod linkage;
pub mod output;
mod restrict;
mod rtt;
mod sqlfile;
mod tables;
mod udf;

pub use deadline::{Cancelled, TimeLimit};
pub use guard::{StatementLimits, PLANNING_STACK};
pub use restrict::{pseudonym, Restriction};
pub use rtt::{findings_schema, history_schema};
pub use sqlfile::{SqlFile, SqlParam};
pub use tables::{TableInfo, VIEWS};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use icsw_model::IcsConfig;
use icsw_store::{AsAt, View, Warehouse};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Errors of the query layer. DataFusion's error is kept as the source,
/// so a caller can tell a memory limit from a syntax error by its kind,
/// never by its text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query is wrong: a syntax error, an unknown table or column, a
    /// statement that is not allowed. The caller did something wrong.
    #[error("{}", first_line(.0))]
    Query(#[source] Box<datafusion::error::DataFusionError>),
    /// A `sql/` file was given a parameter it does not declare, or not one
    /// it does, or a value of the wrong type (the caller's mistake).
    #[error("{0}")]
    Param(String),
    /// The statement breaks a bound of the session before it is planned:
    /// too long, too deep, too many expressions, more than one statement,
    /// or an `EXPLAIN` where none is allowed (the caller's mistake).
    #[error("the statement is refused: {0}")]
    Refused(String),
    /// Running a valid query failed: I/O, the memory limit, cancellation.
    #[error("query failed: {}", first_line(.0))]
    Execution(#[source] Box<datafusion::error::DataFusionError>),
    /// The warehouse could not be read.
    #[error(transparent)]
    Store(#[from] icsw_store::Error),
    /// A `sql/` file is malformed (a bug in the project's SQL).
    #[error("sql file {file}: {message}")]
    SqlFile { file: String, message: String },
}

/// The first line of the innermost error: what a user is shown.
fn first_line(e: &datafusion::error::DataFusionError) -> String {
    e.find_root()
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Error {
    /// Classifies a DataFusion error: planning errors are the query's
    /// fault; the rest are failures while running.
    pub fn from_datafusion(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        match e.find_root() {
            E::SQL(..) | E::Plan(_) | E::SchemaError(..) | E::NotImplemented(_) => {
                Error::Query(Box::new(e))
            }
            _ => Error::Execution(Box::new(e)),
        }
    }

    /// Whether the caller did something wrong (a bad query or parameter),
    /// rather than the system failing.
    pub fn is_users(&self) -> bool {
        matches!(self, Error::Query(_) | Error::Param(_) | Error::Refused(_))
    }

    fn time_limit() -> Self {
        Error::Execution(Box::new(datafusion::error::DataFusionError::External(
            Box::new(TimeLimit),
        )))
    }

    /// Whether the query ran past its time limit ([`TimeLimit`]).
    pub fn is_time_limit(&self) -> bool {
        matches!(self, Error::Execution(e) if deadline::caused_by::<TimeLimit>(e.as_ref()))
    }

    /// Whether the query was cancelled ([`Cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Execution(e) if deadline::caused_by::<Cancelled>(e.as_ref()))
    }

    /// Whether the query ran out of its memory limit.
    pub fn is_memory_limit(&self) -> bool {
        matches!(self, Error::Execution(e)
            if matches!(e.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)))
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::from_datafusion(e)
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        Error::Execution(Box::new(e.into()))
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::Execution(Box::new(e.into()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Limits on what a query may use.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    /// Memory for one session's queries, in bytes (no limit when `None`).
    pub memory_bytes: Option<usize>,
    /// What a statement may be ([`StatementLimits`]).
    pub statement: StatementLimits,
}

/// A read-only SQL session over one view of the warehouse.
#[derive(Clone)]
pub struct WarehouseContext {
    ctx: SessionContext,
    view: Arc<View>,
    warehouse: Warehouse,
    limits: Limits,
    /// When this session's query must have finished ([`Self::for_one_query`]).
    deadline: Option<Instant>,
}

impl WarehouseContext {
    /// Opens the newest state of the warehouse.
    pub async fn latest(warehouse: &Warehouse, config: &IcsConfig) -> Result<Self> {
        Self::at(warehouse, AsAt::default(), config).await
    }

    /// Opens the state a reader asked for (`--as-at`, `--as-at-load`, or
    /// the newest), with no limits: what every command runs in.
    pub async fn at(warehouse: &Warehouse, as_at: AsAt, config: &IcsConfig) -> Result<Self> {
        let view = warehouse.view(as_at).await?;
        Self::new(warehouse, view, config, &Limits::default()).await
    }

    /// A session over `view` (as at a load or an extract date).
    pub async fn new(
        warehouse: &Warehouse,
        view: View,
        config: &IcsConfig,
        limits: &Limits,
    ) -> Result<Self> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = limits.memory_bytes {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let runtime = Arc::new(runtime.build()?);
        let config_df = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .set_bool("datafusion.execution.parquet.pushdown_filters", true);
        let ctx = SessionContext::new_with_config_rt(config_df, runtime);
        ctx.register_object_store(warehouse.store_url(), warehouse.store().clone());
        udf::register(&ctx);
        tables::register(&ctx, warehouse, &view, config).await?;
        linkage::register(&ctx, config.pseudonym_key()).await?;
        Ok(WarehouseContext {
            ctx,
            view: Arc::new(view),
            warehouse: warehouse.clone(),
            limits: limits.clone(),
            deadline: None,
        })
    }

    /// A session with the same tables, table functions and caches (the RTT
    /// walk is not done again) but a catalog of its own, for work that
    /// registers tables of its own without them meeting anyone else's query.
    pub async fn fork(&self) -> Result<Self> {
        let full = &self.ctx;
        let ctx = SessionContext::new_with_config_rt(full.copied_config(), full.runtime_env());
        udf::register(&ctx);
        let state = full.state();
        for (name, f) in state.table_functions() {
            ctx.register_udtf(name, f.function().clone());
        }
        let schema = full
            .catalog("datafusion")
            .and_then(|c| c.schema("public"))
            .ok_or_else(|| Error::SqlFile {
                file: "(session)".into(),
                message: "the session has no default schema".into(),
            })?;
        for name in schema.table_names() {
            if let Some(t) = schema.table(&name).await? {
                ctx.register_table(name.as_str(), t)?;
            }
        }
        Ok(self.with_session(ctx))
    }

    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// The same view and limits with another session.
    pub(crate) fn with_session(&self, ctx: SessionContext) -> Self {
        WarehouseContext {
            ctx,
            view: self.view.clone(),
            warehouse: self.warehouse.clone(),
            limits: self.limits.clone(),
            deadline: self.deadline,
        }
    }

    /// A copy for one query: the same tables and data, with a memory pool of
    /// its own (`bytes`), so one query's use never starves another's, a
    /// time limit (`until`) that covers planning and every operator of the
    /// plan ([`TimeLimit`]), and a flag that cancels it the same way
    /// ([`Cancelled`]). With a memory limit nothing spills to disk: a query
    /// that needs more fails.
    pub fn for_one_query(
        &self,
        bytes: Option<usize>,
        until: Option<Instant>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<Self> {
        let mut runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(self.ctx.runtime_env().object_store_registry.clone());
        if let Some(b) = bytes {
            runtime = runtime.with_memory_limit(b, 1.0).with_disk_manager_builder(
                datafusion::execution::disk_manager::DiskManagerBuilder::default()
                    .with_mode(datafusion::execution::disk_manager::DiskManagerMode::Disabled),
            );
        }
        let mut state =
            datafusion::execution::SessionStateBuilder::new_from_existing(self.ctx.state())
                .with_runtime_env(Arc::new(runtime.build()?));
        if until.is_some() || cancel.is_some() {
            state = state.with_physical_optimizer_rule(Arc::new(deadline::WithDeadline {
                stop: deadline::Stop { at: until, cancel },
            }));
        }
        let mut one = self.with_session(SessionContext::new_with_state(state.build()));
        one.deadline = until;
        Ok(one)
    }

    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// The options every query runs with: no DDL, no DML, no SET or other
    /// statements, so a query cannot create tables over files or URLs or
    /// change the session.
    pub fn read_only() -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
    }

    /// Plans a read-only query, within the session's statement limits
    /// (checked first), on a thread with a stack ample for what passes, and
    /// within the session's time limit.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let ctx = self.ctx.clone();
        let limits = self.limits.statement.clone();
        let sql = sql.to_string();
        let planned = guard::on_planning_thread(async move {
            guard::check(&sql, &limits)?;
            Ok(ctx.sql_with_options(&sql, Self::read_only()).await?)
        });
        match self.deadline {
            None => planned.await,
            Some(at) => tokio::time::timeout_at(at.into(), planned)
                .await
                .unwrap_or_else(|_| Err(Error::time_limit())),
        }
    }

    /// Plans a read-only query with bound named parameters (`$name`).
    pub async fn sql_with_params(
        &self,
        sql: &str,
        params: Vec<(String, ScalarValue)>,
    ) -> Result<DataFrame> {
        let df = self.sql(sql).await?;
        if params.is_empty() {
            return Ok(df);
        }
        Ok(df.with_param_values(ParamValues::from(params))?)
    }

    /// Runs a query to completion (small results only: reports, checks).
    pub async fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.sql(sql).await?.collect().await?)
    }

    /// Plans a `sql/` file with its parameters bound.
    pub async fn file(&self, file: &SqlFile, params: &[(&str, ScalarValue)]) -> Result<DataFrame> {
        let values = file.bind(params)?;
        self.sql_with_params(&file.text, values).await
    }

    /// The tables a user can query, with their columns and descriptions.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        tables::describe(&self.ctx).await
    }

    /// The tables a user can query, with their Arrow schemas.
    pub async fn table_schemas(
        &self,
    ) -> Result<Vec<(String, datafusion::arrow::datatypes::SchemaRef)>> {
        tables::schemas(&self.ctx).await
    }
}
