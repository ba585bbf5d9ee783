//! SPC over any series (`icsw spc`, `icsw_returns::spc`) against the
//! expected tables of NHSRplotthedots' documented examples, rebuilt from
//! `tests/data/ae_attendances.csv` by `tests/data/spc/ptd.py` (a
//! transliteration of NHSRplotthedots 0.2.0's R, independent of icsw's
//! Rust; example 1 is also the README's published figures). Numbers are
//! compared to 1e-6, everything else exactly.

use datafusion::prelude::{CsvReadOptions, SessionContext};
use icsw_returns::spc::{charts, SpcRequest};
use icsw_spc::table;
use icsw_spc::{Direction, Options};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");

async fn session() -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_csv(
        "ae_attendances",
        &format!("{DATA}/ae_attendances.csv"),
        CsvReadOptions::new(),
    )
    .await
    .unwrap();
    ctx
}

/// Compares CSV text cell by cell: numbers to 1e-6, the rest exactly.
fn same_csv(name: &str, got: &str, want: &str) {
    let rows = |s: &str| -> Vec<Vec<String>> {
        s.lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (g, w) = (rows(got), rows(want));
    assert_eq!(g.len(), w.len(), "{name}: rows\n{got}");
    assert_eq!(g[0], w[0], "{name}: header");
    for (i, (gr, wr)) in g.iter().zip(&w).enumerate().skip(1) {
        assert_eq!(gr.len(), wr.len(), "{name} row {i}");
        for (c, (a, b)) in gr.iter().zip(wr).enumerate() {
            let col = &w[0][c];
            match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!(
                    (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                    "{name} row {i} {col}: {a} != {b}"
                ),
                _ => assert_eq!(a, b, "{name} row {i} {col}"),
            }
        }
    }
}

struct Example {
    name: &'static str,
    sql: &'static str,
    y: &'static str,
    facet: Option<&'static str>,
    direction: Direction,
    rebase: &'static [&'static str],
    options: Options,
}

fn examples() -> Vec<Example> {
    let rqm = "SELECT CAST(period AS VARCHAR) AS period, breaches FROM ae_attendances \
               WHERE org_code = 'RQM' AND type = '1' AND period < '2018-04-01'";
    vec![
        Example {
            name: "readme",
            sql: rqm,
            y: "breaches",
            facet: None,
            direction: Direction::LowerIsBetter,
            rebase: &[],
            options: Options::default(),
        },
        Example {
            name: "england_4h_target",
            sql: "SELECT CAST(period AS VARCHAR) AS period, \
                  1 - CAST(sum(breaches) AS DOUBLE) / sum(attendances) AS performance \
                  FROM ae_attendances GROUP BY period",
            y: "performance",
            facet: None,
            direction: Direction::HigherIsBetter,
            rebase: &[],
            options: Options {
                target: Some(0.95),
                ..Default::default()
            },
        },
        Example {
            name: "fix_after_12",
            sql: "SELECT CAST(period AS VARCHAR) AS period, breaches FROM ae_attendances \
                  WHERE org_code = 'RQM' AND type = '1'",
            y: "breaches",
            facet: None,
            direction: Direction::LowerIsBetter,
            rebase: &[],
            options: Options {
                fix_after: Some(12),
                ..Default::default()
            },
        },
        Example {
            name: "rebase_2018_04",
            sql: "SELECT CAST(period AS VARCHAR) AS period, breaches FROM ae_attendances \
                  WHERE org_code = 'RRK' AND type = '1'",
            y: "breaches",
            facet: None,
            direction: Direction::LowerIsBetter,
            rebase: &["2018-04-01"],
            options: Options::default(),
        },
        Example {
            name: "facets",
            sql:
                "SELECT CAST(period AS VARCHAR) AS period, org_code, breaches FROM ae_attendances \
                  WHERE org_code IN ('RRK', 'RJC', 'RJ7', 'R1K', 'R1H', 'RQM') AND type = '1' \
                  AND period < '2018-04-01'",
            y: "breaches",
            facet: Some("org_code"),
            direction: Direction::LowerIsBetter,
            rebase: &[],
            options: Options::default(),
        },
        Example {
            name: "no_screen",
            sql: rqm,
            y: "breaches",
            facet: None,
            direction: Direction::LowerIsBetter,
            rebase: &[],
            options: Options {
                no_screening: true,
                ..Default::default()
            },
        },
        Example {
            name: "neutral",
            sql: "SELECT CAST(period AS VARCHAR) AS period, attendances FROM ae_attendances \
                  WHERE org_code = 'RQM' AND type = '1' AND period < '2018-04-01'",
            y: "attendances",
            facet: None,
            direction: Direction::Neither,
            rebase: &[],
            options: Options::default(),
        },
    ]
}

#[tokio::test]
async fn nhsrplotthedots_examples_match_their_expected_tables() {
    let ctx = session().await;
    for e in examples() {
        let df = ctx.sql(e.sql).await.unwrap();
        let req = SpcRequest {
            x: "period".into(),
            y: e.y.into(),
            facet: e.facet.map(str::to_string),
            direction: e.direction,
            rebase: e.rebase.iter().map(|s| s.to_string()).collect(),
            options: e.options.clone(),
        };
        let c = charts(df, &req).await.unwrap();
        let want = |kind: &str| {
            std::fs::read_to_string(format!("{DATA}/spc/{}.{kind}.csv", e.name)).unwrap()
        };
        same_csv(
            e.name,
            &table::points_csv(&table::point_rows(&c)),
            &want("points"),
        );
        same_csv(
            e.name,
            &table::summary_csv(&table::summary_rows(&c)),
            &want("summary"),
        );
    }
}

#[tokio::test]
async fn the_readme_example_has_the_published_figures() {
    // NHSRplotthedots' README: mean 1545.1667, limits 740.3958 and
    // 2349.9376; May 2016 (929) special cause improvement by 2 of 3; the
    // summary's variation common cause and, for a target of 1200,
    // assurance inconsistent.
    let ctx = session().await;
    let e = &examples()[0];
    let req = SpcRequest {
        x: "period".into(),
        y: "breaches".into(),
        facet: None,
        direction: Direction::LowerIsBetter,
        rebase: vec![],
        options: Options {
            target: Some(1200.0),
            ..Default::default()
        },
    };
    let c = charts(ctx.sql(e.sql).await.unwrap(), &req).await.unwrap();
    let rows = table::point_rows(&c);
    assert!((rows[0].mean_col - 1545.1667).abs() < 1e-4);
    assert!((rows[0].lpl - 740.3958).abs() < 1e-4);
    assert!((rows[0].upl - 2349.9376).abs() < 1e-4);
    assert_eq!(rows[1].y, Some(929.0));
    assert_eq!(rows[1].special_cause_type, "2 in 3 Below CL");
    assert_eq!(rows[1].point_type, "special_cause_improvement");
    let s = table::summary_rows(&c);
    assert_eq!(s[0].variation_type, "common_cause");
    assert_eq!(s[0].assurance_type, Some("inconsistent"));
}

#[tokio::test]
async fn a_series_that_cannot_be_charted_is_refused_clearly() {
    let req = |rebase: &[&str], fix_after| SpcRequest {
        x: "period".into(),
        y: "breaches".into(),
        facet: None,
        direction: Direction::LowerIsBetter,
        rebase: rebase.iter().map(|s| s.to_string()).collect(),
        options: Options {
            fix_after,
            ..Default::default()
        },
    };
    async fn err(sql: &str, r: SpcRequest) -> String {
        let df = session().await.sql(sql).await.unwrap();
        charts(df, &r).await.unwrap_err().to_string()
    }
    let one = "SELECT CAST(period AS VARCHAR) AS period, breaches FROM ae_attendances \
               WHERE org_code = 'RQM' AND type = '1'";
    assert!(err(one, req(&[], Some(11))).await.contains("12"));
    assert!(err(one, req(&["2018-04-02"], None))
        .await
        .contains("2018-04-02"));
    // Every type of one trust: the same period three times.
    let all = "SELECT CAST(period AS VARCHAR) AS period, breaches FROM ae_attendances \
               WHERE org_code = 'RQM'";
    assert!(err(all, req(&[], None)).await.contains("appears twice"));
    // A row with no x is named by its number (rows as the query gives them).
    let gap = "SELECT * FROM (VALUES ('2024-01-01', 1.0), (NULL, 2.0)) AS t(period, breaches)";
    assert!(err(gap, req(&[], None))
        .await
        .contains("row 2 has no period"));
}
