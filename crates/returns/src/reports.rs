//! Headline reports: `sql/reports/*.sql`, each named in its header.

use crate::completeness::{completeness_of, Window};
use crate::{bind_month, Error, Result, TrustProvenance};
use datafusion::prelude::DataFrame;
use icsw_model::Month;
use icsw_query::{SqlFile, WarehouseContext};
use serde::Serialize;

const FILES: &[(&str, &str)] = &[
    (
        "rtt_waits",
        include_str!("../../../sql/reports/rtt_waits.sql"),
    ),
    (
        "ae_performance",
        include_str!("../../../sql/reports/ae_performance.sql"),
    ),
    (
        "activity",
        include_str!("../../../sql/reports/activity.sql"),
    ),
    (
        "ae_reattendance",
        include_str!("../../../sql/reports/ae_reattendance.sql"),
    ),
    (
        "frequent_attenders",
        include_str!("../../../sql/reports/frequent_attenders.sql"),
    ),
    (
        "rtt_multi_provider",
        include_str!("../../../sql/reports/rtt_multi_provider.sql"),
    ),
    (
        "rtt_transfers",
        include_str!("../../../sql/reports/rtt_transfers.sql"),
    ),
];

/// A report as `icsw report --list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ReportInfo {
    pub name: String,
    pub title: String,
    pub description: String,
    pub source: String,
}

fn files() -> Vec<SqlFile> {
    FILES
        .iter()
        .map(|(n, t)| SqlFile::parse(n, t).expect("the project's report SQL has a valid header"))
        .collect()
}

/// Every report, read from the SQL headers.
pub fn reports() -> Vec<ReportInfo> {
    files()
        .into_iter()
        .map(|f| ReportInfo {
            name: f.get("name").unwrap_or(&f.name).to_string(),
            title: f.title.clone(),
            description: f.description.clone(),
            source: f.source.clone(),
        })
        .collect()
}

/// What a report can be asked beyond its month and trust.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// `frequent-attenders`: the attendances in the 12-month window that
    /// make a frequent attender (linkage spec section 3; 6 when not given).
    pub min_attendances: Option<u32>,
}

/// The frequent-attender threshold when none is asked for: more than five
/// a year (British Red Cross, *Nowhere else to turn*, 2021).
pub const MIN_ATTENDANCES: u32 = 6;

/// Plans report `name` for a month (and optionally one trust).
pub async fn report(
    ctx: &WarehouseContext,
    name: &str,
    period: Month,
    trust: Option<&str>,
    options: &ReportOptions,
) -> Result<DataFrame> {
    let file = report_file(name)?;
    let mut params = bind_month(&file, period, period.to_string(), trust);
    let takes = |p: &str| file.params.iter().any(|x| x.name == p);
    match options.min_attendances {
        Some(_) if !takes("min_attendances") => {
            return Err(Error::Invalid(format!(
                "report {name} takes no minimum number of attendances"
            )))
        }
        Some(0) => {
            return Err(Error::Invalid(
                "the minimum number of attendances must be at least 1".into(),
            ))
        }
        _ => {}
    }
    if takes("min_attendances") {
        let n = options.min_attendances.unwrap_or(MIN_ATTENDANCES);
        params.push((
            "min_attendances",
            datafusion::common::ScalarValue::Int64(Some(i64::from(n))),
        ));
    }
    Ok(ctx.file(&file, &params).await?)
}

/// The SQL file of report `name` (its header says, for instance, which
/// columns are rates of which counts).
pub fn report_file(name: &str) -> Result<SqlFile> {
    files()
        .into_iter()
        .find(|f| f.get("name") == Some(name))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "no report {name:?}; see icsw report --list ({})",
                reports()
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The days and feeds report `name` reads for `period`, from its header's
/// `covers:` (`FEED, ...` and optionally `N days before` or `N months
/// before` the month), when it declares one: a linked measure reads every
/// trust's records over more than its month.
fn report_window(name: &str, period: Month) -> Result<Option<Window>> {
    let file = report_file(name)?;
    let Some(covers) = file.get("covers") else {
        return Ok(None);
    };
    let bad = || Error::Invalid(format!("report {name}: covers: {covers:?}"));
    let mut w = Window {
        feeds: Vec::new(),
        from: period.first_day(),
        to: period.last_day(),
        census: period.last_day(),
        label: String::new(),
    };
    for part in covers.split(',').map(str::trim) {
        let words: Vec<&str> = part.split_whitespace().collect();
        match words.as_slice() {
            [n, unit, "before"] => {
                let n: u32 = n.parse().map_err(|_| bad())?;
                w.from = match *unit {
                    "days" => w.from - chrono::Duration::days(i64::from(n)),
                    "months" => period.back(n).first_day(),
                    _ => return Err(bad()),
                };
            }
            [feed] => w
                .feeds
                .push(icsw_model::Feed::parse(feed).map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    w.label = if w.from == period.first_day() {
        period.to_string()
    } else {
        format!("{} to {}", w.from, w.to)
    };
    Ok(Some(w))
}

/// Whether report `name` for `period` has every day and snapshot it reads,
/// for every configured trust (a linked measure counts every trust's
/// records, whichever trust it is asked for): the reasons it has not, each
/// naming its trust (none: complete), or `None` for a report that declares
/// no window.
pub fn report_completeness(
    view: &icsw_store::View,
    config: &icsw_model::IcsConfig,
    name: &str,
    period: Month,
) -> Result<Option<Vec<String>>> {
    Ok(report_window(name, period)?
        .map(|w| incomplete_reasons(&completeness_of(view, config, &w, None))))
}

/// The reasons of incomplete trusts, each naming its trust.
pub(crate) fn incomplete_reasons(trusts: &[TrustProvenance]) -> Vec<String> {
    trusts
        .iter()
        .flat_map(|t| t.reasons.iter().map(move |r| format!("{}: {r}", t.trust)))
        .collect()
}
