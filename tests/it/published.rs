//! Reproducing NHS England's published figures: patient-level records are
//! made to match published aggregate rows, loaded like any extract, and the
//! returns and reports must give back exactly the published numbers.

use crate::support::{date, file, rows_of, Fx};
use icsw_model::reference::csv_rows;
use icsw_model::{Feed, IcsConfig, Month};
use icsw_query::WarehouseContext;
use icsw_returns::{AsAt, ReturnKind, ReturnRequest};
use serde_json::json;

fn data(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name),
    )
    .expect("reference data")
}

/// Attendances of one provider, month and type: `n` of them, `breaches` over
/// 4 hours (300 minutes), `admissions` admitted; spread over the month.
fn attendances(
    trust: &str,
    month: Month,
    ty: &str,
    n: u64,
    breaches: u64,
    admissions: u64,
) -> Vec<serde_json::Value> {
    let dept = match ty {
        "1" => "01",
        "2" => "02",
        _ => "03",
    };
    let days: Vec<_> = month.days().collect();
    (0..n)
        .map(|i| {
            let day = days[(i as usize) % days.len()];
            let arrival = day.and_hms_opt(10, 0, 0).unwrap() + chrono::Duration::minutes((i % 300) as i64);
            let los = if i < breaches { 300 } else { 120 };
            let departure = arrival + chrono::Duration::minutes(los);
            let admitted = i < admissions;
            json!({
                "attendance_id": format!("{trust}-{ty}-{i}"),
                "site_code": format!("{trust}01"),
                "department_type": dept,
                "arrival_time": arrival.format("%Y-%m-%d %H:%M:%S").to_string(),
                "booked_appointment": false,
                "decision_to_admit_time": admitted.then(|| (arrival + chrono::Duration::minutes(60)).format("%Y-%m-%d %H:%M:%S").to_string()),
                "departure_time": departure.format("%Y-%m-%d %H:%M:%S").to_string(),
                "admitted": admitted,
                "local_patient_id": format!("P{i}"),
            })
        })
        .collect()
}

#[tokio::test]
async fn the_ae_return_reproduces_published_attendances_breaches_and_admissions() {
    // NHS England's monthly A&E figures (tests/data/ae_attendances.csv) for
    // two North West London providers.
    let cases = [("RYJ", "2018-03"), ("RAS", "2018-02")];
    let rows = csv_rows(&data("ae_attendances.csv"));
    let mut fx = Fx::new();
    fx.config =
        IcsConfig::from_toml("[[trust]]\nods = \"RYJ\"\n[[trust]]\nods = \"RAS\"\n").unwrap();
    let mut expected = Vec::new();
    for (trust, month) in cases {
        let m = Month::parse(month).unwrap();
        let mut att = Vec::new();
        let mut exp = std::collections::BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| r[0] == format!("{month}-01") && r[1] == trust)
        {
            let (n, b, a): (u64, u64, u64) = (
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
                r[5].parse().unwrap(),
            );
            att.extend(attendances(trust, m, &r[2], n, b, a));
            exp.insert(r[2].clone(), (n, b, a));
        }
        assert!(!exp.is_empty());
        let night = m.next().first_day();
        let covers = (m.first_day().to_string(), m.last_day().to_string());
        fx.extract(
            trust,
            &night.to_string(),
            vec![
                file(Feed::AeAttendances, att, Some((&covers.0, &covers.1))),
                file(Feed::InpatientSpells, vec![], Some((&covers.0, &covers.1))),
            ],
        );
        expected.push((trust, m, exp));
    }
    let r = fx.load().await;
    assert!(r
        .loads
        .iter()
        .all(|l| l.refusal.is_none() && l.rows_quarantined() == 0));
    for (trust, m, exp) in expected {
        let req = ReturnRequest {
            kind: ReturnKind::Ae,
            period: m,
            trust: Some(trust.into()),
            as_at: AsAt::default(),
            allow_incomplete: false,
        };
        let mut out = Vec::new();
        let ctx = WarehouseContext::at(&fx.wh, req.as_at, &fx.config)
            .await
            .unwrap();
        let no_gate = icsw_returns::KnownReasons(vec![]);
        icsw_returns::write_return(&ctx, &fx.config, &req, &no_gate, &mut out)
            .await
            .unwrap();
        let csv = csv_rows(&String::from_utf8(out).unwrap());
        let col = |name: &str| {
            let i = csv[0].iter().position(|h| h == name).unwrap();
            csv[1][i].parse::<u64>().unwrap()
        };
        let e = |ty: &str| exp.get(ty).copied().unwrap_or((0, 0, 0));
        assert_eq!(col("A&E attendances Type 1"), e("1").0, "{trust} {m}");
        assert_eq!(col("A&E attendances Type 2"), e("2").0, "{trust} {m}");
        assert_eq!(
            col("A&E attendances Other A&E Department"),
            e("other").0,
            "{trust} {m}"
        );
        assert_eq!(col("Attendances over 4hrs Type 1"), e("1").1, "{trust} {m}");
        assert_eq!(col("Attendances over 4hrs Type 2"), e("2").1, "{trust} {m}");
        assert_eq!(
            col("Attendances over 4hrs Other Department"),
            e("other").1,
            "{trust} {m}"
        );
        assert_eq!(
            col("Emergency admissions via A&E - Type 1"),
            e("1").2,
            "{trust} {m}"
        );
        assert_eq!(
            col("Emergency admissions via A&E - Type 2"),
            e("2").2,
            "{trust} {m}"
        );
        assert_eq!(
            col("Emergency admissions via A&E - Other A&E department"),
            e("other").2,
            "{trust} {m}"
        );
    }
}

#[tokio::test]
async fn rtt_waits_reproduce_published_medians_and_95th_percentiles() {
    // NHS England's incomplete pathways by CCG x treatment function, March
    // 2015: weekly band counts with the published N, % within 18 weeks,
    // median and 95th percentile. Rows with N >= 50, a 95th percentile under
    // 52 weeks (above that the published '52 plus' band is coarser than
    // ours), the published specialty rows, every 400th such row.
    let rows = csv_rows(&data("Incomplete-Commissioner-Mar15-revised-XLS-2357K.csv"));
    let h = &rows[0];
    let at = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (ccg, tfc, first_band) = (at("CCG Code"), at("Treatment Function Code"), at(">0-1"));
    let (plus, total, pct) = (
        at("52 plus"),
        at("Total number of incomplete pathways"),
        at("% within 18 weeks"),
    );
    let (median, p95) = (
        at("Average (median) waiting time (in weeks)"),
        at("95th percentile waiting time (in weeks)"),
    );
    let eligible: Vec<&Vec<String>> = rows[1..]
        .iter()
        .filter(|r| {
            r[tfc].len() == 5
                && r[tfc][2..].bytes().all(|b| b.is_ascii_digit())
                && r[tfc] != "IP999"
                && r[ccg] != "09L"
                && r[total].parse::<u64>().unwrap_or(0) >= 50
                && r[p95].parse::<f64>().is_ok_and(|x| x < 52.0)
        })
        .collect();
    let chosen: Vec<&Vec<String>> = eligible.iter().step_by(400).copied().collect();
    assert!(chosen.len() >= 8, "{}", chosen.len());
    // One provider's pathways, open at the census date 31 March 2015, the
    // commissioner being the CCG: days = 3 for band >0-1, 7k - 4 for band
    // >k-1 to k (inside it), 400 for 52 plus.
    let census = date("2015-03-31");
    let mut events = Vec::new();
    for r in &chosen {
        for k in 1..=53usize {
            let count: u64 = if k == 53 {
                r[plus].parse().unwrap()
            } else {
                r[first_band + k - 1].parse().unwrap()
            };
            let days = if k == 1 {
                3
            } else if k == 53 {
                400
            } else {
                7 * k as i64 - 4
            };
            let start = census - chrono::Duration::days(days);
            for i in 0..count {
                let id = format!("{}-{}-{k}-{i}", r[ccg], r[tfc]);
                events.push(json!({
                    "event_id": id, "pathway_id": id, "event_date": start.to_string(),
                    "rtt_status": "10", "activity": "REFERRAL",
                    "treatment_function_code": &r[tfc][2..], "commissioner_code": r[ccg],
                    "local_patient_id": "P"
                }));
            }
        }
    }
    let mut fx = Fx::new();
    fx.config = IcsConfig::from_toml("[[trust]]\nods = \"RBD\"\n").unwrap();
    fx.extract(
        "RBD",
        "2015-04-02",
        vec![file(Feed::RttEvents, events, None)],
    );
    fx.load().await;
    let ctx = fx.ctx().await;
    let df = icsw_returns::report(
        &ctx,
        "rtt-waits",
        Month::parse("2015-03").unwrap(),
        None,
        &Default::default(),
    )
    .await
    .unwrap();
    ctx.session()
        .register_table("waits", df.into_view())
        .unwrap();
    for r in chosen {
        let got = rows_of(
            &ctx,
            &format!(
                "SELECT n, pct_within_18_weeks, median_weeks, p95_weeks FROM waits \
                 WHERE level = 'provider_commissioner_function' AND part = 'Part_2' \
                 AND commissioner = '{}' AND treatment_function = 'C_{}'",
                r[ccg],
                &r[tfc][2..]
            ),
        )
        .await;
        assert_eq!(got.len(), 1, "{} {}", r[ccg], r[tfc]);
        let g: Vec<f64> = got[0].iter().map(|v| v.parse().unwrap()).collect();
        let published = |i: usize| r[i].parse::<f64>().unwrap();
        assert_eq!(g[0], published(total), "{} {} N", r[ccg], r[tfc]);
        assert!(
            (g[1] - 100.0 * published(pct)).abs() < 0.01,
            "{} {} %: {} vs {}",
            r[ccg],
            r[tfc],
            g[1],
            published(pct)
        );
        assert!(
            (g[2] - published(median)).abs() < 0.01,
            "{} {} median: {} vs {}",
            r[ccg],
            r[tfc],
            g[2],
            published(median)
        );
        assert!(
            (g[3] - published(p95)).abs() < 0.01,
            "{} {} 95th: {} vs {}",
            r[ccg],
            r[tfc],
            g[3],
            published(p95)
        );
    }
}
