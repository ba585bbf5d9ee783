//! Cross-feed consistency: one feed's counts against another's for the
//! same month (A&E admissions against spells, RTT clock stops against
//! elective admissions, first attendances against referrals, electives
//! recorded as non-electives).

use super::{finding, run_sql, standard_rows};
use crate::{Finding, QualityConfig, Result};
use datafusion::scalar::ScalarValue;
use icsw_model::Month;
use icsw_query::WarehouseContext;

/// Whether two counts that should agree differ beyond the configured
/// tolerance and beyond chance (activity near a month's edge lands in the
/// next month on one side only): more than `crossfeed_tolerance` of the
/// larger and more than 3 √n + 2.
fn beyond_tolerance(q: &QualityConfig, a: i64, b: i64) -> bool {
    let n = a.max(b) as f64;
    (a - b).abs() as f64 > (q.crossfeed_tolerance * n).max(3.0 * n.sqrt() + 2.0)
}

/// The month's checks of `sql/checks/crossfeed.sql` (`common` are the
/// run's parameters).
pub(super) async fn month(
    ctx: &WarehouseContext,
    q: &QualityConfig,
    m: Month,
    common: &[(&str, ScalarValue)],
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for r in standard_rows(&run_sql(ctx, "crossfeed", common).await?) {
        let den = r.denominator.unwrap_or(0);
        let keep = match r.check_id.as_str() {
            "crossfeed.ae_admissions_vs_spells" => beyond_tolerance(q, r.count, den),
            "crossfeed.rtt_stops_vs_elective_admissions" => r.count > den,
            "crossfeed.elective_recorded_as_non_elective" => r.count > 0,
            // Compared with recent months: first_attendances_vs_referrals.
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
            out.push(r.finding(q, message)?);
        }
    }
    Ok(out)
}

/// First attendances against referrals in month `m`, against the usual
/// ratio of up to six previous months in which both feeds are complete
/// (`both`); `count(measure, month)` gives the monthly counts.
pub(super) fn first_attendances_vs_referrals(
    q: &QualityConfig,
    trust: &str,
    m: Month,
    previous: &[Month],
    both: &dyn Fn(Month) -> bool,
    count: &dyn Fn(&str, Month) -> f64,
) -> Result<Option<Finding>> {
    if !both(m) || count("referrals", m) <= 0.0 {
        return Ok(None);
    }
    let ratio = |p: Month| count("first_attendances", p) / count("referrals", p).max(1.0);
    let history: Vec<f64> = previous
        .iter()
        .take(6)
        .filter(|p| both(**p))
        .map(|p| ratio(*p))
        .collect();
    if history.len() < 3 {
        return Ok(None);
    }
    let usual = super::volume::median(&history);
    let now = ratio(m);
    // Beyond 30% of the usual ratio, and beyond chance: both counts vary
    // (Poisson), so the log of the ratio has a variance of about 1/first +
    // 1/referrals; four standard deviations.
    let (f, r) = (count("first_attendances", m), count("referrals", m));
    let z = if f > 0.0 && r > 0.0 {
        (now / usual).ln().abs() / (1.0 / f + 1.0 / r).sqrt()
    } else {
        f64::INFINITY
    };
    if !(usual > 0.0 && (now - usual).abs() > 0.3 * usual && z > 4.0) {
        return Ok(None);
    }
    Ok(Some(finding(
        q,
        "crossfeed.first_attendances_vs_referrals",
        trust,
        Some("outpatient_appointments".into()),
        Some(m.last_day()),
        f as i64,
        Some(r as i64),
        vec![],
        Some(format!(
            "{f:.0} first attendances against {r:.0} referrals in {m} ({now:.2} a referral), against a usual {usual:.2}"
        )),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_differ_only_beyond_the_tolerance_and_chance() {
        let q = QualityConfig::default();
        // 1,000: 5% is 50, chance 3 x 31.6 + 2 = 96.9; the larger wins.
        assert!(!beyond_tolerance(&q, 1000, 904));
        assert!(beyond_tolerance(&q, 1000, 903));
        // 10,000: 5% is 500 against chance 302.
        assert!(!beyond_tolerance(&q, 10_000, 9_500));
        assert!(beyond_tolerance(&q, 10_000, 9_499));
        assert!(!beyond_tolerance(&q, 3, 0));
    }

    #[test]
    fn first_attendances_fall_is_found_when_beyond_chance() {
        let q = QualityConfig::default();
        let m = Month::parse("2026-10").unwrap();
        let previous: Vec<Month> = (1..=6)
            .scan(m, |p, _| {
                *p = p.prev();
                Some(*p)
            })
            .collect();
        let all = |_: Month| true;
        // Usually 500 first attendances to 1,000 referrals; now 200: the
        // ratio 0.2 against 0.5 is 60% off, and z = ln 2.5 / sqrt(1/200 +
        // 1/1000) = 11.8.
        let big = |what: &str, p: Month| match (what, p == m) {
            ("referrals", _) => 1000.0,
            (_, true) => 200.0,
            _ => 500.0,
        };
        let f = first_attendances_vs_referrals(&q, "RYJ", m, &previous, &all, &big)
            .unwrap()
            .expect("a finding");
        assert_eq!((f.count, f.denominator), (200, Some(1000)));
        // The same ratios from 2 and 10: z = 0.916 / sqrt(0.5 + 0.1) = 1.2.
        let small = |what: &str, p: Month| big(what, p) / 100.0;
        assert!(
            first_attendances_vs_referrals(&q, "RYJ", m, &previous, &all, &small)
                .unwrap()
                .is_none()
        );
        // Fewer than three comparable months: nothing to compare with.
        let two = |p: Month| p == m || p == m.prev() || p == m.prev().prev();
        assert!(
            first_attendances_vs_referrals(&q, "RYJ", m, &previous, &two, &big)
                .unwrap()
                .is_none()
        );
    }
}
