//! Tables derived from a trust's data and stored with it, in the same
//! version, so no session walks the RTT events again.
//!
//! | table | derived from | how |
//! | --- | --- | --- |
//! | `rtt_period_history` | the trust's `rtt_events` files | the clock walk (contract section 5) |
//! | `rtt_findings` | the trust's `rtt_events` files | the same walk's findings |
//! | `rtt_census_counts` | its `rtt_period_history` | `sql/derived/rtt_census_counts.sql`: `rtt_census_periods` counted, at the census dates of the trust's data |
//!
//! A trust's derived table is *current* when its format is this build's
//! and it was derived from exactly the input files the trust now holds (a
//! digest of their paths: data files are immutable, so the same paths are
//! the same rows). [`refresh`] derives what is not current; the load calls
//! it before publishing each version, and `icsw rebuild-derived` for a
//! warehouse written before a table existed. A session reads the stored
//! files of every trust whose table is current and walks the events of the
//! rest ([`crate::tables`]), so a warehouse without them gives the same
//! figures, only more slowly.

use crate::rtt::{findings_schema, history_schema, Mode, RttWalkTable};
use crate::tables::files_table;
use crate::Result;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Date32Type, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use icsw_model::Feed;
use icsw_store::{layout, DataFile, DerivedTable, TrustState, VersionState, Warehouse};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How a derived table is made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum How {
    /// The RTT clock walk over the events.
    Walk(Mode),
    /// The census periods of the trust's stored `rtt_period_history`,
    /// counted.
    CensusCounts,
}

/// One derived table.
#[derive(Clone, Copy, Debug)]
pub struct Derivation {
    pub table: &'static str,
    /// Bumped whenever how the table is derived changes.
    pub format: u32,
    /// The feeds it is derived from.
    pub inputs: &'static [Feed],
    /// The derived tables it is made from (earlier in [`DERIVATIONS`]):
    /// their formats are part of its digest, so a change to how one is
    /// derived makes this one out of date too.
    pub after: &'static [&'static str],
    pub(crate) how: How,
}

/// The columns of `rtt_census_counts`.
pub fn census_counts_schema() -> SchemaRef {
    static S: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let s = |n: &str| Field::new(n, DataType::Utf8, true);
        std::sync::Arc::new(Schema::new(vec![
            Field::new("census_date", DataType::Date32, false),
            s("trust"),
            s("commissioner_code"),
            s("treatment_function_code"),
            s("tf_row"),
            s("part"),
            Field::new("band", DataType::Int32, true),
            Field::new("start_known", DataType::Boolean, false),
            Field::new("periods", DataType::Int64, false),
        ]))
    })
    .clone()
}

const CENSUS_COUNTS: &str = include_str!("../../../sql/derived/rtt_census_counts.sql");

/// `rtt_census_counts` of the periods in `history`: the census periods at
/// each month-end from the month of the earliest period state to the month
/// of the latest snapshot, counted. Planned in a session of its own, whose
/// census dates are only those.
pub(crate) async fn census_counts(
    history: Arc<dyn TableProvider>,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> Result<datafusion::prelude::DataFrame> {
    let ctx = SessionContext::new_with_config_rt(
        SessionConfig::new()
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get())),
        runtime,
    );
    ctx.register_table("rtt_period_history", history)?;
    let bounds = ctx
        .sql("SELECT min(valid_from), max(snapshot_extract_date) FROM rtt_period_history")
        .await?
        .collect()
        .await?;
    let day = |c: usize| {
        bounds
            .first()
            .map(|b| b.column(c).as_primitive::<Date32Type>())
            .filter(|a| a.is_valid(0))
            .map(|a| icsw_model::london::day_to_date(a.value(0)))
    };
    // No periods: no census dates.
    let months = day(0)
        .zip(day(1))
        .map(|(a, b)| (icsw_model::Month::of(a), icsw_model::Month::of(b)));
    crate::tables::register_census_dates(&ctx, months)?;
    crate::tables::register_reference(&ctx)?;
    let census = crate::tables::VIEWS
        .iter()
        .filter(|(n, _)| matches!(*n, "rtt_census_states" | "rtt_census_periods"));
    crate::tables::register_views(&ctx, "views", census).await?;
    let file = crate::SqlFile::parse("rtt_census_counts", CENSUS_COUNTS)?;
    // Exactly the table's types.
    let columns: Vec<_> = census_counts_schema()
        .fields()
        .iter()
        .map(|f| {
            datafusion::logical_expr::cast(
                datafusion::logical_expr::col(f.name()),
                f.data_type().clone(),
            )
            .alias(f.name())
        })
        .collect();
    Ok(ctx.sql(&file.text).await?.select(columns)?)
}

impl Derivation {
    pub fn schema(&self) -> SchemaRef {
        match self.how {
            How::Walk(Mode::History) => history_schema(),
            How::Walk(Mode::Findings) => findings_schema(),
            How::CensusCounts => census_counts_schema(),
        }
    }

    /// The digest of the input files `trust` holds now (and the formats of
    /// the tables this one is made from).
    fn inputs_digest(&self, trust: &TrustState) -> String {
        let mut h = Sha256::new();
        for t in self.after {
            let format = derivation(t).map_or(0, |d| d.format);
            h.update(format!("{t}={format}\n").as_bytes());
        }
        for feed in self.inputs {
            h.update(feed.name().as_bytes());
            for f in trust.feeds.get(feed).into_iter().flat_map(|s| &s.files) {
                h.update(b"\0");
                h.update(f.path.as_bytes());
            }
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    fn input_files<'a>(&self, trust: &'a TrustState) -> impl Iterator<Item = &'a DataFile> + 'a {
        let inputs = self.inputs;
        inputs
            .iter()
            .flat_map(move |feed| trust.feeds.get(feed).into_iter().flat_map(|s| &s.files))
    }

    /// The stored files that stand for this table of `trust`, when they
    /// are current (none are needed for a trust with no input rows), or
    /// `None` when the table must be derived again.
    pub fn stored<'a>(&self, trust: &'a TrustState) -> Option<&'a [DataFile]> {
        if self.input_files(trust).next().is_none() {
            return Some(&[]);
        }
        trust
            .derived
            .get(self.table)
            .filter(|d| d.format == self.format && d.inputs == self.inputs_digest(trust))
            .map(|d| d.files.as_slice())
    }

    /// Derives the table from `trust`'s input files into the files of
    /// `version`, streamed: memory holds one pathway's events and a row
    /// group, not the table.
    async fn derive(
        &self,
        warehouse: &Warehouse,
        trust_code: &str,
        trust: &TrustState,
        version: u64,
        row_group_rows: usize,
    ) -> Result<DerivedTable> {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ));
        ctx.register_object_store(warehouse.store_url(), warehouse.store().clone());
        let mut stream = match self.how {
            How::Walk(mode) => {
                let events = files_table(
                    warehouse,
                    Feed::RttEvents.stored_schema(),
                    self.input_files(trust).map(|f| f.path.clone()).collect(),
                )?;
                let walk = RttWalkTable::new(events, mode);
                let plan = walk.walk_plan(&ctx.state(), None, &[], None).await?;
                execute_stream(plan, ctx.task_ctx())?
            }
            How::CensusCounts => {
                // Over the history this refresh has just stored.
                let history = derivation("rtt_period_history")
                    .and_then(|d| d.stored(trust))
                    .expect("rtt_period_history is derived first");
                let history = files_table(
                    warehouse,
                    history_schema(),
                    history.iter().map(|f| f.path.clone()).collect(),
                )?;
                let df = census_counts(history, ctx.runtime_env()).await?;
                let plan = df.create_physical_plan().await?;
                let task = ctx.task_ctx();
                execute_stream(plan, task)?
            }
        };
        let path = layout::derived_file(self.table, trust_code, version, 0);
        let mut writer = warehouse.parquet_writer(&path, self.schema(), row_group_rows)?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).await?;
        }
        writer.close().await?;
        let bytes = warehouse.size_of(&path).await?;
        Ok(DerivedTable {
            format: self.format,
            inputs: self.inputs_digest(trust),
            files: vec![DataFile {
                path,
                rows,
                bytes,
                min_date: None,
                max_date: None,
                load_id: version,
            }],
        })
    }
}

/// Every derived table.
pub const DERIVATIONS: &[Derivation] = &[
    Derivation {
        table: "rtt_period_history",
        // 2: the period's nhs_number.
        format: 2,
        inputs: &[Feed::RttEvents],
        after: &[],
        how: How::Walk(Mode::History),
    },
    Derivation {
        table: "rtt_findings",
        format: 1,
        inputs: &[Feed::RttEvents],
        after: &[],
        how: How::Walk(Mode::Findings),
    },
    // After rtt_period_history, which it is counted from.
    Derivation {
        table: "rtt_census_counts",
        format: 1,
        inputs: &[Feed::RttEvents],
        after: &["rtt_period_history"],
        how: How::CensusCounts,
    },
];

/// The derivation of `table`, if it is a derived table.
pub fn derivation(table: &str) -> Option<&'static Derivation> {
    DERIVATIONS.iter().find(|d| d.table == table)
}

/// What [`refresh`] derived: (trust, table, rows) for each table written.
pub type Refreshed = Vec<(String, &'static str, u64)>;

/// Derives, into the files of `version`, every derived table of every
/// trust of `state` that is not current (all of them when `force`), and
/// records them in `state`; tables no longer derived from any input are
/// dropped. Nothing is published: the caller publishes `state` as
/// `version`, so the derived files appear with the data they come from.
pub async fn refresh(
    warehouse: &Warehouse,
    state: &mut VersionState,
    version: u64,
    row_group_rows: usize,
    force: bool,
) -> Result<Refreshed> {
    let mut out = Vec::new();
    for (code, trust) in state.trusts.iter_mut() {
        trust.derived.retain(|name, _| derivation(name).is_some());
        for d in DERIVATIONS {
            let has_inputs = d.input_files(trust).next().is_some();
            if !has_inputs {
                trust.derived.remove(d.table);
                continue;
            }
            if !force && d.stored(trust).is_some() {
                continue;
            }
            let started = std::time::Instant::now();
            let table = d
                .derive(warehouse, code, trust, version, row_group_rows)
                .await?;
            let rows = table.files.iter().map(|f| f.rows).sum();
            tracing::debug!(trust = %code, table = d.table, rows, seconds = started.elapsed().as_secs_f64(), "derived");
            trust.derived.insert(d.table.to_string(), table);
            out.push((code.clone(), d.table, rows));
        }
    }
    Ok(out)
}

/// `rtt_census_counts` of the trusts whose stored table is not current,
/// counted from the session's `rtt_period_history` when first scanned (as
/// the load would have stored it, one trust at a time) and kept for the
/// session.
#[derive(Debug)]
pub(crate) struct CensusCountsTable {
    pub history: Arc<dyn TableProvider>,
    pub trusts: Vec<String>,
    pub cache: crate::computed::Computed,
}

#[async_trait::async_trait]
impl TableProvider for CensusCountsTable {
    fn schema(&self) -> SchemaRef {
        census_counts_schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::View
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let count = async {
            let ctx = SessionContext::new_with_config_rt(
                state.config().clone(),
                state.runtime_env().clone(),
            );
            let mut batches = Vec::new();
            for t in &self.trusts {
                use datafusion::logical_expr::{col, lit};
                let one = ctx
                    .read_table(self.history.clone())?
                    .filter(col("trust").eq(lit(t.clone())))?
                    .into_view();
                let df = census_counts(one, state.runtime_env().clone())
                    .await
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                batches.extend(df.collect().await?);
            }
            Ok(batches)
        };
        self.cache
            .scan(self.schema(), count, state, projection, filters, limit)
            .await
    }
}
