//! Running every check for a scope. One module per family of checks; this
//! one runs them and owns what they share: the check SQL files, the
//! standard row a check file returns, and how a finding is made.
//!
//! | module | family |
//! | --- | --- |
//! | `completeness` | refused and missing extracts, late manifests, incomplete months |
//! | `validity` | rows rejected or warned, values out of their code lists |
//! | `volume` | daily and monthly volume against the trust's own history |
//! | `crossfeed` | counts of one feed against another |
//! | `rtt` | the pathway integrity checks and NHS England's checks on an RTT return |
//!
//! What each check's SQL counts is in `sql/checks/`; the thresholds that
//! decide whether a count is a finding come from `[quality]` and are
//! applied here, beside the check that uses them.

mod completeness;
mod crossfeed;
mod rtt;
mod validity;
mod volume;

pub use rtt::rtt_return_findings;

use crate::{check_info, Error, Finding, QualityConfig, Result, Scope, Severity};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use datafusion::scalar::ScalarValue;
use icsw_model::london::{date_to_day, day_to_date};
use icsw_model::manifest::ArrivingFolder;
use icsw_model::{IcsConfig, Month};
use icsw_query::{SqlFile, WarehouseContext};
use icsw_returns::ReturnKind;

const SQL: &[(&str, &str)] = &[
    (
        "validity",
        include_str!("../../../../sql/checks/validity.sql"),
    ),
    (
        "rtt_integrity",
        include_str!("../../../../sql/checks/rtt_integrity.sql"),
    ),
    ("loads", include_str!("../../../../sql/checks/loads.sql")),
    (
        "crossfeed",
        include_str!("../../../../sql/checks/crossfeed.sql"),
    ),
    (
        "rtt_return",
        include_str!("../../../../sql/checks/rtt_return.sql"),
    ),
    (
        "daily_counts",
        include_str!("../../../../sql/checks/daily_counts.sql"),
    ),
    (
        "monthly_counts",
        include_str!("../../../../sql/checks/monthly_counts.sql"),
    ),
];

fn sql(name: &str) -> SqlFile {
    let (n, t) = SQL.iter().find(|(n, _)| *n == name).expect("a check file");
    SqlFile::parse(n, t).expect("the project's check SQL has a valid header")
}

pub(super) fn date(d: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(date_to_day(d)))
}

pub(super) fn text(s: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(s.to_string()))
}

/// Runs a check file with the parameters it declares from `given`.
pub(super) async fn run_sql(
    ctx: &WarehouseContext,
    name: &str,
    given: &[(&str, ScalarValue)],
) -> Result<Vec<RecordBatch>> {
    let f = sql(name);
    let params: Vec<(&str, ScalarValue)> = given
        .iter()
        .filter(|(n, _)| f.params.iter().any(|p| p.name == *n))
        .cloned()
        .collect();
    Ok(ctx
        .file(&f, &params)
        .await?
        .collect()
        .await
        .map_err(icsw_query::Error::from)?)
}

/// A row of the standard check columns.
pub(super) struct Row {
    pub(super) check_id: String,
    pub(super) trust: String,
    pub(super) feed: Option<String>,
    pub(super) day: Option<NaiveDate>,
    pub(super) count: i64,
    pub(super) denominator: Option<i64>,
    pub(super) keys: Vec<String>,
}

pub(super) fn standard_rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let s = |n: &str| {
            datafusion::arrow::compute::cast(
                b.column_by_name(n).expect("check column"),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("cast")
        };
        let i = |n: &str| {
            datafusion::arrow::compute::cast(
                b.column_by_name(n).expect("check column"),
                &datafusion::arrow::datatypes::DataType::Int64,
            )
            .expect("cast")
        };
        let (id, trust, feed, keys) = (s("check_id"), s("trust"), s("feed"), s("keys"));
        let (count, den) = (i("count"), i("denominator"));
        let day = datafusion::arrow::compute::cast(
            b.column_by_name("day").expect("day"),
            &datafusion::arrow::datatypes::DataType::Date32,
        )
        .expect("cast");
        let (id, trust, feed, keys) = (
            id.as_string::<i32>(),
            trust.as_string::<i32>(),
            feed.as_string::<i32>(),
            keys.as_string::<i32>(),
        );
        let (count, den) = (
            count.as_primitive::<Int64Type>(),
            den.as_primitive::<Int64Type>(),
        );
        let day = day.as_primitive::<Date32Type>();
        for r in 0..b.num_rows() {
            out.push(Row {
                check_id: id.value(r).to_string(),
                trust: trust.value(r).to_string(),
                feed: feed.is_valid(r).then(|| feed.value(r).to_string()),
                day: day.is_valid(r).then(|| day_to_date(day.value(r))),
                count: if count.is_valid(r) { count.value(r) } else { 0 },
                denominator: den.is_valid(r).then(|| den.value(r)),
                keys: if keys.is_valid(r) {
                    keys.value(r)
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_string)
                        .collect()
                } else {
                    Vec::new()
                },
            });
        }
    }
    out
}

/// Builds a finding, keeping example keys and a message.
#[allow(clippy::too_many_arguments)]
pub(super) fn finding(
    q: &QualityConfig,
    check_id: &str,
    trust: &str,
    feed: Option<String>,
    day: Option<NaiveDate>,
    count: i64,
    denominator: Option<i64>,
    mut keys: Vec<String>,
    message: Option<String>,
) -> Result<Finding> {
    let info = check_info(check_id).ok_or_else(|| Error::UnknownCheck(check_id.to_string()))?;
    keys.sort();
    keys.dedup();
    let keys_total = keys.len();
    if check_id != "rtt.unknown_clock_start" {
        keys.truncate(q.example_keys);
    }
    let message = message.unwrap_or_else(|| {
        let what = info.description;
        if check_id.starts_with("returns.") && !keys.is_empty() {
            return format!("{what}: {}", keys.join(", "));
        }
        match denominator {
            Some(d) if d > 0 => format!(
                "{count} of {d} ({:.1}%): {what}",
                100.0 * count as f64 / d as f64
            ),
            _ => format!("{count}: {what}"),
        }
    });
    Ok(Finding {
        scope: Scope::Date(NaiveDate::MIN),
        check_id: check_id.to_string(),
        severity: info.severity,
        trust: trust.to_string(),
        feed,
        day,
        count,
        denominator,
        keys,
        keys_total,
        message,
    })
}

impl Row {
    /// The row's finding, with `message` or the check's own.
    pub(super) fn finding(self, q: &QualityConfig, message: Option<String>) -> Result<Finding> {
        finding(
            q,
            &self.check_id,
            &self.trust,
            self.feed,
            self.day,
            self.count,
            self.denominator,
            self.keys,
            message,
        )
    }
}

/// The findings of the standard rows a check file returns.
pub(super) fn from_rows(q: &QualityConfig, rows: Vec<Row>) -> Result<Vec<Finding>> {
    rows.into_iter().map(|r| r.finding(q, None)).collect()
}

/// The configured trusts in scope (one, or all) that have loaded data, with
/// their state in the view.
pub(super) fn in_scope<'a>(
    config: &'a IcsConfig,
    view: &'a icsw_store::View,
    trust: Option<&'a str>,
) -> impl Iterator<Item = (&'a icsw_model::TrustConfig, &'a icsw_store::TrustState)> {
    config
        .trusts
        .iter()
        .filter(move |t| trust.is_none_or(|x| x == t.ods))
        .filter_map(move |tc| view.trusts.get(&tc.ods).map(|(_, s)| (tc, s)))
}

/// Runs every check for `scope` (one trust, or all), returning findings
/// sorted by severity, trust, check and day. `arriving` are the landing
/// zone's folders still without a manifest, for the late-manifest check.
pub async fn run(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    scope: Scope,
    trust: Option<&str>,
    arriving: &[ArrivingFolder],
) -> Result<Vec<Finding>> {
    let q = QualityConfig::from(config)?;
    let (first, last) = (scope.first_day(), scope.last_day());
    let t = trust.unwrap_or("");
    let mut out = Vec::new();

    let common = vec![
        ("from_date", date(first)),
        ("to_date", date(last)),
        ("census_date", date(last)),
        ("period_start", date(first)),
        ("period_end", date(last)),
        ("trust", text(t)),
        (
            "by_extract",
            ScalarValue::Boolean(Some(matches!(scope, Scope::Date(_)))),
        ),
    ];
    out.extend(completeness::state_checks(
        ctx.view(),
        config,
        &q,
        scope,
        trust,
        arriving,
    )?);
    // The checks over the data are independent queries: run together, so
    // both cores are busy while one query waits or runs a single thread.
    let month = async {
        let Scope::Period(m) = scope else {
            return Ok(Vec::new());
        };
        let mut out = completeness::period_incomplete(ctx.view(), config, &q, m, trust)?;
        let (monthly, crossfeed, returns) = futures::try_join!(
            volume::monthly(ctx, config, &q, m, trust),
            crossfeed::month(ctx, &q, m, &common),
            rtt::return_checks(ctx, config, m, trust, true),
        )?;
        out.extend(monthly.into_iter().chain(crossfeed).chain(returns));
        Ok::<_, Error>(out)
    };
    let (validity, integrity, daily, month) = futures::try_join!(
        validity::checks(ctx, &q, &common),
        rtt::integrity(ctx, &q, &common),
        volume::daily(ctx, config, &q, scope, trust),
        month,
    )?;
    out.extend(
        validity
            .into_iter()
            .chain(integrity)
            .chain(daily)
            .chain(month),
    );
    for f in &mut out {
        f.scope = scope;
    }
    out.sort_by(|a, b| {
        (a.severity, &a.trust, &a.check_id, a.day, &a.feed).cmp(&(
            b.severity,
            &b.trust,
            &b.check_id,
            b.day,
            &b.feed,
        ))
    });
    Ok(out)
}

/// The error-severity findings of a month, and only those: what the
/// publication gate needs, without the cost of every warning check.
/// `completeness.period_incomplete` is left to the returns' own
/// completeness.
pub(crate) async fn gate_findings(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    kind: ReturnKind,
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let q = QualityConfig::from(config)?;
    let view = ctx.view();
    let mut out = completeness::state_checks(view, config, &q, Scope::Period(m), trust, &[])?;
    // A refused extract holds only the returns made from a feed it carried.
    out.retain(|f| {
        f.check_id != "completeness.extract_refused"
            || f.day
                .and_then(|d| view.trusts.get(&f.trust)?.1.refused.get(&d))
                .is_none_or(|r| r.may_carry(kind.feeds()))
    });
    if kind == ReturnKind::Rtt {
        out.extend(rtt::return_checks(ctx, config, m, trust, false).await?);
    }
    out.retain(|f| f.severity == Severity::Error);
    for f in &mut out {
        f.scope = Scope::Period(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_keeps_sorted_example_keys_and_refuses_an_unknown_check() {
        let q = QualityConfig {
            example_keys: 2,
            ..QualityConfig::default()
        };
        let keys = vec!["c".to_string(), "a".into(), "b".into(), "a".into()];
        let f = finding(
            &q,
            "completeness.extract_missing",
            "RYJ",
            None,
            None,
            1,
            Some(4),
            keys,
            None,
        )
        .unwrap();
        assert_eq!(f.keys, vec!["a", "b"]);
        assert_eq!(f.keys_total, 3);
        assert!(f.message.starts_with("1 of 4 (25.0%)"), "{}", f.message);
        let e = finding(
            &q,
            "no.such_check",
            "RYJ",
            None,
            None,
            1,
            None,
            vec![],
            None,
        );
        assert!(matches!(e, Err(Error::UnknownCheck(id)) if id == "no.such_check"));
    }
}
