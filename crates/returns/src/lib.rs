//! The statutory returns (RTT, A&E, activity) and the headline reports,
//! run from the SQL in `sql/returns` and `sql/reports`, with the provenance
//! and completeness of returns spec section 4.
//!
//! The publication gate is the caller's (the quality crate adds its
//! error-severity findings); this crate says what a return was computed
//! from and whether every trust's data was complete.

mod completeness;
mod reports;

pub use completeness::{completeness, TrustProvenance};
pub use reports::{report, reports, ReportInfo};

use chrono::NaiveDate;
use datafusion::prelude::DataFrame;
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use icsw_model::{Feed, IcsConfig, Month};
use icsw_query::{Limits, SqlFile, WarehouseContext};
use icsw_store::{View, Warehouse};
use serde::Serialize;
use std::io::Write;

/// Errors of returns and reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller asked for something that does not exist.
    #[error("{0}")]
    Invalid(String),
    /// The gate holds the return: a trust is incomplete or the period has an
    /// error-severity finding. The provenance says why.
    #[error("the {} return for {} is held: {}", .0.kind, .0.period, .0.reasons.join("; "))]
    Held(Box<Provenance>),
    #[error(transparent)]
    Query(#[from] icsw_query::Error),
    #[error(transparent)]
    Store(#[from] icsw_store::Error),
    #[error("writing the return: {0}")]
    Write(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A statutory return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnKind {
    Rtt,
    Ae,
    Activity,
}

impl ReturnKind {
    pub const ALL: [ReturnKind; 3] = [ReturnKind::Rtt, ReturnKind::Ae, ReturnKind::Activity];

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "rtt" => Ok(ReturnKind::Rtt),
            "ae" => Ok(ReturnKind::Ae),
            "activity" => Ok(ReturnKind::Activity),
            _ => Err(Error::Invalid(format!(
                "no return {s:?} (rtt, ae or activity)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReturnKind::Rtt => "rtt",
            ReturnKind::Ae => "ae",
            ReturnKind::Activity => "activity",
        }
    }

    /// The feeds the return is computed from.
    pub fn feeds(self) -> &'static [Feed] {
        match self {
            ReturnKind::Rtt => &[Feed::RttEvents],
            ReturnKind::Ae => &[Feed::AeAttendances, Feed::InpatientSpells],
            ReturnKind::Activity => &[
                Feed::Referrals,
                Feed::OutpatientAppointments,
                Feed::InpatientSpells,
            ],
        }
    }

    /// The `Period` column's value.
    pub fn period_label(self, m: Month) -> String {
        match self {
            ReturnKind::Rtt => m.rtt_label(),
            ReturnKind::Ae => m.ae_label(),
            ReturnKind::Activity => m.to_string(),
        }
    }

    pub fn sql(self) -> SqlFile {
        let (name, text) = match self {
            ReturnKind::Rtt => ("rtt", include_str!("../../../sql/returns/rtt.sql")),
            ReturnKind::Ae => ("ae", include_str!("../../../sql/returns/ae.sql")),
            ReturnKind::Activity => (
                "activity",
                include_str!("../../../sql/returns/activity.sql"),
            ),
        };
        SqlFile::parse(name, text).expect("the project's return SQL has a valid header")
    }
}

impl std::fmt::Display for ReturnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which state of the warehouse to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AsAt {
    /// Only extracts dated on or before this date.
    pub date: Option<NaiveDate>,
    /// The state after this load.
    pub load: Option<u64>,
}

impl AsAt {
    pub async fn view(&self, warehouse: &Warehouse) -> Result<View> {
        Ok(match (self.date, self.load) {
            (Some(d), _) => warehouse.view_as_at_date(d).await?,
            (None, Some(v)) => warehouse.view_at_version(v).await?,
            (None, None) => warehouse.current().await?.view(),
        })
    }
}

/// What a return asks for.
#[derive(Clone, Debug, Serialize)]
pub struct ReturnRequest {
    pub kind: ReturnKind,
    pub period: Month,
    pub trust: Option<String>,
    pub as_at: AsAt,
    pub allow_incomplete: bool,
}

/// What a return was computed from (returns spec section 4), written
/// beside it as `FILE.provenance.json` or in HTTP headers.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    #[serde(rename = "return")]
    pub kind: ReturnKind,
    pub period: Month,
    pub trust: Option<String>,
    pub as_at: AsAt,
    /// The warehouse version each trust was read at is in `trusts`; this is
    /// the newest of them.
    pub warehouse_version: u64,
    pub sql: String,
    pub trusts: Vec<TrustProvenance>,
    pub complete: bool,
    /// Why it is not complete, or what holds it (empty when neither).
    pub reasons: Vec<String>,
    /// Whether it was written although held (`--allow-incomplete`).
    pub written_anyway: bool,
}

/// The parameters every `sql/` return or report may declare, for a month.
fn month_params(m: Month, label: String, trust: Option<&str>) -> Vec<(&'static str, ScalarValue)> {
    let day = |d: NaiveDate| ScalarValue::Date32(Some(icsw_model::london::date_to_day(d)));
    vec![
        ("census_date", day(m.last_day())),
        ("period_start", day(m.first_day())),
        ("period_end", day(m.last_day())),
        ("period_label", ScalarValue::Utf8(Some(label))),
        (
            "trust",
            ScalarValue::Utf8(Some(trust.unwrap_or("").to_string())),
        ),
    ]
}

/// Binds the parameters `file` declares (from those a month gives).
pub(crate) fn bind_month(
    file: &SqlFile,
    m: Month,
    label: String,
    trust: Option<&str>,
) -> Vec<(&'static str, ScalarValue)> {
    month_params(m, label, trust)
        .into_iter()
        .filter(|(n, _)| file.params.iter().any(|p| p.name == *n))
        .collect()
}

/// Computes a return's provenance and gate, without writing it. `held_by`
/// are further reasons to hold it (error-severity findings).
pub async fn prepare(
    warehouse: &Warehouse,
    config: &IcsConfig,
    req: &ReturnRequest,
    held_by: Vec<String>,
) -> Result<(View, Provenance)> {
    let view = req.as_at.view(warehouse).await?;
    let provenance = provenance(&view, config, req, held_by)?;
    Ok((view, provenance))
}

/// A return's provenance and gate over `view` (the view `req.as_at` gives).
pub fn provenance(
    view: &View,
    config: &IcsConfig,
    req: &ReturnRequest,
    held_by: Vec<String>,
) -> Result<Provenance> {
    if let Some(t) = &req.trust {
        if config.trust(t).is_none() {
            return Err(Error::Invalid(format!("trust {t} is not configured")));
        }
    }
    let trusts = completeness(view, config, req.kind, req.period, req.trust.as_deref());
    let mut reasons: Vec<String> = trusts
        .iter()
        .flat_map(|t| t.reasons.iter().map(move |r| format!("{}: {r}", t.trust)))
        .collect();
    reasons.extend(held_by);
    let provenance = Provenance {
        kind: req.kind,
        period: req.period,
        trust: req.trust.clone(),
        as_at: req.as_at,
        warehouse_version: view.version,
        sql: format!("sql/returns/{}.sql", req.kind.name()),
        complete: reasons.is_empty(),
        reasons,
        written_anyway: false,
        trusts,
    };
    Ok(provenance)
}

/// Writes a return as CSV (returns spec: UTF-8, LF, RFC 4180 quoting only
/// where needed, zeros as `0`, absent values empty), unless the gate holds
/// it and `allow_incomplete` is off. Streams: the return is never held
/// whole in memory.
pub async fn write_return(
    warehouse: &Warehouse,
    config: &IcsConfig,
    req: &ReturnRequest,
    held_by: Vec<String>,
    out: &mut (dyn Write + Send),
) -> Result<Provenance> {
    let view = req.as_at.view(warehouse).await?;
    let ctx = WarehouseContext::new(warehouse, view, config, &Limits::default()).await?;
    write_return_in(&ctx, config, req, held_by, out).await
}

/// [`write_return`] in a session already open over the view `req.as_at`
/// gives (so the gate and the return share one RTT walk).
pub async fn write_return_in(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    req: &ReturnRequest,
    held_by: Vec<String>,
    out: &mut (dyn Write + Send),
) -> Result<Provenance> {
    let provenance = gated(ctx.view(), config, req, held_by)?;
    write_csv(ctx, req, out).await?;
    Ok(provenance)
}

/// The provenance, or `Held` when the gate holds the return and
/// `allow_incomplete` is off.
pub fn gated(
    view: &View,
    config: &IcsConfig,
    req: &ReturnRequest,
    held_by: Vec<String>,
) -> Result<Provenance> {
    let mut p = provenance(view, config, req, held_by)?;
    if !p.complete {
        if !req.allow_incomplete {
            return Err(Error::Held(Box::new(p)));
        }
        p.written_anyway = true;
    }
    Ok(p)
}

/// Plans a return's SQL over a session (no gate).
pub async fn return_frame(ctx: &WarehouseContext, req: &ReturnRequest) -> Result<DataFrame> {
    let file = req.kind.sql();
    let params = bind_month(
        &file,
        req.period,
        req.kind.period_label(req.period),
        req.trust.as_deref(),
    );
    Ok(ctx.file(&file, &params).await?)
}

/// Runs the return's SQL over a session and writes its CSV.
pub async fn write_csv(
    ctx: &WarehouseContext,
    req: &ReturnRequest,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let df = return_frame(ctx, req).await?;
    let mut stream = df.execute_stream().await.map_err(icsw_query::Error::from)?;
    let mut w = datafusion::arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out);
    let mut wrote = false;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(icsw_query::Error::from)?;
        w.write(&batch).map_err(|e| Error::Write(e.to_string()))?;
        wrote = true;
    }
    if !wrote {
        // No rows: the header alone.
        let schema = stream.schema();
        w.write(&datafusion::arrow::array::RecordBatch::new_empty(schema))
            .map_err(|e| Error::Write(e.to_string()))?;
    }
    Ok(())
}
