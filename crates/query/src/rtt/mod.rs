//! RTT periods derived from `rtt_events` (contract section 5).
//!
//! One walk over every pathway's events gives the history of each period
//! (`rtt_period_history`): its state from `valid_from` until `valid_to`
//! (exclusive; null while current). The periods at census date D are the
//! states with `valid_from <= D < valid_to`, so `rtt_periods_at(D)` is a
//! filter, and the return SQL can bind D as a parameter. The same walk
//! yields the findings of section 5 (`rtt_findings`).
//!
//! Events are hash-partitioned by pathway, sorted within each partition by
//! (trust, pathway, date, id), and walked one pathway at a time: memory
//! holds one pathway's events, not the feed.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableFunctionArgs;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::TableType;
use datafusion::datasource::ViewTable;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{col, lit, Expr, LogicalPlanBuilder, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::col as pcol;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use futures::StreamExt;
use std::sync::{Arc, OnceLock};

mod walk;

use walk::Walker;

/// The columns of `rtt_period_history`.
pub fn history_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let d = |n: &str, null: bool| Field::new(n, DataType::Date32, null);
        let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
        let b = |n: &str| Field::new(n, DataType::Boolean, false);
        Arc::new(Schema::new(vec![
            s("trust", false),
            s("pathway_id", false),
            Field::new("period_number", DataType::Int32, false),
            d("valid_from", false),
            d("valid_to", true),
            d("clock_start", true),
            b("clock_start_known"),
            s("start_event_id", false),
            s("status", false),
            d("clock_stop", true),
            s("stop_status", true),
            b("admitted"),
            b("has_decision_to_admit"),
            d("transfer_date", true),
            s("treatment_function_code", false),
            s("commissioner_code", false),
            d("last_event_date", false),
            Field::new("event_count", DataType::Int32, false),
            d("snapshot_extract_date", false),
            // The NHS number on the event giving the treatment function,
            // as stored (linkage spec section 2).
            s("nhs_number", true),
        ]))
    })
    .clone()
}

/// The columns of `rtt_findings`.
pub fn findings_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("trust", DataType::Utf8, false),
            Field::new("pathway_id", DataType::Utf8, false),
            Field::new("event_id", DataType::Utf8, false),
            Field::new("event_date", DataType::Date32, false),
            Field::new("finding", DataType::Utf8, false),
            Field::new("period_number", DataType::Int32, true),
            Field::new("snapshot_extract_date", DataType::Date32, false),
        ]))
    })
    .clone()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mode {
    History,
    Findings,
}

/// `rtt_period_history` or `rtt_findings`. The walk runs once per session
/// (the session is for one warehouse view, which never changes) and its
/// output is kept for the session's later queries.
#[derive(Debug)]
pub(crate) struct RttWalkTable {
    pub events: Arc<dyn TableProvider>,
    pub mode: Mode,
    pub cache: crate::computed::Computed,
}

impl RttWalkTable {
    pub fn new(events: Arc<dyn TableProvider>, mode: Mode) -> Self {
        RttWalkTable {
            events,
            mode,
            cache: Default::default(),
        }
    }
}

const EVENT_COLUMNS: [&str; 10] = [
    "trust",
    "pathway_id",
    "event_id",
    "event_date",
    "rtt_status",
    "activity",
    "treatment_function_code",
    "commissioner_code",
    "_extract_date",
    "nhs_number",
];

/// Filters on the pathway key can go to the events scan.
fn on_key_only(e: &Expr) -> bool {
    let mut ok = true;
    let _ = e.apply(|x| {
        if let Expr::Column(c) = x {
            if c.name != "trust" && c.name != "pathway_id" {
                ok = false;
            }
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    ok
}

use datafusion::common::tree_node::TreeNode;

#[async_trait::async_trait]
impl TableProvider for RttWalkTable {
    fn schema(&self) -> SchemaRef {
        match self.mode {
            Mode::History => history_schema(),
            Mode::Findings => findings_schema(),
        }
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if on_key_only(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let walk = async {
            let plan = self.walk_plan(state, None, &[], None).await?;
            datafusion::physical_plan::collect(plan, state.task_ctx()).await
        };
        self.cache
            .scan(self.schema(), walk, state, projection, filters, limit)
            .await
    }
}

impl RttWalkTable {
    /// The plan that walks every pathway (the events partitioned by pathway
    /// and sorted within each partition).
    pub(crate) async fn walk_plan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let events_schema = self.events.schema();
        let cols: Vec<usize> = EVENT_COLUMNS
            .iter()
            .map(|c| events_schema.index_of(c))
            .collect::<std::result::Result<_, _>>()?;
        let pushed: Vec<Expr> = filters.iter().filter(|f| on_key_only(f)).cloned().collect();
        let scan = self.events.scan(state, Some(&cols), &pushed, None).await?;
        let scan_schema = scan.schema();
        let n = state.config().target_partitions().max(1);
        let key = vec![
            pcol("trust", &scan_schema)?,
            pcol("pathway_id", &scan_schema)?,
        ];
        let repart: Arc<dyn ExecutionPlan> =
            Arc::new(RepartitionExec::try_new(scan, Partitioning::Hash(key, n))?);
        let order = ["trust", "pathway_id", "event_date", "event_id"]
            .iter()
            .map(|c| Ok(PhysicalSortExpr::new_default(pcol(c, &scan_schema)?)))
            .collect::<Result<Vec<_>>>()?;
        let ordering = LexOrdering::new(order).expect("non-empty");
        let sorted: Arc<dyn ExecutionPlan> =
            Arc::new(SortExec::new(ordering, repart).with_preserve_partitioning(true));
        let schema = self.schema();
        let partitions: Vec<Arc<dyn PartitionStream>> = (0..n)
            .map(|i| {
                Arc::new(WalkPartition {
                    input: sorted.clone(),
                    partition: i,
                    mode: self.mode,
                    schema: schema.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            projection,
            Vec::<LexOrdering>::new(),
            false,
            limit,
        )?))
    }
}

#[derive(Debug)]
struct WalkPartition {
    input: Arc<dyn ExecutionPlan>,
    partition: usize,
    mode: Mode,
    schema: SchemaRef,
}

impl PartitionStream for WalkPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let input = match self.input.execute(self.partition, ctx) {
            Ok(s) => s,
            Err(e) => {
                return Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::once(async move { Err(e) }),
                ))
            }
        };
        let state = Walker::new(self.mode, schema.clone(), input);
        let stream = futures::stream::try_unfold(state, |mut st| async move {
            loop {
                if let Some(b) = st.ready.pop_front() {
                    return Ok(Some((b, st)));
                }
                if st.done {
                    return Ok(None);
                }
                match st.input.next().await {
                    Some(batch) => st.push(&batch?)?,
                    None => {
                        st.flush_pathway();
                        st.emit(true)?;
                        st.done = true;
                    }
                }
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, stream))
    }
}

/// The periods of `history` valid at `census` (an expression: a literal
/// date, or a column), with the census date as a column.
pub(crate) fn periods_at(history: Arc<dyn TableProvider>, census: Expr) -> Result<ViewTable> {
    let valid = col("valid_from").lt_eq(census.clone()).and(
        col("valid_to")
            .is_null()
            .or(col("valid_to").gt(census.clone())),
    );
    let mut exprs: Vec<Expr> = history_schema()
        .fields()
        .iter()
        .filter(|f| !matches!(f.name().as_str(), "valid_from" | "valid_to"))
        .map(|f| col(f.name()))
        .collect();
    exprs.push(census.alias("census_date"));
    let plan = LogicalPlanBuilder::scan("rtt_period_history", provider_as_source(history), None)?
        .filter(valid)?
        .project(exprs)?
        .build()?;
    Ok(ViewTable::new(plan, None))
}

/// `rtt_periods_at(date)`: the periods as at a census date.
#[derive(Debug)]
pub(crate) struct PeriodsAt {
    pub history: Arc<dyn TableProvider>,
}

impl TableFunctionImpl for PeriodsAt {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let date = date_arg("rtt_periods_at", args.exprs())?;
        Ok(Arc::new(periods_at(
            self.history.clone(),
            lit(ScalarValue::Date32(Some(date))),
        )?))
    }
}

/// A table function's one argument, a date literal, as days since
/// 1970-01-01 (`name` for the messages).
pub(crate) fn date_arg(name: &str, exprs: &[Expr]) -> Result<i32> {
    let [arg] = exprs else {
        return plan_err!("{name} takes one argument: a census date");
    };
    let date = match arg {
        Expr::Literal(v, _) => v.cast_to(&DataType::Date32),
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Literal(v, _) => v.cast_to(&DataType::Date32),
            _ => return plan_err!("{name} takes a date literal, e.g. DATE '2026-10-31'"),
        },
        Expr::Placeholder(_) => {
            return plan_err!(
                "{name} takes a date literal; with a parameter, filter the table it reads instead"
            )
        }
        _ => return plan_err!("{name} takes a date literal, e.g. DATE '2026-10-31'"),
    };
    match date {
        Ok(ScalarValue::Date32(Some(d))) => Ok(d),
        _ => plan_err!("{name}: {arg} is not a date"),
    }
}
