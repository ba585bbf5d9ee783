//! Running every check for a scope.

use crate::volume::band;
use crate::{check_info, Finding, QualityConfig, Result, Scope, Severity};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use datafusion::scalar::ScalarValue;
use icsw_model::calendar::is_non_working_day;
use icsw_model::london::{date_to_day, day_to_date};
use icsw_model::manifest::ArrivingFolder;
use icsw_model::{Feed, FeedKind, IcsConfig, Month};
use icsw_query::{SqlFile, WarehouseContext};
use icsw_returns::{completeness, ReturnKind};
use std::collections::HashMap;

const SQL: &[(&str, &str)] = &[
    ("validity", include_str!("../../../sql/checks/validity.sql")),
    (
        "rtt_integrity",
        include_str!("../../../sql/checks/rtt_integrity.sql"),
    ),
    ("loads", include_str!("../../../sql/checks/loads.sql")),
    (
        "crossfeed",
        include_str!("../../../sql/checks/crossfeed.sql"),
    ),
    (
        "rtt_return",
        include_str!("../../../sql/checks/rtt_return.sql"),
    ),
    (
        "daily_counts",
        include_str!("../../../sql/checks/daily_counts.sql"),
    ),
    (
        "monthly_counts",
        include_str!("../../../sql/checks/monthly_counts.sql"),
    ),
];

fn sql(name: &str) -> SqlFile {
    let (n, t) = SQL.iter().find(|(n, _)| *n == name).expect("a check file");
    SqlFile::parse(n, t).expect("the project's check SQL has a valid header")
}

fn date(d: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(date_to_day(d)))
}

fn text(s: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(s.to_string()))
}

/// Runs a check file with the parameters it declares from `given`.
async fn run_sql(
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
struct Row {
    check_id: String,
    trust: String,
    feed: Option<String>,
    day: Option<NaiveDate>,
    count: i64,
    denominator: Option<i64>,
    keys: Vec<String>,
}

fn standard_rows(batches: &[RecordBatch]) -> Vec<Row> {
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
fn finding(
    q: &QualityConfig,
    check_id: &str,
    trust: &str,
    feed: Option<String>,
    day: Option<NaiveDate>,
    count: i64,
    denominator: Option<i64>,
    mut keys: Vec<String>,
    message: Option<String>,
) -> Finding {
    let info = check_info(check_id).unwrap_or_else(|| panic!("unknown check {check_id}"));
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
    Finding {
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
    }
}

fn from_rows(q: &QualityConfig, rows: Vec<Row>) -> Vec<Finding> {
    rows.into_iter()
        .map(|r| {
            finding(
                q,
                &r.check_id,
                &r.trust,
                r.feed,
                r.day,
                r.count,
                r.denominator,
                r.keys,
                None,
            )
        })
        .collect()
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
    out.extend(from_rows(
        &q,
        standard_rows(&run_sql(ctx, "validity", &common).await?),
    ));
    out.extend(
        from_rows(&q, standard_rows(&run_sql(ctx, "loads", &common).await?))
            .into_iter()
            .filter(|f| {
                f.check_id != "completeness.rejected_rows"
                    || f.rate().unwrap_or(1.0) > q.rejected_share
            }),
    );
    out.extend(from_rows(
        &q,
        standard_rows(&run_sql(ctx, "rtt_integrity", &common).await?),
    ));
    out.extend(state_checks(ctx, config, &q, scope, trust, arriving));
    out.extend(daily_volume(ctx, config, &q, scope, trust).await?);
    if let Scope::Period(m) = scope {
        out.extend(period_checks(ctx, config, &q, m, trust).await?);
    }
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
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let q = QualityConfig::from(config)?;
    let mut out = state_checks(ctx, config, &q, Scope::Period(m), trust, &[]);
    out.extend(rtt_return_checks(ctx, config, m, trust, false).await?);
    out.retain(|f| f.severity == Severity::Error);
    for f in &mut out {
        f.scope = Scope::Period(m);
    }
    Ok(out)
}

/// Checks of what was loaded (from the warehouse state): refused extracts,
/// missing nights and feeds, and folders still without a manifest.
fn state_checks(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    q: &QualityConfig,
    scope: Scope,
    trust: Option<&str>,
    arriving: &[ArrivingFolder],
) -> Vec<Finding> {
    let view = ctx.view();
    let (first, last) = (scope.first_day(), scope.last_day());
    let horizon = view.horizon();
    let mut out = Vec::new();
    for (tc, s) in in_scope(config, view, trust) {
        for (d, r) in &s.refused {
            // The morning after a night: that night's refusals. A month:
            // every refusal dated in it or whose covers reach into it.
            let touches = match scope {
                Scope::Date(day) => *d == day,
                Scope::Period(_) => {
                    (first..=last).contains(d)
                        || r.covers.is_some_and(|c| c.from <= last && first <= c.to)
                }
            };
            if touches {
                out.push(finding(
                    q,
                    "completeness.extract_refused",
                    &tc.ods,
                    None,
                    Some(*d),
                    1,
                    None,
                    vec![],
                    Some(format!(
                        "the extract of {d} was refused and has not been loaded since: {}",
                        r.reason
                    )),
                ));
            }
        }
        for d in s.missing_nights(first, last, horizon) {
            out.push(finding(
                q,
                "completeness.extract_missing",
                &tc.ods,
                None,
                Some(d),
                1,
                None,
                vec![],
                Some(format!("no extract for the night of {d}")),
            ));
        }
    }
    let now = Utc::now();
    for a in arriving {
        if trust.is_some_and(|t| t != a.trust) {
            continue;
        }
        let age = a
            .last_modified
            .map_or(f64::INFINITY, |m| (now - m).num_seconds() as f64 / 3600.0);
        if age >= q.manifest_deadline_hours {
            out.push(finding(
                q,
                "completeness.manifest_late",
                &a.trust,
                None,
                a.extract_date.parse().ok(),
                1,
                None,
                vec![],
                Some(format!(
                    "the extract folder {}/{} has had no manifest for {:.1} hours (deadline {} hours)",
                    a.trust, a.extract_date, age, q.manifest_deadline_hours
                )),
            ));
        }
    }
    out
}

/// The configured trusts in scope (one, or all) that have loaded data, with
/// their state in the view.
fn in_scope<'a>(
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
async fn daily_volume(
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
                            ));
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
                            ));
                        }
                    }
                }
                d = d.succ_opt().expect("date");
            }
        }
    }
    Ok(out)
}

/// Checks of a whole month: completeness of each return, monthly volume,
/// cross-feed consistency and the RTT return's own checks.
async fn period_checks(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    q: &QualityConfig,
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for kind in ReturnKind::ALL {
        for p in completeness(ctx.view(), config, kind, m, trust) {
            if !p.complete {
                out.push(finding(
                    q,
                    "completeness.period_incomplete",
                    &p.trust,
                    None,
                    Some(m.last_day()),
                    p.reasons.len() as i64,
                    None,
                    vec![],
                    Some(format!(
                        "the {kind} return for {m} is incomplete: {}",
                        p.reasons.join("; ")
                    )),
                ));
            }
        }
    }
    out.extend(monthly_volume(ctx, config, q, m, trust).await?);

    let t = trust.unwrap_or("");
    let params = vec![
        ("period_start", date(m.first_day())),
        ("period_end", date(m.last_day())),
        ("census_date", date(m.last_day())),
        ("trust", text(t)),
    ];
    for r in standard_rows(&run_sql(ctx, "crossfeed", &params).await?) {
        let den = r.denominator.unwrap_or(0);
        // Beyond the tolerance and beyond chance (activity near a month's
        // edge lands in the next month on one side only).
        let off = |a: i64, b: i64| {
            let n = a.max(b) as f64;
            (a - b).abs() as f64 > (q.crossfeed_tolerance * n).max(3.0 * n.sqrt() + 2.0)
        };
        let keep = match r.check_id.as_str() {
            "crossfeed.ae_admissions_vs_spells" => off(r.count, den),
            "crossfeed.rtt_stops_vs_elective_admissions" => r.count > den,
            "crossfeed.elective_recorded_as_non_elective" => r.count > 0,
            // Compared with recent months in monthly_volume.
            _ => false,
        };
        if keep {
            let message = match r.check_id.as_str() {
                "crossfeed.ae_admissions_vs_spells" => Some(format!(
                    "{} admitted A&E attendances in {m}, against {den} emergency admissions via A&E (method 21) in inpatient spells",
                    r.count
                )),
                "crossfeed.rtt_stops_vs_elective_admissions" => Some(format!(
                    "{} admitted RTT clock stops in {m}, more than its {den} elective admissions",
                    r.count
                )),
                _ => None,
            };
            out.push(finding(
                q,
                &r.check_id,
                &r.trust,
                r.feed,
                r.day,
                r.count,
                r.denominator,
                r.keys,
                message,
            ));
        }
    }
    out.extend(rtt_return_checks(ctx, config, m, trust, true).await?);
    Ok(out)
}

async fn monthly_volume(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    q: &QualityConfig,
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let mut start = m;
    for _ in 0..12 {
        start = start.prev();
    }
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
                    ));
                }
            }
        }
        // First attendances against referrals, compared with recent months.
        let both =
            |p: Month| complete(Feed::OutpatientAppointments, p) && complete(Feed::Referrals, p);
        if both(m) && count("referrals", m) > 0.0 {
            let ratio = |p: Month| count("first_attendances", p) / count("referrals", p).max(1.0);
            let history: Vec<f64> = previous
                .iter()
                .take(6)
                .filter(|p| both(**p))
                .map(|p| ratio(*p))
                .collect();
            if history.len() >= 3 {
                let usual = crate::volume::median(&history);
                let now = ratio(m);
                // Beyond 30% of the usual ratio, and beyond chance: both
                // counts vary (Poisson), so the log of the ratio has a
                // variance of about 1/first + 1/referrals; four standard
                // deviations.
                let (f, r) = (count("first_attendances", m), count("referrals", m));
                let z = if f > 0.0 && r > 0.0 {
                    (now / usual).ln().abs() / (1.0 / f + 1.0 / r).sqrt()
                } else {
                    f64::INFINITY
                };
                if usual > 0.0 && (now - usual).abs() > 0.3 * usual && z > 4.0 {
                    out.push(finding(
                        q,
                        "crossfeed.first_attendances_vs_referrals",
                        &tc.ods,
                        Some("outpatient_appointments".into()),
                        Some(m.last_day()),
                        count("first_attendances", m) as i64,
                        Some(count("referrals", m) as i64),
                        vec![],
                        Some(format!(
                            "{:.0} first attendances against {:.0} referrals in {m} ({now:.2} a referral), against a usual {usual:.2}",
                            count("first_attendances", m),
                            count("referrals", m)
                        )),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The RTT return for the month and the one before, registered for the
/// checks NHS England runs on a return.
/// The RTT return checks for month `m`. Without `with_prev` the month
/// before is taken as empty: only the checks of the month alone (the errors)
/// are then meaningful.
pub(crate) async fn rtt_return_checks(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    m: Month,
    trust: Option<&str>,
    with_prev: bool,
) -> Result<Vec<Finding>> {
    // A catalog of its own, so the return tables never meet another query.
    let own = ctx.fork().await?;
    for (name, month) in [("rtt_return_now", m), ("rtt_return_prev", m.prev())] {
        let req = icsw_returns::ReturnRequest {
            kind: ReturnKind::Rtt,
            period: month,
            trust: trust.map(str::to_string),
            as_at: Default::default(),
            allow_incomplete: true,
        };
        let df = icsw_returns::return_frame(&own, &req).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = if name == "rtt_return_prev" && !with_prev {
            vec![]
        } else {
            df.collect().await.map_err(icsw_query::Error::from)?
        };
        let t = datafusion::datasource::MemTable::try_new(schema, vec![batches])
            .map_err(icsw_query::Error::from)?;
        own.session()
            .register_table(name, std::sync::Arc::new(t))
            .map_err(icsw_query::Error::from)?;
    }
    rtt_return_findings(&own, config, m).await
}

/// The RTT return checks over the tables `rtt_return_now` and
/// `rtt_return_prev` of `ctx` (the RTT return for month `m` and the one
/// before, in the return's columns).
pub async fn rtt_return_findings(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    m: Month,
) -> Result<Vec<Finding>> {
    let q = &QualityConfig::from(config)?;
    let params = vec![
        ("census_date", date(m.last_day())),
        (
            "swing_fraction",
            ScalarValue::Float64(Some(q.swing_fraction)),
        ),
        ("swing_min", ScalarValue::Int64(Some(q.swing_min))),
        (
            "short_wait_share",
            ScalarValue::Float64(Some(q.short_wait_share)),
        ),
        ("jump_fraction", ScalarValue::Float64(Some(q.jump_fraction))),
        ("jump_min", ScalarValue::Int64(Some(q.jump_min))),
    ];
    Ok(from_rows(
        q,
        standard_rows(&run_sql(ctx, "rtt_return", &params).await?),
    ))
}
