//! Restricted sessions: a trust's or a commissioner's rows only, and for
//! analysts a de-identified view in which every identifier is replaced by a
//! keyed pseudonym (the same in every table, so joins still work) and birth
//! dates by years.
//!
//! A restricted session has its own catalog: each table is a
//! [`ScopedTable`] over the full session's, whose scan filters the rows and
//! replaces the identifiers before anything of the user's query sees a row
//! (no error, function or predicate of theirs can reach another scope's
//! rows); the derived views are planned again over those. The full tables
//! are never registered in it by name, and the pseudonym function is not
//! callable from its SQL. The one predicate of a query that reaches below
//! the scope is a comparison of a column shown as it is (not an
//! identifier) with constants, such as `census_date = DATE '2026-10-31'`:
//! it cannot fail or call anything, and it lets a view over every census
//! date be read for one ([`ScopedTable::pushable`]).

use crate::{Result, WarehouseContext};
use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::DFSchema;
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    col, create_udf, lit, ColumnarValue, Expr, ExprSchemable, Operator, ScalarUDF,
    TableProviderFilterPushDown, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};
use datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Who may see what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Restriction {
    /// Only these trusts' rows.
    pub trusts: Option<Vec<String>>,
    /// Only rows of these commissioners; patient-level tables without a
    /// commissioner are hidden.
    pub commissioners: Option<Vec<String>>,
    /// Replace identifiers with pseudonyms keyed by this secret.
    pub pseudonym_key: Option<Vec<u8>>,
}

impl Restriction {
    pub fn is_none(&self) -> bool {
        self.trusts.is_none() && self.commissioners.is_none() && self.pseudonym_key.is_none()
    }

    /// Whether a trust's rows may be seen.
    pub fn allows_trust(&self, trust: &str) -> bool {
        self.trusts
            .as_ref()
            .is_none_or(|ts| ts.iter().any(|t| t == trust))
    }
}

/// Columns that identify a patient or a record.
const IDENTIFIERS: &[&str] = &[
    "nhs_number",
    "local_patient_id",
    "attendance_id",
    "spell_id",
    "appointment_id",
    "referral_id",
    "event_id",
    "pathway_id",
    "ae_attendance_id",
    "start_event_id",
    "record_id",
    "value",
    "record",
];

/// Tables with no commissioner column to scope them by (patient-level ones,
/// and the findings, counted over every commissioner): hidden from a
/// commissioner-scoped session.
const NO_COMMISSIONER: &[&str] = &[
    "patients",
    "quarantine",
    "superseded",
    "rtt_findings",
    "quality_findings",
];

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The pseudonym of a value: `p` and 20 hex digits of its keyed hash.
pub fn pseudonym(key: &[u8], value: &str) -> String {
    format!(
        "p{}",
        &hex::encode(hmac_sha256(key, value.as_bytes()))[..20]
    )
}

/// What a keyed-pseudonym function replaces.
#[derive(Clone, Copy)]
pub(crate) enum Keyed {
    /// The value.
    Value,
    /// Each of a comma-separated list of values.
    List,
    /// A valid NHS number (null for a missing or invalid one).
    NhsNumber,
}

/// A function giving the keyed pseudonym of its argument.
pub(crate) fn pseudonym_udf(name: &str, key: Vec<u8>, kind: Keyed) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = ColumnarValue::values_to_arrays(args)?;
            let s = cast(&a[0], &DataType::Utf8)?;
            let out: StringArray = s
                .as_string::<i32>()
                .iter()
                .map(|v| {
                    v.and_then(|v| match kind {
                        Keyed::Value => Some(pseudonym(&key, v)),
                        Keyed::List => Some(
                            v.split(',')
                                .filter(|x| !x.is_empty())
                                .map(|x| pseudonym(&key, x))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        Keyed::NhsNumber => {
                            icsw_model::nhs_number::is_valid(v).then(|| pseudonym(&key, v))
                        }
                    })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    )
}

/// The rows a restricted session keeps of a table (`None`: all) and its
/// columns, each an expression over the full table's and a name.
type Shape = (Option<Expr>, Vec<(Expr, String)>);

impl Restriction {
    /// What a restricted session shows of a table with `schema`: the rows
    /// it keeps (`None`: all) and its columns, each an expression over the
    /// full table's columns with its name. `None` when the table is hidden
    /// whole (patient-level, and no commissioner to scope it by).
    fn shape(&self, name: &str, schema: &Schema) -> Option<Shape> {
        let has = |c: &str| schema.column_with_name(c).is_some();
        let mut keep: Vec<Expr> = Vec::new();
        // A table's trust: `trust`, or a linkage view's provider.
        let trust_col = ["trust", "provider_org_code"].into_iter().find(|c| has(c));
        if let (Some(ts), Some(c)) = (&self.trusts, trust_col) {
            keep.push(col(c).in_list(ts.iter().map(|t| lit(t.clone())).collect(), false));
        }
        if let Some(cs) = &self.commissioners {
            if has("commissioner_code") {
                keep.push(
                    col("commissioner_code")
                        .in_list(cs.iter().map(|c| lit(c.clone())).collect(), false),
                );
            } else if NO_COMMISSIONER.contains(&name) || crate::linkage::is_linkage(name) {
                return None;
            }
        }
        let keep = keep.into_iter().reduce(Expr::and);
        let ids = self
            .pseudonym_key
            .clone()
            .map(|k| pseudonym_udf("pseudonym", k, Keyed::Value));
        let lists = self
            .pseudonym_key
            .clone()
            .map(|k| pseudonym_udf("pseudonym_list", k, Keyed::List));
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let n = f.name().as_str();
                match (&ids, &lists) {
                    (Some(ids), _) if IDENTIFIERS.contains(&n) => {
                        (ids.call(vec![col(n)]), n.to_string())
                    }
                    (_, Some(lists)) if n == "example_keys" => {
                        (lists.call(vec![col(n)]), n.to_string())
                    }
                    (Some(_), _) if n == "birth_date" => (
                        datafusion::logical_expr::cast(
                            datafusion::functions::expr_fn::date_part(lit("year"), col(n)),
                            DataType::Int32,
                        ),
                        "birth_year".to_string(),
                    ),
                    (Some(_), _) if n == "death_date" => (
                        datafusion::logical_expr::cast(
                            datafusion::functions::expr_fn::date_trunc(lit("month"), col(n)),
                            DataType::Date32,
                        ),
                        "death_month".to_string(),
                    ),
                    _ => (col(n), n.to_string()),
                }
            })
            .collect();
        Some((keep, columns))
    }
}

impl WarehouseContext {
    /// A session over the same data showing only what `r` allows. Every
    /// table is a [`ScopedTable`] over the full one: its scan keeps the
    /// allowed rows and replaces the identifiers before any expression of
    /// the user's sees a row. The derived views are planned again over
    /// these.
    pub async fn restricted(&self, r: &Restriction) -> Result<WarehouseContext> {
        let full = self.session();
        let ctx = SessionContext::new_with_config_rt(full.copied_config(), full.runtime_env());
        crate::udf::register(&ctx);
        let catalog = full.catalog("datafusion").expect("default catalog");
        let schema = catalog.schema("public").expect("default schema");
        let mut names = schema.table_names();
        names.sort();
        for name in names {
            if crate::tables::is_derived(&name) {
                continue;
            }
            let Some(provider) = schema.table(&name).await? else {
                continue;
            };
            let (keep, columns) = r
                .shape(&name, &provider.schema())
                .unwrap_or_else(|| (Some(lit(false)), identity(&provider.schema())));
            let table = ScopedTable::try_new(provider, keep, columns)?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
        }
        crate::tables::register_derived(&ctx).await?;
        crate::linkage::register_functions(&ctx).await?;
        let mut out = self.with_session(ctx);
        // A plan shows row counts before scoping and the server's paths.
        out.limits.statement.explain = false;
        Ok(out)
    }
}

/// Every column as itself.
fn identity(schema: &Schema) -> Vec<(Expr, String)> {
    schema
        .fields()
        .iter()
        .map(|f| (col(f.name().as_str()), f.name().clone()))
        .collect()
}

/// A table as a restricted session shows it: `inner`'s rows that `keep`
/// allows, with `columns` in place of its own. Filters are never pushed
/// into it, and its plan ends in a [`ScopeBoundary`] that takes none from
/// above, so the scope is applied to every row before any predicate,
/// function or error of the user's query can see it.
#[derive(Debug)]
pub(crate) struct ScopedTable {
    inner: Arc<dyn TableProvider>,
    keep: Option<Expr>,
    columns: Vec<(Expr, String)>,
    schema: SchemaRef,
}

impl ScopedTable {
    fn try_new(
        inner: Arc<dyn TableProvider>,
        keep: Option<Expr>,
        columns: Vec<(Expr, String)>,
    ) -> Result<Self> {
        let df_schema = DFSchema::try_from(inner.schema().as_ref().clone())?;
        let fields: Vec<Field> = columns
            .iter()
            .map(|(e, n)| {
                let (_, field) = e.to_field(&df_schema)?;
                Ok(Field::new(
                    n,
                    field.data_type().clone(),
                    field.is_nullable(),
                ))
            })
            .collect::<datafusion::error::Result<_>>()?;
        Ok(ScopedTable {
            inner,
            keep,
            columns,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

impl ScopedTable {
    /// Whether a query's predicate may be given to the full table's scan:
    /// comparisons (`=`, `<>`, `<`, `<=`, `>`, `>=`, `IN`, `BETWEEN`, `IS
    /// NULL`) of a column this table shows as it is, and not an identifier,
    /// with constants, and conjunctions of them. Such a predicate cannot
    /// fail, call a function or tell the query anything about the rows it
    /// drops; the scope's own filter is applied all the same.
    fn pushable(&self, e: &Expr) -> bool {
        let as_is = |e: &Expr| match e {
            Expr::Column(c) => {
                !IDENTIFIERS.contains(&c.name.as_str())
                    && self.columns.iter().any(|(x, n)| {
                        matches!(x, Expr::Column(i) if i.name == c.name) && *n == c.name
                    })
            }
            _ => false,
        };
        let constant = |e: &Expr| match e {
            Expr::Literal(..) => true,
            Expr::Cast(c) => matches!(c.expr.as_ref(), Expr::Literal(..)),
            _ => false,
        };
        match e {
            Expr::BinaryExpr(b) if b.op == Operator::And => {
                self.pushable(&b.left) && self.pushable(&b.right)
            }
            Expr::BinaryExpr(b) => {
                matches!(
                    b.op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::Lt
                        | Operator::LtEq
                        | Operator::Gt
                        | Operator::GtEq
                ) && ((as_is(&b.left) && constant(&b.right))
                    || (constant(&b.left) && as_is(&b.right)))
            }
            Expr::InList(l) => as_is(&l.expr) && l.list.iter().all(constant),
            Expr::Between(b) => as_is(&b.expr) && constant(&b.low) && constant(&b.high),
            Expr::IsNull(x) | Expr::IsNotNull(x) => as_is(x),
            _ => false,
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for ScopedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // Inexact: the filter is applied above the scope as well.
        Ok(filters
            .iter()
            .map(|f| {
                if self.pushable(f) {
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
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<&(Expr, String)> = match projection {
            Some(p) => p.iter().map(|&i| &self.columns[i]).collect(),
            None => self.columns.iter().collect(),
        };
        // Only the inner columns the scope and the wanted columns use.
        let inner_schema = self.inner.schema();
        let mut used: Vec<usize> = self
            .keep
            .iter()
            .chain(wanted.iter().map(|(e, _)| e))
            .flat_map(|e| e.column_refs())
            .filter_map(|c| inner_schema.index_of(&c.name).ok())
            .collect();
        used.sort_unstable();
        used.dedup();
        let mut keep: Vec<Expr> = self.keep.iter().cloned().collect();
        // The query's pushable predicates, where the full table takes them.
        let pushed: Vec<&Expr> = filters.iter().filter(|f| self.pushable(f)).collect();
        let takes = self.inner.supports_filters_pushdown(&pushed)?;
        keep.extend(
            pushed
                .into_iter()
                .zip(takes)
                .filter(|(_, t)| *t != TableProviderFilterPushDown::Unsupported)
                .map(|(f, _)| f.clone()),
        );
        let input = self.inner.scan(state, Some(&used), &keep, None).await?;
        let df_schema = DFSchema::try_from(input.schema().as_ref().clone())?;
        let mut plan: Arc<dyn ExecutionPlan> = input;
        if let Some(k) = &self.keep {
            let predicate = state.create_physical_expr(k.clone(), &df_schema)?;
            plan = Arc::new(FilterExec::try_new(predicate, plan)?);
        }
        let exprs = wanted
            .iter()
            .map(|(e, n)| {
                Ok((
                    state.create_physical_expr(e.clone(), &df_schema)?,
                    n.clone(),
                ))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let plan = Arc::new(ProjectionExec::try_new(exprs, plan)?);
        // A view's scan (a linkage view of the full session) is a plan the
        // session has optimized already; optimizing it again as part of
        // the query's plan trips DataFusion 55's distribution rule on
        // some joins (an index out of bounds in reordering join keys), so
        // the boundary shows the optimizer no children then, and gives
        // the rows the table's own schema (the plan's can
        // differ from the view's logical schema in nullability or
        // metadata, which DataFusion checks before an aggregate).
        if self.inner.get_logical_plan().is_none() {
            return Ok(Arc::new(ScopeBoundary {
                input: plan,
                opaque: None,
            }));
        }
        let schema = Arc::new(match projection {
            Some(p) => self.schema.project(p)?,
            None => self.schema.as_ref().clone(),
        });
        let props = Arc::new(plan.properties().as_ref().clone().with_eq_properties(
            datafusion::physical_expr::EquivalenceProperties::new(schema.clone()),
        ));
        Ok(Arc::new(ScopeBoundary {
            input: plan,
            opaque: Some((schema, props)),
        }))
    }
}

/// The top of a [`ScopedTable`]'s plan: it passes its input's rows through
/// and accepts no filter from the plan above (the default of
/// `gather_filters_for_pushdown`), so no predicate of the user's is ever
/// evaluated below the scope.
///
/// Over a plan already optimized (a view's), it is `opaque`: a leaf to the
/// optimizer, which leaves the finished plan below it alone.
#[derive(Debug)]
struct ScopeBoundary {
    input: Arc<dyn ExecutionPlan>,
    /// When opaque: the table's schema and the properties under it.
    opaque: Option<(SchemaRef, Arc<PlanProperties>)>,
}

impl DisplayAs for ScopeBoundary {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScopeBoundary")
    }
}

impl ExecutionPlan for ScopeBoundary {
    fn name(&self) -> &str {
        "ScopeBoundary"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        match &self.opaque {
            Some((_, props)) => props,
            None => self.input.properties(),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        if self.opaque.is_some() {
            vec![]
        } else {
            vec![&self.input]
        }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::error::Result<TreeNodeRecursion>,
    ) -> datafusion::error::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        if self.opaque.is_some() {
            return Ok(self);
        }
        Ok(Arc::new(ScopeBoundary {
            input: children.swap_remove(0),
            opaque: None,
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let Some((schema, _)) = &self.opaque else {
            return Ok(input);
        };
        let schema = schema.clone();
        let out = schema.clone();
        use futures::StreamExt;
        let rows = input.map(move |b| {
            let b = b?;
            let options = datafusion::arrow::array::RecordBatchOptions::new()
                .with_row_count(Some(b.num_rows()));
            Ok(datafusion::arrow::array::RecordBatch::try_new_with_options(
                out.clone(),
                b.columns().to_vec(),
                &options,
            )?)
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, rows),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_comparisons_of_columns_shown_as_they_are_with_constants_pass_the_scope() {
        use datafusion::datasource::MemTable;
        let schema = Arc::new(Schema::new(vec![
            Field::new("census_date", DataType::Date32, false),
            Field::new("nhs_number", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
            Field::new("trust", DataType::Utf8, false),
        ]));
        let inner = Arc::new(MemTable::try_new(schema, vec![vec![]]).unwrap());
        let t = ScopedTable::try_new(
            inner,
            Some(col("trust").eq(lit("RYJ"))),
            vec![
                (col("census_date"), "census_date".into()),
                (col("nhs_number"), "nhs_number".into()),
                (col("n") + lit(1i64), "n".into()),
                (col("trust"), "trust".into()),
            ],
        )
        .unwrap();
        let day = || lit(ScalarValue::Date32(Some(20_757)));
        use datafusion::common::ScalarValue;
        for ok in [
            col("census_date").eq(day()),
            day().lt_eq(col("census_date")),
            col("census_date").between(day(), day()),
            col("trust").in_list(vec![lit("RQM")], false),
            col("census_date")
                .eq(day())
                .and(col("trust").not_eq(lit("RQM"))),
            col("census_date").is_null(),
        ] {
            assert!(t.pushable(&ok), "{ok}");
        }
        for no in [
            // An identifier, even shown as it is.
            col("nhs_number").eq(lit("9434765919")),
            // A column computed by the scope.
            col("n").eq(lit(1i64)),
            // Anything that computes, can fail or calls a function.
            (col("census_date") - day()).eq(lit(0i64)),
            (lit(1i64) / lit(0i64)).eq(lit(1i64)),
            col("census_date").eq(day()).or(col("trust").eq(lit("RQM"))),
            datafusion::functions::expr_fn::upper(col("trust")).eq(lit("RQM")),
        ] {
            assert!(!t.pushable(&no), "{no}");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(pseudonym(b"k", "9434765919"), pseudonym(b"k", "9434765919"));
        assert_ne!(pseudonym(b"k", "9434765919"), pseudonym(b"j", "9434765919"));
    }
}
