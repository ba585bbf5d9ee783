//! Derived tables stored with each version: what a session reads from the
//! stored files equals what the walk over the events gives, on the golden
//! fixtures and on generated data (with its RTT faults); a load that does
//! not change a trust's events keeps its files; `rebuild_derived` brings a
//! warehouse written without them up to date; and a return's gate is held
//! only by findings about its own feeds.

use crate::golden::load_fixture;
use crate::support::{date, file, rows_of, rtt, Fx};
use icsw_generate::{Fault, Options};
use icsw_model::{Feed, Month};
use icsw_query::derived::DERIVATIONS;
use icsw_query::{Limits, WarehouseContext};
use icsw_returns::{ReturnKind, ReturnRequest};
use icsw_store::View;
use std::path::Path;

const TABLES: [(&str, &str); 4] = [
    (
        "rtt_period_history",
        "SELECT * FROM rtt_period_history ORDER BY trust, pathway_id, period_number, valid_from",
    ),
    (
        "rtt_findings",
        "SELECT * FROM rtt_findings ORDER BY trust, pathway_id, event_id, finding, period_number",
    ),
    (
        "rtt_census_counts",
        "SELECT * FROM rtt_census_counts ORDER BY census_date, trust, commissioner_code, \
         treatment_function_code, part, band, start_known",
    ),
    (
        "rtt_census_periods",
        "SELECT trust, census_date, part, band, COUNT(*) FROM rtt_census_periods \
         GROUP BY trust, census_date, part, band ORDER BY trust, census_date, part, band",
    ),
];

/// The view with the stored derived tables of `trusts` (every trust when
/// `None`) forgotten, as a warehouse written before them would be.
fn without_derived(view: &View, trusts: Option<&[&str]>) -> View {
    let mut v = view.clone();
    for (t, (_, s)) in v.trusts.iter_mut() {
        if trusts.is_none_or(|ts| ts.contains(&t.as_str())) {
            s.derived.clear();
        }
    }
    v
}

async fn session(fx: &Fx, view: View) -> WarehouseContext {
    WarehouseContext::new(&fx.wh, view, &fx.config, &Limits::default())
        .await
        .unwrap()
}

async fn rtt_csv(ctx: &WarehouseContext, period: Month) -> String {
    let req = ReturnRequest {
        kind: ReturnKind::Rtt,
        period,
        trust: None,
        as_at: Default::default(),
        allow_incomplete: true,
    };
    let mut out = Vec::new();
    icsw_returns::write_csv(ctx, &req, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// Every trust with events has its derived tables stored and current, a
/// session reads them (not the events), and they, the census periods over
/// them and the RTT return equal the walk's, whether no trust's or only
/// one trust's tables are stored.
async fn stored_equals_walked(fx: &Fx, what: &str) {
    let view = fx.wh.current().await.unwrap().view();
    for (t, (_, s)) in &view.trusts {
        if s.feeds
            .get(&Feed::RttEvents)
            .is_some_and(|f| !f.files.is_empty())
        {
            for d in DERIVATIONS {
                assert!(
                    d.stored(s).is_some(),
                    "{what}: {t} has no current {}",
                    d.table
                );
            }
        }
    }
    let stored = session(fx, view.clone()).await;
    let plan = rows_of(&stored, "EXPLAIN SELECT * FROM rtt_period_history")
        .await
        .concat()
        .join(" ");
    assert!(
        plan.contains("derived/rtt_period_history/trust=") && !plan.contains("rtt_events"),
        "{what}: the session walks the events: {plan}"
    );
    let first = view.trusts.keys().next().unwrap().clone();
    let walked = session(fx, without_derived(&view, None)).await;
    let mixed = session(fx, without_derived(&view, Some(&[first.as_str()]))).await;
    for (table, sql) in TABLES {
        let want = rows_of(&walked, sql).await;
        assert!(
            table == "rtt_findings" || !want.is_empty(),
            "{what}: {table} is empty"
        );
        assert_eq!(rows_of(&stored, sql).await, want, "{what}: {table}");
        assert_eq!(rows_of(&mixed, sql).await, want, "{what}: {table}, mixed");
    }
    let period = view.latest_complete_month().unwrap();
    let want = rtt_csv(&walked, period).await;
    assert_eq!(rtt_csv(&stored, period).await, want, "{what}: RTT return");
    assert_eq!(
        rtt_csv(&mixed, period).await,
        want,
        "{what}: RTT return, mixed"
    );
}

#[tokio::test]
async fn stored_derived_tables_equal_the_walk_on_golden_and_generated_data() {
    for name in ["rtt", "rtt_waits"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("golden")
            .join(format!("{name}.json"));
        let fx = load_fixture(&path).await;
        stored_equals_walked(&fx, name).await;
    }
    let fx = Fx::new();
    let mut opts = Options::new(
        &["RYJ", "RQM", "R1K", "RAS"],
        date("2026-11-01"),
        date("2026-11-02"),
    );
    opts.scale = 6.0;
    opts.history_days = 90;
    opts.faults = [Fault::StopsWithoutStarts].into_iter().collect();
    icsw_generate::generate(&fx.landing, &opts).unwrap();
    fx.load().await;
    stored_equals_walked(&fx, "generated").await;
}

fn rtt_extract(fx: &Fx, night: &str, events: usize) {
    let rows = (0..events)
        .map(|i| {
            rtt(
                &format!("e{i}"),
                &format!("p{i}"),
                "2026-09-01",
                "10",
                "REFERRAL",
            )
        })
        .collect();
    fx.extract("RYJ", night, vec![file(Feed::RttEvents, rows, None)]);
}

#[tokio::test]
async fn a_load_derives_only_what_its_data_changed_and_rebuild_fills_an_old_warehouse() {
    let fx = Fx::new();
    rtt_extract(&fx, "2026-10-01", 3);
    fx.load().await;
    let derived = |s: &icsw_store::VersionState| s.trusts["RYJ"].derived.clone();
    let v1 = fx.wh.current().await.unwrap();
    let first = derived(&v1);
    assert_eq!(first["rtt_period_history"].files[0].rows, 3);
    assert!(first["rtt_period_history"].files[0]
        .path
        .ends_with(&format!("v{:020}-0.parquet", v1.version)));

    // An extract without rtt_events leaves the events, and so the derived
    // files, as they were.
    fx.extract(
        "RYJ",
        "2026-10-02",
        vec![file(
            Feed::AeAttendances,
            vec![crate::support::ae("a1", "2026-10-02 10:00:00")],
            Some(("2026-10-02", "2026-10-02")),
        )],
    );
    fx.load().await;
    assert_eq!(derived(&fx.wh.current().await.unwrap()), first);

    // New events: derived again, in the version that brought them.
    rtt_extract(&fx, "2026-10-03", 5);
    fx.load().await;
    let v3 = fx.wh.current().await.unwrap();
    assert_eq!(derived(&v3)["rtt_period_history"].files[0].rows, 5);
    assert_eq!(
        derived(&v3)["rtt_period_history"].files[0].load_id,
        v3.version
    );

    // As at the first load: the files of that version.
    let old = fx.wh.view_at_version(v1.version).await.unwrap();
    let ctx = session(&fx, old).await;
    assert_eq!(
        rows_of(&ctx, "SELECT COUNT(*) FROM rtt_period_history").await,
        [["3"]]
    );

    // A warehouse written before derived tables were stored: rebuild
    // publishes a version with them, and then has nothing to do.
    let mut bare = v3.clone();
    bare.version += 1;
    for s in bare.trusts.values_mut() {
        s.derived.clear();
    }
    fx.wh.publish(&bare).await.unwrap();
    let (done, version) = icsw_ingest::rebuild_derived(&fx.wh, &fx.config, false)
        .await
        .unwrap();
    assert_eq!(done.len(), DERIVATIONS.len());
    assert_eq!(version, bare.version + 1);
    let rebuilt = fx.wh.current().await.unwrap();
    assert_eq!(rebuilt.version, version);
    assert_eq!(derived(&rebuilt)["rtt_period_history"].files[0].rows, 5);
    let (again, same) = icsw_ingest::rebuild_derived(&fx.wh, &fx.config, false)
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(same, version);
}

/// A refused extract that carried only rtt_events holds the RTT return and
/// not the A&E or activity returns; one that carried every feed holds all
/// three, and the reason names the feeds.
#[tokio::test]
async fn a_refused_extract_holds_only_the_returns_made_from_its_feeds() {
    let fx = Fx::new();
    rtt_extract(&fx, "2026-10-31", 2);
    fx.load().await;
    // 1 November: only rtt_events, and its file does not match the manifest.
    rtt_extract(&fx, "2026-11-01", 2);
    let folder = fx.landing.join("RYJ").join("2026-11-01");
    let manifest = folder.join("_manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["files"][0]["rows"] = serde_json::json!(99);
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let report = fx.load().await;
    assert!(report.loads.iter().any(|l| l.refusal.is_some()));

    let ctx = fx.ctx().await;
    let gate = |kind, month: &str| {
        let (ctx, config, month) = (ctx.clone(), fx.config.clone(), Month::parse(month).unwrap());
        async move {
            icsw_quality::gate_reasons(&ctx, &config, kind, month, None)
                .await
                .unwrap()
        }
    };
    // A snapshot-only extract has no covers: its refusal touches the month
    // it is dated in.
    assert!(gate(ReturnKind::Rtt, "2026-10").await.is_empty());
    let rtt_held = gate(ReturnKind::Rtt, "2026-11").await;
    assert_eq!(rtt_held.len(), 1, "{rtt_held:?}");
    assert!(
        rtt_held[0].contains("completeness.extract_refused")
            && rtt_held[0].contains("it carried rtt_events"),
        "{rtt_held:?}"
    );
    assert!(gate(ReturnKind::Ae, "2026-11").await.is_empty());
    assert!(gate(ReturnKind::Activity, "2026-11").await.is_empty());

    // The provenance of each return says what holds it.
    let november = Month::parse("2026-11").unwrap();
    let assessed =
        icsw_returns::assess_all(&ctx, &fx.config, november, None, &icsw_quality::QualityGate)
            .await
            .unwrap();
    for p in assessed {
        let refused = p.reasons.iter().any(|r| r.contains("extract_refused"));
        assert_eq!(
            refused,
            p.kind == ReturnKind::Rtt,
            "{:?}: {:?}",
            p.kind,
            p.reasons
        );
    }
}
