//! The tables of a warehouse session.
//!
//! | table | what |
//! | --- | --- |
//! | the six feeds | stored rows, every trust, with `trust` and lineage |
//! | `rtt_period_history`, `rtt_periods`, `rtt_periods_at(d)`, `rtt_findings`, `rtt_census_counts` | section 5; stored with each version ([`crate::derived`]) |
//! | `loads`, `load_files`, `quarantine`, `superseded` | the load log |
//! | `coverage`, `snapshots`, `trusts` | what the view holds, and the ICS |
//! | `ref_*` | reference tables from `sql/reference/` |
//! | `ics_*` | ICS-wide linkage views ([`crate::linkage`]) |

use crate::derived::{CensusCountsTable, Derivation, How, DERIVATIONS};
use crate::rtt::{periods_at, PeriodsAt, RttWalkTable};
use crate::Result;
use crate::SqlFile;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{col, lit};
use datafusion::prelude::SessionContext;
use icsw_model::feed::utc_micros;
use icsw_model::london::date_to_day;
use icsw_model::reference::{csv_rows, TABLES};
use icsw_model::{Feed, IcsConfig};
use icsw_store::log_schema::{schema_of, LOG_TABLES};
use icsw_store::{layout, View, Warehouse};
use serde::Serialize;
use std::sync::Arc;

/// A table as `GET /api/tables` and `icsw sql --tables` describe it.
#[derive(Clone, Debug, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub description: String,
    pub columns: Vec<(String, String)>,
}

fn description(name: &str) -> String {
    match name {
        "ae_attendances" => "A&E attendances (period feed; activity date: London date of arrival)",
        "inpatient_spells" => "Inpatient spells (period feed; activity date: London date of admission)",
        "outpatient_appointments" => "Outpatient appointments (period feed; activity date: appointment date)",
        "referrals" => "Referrals received (period feed; activity date: referral received date)",
        "rtt_events" => "RTT events of every pathway (snapshot feed: the latest snapshot per trust)",
        "patients" => "Patients (snapshot feed)",
        "rtt_period_history" => "RTT periods derived from rtt_events: each period's state from valid_from until valid_to (exclusive)",
        "rtt_periods" => "RTT periods as at each trust's latest rtt_events extract date",
        "rtt_findings" => "RTT events the clock walk could not apply as they stand (contract section 5)",
        "loads" => "Every load attempt: trust, extract, outcome, row counts",
        "load_files" => "Every file of every load, with sha256 and row counts",
        "quarantine" => "Rows read but not stored, with reason, column and value",
        "superseded" => "Stored rows replaced by a newer row with the same id from another date range",
        "coverage" => "Per trust and period feed: the date ranges held and the extract that last replaced each",
        "snapshots" => "Per trust and snapshot feed: the snapshot held",
        "trusts" => "The trusts of the ICS configuration",
        "rtt_census_dates" => "Month-end census dates (2000-2099)",
        "rtt_census_counts" => "RTT periods counted by month-end census date, provider, commissioner, treatment function, return part and band, at the census dates of each trust's data (what the RTT return reads)",
        "rtt_census_states" => "RTT periods as they stood at each month-end census date, with status and the period's patient (filter on census_date)",
        "rtt_census_periods" => "RTT periods by month-end census date and return part, with days waited and weekly band (filter on census_date)",
        "ae_attendance_measures" => "A&E attendances with their return measures (type, over 4 and 12 hours, DTA wait)",
        "activity_measures" => "Referrals, outpatient appointments and spells with the activity return measure they count in",
        "ics_ae_reattendance" => "Every unbooked A&E attendance with its 7-day re-attendance at the same or another ICS trust (linkage; keyed pseudonyms, no NHS numbers)",
        "ics_rtt_multi_provider" => "Every open RTT pathway (Part_2) at each month-end census date, with whether its patient is also waiting at another ICS trust, same treatment function or other (linkage; filter on census_date)",
        "ics_rtt_transfers" => "Every RTT period transferred out (21) in a census month, with the clock at the receiving ICS trust: carried, restarted, pending, unmatched or unlinkable (linkage; filter on census_date)",
        n if n.starts_with("ref_") => "Reference table from sql/reference/",
        _ => "",
    }
    .to_string()
}

fn mem(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Arc<dyn TableProvider>> {
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

/// A table over an explicit list of the warehouse's files.
pub(crate) fn files_table(
    warehouse: &Warehouse,
    schema: SchemaRef,
    files: Vec<String>,
) -> Result<Arc<dyn TableProvider>> {
    if files.is_empty() {
        return mem(schema, vec![]);
    }
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(warehouse.url_of(f)))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A log table: every `log/<name>/v=<version>/` up to the view's version.
async fn log_table(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    view: &View,
    name: &str,
    schema: SchemaRef,
) -> Result<()> {
    if view.version == 0 || warehouse.list(&layout::log_dir(name)).await?.is_empty() {
        ctx.register_table(name, mem(schema, vec![])?)?;
        return Ok(());
    }
    let provider: Arc<dyn TableProvider> = {
        let url = ListingTableUrl::parse(format!("{}/", warehouse.url_of(&layout::log_dir(name))))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![("v".to_string(), DataType::Utf8)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema.clone());
        Arc::new(ListingTable::try_new(config)?)
    };
    // Each trust's loads up to the version its state was read at, and
    // nothing a later (or unfinished) load wrote.
    let df = ctx.read_table(provider)?;
    let df = {
        let mut keep = lit(false);
        for (trust, (v, _)) in &view.trusts {
            keep = keep.or(col("trust")
                .eq(lit(trust.clone()))
                .and(col("v").lt_eq(lit(format!("{v:020}")))));
        }
        // Loads of trusts the view holds no data for (refused extracts).
        let others = col("v").lt_eq(lit(format!("{:020}", view.version)));
        let others = if view.trusts.is_empty() {
            others
        } else {
            others.and(
                col("trust").in_list(view.trusts.keys().map(|t| lit(t.clone())).collect(), true),
            )
        };
        let columns: Vec<_> = schema.fields().iter().map(|f| col(f.name())).collect();
        df.filter(keep.or(others))?.select(columns)?
    };
    ctx.register_table(name, df.into_view())?;
    Ok(())
}

pub(crate) async fn register(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    view: &View,
    config: &IcsConfig,
) -> Result<()> {
    let mut events: Option<Arc<dyn TableProvider>> = None;
    for feed in Feed::ALL {
        let files: Vec<String> = view.files(feed).map(|(_, f)| f.path.clone()).collect();
        let t = files_table(warehouse, feed.stored_schema(), files)?;
        if feed == Feed::RttEvents {
            events = Some(t.clone());
        }
        ctx.register_table(feed.name(), t)?;
    }
    let events = events.expect("rtt_events registered");
    for d in DERIVATIONS {
        let t = derived_table(ctx, warehouse, view, d, &events).await?;
        ctx.register_table(d.table, t)?;
    }
    for name in LOG_TABLES {
        let schema = schema_of(name).expect("log table");
        log_table(ctx, warehouse, view, name, schema).await?;
    }

    register_state_tables(ctx, view, config)?;
    register_census_dates(
        ctx,
        Some((
            icsw_model::Month::new(2000, 1).expect("month"),
            icsw_model::Month::new(2099, 12).expect("month"),
        )),
    )?;
    register_reference(ctx)?;
    register_derived(ctx).await
}

/// A derived table of the view: the stored files of every trust whose
/// table is current, and the walk over the events of the others (a
/// warehouse written before the table was stored, or read as at a version
/// before it), together.
async fn derived_table(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    view: &View,
    d: &Derivation,
    all_events: &Arc<dyn TableProvider>,
) -> Result<Arc<dyn TableProvider>> {
    if d.how == How::CensusCounts {
        let mut stored = Vec::new();
        let mut count = Vec::new();
        for (trust, (_, state)) in &view.trusts {
            match d.stored(state) {
                Some(files) => stored.extend(files.iter().map(|f| f.path.clone())),
                None => count.push(trust.clone()),
            }
        }
        let stored = files_table(warehouse, d.schema(), stored)?;
        if count.is_empty() {
            return Ok(stored);
        }
        let counted: Arc<dyn TableProvider> = Arc::new(CensusCountsTable {
            history: ctx.table_provider("rtt_period_history").await?,
            trusts: count,
            cache: Default::default(),
        });
        let union = ctx.read_table(stored)?.union(ctx.read_table(counted)?)?;
        return Ok(union.into_view());
    }
    let How::Walk(mode) = d.how else {
        unreachable!("a walk")
    };
    let mut stored = Vec::new();
    let mut walk = Vec::new();
    for (_, state) in view.trusts.values() {
        match d.stored(state) {
            Some(files) => stored.extend(files.iter().map(|f| f.path.clone())),
            None => walk.extend(
                state
                    .feeds
                    .get(&Feed::RttEvents)
                    .into_iter()
                    .flat_map(|f| f.files.iter().map(|f| f.path.clone())),
            ),
        }
    }
    Ok(match (stored.is_empty(), walk.is_empty()) {
        (_, true) => files_table(warehouse, d.schema(), stored)?,
        (true, false) => Arc::new(RttWalkTable::new(all_events.clone(), mode)),
        (false, false) => {
            let events = files_table(warehouse, Feed::RttEvents.stored_schema(), walk)?;
            let walked = ctx.read_table(Arc::new(RttWalkTable::new(events, mode)))?;
            let stored = ctx.read_table(files_table(warehouse, d.schema(), stored)?)?;
            stored.union(walked)?.into_view()
        }
    })
}

/// The `ref_*` tables of `sql/reference/`.
pub(crate) fn register_reference(ctx: &SessionContext) -> Result<()> {
    for t in TABLES {
        let rows = csv_rows(t.csv);
        let schema = Arc::new(Schema::new(
            rows[0]
                .iter()
                .map(|h| Field::new(h, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let cols: Vec<ArrayRef> = (0..rows[0].len())
            .map(|c| {
                Arc::new(StringArray::from_iter_values(
                    rows[1..]
                        .iter()
                        .map(|r| r.get(c).map_or("", |s| s.as_str())),
                )) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), cols)?;
        ctx.register_table(t.name, mem(schema, vec![batch])?)?;
    }
    Ok(())
}

/// The tables derived from the others, planned over whatever the session
/// holds by those names (the full tables, or a restricted session's):
/// `rtt_periods` and `rtt_periods_at(d)` over `rtt_period_history`, then
/// the views of `sql/views/`.
pub(crate) async fn register_derived(ctx: &SessionContext) -> Result<()> {
    let history = ctx.table_provider("rtt_period_history").await?;
    ctx.register_table(
        "rtt_periods",
        Arc::new(periods_at(history.clone(), col("snapshot_extract_date"))?),
    )?;
    ctx.register_udtf("rtt_periods_at", Arc::new(PeriodsAt { history }));
    register_views(ctx, "views", VIEWS.iter()).await
}

/// Plans each of `views` (name, the SQL of `sql/{folder}/{name}.sql`) in
/// `ctx`, in order, and registers it by name.
pub(crate) async fn register_views(
    ctx: &SessionContext,
    folder: &str,
    views: impl Iterator<Item = &(&'static str, &'static str)>,
) -> Result<()> {
    for (name, text) in views {
        let file = SqlFile::parse(name, text)?;
        let df = ctx
            .sql(&file.text)
            .await
            .map_err(|e| crate::Error::SqlFile {
                file: format!("{folder}/{name}.sql"),
                message: e.to_string(),
            })?;
        ctx.register_table(*name, df.into_view())?;
    }
    Ok(())
}

/// Whether a table is derived from others by [`register_derived`] (a
/// restricted session plans it again over its own tables).
pub(crate) fn is_derived(name: &str) -> bool {
    name == "rtt_periods" || VIEWS.iter().any(|(n, _)| *n == name)
}

/// The derived tables of `sql/views/`, registered in every session.
pub const VIEWS: &[(&str, &str)] = &[
    (
        "rtt_census_states",
        include_str!("../../../sql/views/rtt_census_states.sql"),
    ),
    (
        "rtt_census_periods",
        include_str!("../../../sql/views/rtt_census_periods.sql"),
    ),
    (
        "ae_attendance_measures",
        include_str!("../../../sql/views/ae_attendance_measures.sql"),
    ),
    (
        "activity_measures",
        include_str!("../../../sql/views/activity_measures.sql"),
    ),
];

/// `rtt_census_dates`: the last day of every month of `months` (inclusive;
/// none when `None`), the census dates `rtt_census_periods` is defined at:
/// 2000 to 2099 in a session.
pub(crate) fn register_census_dates(
    ctx: &SessionContext,
    months: Option<(icsw_model::Month, icsw_model::Month)>,
) -> Result<()> {
    let mut days = Vec::new();
    if let Some((mut m, last)) = months {
        while m <= last {
            days.push(date_to_day(m.last_day()));
            m = m.next();
        }
    }
    let schema = Arc::new(Schema::new(vec![Field::new(
        "census_date",
        DataType::Date32,
        false,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Date32Array::from(days))])?;
    ctx.register_table("rtt_census_dates", mem(schema, vec![batch])?)?;
    Ok(())
}

/// `coverage`, `snapshots` and `trusts`, from the view and configuration.
fn register_state_tables(ctx: &SessionContext, view: &View, config: &IcsConfig) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("trust", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("from_date", DataType::Date32, false),
        Field::new("to_date", DataType::Date32, false),
        Field::new("extract_date", DataType::Date32, false),
        Field::new("extracted_at", utc_micros(), false),
        Field::new("load_id", DataType::Int64, false),
    ]));
    let rows: Vec<_> = view
        .trusts
        .iter()
        .flat_map(|(t, (_, s))| {
            s.feeds
                .iter()
                .flat_map(move |(f, fs)| fs.coverage.iter().map(move |c| (t, f, c)))
        })
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.name()),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date_to_day(r.2.from)),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date_to_day(r.2.to)),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date_to_day(r.2.extract_date)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.2.extracted_at.timestamp_micros()),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.load_id as i64),
            )),
        ],
    )?;
    ctx.register_table("coverage", mem(schema, vec![batch])?)?;

    let schema = Arc::new(Schema::new(vec![
        Field::new("trust", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("extract_date", DataType::Date32, false),
        Field::new("extracted_at", utc_micros(), false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("load_id", DataType::Int64, false),
    ]));
    let rows: Vec<_> = view
        .trusts
        .iter()
        .flat_map(|(t, (_, s))| {
            s.feeds
                .iter()
                .filter_map(move |(f, fs)| fs.snapshot.as_ref().map(|sn| (t, f, sn)))
        })
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.name()),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date_to_day(r.2.extract_date)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.2.extracted_at.timestamp_micros()),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.rows_read as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.load_id as i64),
            )),
        ],
    )?;
    ctx.register_table("snapshots", mem(schema, vec![batch])?)?;

    let schema = Arc::new(Schema::new(vec![
        Field::new("trust", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("source_system", DataType::Utf8, false),
        Field::new("expected_feeds", DataType::Utf8, false),
    ]));
    let t = &config.trusts;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                t.iter().map(|t| t.ods.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                t.iter().map(|t| t.name.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                t.iter().map(|t| t.source_system.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(t.iter().map(|t| {
                t.expected_feeds
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(",")
            }))),
        ],
    )?;
    ctx.register_table("trusts", mem(schema, vec![batch])?)?;
    Ok(())
}

/// The user-visible tables with their columns.
pub(crate) async fn describe(ctx: &SessionContext) -> Result<Vec<TableInfo>> {
    Ok(schemas(ctx)
        .await?
        .into_iter()
        .map(|(name, schema)| TableInfo {
            description: description(&name),
            columns: schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect(),
            name,
        })
        .collect())
}

/// The session's tables by name, with their schemas.
pub(crate) async fn schemas(ctx: &SessionContext) -> Result<Vec<(String, SchemaRef)>> {
    let mut out = Vec::new();
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    let schema = catalog.schema("public").expect("default schema");
    let mut names = schema.table_names();
    names.sort();
    for name in names {
        if let Some(t) = schema.table(&name).await? {
            out.push((name, t.schema()));
        }
    }
    Ok(out)
}
