//! Data-quality checks: each generated go-live fault is found, exactly; a
//! clean generated year raises no error; the return checks and the
//! publication gate.

use crate::support::{date, Fx};
use icsw_generate::{Fault, Options};
use icsw_model::{IcsConfig, Month};
use icsw_quality::{run, Finding, Scope, Severity};
use icsw_query::{Limits, WarehouseContext};
use std::collections::BTreeSet;

const CONFIG: &str = "[quality]\nmanifest_deadline_hours = 0\n";

async fn findings_at(fx: &Fx, as_at: chrono::NaiveDate, scope: Scope) -> Vec<Finding> {
    let view = fx.wh.view_as_at_date(as_at).await.unwrap();
    let ctx = WarehouseContext::new(&fx.wh, view, &fx.config, &Limits::default())
        .await
        .unwrap();
    let arriving = icsw_ingest::Landing::new(&fx.landing).arriving();
    run(&ctx, &fx.config, scope, None, &arriving).await.unwrap()
}

fn keys(fs: &[Finding], check: &str, trust: &str, feed: Option<&str>) -> BTreeSet<String> {
    fs.iter()
        .filter(|f| {
            f.check_id == check && f.trust == trust && (feed.is_none() || f.feed.as_deref() == feed)
        })
        .flat_map(|f| {
            assert_eq!(f.keys.len(), f.keys_total, "{check}: example keys were cut");
            f.keys.iter().cloned()
        })
        .collect()
}

#[tokio::test]
async fn each_generated_fault_is_found_exactly() {
    let mut fx = Fx::new();
    fx.config = IcsConfig::from_toml(CONFIG).unwrap();
    let mut opts = Options::new(
        &["RYJ", "RQM", "R1K", "RAS"],
        date("2026-11-01"),
        date("2026-11-04"),
    );
    opts.scale = 6.0;
    opts.history_days = 40;
    opts.faults = Fault::ALL.into_iter().collect();
    let report = icsw_generate::generate(&fx.landing, &opts).unwrap();
    fx.load().await;
    let kinds: BTreeSet<&str> = report.faults.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds.len(),
        Fault::ALL.len(),
        "every fault injected: {kinds:?}"
    );
    for fault in &report.faults {
        let d = fault.extract_date;
        // As the warehouse stood the morning after the fault's night.
        let fs = findings_at(&fx, d, Scope::Date(d)).await;
        let want: BTreeSet<String> = fault.keys.iter().cloned().collect();
        let feed = fault.feed.as_deref();
        let at = format!("{} {} {d}", fault.kind, fault.trust);
        let found = |check: &str| {
            fs.iter()
                .any(|f| f.check_id == check && f.trust == fault.trust && f.day == Some(d))
        };
        match fault.kind.as_str() {
            "missing-night" => assert!(found("completeness.extract_missing"), "{at}"),
            "missing-manifest" => assert!(found("completeness.manifest_late"), "{at}"),
            "schema-drift" | "truncated-file" | "sha256-mismatch" => {
                let f = fs
                    .iter()
                    .find(|f| {
                        f.check_id == "completeness.extract_refused" && f.trust == fault.trust
                    })
                    .unwrap_or_else(|| panic!("{at}: no refusal finding"));
                assert_eq!(f.severity, Severity::Error);
                let kind = match fault.kind.as_str() {
                    "schema-drift" => "schema_drift",
                    "truncated-file" => "unreadable_file",
                    _ => "sha256_mismatch",
                };
                assert!(
                    f.message.contains(kind) && f.message.contains(fault.file.as_deref().unwrap()),
                    "{at}: {}",
                    f.message
                );
            }
            "duplicated-rows" => assert_eq!(
                keys(&fs, "completeness.duplicate_rows", &fault.trust, feed),
                want,
                "{at}"
            ),
            "invalid-codes" => assert_eq!(
                keys(&fs, "completeness.rejected_rows", &fault.trust, feed),
                want,
                "{at}"
            ),
            "invalid-nhs-numbers" => assert_eq!(
                keys(&fs, "validity.invalid_nhs_number", &fault.trust, feed),
                want,
                "{at}"
            ),
            "departures-before-arrivals" => assert_eq!(
                keys(&fs, "validity.departure_before_arrival", &fault.trust, feed),
                want,
                "{at}"
            ),
            "stops-without-starts" => assert_eq!(
                keys(&fs, "rtt.stop_without_start", &fault.trust, None),
                want,
                "{at}"
            ),
            k => panic!("a fault without a check: {k}"),
        }
    }
    // No NHS number appears in any finding.
    let fs = findings_at(
        &fx,
        date("2026-11-04"),
        Scope::Period(Month::parse("2026-10").unwrap()),
    )
    .await;
    let text = serde_json::to_string(&fs).unwrap();
    for i in 0..500u64 {
        let n = icsw_generate::world::nhs_number(1 ^ 2, i);
        assert!(!text.contains(&n));
    }
    // The refused extracts of 4 November hold October's returns: their
    // covers reach back into October.
    let view = fx.wh.current().await.unwrap().view();
    let ctx = WarehouseContext::new(&fx.wh, view, &fx.config, &Limits::default())
        .await
        .unwrap();
    let october = Month::parse("2026-10").unwrap();
    let reasons = icsw_quality::gate_reasons(
        &ctx,
        &fx.config,
        icsw_returns::ReturnKind::Rtt,
        october,
        None,
    )
    .await
    .unwrap();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons
        .iter()
        .all(|r| r.contains("completeness.extract_refused")));
    // The gate runs only the error checks: the same errors as every check.
    let all = icsw_quality::run(&ctx, &fx.config, Scope::Period(october), None, &[])
        .await
        .unwrap();
    let mut errors: Vec<String> = all
        .iter()
        .filter(|f| f.severity == icsw_quality::Severity::Error)
        .filter(|f| f.check_id != "completeness.period_incomplete")
        .map(|f| format!("{}: {} ({})", f.trust, f.message, f.check_id))
        .collect();
    let mut gate = reasons.clone();
    errors.sort();
    gate.sort();
    assert_eq!(gate, errors);
    let req = icsw_returns::ReturnRequest {
        kind: icsw_returns::ReturnKind::Ae,
        period: Month::parse("2026-10").unwrap(),
        trust: None,
        as_at: Default::default(),
        allow_incomplete: false,
    };
    let mut out = Vec::new();
    let ctx = WarehouseContext::at(&fx.wh, req.as_at, &fx.config)
        .await
        .unwrap();
    let gate = icsw_returns::KnownReasons(reasons);
    let err = icsw_returns::write_return(&ctx, &fx.config, &req, &gate, &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, icsw_returns::Error::Held(_)), "{err}");
    assert!(out.is_empty());
}

#[tokio::test]
async fn a_clean_generated_year_raises_no_error() {
    let mut fx = Fx::new();
    let mut opts = Options::new(
        &["RYJ", "RQM", "R1K", "RAS"],
        date("2026-11-01"),
        date("2026-11-02"),
    );
    opts.scale = 3.0;
    opts.history_days = 365;
    icsw_generate::generate(&fx.landing, &opts).unwrap();
    fx.config = IcsConfig::default();
    fx.load().await;
    let view = fx.wh.current().await.unwrap().view();
    let ctx = WarehouseContext::new(&fx.wh, view, &fx.config, &Limits::default())
        .await
        .unwrap();
    let mut warnings: BTreeSet<String> = BTreeSet::new();
    let mut scopes: Vec<Scope> = vec![
        Scope::Date(date("2026-11-01")),
        Scope::Date(date("2026-11-02")),
    ];
    let mut m = Month::parse("2025-11").unwrap();
    while m <= Month::parse("2026-10").unwrap() {
        scopes.push(Scope::Period(m));
        m = m.next();
    }
    for scope in scopes {
        let fs = run(&ctx, &fx.config, scope, None, &[]).await.unwrap();
        let errors: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{scope}: {errors:#?}");
        warnings.extend(fs.iter().map(|f| f.check_id.clone()));
    }
    // The warnings a clean year still raises, each explained in the README:
    // pathways waiting 12 weeks without an event (waiting for surgery),
    // transfers out (reported for reconciliation), and month-on-month
    // swings and volume days that chance gives small trusts.
    let explained: BTreeSet<&str> = [
        "rtt.no_event_12_weeks",
        "rtt.transferred_out",
        "returns.rtt_large_swing",
        "volume.daily_anomaly",
        "volume.monthly_anomaly",
    ]
    .into_iter()
    .collect();
    for w in &warnings {
        assert!(
            explained.contains(w.as_str()),
            "an unexplained warning on clean data: {w}"
        );
    }
}

#[tokio::test]
async fn the_rtt_return_checks_find_part_2a_over_part_2_and_a_wrong_total() {
    use datafusion::arrow::csv::ReaderBuilder;
    let fx = Fx::new();
    let ctx = fx.ctx().await;
    let req = icsw_returns::ReturnRequest {
        kind: icsw_returns::ReturnKind::Rtt,
        period: Month::parse("2026-10").unwrap(),
        trust: None,
        as_at: Default::default(),
        allow_incomplete: true,
    };
    let schema = std::sync::Arc::new(
        icsw_returns::return_frame(&ctx, &req)
            .await
            .unwrap()
            .schema()
            .as_arrow()
            .clone(),
    );
    // Hand-made returns: Part_2A C_110 (7) over Part_2 C_110 (5); the C_999
    // of Part_2 (9) not the sum of its rows (5 + 2 = 7); last month the
    // same with Part_1B 30 where this month has none.
    let zeros = |n: usize| vec!["0"; n].join(",");
    let row = |period: &str, part: &str, tf: &str, b1: u32, total_all: u32| {
        format!(
            "{period},RYJ,IMPERIAL,W2U3Z,{part},{tf},x,{b1},{},,,{total_all}",
            zeros(104)
        )
    };
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let now = [
        header.join(","),
        row("RTT-October-2026", "Part_2", "C_110", 5, 5),
        row("RTT-October-2026", "Part_2", "C_120", 2, 2),
        row("RTT-October-2026", "Part_2", "C_999", 9, 9),
        row("RTT-October-2026", "Part_2A", "C_110", 7, 7),
        row("RTT-October-2026", "Part_2A", "C_999", 7, 7),
    ]
    .join("\n");
    let prev = [
        header.join(","),
        row("RTT-September-2026", "Part_1B", "C_110", 30, 30),
        row("RTT-September-2026", "Part_1B", "C_999", 30, 30),
    ]
    .join("\n");
    for (name, text) in [("rtt_return_now", now), ("rtt_return_prev", prev)] {
        let r = ReaderBuilder::new(schema.clone())
            .with_header(true)
            .build(std::io::Cursor::new(text.into_bytes()))
            .unwrap();
        let batches: Vec<_> = r.map(|b| b.unwrap()).collect();
        let t = datafusion::datasource::MemTable::try_new(schema.clone(), vec![batches]).unwrap();
        ctx.session()
            .register_table(name, std::sync::Arc::new(t))
            .unwrap();
    }
    let fs = icsw_quality::rtt_return_findings(&ctx, &fx.config, Month::parse("2026-10").unwrap())
        .await
        .unwrap();
    let got: Vec<(String, String, i64, Vec<String>)> = fs
        .iter()
        .map(|f| {
            (
                f.check_id.clone(),
                f.severity.name().to_string(),
                f.count,
                f.keys.clone(),
            )
        })
        .collect();
    let mut got = got;
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "returns.rtt_high_share_short_waits".into(),
                "warning".into(),
                9,
                vec![]
            ),
            (
                "returns.rtt_part_2a_exceeds_part_2".into(),
                "error".into(),
                1,
                vec!["W2U3Z/C_110".into()]
            ),
            (
                "returns.rtt_part_zero".into(),
                "warning".into(),
                1,
                vec!["Part_1B".into()]
            ),
            (
                "returns.rtt_total_mismatch".into(),
                "error".into(),
                1,
                vec!["W2U3Z/Part_2".into()]
            ),
        ]
    );
}
