//! Data-quality checks: the failures seen after EPR go-lives (lost and
//! duplicated pathways, missing clock stops, wrong A&E figures, electives
//! recorded as non-electives, suspended reporting), shown per trust the
//! morning after, before a wrong figure is published.
//!
//! Each check has a stable id, a severity and a description ([`CHECKS`]).
//! Findings carry counts and example row keys (record or pathway ids, never
//! NHS numbers or patient ids). Only four checks are errors, and errors hold
//! returns ([`gate_reasons`]); everything else is a warning, shown and never
//! blocking.

mod checks;

use chrono::NaiveDate;
use icsw_model::{IcsConfig, Month};
use icsw_query::WarehouseContext;
use icsw_returns::ReturnKind;
use icsw_store::{View, Warehouse};
use serde::{Deserialize, Serialize};

pub use checks::{rtt_return_findings, run};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A check's SQL failed.
    #[error(transparent)]
    Query(#[from] icsw_query::Error),
    /// Computing a return the checks look at failed.
    #[error(transparent)]
    Returns(#[from] icsw_returns::Error),
    /// The warehouse could not be read.
    #[error(transparent)]
    Store(#[from] icsw_store::Error),
    /// `[quality]` in icsw.toml is malformed.
    #[error("configuration [quality]: {0}")]
    Config(String),
    /// A check produced a finding under an id [`CHECKS`] does not list (a
    /// bug in a check's SQL or code).
    #[error("unknown check id {0:?}: every check must be listed in CHECKS")]
    UnknownCheck(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A check: its stable id, severity and what it finds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CheckInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
}

const fn check(id: &'static str, severity: Severity, description: &'static str) -> CheckInfo {
    CheckInfo {
        id,
        severity,
        description,
    }
}

use Severity::{Error as E, Warning as W};

/// Every check. Errors: an incomplete period, a refused or held extract,
/// Part_2A greater than Part_2, C_999 not the sum of its rows.
pub const CHECKS: &[CheckInfo] = &[
    check("completeness.period_incomplete", E, "A return's period is incomplete for a trust: an expected feed's extracts do not cover every day, or (RTT) no snapshot after the census date"),
    check("completeness.extract_refused", E, "An extract was refused or held, and has not been loaded since"),
    check("completeness.extract_missing", W, "A night since the trust's first extract, up to the latest any trust has loaded, with no extract loaded or refused"),
    check("completeness.feed_missing", W, "An extract without a feed the configuration expects from its trust"),
    check("completeness.manifest_late", W, "An extract folder still without its manifest after the deadline"),
    check("completeness.no_activity_day", W, "A day with no rows for a feed that normally has activity on such a day (weekdays apart from weekends and bank holidays)"),
    check("completeness.rejected_rows", W, "Rows rejected by the loader, as a share of the rows read, per trust, feed and extract"),
    check("completeness.duplicate_rows", W, "Extra copies of exact duplicate rows, per trust, feed and extract"),
    check("volume.daily_anomaly", W, "A day's rows for a trust and feed outside the robust band of the same kind of day over the previous eight weeks"),
    check("volume.monthly_anomaly", W, "A month's rows for a trust and feed outside the robust band of its previous twelve months"),
    check("validity.invalid_nhs_number", W, "NHS numbers failing the format or modulus-11 check"),
    check("validity.departure_before_arrival", W, "A&E departures before arrival"),
    check("validity.decision_to_admit_outside_stay", W, "A&E decisions to admit before arrival or after departure"),
    check("validity.discharge_before_admission", W, "Inpatient discharges before admission"),
    check("validity.future_date", W, "Activity dated after the extract was taken"),
    check("validity.ae_left_open", W, "A&E attendances with no departure more than 24 hours after arrival"),
    check("validity.unknown_treatment_function", W, "Treatment function codes missing from the project's table (reported under X06)"),
    check("rtt.start_while_open", W, "A clock start while a period is open"),
    check("rtt.stop_without_start", W, "A clock stop on a pathway with no period opened (a completed period with an unknown start)"),
    check("rtt.activity_on_closed_pathway", W, "A clock-running event after the pathway's period stopped"),
    check("rtt.stop_after_stop", W, "A clock stop after the period already stopped or left"),
    check("rtt.transfer_without_open_period", W, "A transfer out (21) with no period open"),
    check("rtt.transferred_out", W, "A period transferred to another provider (21): for ICS-wide reconciliation"),
    check("rtt.dna_after_first_activity", W, "A 33 (did not attend) after the period's first activity: a non-admitted stop, not a nullification"),
    check("rtt.unknown_clock_start", W, "Open periods with an unknown clock start, left out of Part_2: every pathway listed for validation"),
    check("rtt.multiple_open_periods", W, "More than one open period for a patient and treatment function"),
    check("rtt.no_event_12_weeks", W, "Open pathways with no event for 12 weeks or more"),
    check("rtt.future_clock_start", W, "Clock starts dated after the extract was taken"),
    check("consistency.id_superseded", W, "Stored rows replaced by a newer row with the same id in another date range (a re-dated activity)"),
    check("crossfeed.ae_admissions_vs_spells", W, "Admitted A&E attendances against emergency admissions via A&E (method 21) in inpatient spells"),
    check("crossfeed.first_attendances_vs_referrals", W, "Outpatient first attendances against referrals received, compared with the trust's recent months"),
    check("crossfeed.rtt_stops_vs_elective_admissions", W, "Admitted RTT clock stops exceeding elective admissions"),
    check("crossfeed.elective_recorded_as_non_elective", W, "Admitted RTT clock stops whose patient was admitted that day only as a non-elective"),
    check("returns.rtt_part_2a_exceeds_part_2", E, "RTT return: Part_2A greater than Part_2 for a commissioner and treatment function"),
    check("returns.rtt_total_mismatch", E, "RTT return: a C_999 total not equal to the sum of its rows"),
    check("returns.rtt_part_zero", W, "RTT return: a part zero this month but not last month"),
    check("returns.rtt_identical_to_last_month", W, "RTT return: identical to last month's"),
    check("returns.rtt_large_swing", W, "RTT return: a part's total moving by more than the configured share month on month"),
    check("returns.rtt_high_share_short_waits", W, "RTT return: a high share of Part_2 waits of 0-1 weeks"),
    check("returns.rtt_52_week_jump", W, "RTT return: a jump in 52+ week waiters"),
];

pub fn check_info(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Thresholds of the checks (`[quality]` in icsw.toml).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Hours after its newest file was written before a folder without a
    /// manifest is late.
    pub manifest_deadline_hours: f64,
    /// Rejected rows above this share of a file's rows are reported (any
    /// rejected row when 0).
    pub rejected_share: f64,
    /// Width of the robust volume band in scaled median absolute deviations.
    pub band_mads: f64,
    /// The band is at least this share of the median wide (either side).
    pub band_min_share: f64,
    /// Example keys kept per finding (unknown clock starts keep every key).
    pub example_keys: usize,
    /// Cross-feed counts may differ by this share before a finding.
    pub crossfeed_tolerance: f64,
    pub swing_fraction: f64,
    pub swing_min: i64,
    pub short_wait_share: f64,
    pub jump_fraction: f64,
    pub jump_min: i64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            manifest_deadline_hours: 6.0,
            rejected_share: 0.0,
            band_mads: 5.0,
            band_min_share: 0.25,
            example_keys: 20,
            crossfeed_tolerance: 0.05,
            swing_fraction: 0.25,
            swing_min: 20,
            short_wait_share: 0.25,
            jump_fraction: 0.25,
            jump_min: 10,
        }
    }
}

impl QualityConfig {
    pub fn from(config: &IcsConfig) -> Result<Self> {
        config
            .section("quality")
            .map_err(|e| Error::Config(e.to_string()))
    }
}

/// What the checks look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The morning after a night: that night's extracts and the day's activity.
    Date(NaiveDate),
    /// A month: its completeness, volumes, validity, RTT and its returns.
    Period(Month),
}

impl Scope {
    pub fn first_day(self) -> NaiveDate {
        match self {
            Scope::Date(d) => d,
            Scope::Period(m) => m.first_day(),
        }
    }

    pub fn last_day(self) -> NaiveDate {
        match self {
            Scope::Date(d) => d,
            Scope::Period(m) => m.last_day(),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Date(d) => write!(f, "{d}"),
            Scope::Period(m) => write!(f, "{m}"),
        }
    }
}

/// One finding.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Finding {
    /// The night or month the checks ran for.
    pub scope: Scope,
    pub check_id: String,
    pub severity: Severity,
    pub trust: String,
    pub feed: Option<String>,
    /// The day it concerns (an activity date, an extract date or a census date).
    pub day: Option<NaiveDate>,
    pub count: i64,
    /// What `count` is out of, where that means something.
    pub denominator: Option<i64>,
    /// Example row keys: record or pathway ids.
    pub keys: Vec<String>,
    /// How many keys there were before examples were cut.
    pub keys_total: usize,
    pub message: String,
}

impl Finding {
    pub fn rate(&self) -> Option<f64> {
        self.denominator
            .filter(|d| *d > 0)
            .map(|d| self.count as f64 / d as f64)
    }
}

/// The error-severity findings that hold `kind`'s return for `period`, as
/// reasons (completeness is the returns crate's own; these are the rest):
/// refused extracts touching the month that carried (or may have carried)
/// one of the return's feeds, and for the RTT return its own errors
/// (Part_2A over Part_2, a wrong C_999 total). Only the error checks run,
/// and only those about this return. `ctx` is a session over the view the
/// return is made from.
pub async fn gate_reasons(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    kind: ReturnKind,
    period: Month,
    trust: Option<&str>,
) -> Result<Vec<String>> {
    let findings = checks::gate_findings(ctx, config, kind, period, trust).await?;
    Ok(findings
        .into_iter()
        .filter(|f| f.check_id != "completeness.period_incomplete")
        .map(|f| format!("{}: {} ({})", f.trust, f.message, f.check_id))
        .collect())
}

/// Findings as a restricted session may see them: only its trusts'. Run the
/// checks in that session, so that what they count (and the example keys,
/// pseudonymised there) is already of its scope; the state checks
/// (refused, missing, late extracts) are of every trust, and are cut here.
pub fn restrict(findings: Vec<Finding>, r: &icsw_query::Restriction) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| r.allows_trust(&f.trust))
        .collect()
}

/// The publication gate over the returns: [`gate_reasons`].
pub struct QualityGate;

#[async_trait::async_trait]
impl icsw_returns::Gate for QualityGate {
    async fn reasons(
        &self,
        ctx: &WarehouseContext,
        config: &IcsConfig,
        kind: ReturnKind,
        period: Month,
        trust: Option<&str>,
    ) -> icsw_returns::Result<Vec<String>> {
        Ok(gate_reasons(ctx, config, kind, period, trust).await?)
    }
}

impl From<Error> for icsw_returns::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Query(e) => icsw_returns::Error::Query(e),
            Error::Returns(e) => e,
            Error::Store(e) => icsw_returns::Error::Store(e),
            e @ (Error::Config(_) | Error::UnknownCheck(_)) => {
                icsw_returns::Error::Invalid(e.to_string())
            }
        }
    }
}

/// `quality_findings`: the findings for the latest night loaded and the
/// latest month every trust's extracts are past, computed when first queried
/// in a session.
#[derive(Debug)]
pub struct FindingsTable {
    warehouse: Warehouse,
    view: View,
    config: IcsConfig,
    cache: icsw_query::computed::Computed,
}

/// The latest night loaded and the latest month all trusts are past.
pub fn default_scopes(view: &View) -> Vec<Scope> {
    // The last night anything arrived for, refused extracts included.
    let last_night = view
        .trusts
        .values()
        .flat_map(|(_, s)| {
            s.latest_extract_date
                .into_iter()
                .chain(s.refused.keys().copied())
        })
        .max();
    let mut out = Vec::new();
    if let Some(d) = last_night {
        out.push(Scope::Date(d));
    }
    if let Some(m) = view.latest_complete_month() {
        out.push(Scope::Period(m));
    }
    out
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for FindingsTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        findings_schema()
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
    ) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>>
    {
        let check = async {
            let ext = |e: Error| datafusion::error::DataFusionError::External(Box::new(e));
            let ctx = WarehouseContext::new(
                &self.warehouse,
                self.view.clone(),
                &self.config,
                &Default::default(),
            )
            .await
            .map_err(|e| ext(e.into()))?;
            let mut all = Vec::new();
            for scope in default_scopes(&self.view) {
                all.extend(
                    run(&ctx, &self.config, scope, None, &[])
                        .await
                        .map_err(ext)?,
                );
            }
            Ok(vec![findings_batch(&all)])
        };
        self.cache
            .scan(findings_schema(), check, state, projection, filters, limit)
            .await
    }
}

/// Registers `quality_findings` in a session.
pub fn register_findings_table(ctx: &WarehouseContext, config: &IcsConfig) -> Result<()> {
    let t = FindingsTable {
        warehouse: ctx.warehouse().clone(),
        view: ctx.view().clone(),
        config: config.clone(),
        cache: Default::default(),
    };
    ctx.session()
        .register_table("quality_findings", std::sync::Arc::new(t))
        .map_err(icsw_query::Error::from)?;
    Ok(())
}

/// Findings as a record batch (the `quality_findings` table's columns).
pub fn findings_batch(findings: &[Finding]) -> datafusion::arrow::array::RecordBatch {
    use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let day = |d: &Option<NaiveDate>| d.map(icsw_model::london::date_to_day);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.scope.to_string()),
        )),
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.severity.name()),
        )),
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.check_id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.trust.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            findings.iter().map(|f| f.feed.as_deref()),
        )),
        Arc::new(Date32Array::from_iter(findings.iter().map(|f| day(&f.day)))),
        Arc::new(Int64Array::from_iter_values(
            findings.iter().map(|f| f.count),
        )),
        Arc::new(Int64Array::from_iter(
            findings.iter().map(|f| f.denominator),
        )),
        Arc::new(Float64Array::from_iter(findings.iter().map(|f| f.rate()))),
        Arc::new(Int64Array::from_iter_values(
            findings.iter().map(|f| f.keys_total as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.keys.join(",")),
        )),
        Arc::new(StringArray::from_iter_values(
            findings.iter().map(|f| f.message.as_str()),
        )),
    ];
    datafusion::arrow::array::RecordBatch::try_new(findings_schema(), cols).expect("findings batch")
}

pub fn findings_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    std::sync::Arc::new(Schema::new(vec![
        Field::new("scope", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("check_id", DataType::Utf8, false),
        Field::new("trust", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, true),
        Field::new("day", DataType::Date32, true),
        Field::new("count", DataType::Int64, false),
        Field::new("denominator", DataType::Int64, true),
        Field::new("rate", DataType::Float64, true),
        Field::new("keys_total", DataType::Int64, false),
        Field::new("example_keys", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README publishes the table of check id -> severity: it must not
    /// drift from the code.
    #[test]
    fn the_readme_lists_every_check_with_its_severity() {
        let readme = include_str!("../../../README.md");
        for c in CHECKS {
            let row = format!("| `{}` | {} |", c.id, c.severity.name());
            assert!(readme.contains(&row), "README lacks {row}");
        }
        let errors: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.severity == Severity::Error)
            .map(|c| c.id)
            .collect();
        assert_eq!(
            errors,
            [
                "completeness.period_incomplete",
                "completeness.extract_refused",
                "returns.rtt_part_2a_exceeds_part_2",
                "returns.rtt_total_mismatch"
            ]
        );
    }
}
