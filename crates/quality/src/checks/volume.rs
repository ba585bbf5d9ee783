//! Volume against each trust's own history: a robust band around the
//! trailing median: median ± max(k × 1.4826 × MAD, share × median,
//! 3 × √max(median, 1) + 2).
//!
//! The median and the median absolute deviation resist the outliers that
//! make a mean-and-standard-deviation band (or an SPC chart's limits) swing
//! after a bad night; the floors keep small counts, whose noise is about
//! √count (Poisson), from flagging chance variation. A
//! day is compared with the same kind of day over the previous eight weeks:
//! the same weekday for A&E and admissions, and for referrals and
//! outpatients weekdays apart from weekends and bank holidays. A month is
//! compared with the previous twelve complete months.

/// The band's centre and half-width, from at least `min` values.
pub(crate) fn band(history: &[f64], mads: f64, min_share: f64, min: usize) -> Option<(f64, f64)> {
    if history.len() < min {
        return None;
    }
    let m = median(history);
    let dev: Vec<f64> = history.iter().map(|x| (x - m).abs()).collect();
    let mad = 1.4826 * median(&dev);
    Some((
        m,
        (mads * mad)
            .max(min_share * m)
            .max(3.0 * m.max(1.0).sqrt() + 2.0),
    ))
}

pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

use super::{date, finding, in_scope, run_sql, text};
use crate::{Finding, QualityConfig, Result, Scope};
use chrono::{Datelike, Duration, NaiveDate};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use icsw_model::calendar::is_non_working_day;
use icsw_model::london::day_to_date;
use icsw_model::{Feed, FeedKind, IcsConfig, Month};
use icsw_query::WarehouseContext;
use std::collections::HashMap;

/// The rows of a counts query (`daily_counts`, `monthly_counts`: trust,
/// feed or measure, day, count) by (trust, feed, day).
async fn counts_by_day(
    ctx: &WarehouseContext,
    file: &str,
    from: NaiveDate,
    to: NaiveDate,
    trust: Option<&str>,
) -> Result<HashMap<(String, String, NaiveDate), f64>> {
    let batches = run_sql(
        ctx,
        file,
        &[
            ("from_date", date(from)),
            ("to_date", date(to)),
            ("trust", text(trust.unwrap_or(""))),
        ],
    )
    .await?;
    let mut counts: HashMap<(String, String, NaiveDate), f64> = HashMap::new();
    for b in &batches {
        let (t, f) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        let (d, n) = (
            b.column(2).as_primitive::<Date32Type>(),
            b.column(3).as_primitive::<Int64Type>(),
        );
        for r in 0..b.num_rows() {
            counts.insert(
                (
                    t.value(r).to_string(),
                    f.value(r).to_string(),
                    day_to_date(d.value(r)),
                ),
                n.value(r) as f64,
            );
        }
    }
    Ok(counts)
}

/// Days with no activity, and days outside their band.
pub(super) async fn daily(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    q: &QualityConfig,
    scope: Scope,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let (first, last) = (scope.first_day(), scope.last_day());
    let from = first - Duration::days(56);
    let counts = counts_by_day(ctx, "daily_counts", from, last, trust).await?;
    let view = ctx.view();
    let mut out = Vec::new();
    for (tc, s) in in_scope(config, view, trust) {
        for feed in Feed::ALL.iter().filter(|f| f.kind() == FeedKind::Period) {
            if !tc.expected_feeds.contains(feed) {
                continue;
            }
            let Some(fs) = s.feeds.get(feed) else {
                continue;
            };
            let planned = matches!(feed, Feed::Referrals | Feed::OutpatientAppointments);
            let kind = |d: NaiveDate| {
                if planned {
                    if is_non_working_day(d) {
                        7
                    } else {
                        d.weekday().num_days_from_monday()
                    }
                } else {
                    d.weekday().num_days_from_monday()
                }
            };
            let count = |d: NaiveDate| {
                counts
                    .get(&(tc.ods.clone(), feed.name().to_string(), d))
                    .copied()
                    .unwrap_or(0.0)
            };
            let mut d = first;
            while d <= last {
                if fs.covered_by(d).is_some() {
                    let history: Vec<f64> = (1..=56)
                        .map(|k| d - Duration::days(k))
                        .filter(|h| kind(*h) == kind(d) && fs.covered_by(*h).is_some())
                        .map(count)
                        .collect();
                    let n = count(d);
                    if let Some((m, w)) = band(&history, q.band_mads, q.band_min_share, 6) {
                        // A day without rows is notable when chance alone
                        // would almost never give one: e^-7 < 0.1%.
                        if n == 0.0 && m >= 7.0 {
                            out.push(finding(
                                q,
                                "completeness.no_activity_day",
                                &tc.ods,
                                Some(feed.name().into()),
                                Some(d),
                                0,
                                None,
                                vec![],
                                Some(format!(
                                    "no {feed} rows on {d} ({}), against a usual {m:.0} on such days",
                                    d.format("%A")
                                )),
                            )?);
                        } else if (n - m).abs() > w {
                            out.push(finding(
                                q,
                                "volume.daily_anomaly",
                                &tc.ods,
                                Some(feed.name().into()),
                                Some(d),
                                n as i64,
                                None,
                                vec![],
                                Some(format!(
                                    "{n:.0} {feed} rows on {d} ({}), outside the usual {:.0}-{:.0} (median {m:.0})",
                                    d.format("%A"),
                                    (m - w).max(0.0),
                                    m + w
                                )),
                            )?);
                        }
                    }
                }
                d = d.succ_opt().expect("date");
            }
        }
    }
    Ok(out)
}

/// Months outside their band, and first attendances against referrals.
pub(super) async fn monthly(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    q: &QualityConfig,
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let start = m.back(12);
    let counts = counts_by_day(
        ctx,
        "monthly_counts",
        start.first_day(),
        m.last_day(),
        trust,
    )
    .await?;
    let view = ctx.view();
    let mut out = Vec::new();
    for (tc, s) in in_scope(config, view, trust) {
        let complete = |feed: Feed, month: Month| {
            s.feeds
                .get(&feed)
                .is_some_and(|fs| month.days().all(|d| fs.covered_by(d).is_some()))
        };
        let count = |measure: &str, month: Month| {
            counts
                .get(&(tc.ods.clone(), measure.to_string(), month.first_day()))
                .copied()
                .unwrap_or(0.0)
        };
        let previous: Vec<Month> = {
            let mut v = Vec::new();
            let mut p = m.prev();
            for _ in 0..12 {
                v.push(p);
                p = p.prev();
            }
            v
        };
        for feed in Feed::ALL.iter().filter(|f| f.kind() == FeedKind::Period) {
            if !tc.expected_feeds.contains(feed) || !complete(*feed, m) {
                continue;
            }
            let history: Vec<f64> = previous
                .iter()
                .filter(|p| complete(*feed, **p))
                .map(|p| count(feed.name(), *p))
                .collect();
            let n = count(feed.name(), m);
            if let Some((med, w)) = band(&history, q.band_mads, q.band_min_share, 6) {
                if (n - med).abs() > w {
                    out.push(finding(
                        q,
                        "volume.monthly_anomaly",
                        &tc.ods,
                        Some(feed.name().into()),
                        Some(m.last_day()),
                        n as i64,
                        None,
                        vec![],
                        Some(format!(
                            "{n:.0} {feed} rows in {m}, outside the usual {:.0}-{:.0} of the previous {} months (median {med:.0})",
                            (med - w).max(0.0),
                            med + w,
                            history.len()
                        )),
                    )?);
                }
            }
        }
        let both =
            |p: Month| complete(Feed::OutpatientAppointments, p) && complete(Feed::Referrals, p);
        out.extend(super::crossfeed::first_attendances_vs_referrals(
            q, &tc.ods, m, &previous, &both, &count,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_band() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // One wild value barely moves the band: median 10050, 25% floor
        // 2512.5 (above 5 x 1.4826 x 150 and 3 x 100.25 + 2).
        let (m, w) = band(
            &[
                10000.0, 10200.0, 9800.0, 10100.0, 9900.0, 40000.0, 10000.0, 10300.0,
            ],
            5.0,
            0.25,
            4,
        )
        .unwrap();
        assert_eq!(m, 10050.0);
        assert_eq!(w, 2512.5);
        // Counts near 100: the Poisson floor, 3 x sqrt(100) + 2.
        assert_eq!(band(&[100.0; 8], 5.0, 0.25, 4).unwrap().1, 32.0);
        assert!(band(&[1.0, 2.0, 3.0], 5.0, 0.25, 4).is_none());
        // Small counts: at least 3 Poisson standard deviations and 2.
        assert_eq!(band(&[4.0; 8], 5.0, 0.25, 4).unwrap().1, 8.0);
    }
}
