//! The statutory returns (RTT, A&E, activity) and the headline reports,
//! run from the SQL in `sql/returns` and `sql/reports`, with the provenance
//! and completeness of returns spec section 4.
//!
//! The publication gate is the caller's (the quality crate adds its
//! error-severity findings); this crate says what a return was computed
//! from and whether every trust's data was complete.

mod completeness;
mod reports;
pub mod spc;

pub use completeness::{completeness, TrustProvenance};
use reports::incomplete_reasons;
pub use reports::{
    report, report_completeness, report_file, reports, ReportInfo, ReportOptions, MIN_ATTENDANCES,
};

use chrono::NaiveDate;
use datafusion::prelude::DataFrame;
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use icsw_model::{Feed, IcsConfig, Month};
use icsw_query::{SqlFile, WarehouseContext};
use icsw_store::View;

pub use icsw_store::AsAt;
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
    /// Planning or running the return's or report's SQL failed.
    #[error(transparent)]
    Query(#[from] icsw_query::Error),
    /// The warehouse could not be read.
    #[error(transparent)]
    Store(#[from] icsw_store::Error),
    /// Writing the CSV failed (the output went away, or a value would not
    /// format).
    #[error("writing the return: {0}")]
    Write(#[source] datafusion::arrow::error::ArrowError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A statutory return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// A return's provenance over `view` (the view `req.as_at` gives):
/// completeness, and `held_by` (the gate's reasons) as further reasons.
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
    let mut reasons = incomplete_reasons(&trusts);
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

/// What holds a return besides completeness: the data-quality gate, whose
/// checks are the quality crate's (`icsw_quality::QualityGate`). It answers
/// for one return: only findings about that return's feeds, trusts and
/// period hold it.
#[async_trait::async_trait]
pub trait Gate: Sync {
    /// The reasons to hold `kind`'s return for `period` (error-severity
    /// findings), in a session over the view the return is made from.
    async fn reasons(
        &self,
        ctx: &WarehouseContext,
        config: &IcsConfig,
        kind: ReturnKind,
        period: Month,
        trust: Option<&str>,
    ) -> Result<Vec<String>>;
}

/// A gate whose reasons are already known (a caller that ran the checks
/// itself, or none: `KnownReasons(vec![])`).
pub struct KnownReasons(pub Vec<String>);

#[async_trait::async_trait]
impl Gate for KnownReasons {
    async fn reasons(
        &self,
        _: &WarehouseContext,
        _: &IcsConfig,
        _: ReturnKind,
        _: Month,
        _: Option<&str>,
    ) -> Result<Vec<String>> {
        Ok(self.0.clone())
    }
}

/// The provenance of every return for a period, with completeness and each
/// return's gate: whether each is ready to publish.
pub async fn assess_all(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    period: Month,
    trust: Option<&str>,
    gate: &dyn Gate,
) -> Result<Vec<Provenance>> {
    let mut out = Vec::new();
    for kind in ReturnKind::ALL {
        let held_by = gate.reasons(ctx, config, kind, period, trust).await?;
        let req = ReturnRequest {
            kind,
            period,
            trust: trust.map(str::to_string),
            as_at: AsAt::default(),
            allow_incomplete: false,
        };
        out.push(provenance(ctx.view(), config, &req, held_by)?);
    }
    Ok(out)
}

/// The one path to publishing a return (the `return` command, the demo and
/// the server's download): completeness and the gate over `ctx` (a session
/// over the view `req.as_at` gives), then the provenance, or `Held` when
/// the return is held and `allow_incomplete` is off.
pub async fn publish(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    req: &ReturnRequest,
    gate: &dyn Gate,
) -> Result<Provenance> {
    let held_by = gate
        .reasons(ctx, config, req.kind, req.period, req.trust.as_deref())
        .await?;
    let mut p = provenance(ctx.view(), config, req, held_by)?;
    if !p.complete {
        if !req.allow_incomplete {
            return Err(Error::Held(Box::new(p)));
        }
        p.written_anyway = true;
    }
    Ok(p)
}

/// [`publish`], then the return's CSV (returns spec: UTF-8, LF, RFC 4180
/// quoting only where needed, zeros as `0`, absent values empty), streamed:
/// the return is never held whole in memory. Nothing is written when held.
pub async fn write_return(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    req: &ReturnRequest,
    gate: &dyn Gate,
    out: &mut (dyn Write + Send),
) -> Result<Provenance> {
    let provenance = publish(ctx, config, req, gate).await?;
    write_csv(ctx, req, out).await?;
    Ok(provenance)
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
        w.write(&batch).map_err(Error::Write)?;
        wrote = true;
    }
    if !wrote {
        // No rows: the header alone.
        let schema = stream.schema();
        w.write(&datafusion::arrow::array::RecordBatch::new_empty(schema))
            .map_err(Error::Write)?;
    }
    Ok(())
}
