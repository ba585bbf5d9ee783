//! `icsw load` against the extract contract (shared/contract/README.md).

use crate::support::*;
use icsw_ingest::RefusalKind;
use icsw_model::Feed;
use icsw_store::LoadOutcome;
use serde_json::json;

fn refusal(r: &icsw_ingest::LoadReport) -> Option<RefusalKind> {
    r.loads
        .iter()
        .find_map(|l| l.refusal.as_ref().map(|x| x.kind))
}

#[tokio::test]
async fn bst_arrival_at_half_past_midnight_counts_in_july() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-07-02",
        vec![file(
            Feed::AeAttendances,
            vec![
                ae("A1", "2026-07-01 00:30:00"),
                ae("A2", "2026-06-30 23:59:59"),
            ],
            Some(("2026-06-01", "2026-07-02")),
        )],
    );
    let r = fx.load().await;
    assert_eq!(refusal(&r), None);
    // 00:30 BST on 1 July is 23:30 UTC on 30 June, but its London date is
    // 1 July; 23:59:59 BST on 30 June stays in June.
    assert_eq!(
        fx.rows(
            "SELECT attendance_id, CAST(activity_date AS VARCHAR), \
             CAST(arrival_time AS VARCHAR), date_part('month', activity_date) \
             FROM ae_attendances ORDER BY 1"
        )
        .await,
        vec![
            vec!["A1", "2026-07-01", "2026-06-30T23:30:00Z", "7"],
            vec!["A2", "2026-06-30", "2026-06-30T22:59:59Z", "6"],
        ]
    );
}

#[tokio::test]
async fn skipped_spring_hour_is_rejected_and_october_durations_are_right() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![file(
            Feed::AeAttendances,
            vec![
                // Clocks went forward at 01:00 on 29 March 2026: 01:30 never happened.
                ae("GAP", "2026-03-29 01:30:00"),
                // 23:00 BST to 03:00 GMT across the change on 25 October: 5 hours.
                with(
                    ae("OCT", "2026-10-24 23:00:00"),
                    json!({"departure_time": "2026-10-25 03:00:00"}),
                ),
                // 01:30 happens twice on 25 October: the first (BST) is taken.
                ae("TWICE", "2026-10-25 01:30:00"),
            ],
            Some(("2026-03-01", "2026-10-31")),
        )],
    );
    let r = fx.load().await;
    assert_eq!(refusal(&r), None);
    assert_eq!(
        fx.rows("SELECT reason, column_name, row_number, value FROM quarantine")
            .await,
        vec![vec![
            "invalid_datetime",
            "arrival_time",
            "1",
            "2026-03-29T01:30:00"
        ]]
    );
    assert_eq!(
        fx.one("SELECT whole_minutes(arrival_time, departure_time) FROM ae_attendances WHERE attendance_id = 'OCT'")
            .await,
        "300"
    );
    assert_eq!(
        fx.one("SELECT CAST(arrival_time AS VARCHAR) FROM ae_attendances WHERE attendance_id = 'TWICE'")
            .await,
        "2026-10-25T00:30:00Z"
    );
}

#[tokio::test]
async fn a_second_extract_covering_five_days_replaces_exactly_those_days() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(
            Feed::AeAttendances,
            ae_days("a", "2026-10-01", 31),
            Some(("2026-10-01", "2026-11-01")),
        )],
    );
    let mut b = ae_days("b", "2026-10-10", 5);
    b.push(ae("b5", "2026-10-12 18:00:00"));
    fx.extract(
        "RYJ",
        "2026-11-02",
        vec![file(
            Feed::AeAttendances,
            b,
            Some(("2026-10-10", "2026-10-14")),
        )],
    );
    let r = fx.load().await;
    assert_eq!(r.loads.len(), 2);
    assert_eq!(r.loads[0].extract_date.unwrap().to_string(), "2026-11-01");
    // 31 rows, less a9..a13 (10-14 October), plus b0..b5: 32.
    assert_eq!(fx.one("SELECT count(*) FROM ae_attendances").await, "32");
    let gone = fx
        .rows("SELECT attendance_id FROM ae_attendances WHERE activity_date BETWEEN DATE '2026-10-10' AND DATE '2026-10-14' ORDER BY 1")
        .await;
    assert_eq!(gone, [["b0"], ["b1"], ["b2"], ["b3"], ["b4"], ["b5"]]);
    assert_eq!(
        fx.one("SELECT count(*) FROM ae_attendances WHERE attendance_id LIKE 'a%'")
            .await,
        "26"
    );
    assert_eq!(
        fx.rows("SELECT CAST(from_date AS VARCHAR) AS f, CAST(to_date AS VARCHAR) AS t, load_id FROM coverage ORDER BY from_date")
            .await,
        [
            ["2026-10-01", "2026-10-09", "1"],
            ["2026-10-10", "2026-10-14", "2"],
            ["2026-10-15", "2026-11-01", "1"]
        ]
    );
    // History: as at the first load, and as at its extract date.
    let at1 = fx.wh.view_at_version(1).await.unwrap();
    let ctx = icsw_query::WarehouseContext::new(&fx.wh, at1, &fx.config, &limits())
        .await
        .unwrap();
    assert_eq!(
        rows_of(&ctx, "SELECT count(*) FROM ae_attendances").await,
        [["31"]]
    );
    let at = fx.wh.view_as_at_date(date("2026-11-01")).await.unwrap();
    let ctx = icsw_query::WarehouseContext::new(&fx.wh, at, &fx.config, &limits())
        .await
        .unwrap();
    assert_eq!(
        rows_of(&ctx, "SELECT count(*) FROM ae_attendances").await,
        [["31"]]
    );
    assert_eq!(rows_of(&ctx, "SELECT count(*) FROM loads").await, [["1"]]);
}

#[tokio::test]
async fn loading_again_changes_nothing() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(
            Feed::AeAttendances,
            ae_days("a", "2026-10-01", 10),
            Some(("2026-10-01", "2026-11-01")),
        )],
    );
    let first = fx.load().await;
    assert_eq!(first.loads.len(), 1);
    assert_eq!(first.version, 1);
    let before = fx
        .rows("SELECT * FROM ae_attendances ORDER BY attendance_id")
        .await;
    let again = fx.load().await;
    assert!(again.loads.is_empty());
    assert_eq!(again.skipped.len(), 1);
    assert_eq!(again.version, 1);
    assert_eq!(fx.wh.latest_version().await.unwrap(), 1);
    assert_eq!(
        fx.rows("SELECT * FROM ae_attendances ORDER BY attendance_id")
            .await,
        before
    );
}

#[tokio::test]
async fn a_late_extract_loads_only_dates_no_later_extract_covered() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-11-03",
        vec![
            file(
                Feed::AeAttendances,
                ae_days("n", "2026-10-28", 7),
                Some(("2026-10-28", "2026-11-03")),
            ),
            file(
                Feed::RttEvents,
                vec![
                    rtt("e1", "p1", "2026-10-01", "10", "REFERRAL"),
                    rtt("e2", "p1", "2026-10-20", "20", "OUTPATIENT"),
                    rtt("e3", "p2", "2026-10-02", "10", "REFERRAL"),
                ],
                None,
            ),
        ],
    );
    assert_eq!(fx.load().await.loads[0].outcome, LoadOutcome::Loaded);
    // The extract of 1 November arrives after that of 3 November.
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![
            file(
                Feed::AeAttendances,
                ae_days("o", "2026-10-25", 8),
                Some(("2026-10-25", "2026-11-01")),
            ),
            file(
                Feed::RttEvents,
                (0..5)
                    .map(|i| rtt(&format!("x{i}"), "p9", "2026-10-01", "10", "REFERRAL"))
                    .collect(),
                None,
            ),
        ],
    );
    let r = fx.load().await;
    let l = &r.loads[0];
    assert_eq!(l.outcome, LoadOutcome::LoadedLate);
    assert!(l.late);
    // 25-27 October are new (o0..o2); 28 October - 1 November (o3..o7) were
    // covered by the later extract; its rtt_events snapshot is older.
    assert_eq!(
        fx.rows(
            "SELECT attendance_id FROM ae_attendances WHERE attendance_id LIKE 'o%' ORDER BY 1"
        )
        .await,
        [["o0"], ["o1"], ["o2"]]
    );
    assert_eq!(
        fx.rows(
            "SELECT feed, reason, count(*) FROM quarantine GROUP BY feed, reason ORDER BY 1, 2"
        )
        .await,
        [
            ["ae_attendances", "covered_by_later_extract", "5"],
            ["rtt_events", "late_snapshot_skipped", "5"]
        ]
    );
    assert_eq!(fx.one("SELECT count(*) FROM rtt_events").await, "3");
    assert_eq!(
        fx.rows("SELECT load_id, outcome, late FROM loads ORDER BY load_id")
            .await,
        [["1", "loaded", "false"], ["2", "loaded_late", "true"]]
    );
    // rows read = stored + quarantined, per file.
    assert_eq!(
        fx.rows("SELECT feed, rows_read, rows_stored, rows_quarantined FROM load_files WHERE load_id = 2 ORDER BY feed")
            .await,
        [["ae_attendances", "8", "3", "5"], ["rtt_events", "5", "0", "5"]]
    );
}

/// Replaces a manifest value (a sha256 or a row count) in place.
fn edit_manifest(dir: &std::path::Path, from: &str, to: &str) {
    let p = dir.join("_manifest.json");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from} not in manifest");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn manifest_sha(dir: &std::path::Path, i: usize) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("_manifest.json")).unwrap()).unwrap();
    m["files"][i]["sha256"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_sha256_mismatch_refuses_the_extract_and_keeps_the_previous_data() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(
            Feed::AeAttendances,
            ae_days("a", "2026-10-01", 10),
            Some(("2026-10-01", "2026-11-01")),
        )],
    );
    fx.load().await;
    let dir = fx.extract(
        "RYJ",
        "2026-11-02",
        vec![file(
            Feed::AeAttendances,
            ae_days("b", "2026-10-01", 3),
            Some(("2026-10-01", "2026-11-02")),
        )],
    );
    let good = manifest_sha(&dir, 0);
    edit_manifest(&dir, &good, &"0".repeat(64));
    let r = fx.load().await;
    let refusal = r.loads[0].refusal.as_ref().expect("refused");
    assert_eq!(refusal.kind, RefusalKind::Sha256Mismatch);
    assert_eq!(refusal.file.as_deref(), Some("ae_attendances.parquet"));
    let text = refusal.to_string();
    assert!(
        text.contains("RYJ")
            && text.contains("2026-11-02")
            && text.contains("ae_attendances.parquet"),
        "{text}"
    );
    // The previous data is still served.
    assert_eq!(fx.one("SELECT count(*) FROM ae_attendances").await, "10");
    assert_eq!(
        fx.rows("SELECT load_id, outcome, refusal FROM loads ORDER BY load_id")
            .await,
        [["1", "loaded", ""], ["2", "refused", "sha256_mismatch"]]
    );
    // Not tried again until its manifest changes...
    let again = fx.load().await;
    assert!(again.loads.is_empty());
    let skip = again
        .skipped
        .iter()
        .find(|s| s.extract_date == "2026-11-02")
        .unwrap();
    assert_eq!(skip.why, "refused before and its manifest has not changed");
    // ...and then loaded.
    edit_manifest(&dir, &"0".repeat(64), &good);
    let fixed = fx.load().await;
    assert_eq!(fixed.loads[0].outcome, LoadOutcome::Loaded);
    assert_eq!(fx.one("SELECT count(*) FROM ae_attendances").await, "3");
}

#[tokio::test]
async fn each_refusal_names_trust_file_and_column() {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use icsw_generate::landing::{batch_from_json_schema, delivery_schema, ExtractFile};
    use std::sync::Arc;

    let covers = Some(("2026-10-01", "2026-10-31"));
    // A batch of the feed without one column / with one column's type changed.
    let changed = |drop: &str, retype: Option<DataType>| {
        let s = delivery_schema(Feed::AeAttendances);
        let fields: Vec<Field> = s
            .fields()
            .iter()
            .filter(|f| f.name() != drop || retype.is_some())
            .map(|f| match &retype {
                Some(t) if f.name() == drop => Field::new(f.name(), t.clone(), true),
                _ => f.as_ref().clone(),
            })
            .collect();
        let mut row = ae("A", "2026-10-05 10:00:00");
        if let Some(DataType::Utf8) = retype {
            row[drop] = json!(row[drop].as_str().unwrap_or("x"));
        }
        if let Some(DataType::Int64) = retype {
            row[drop] = json!(7);
        }
        ExtractFile::new(
            Feed::AeAttendances,
            batch_from_json_schema(Arc::new(Schema::new(fields)), &[row]),
            covers.map(|(a, b)| (date(a), date(b))),
        )
    };
    type Make<'a> = Box<dyn Fn(&Fx) -> String + 'a>;
    let cases: Vec<(&str, Make<'_>, RefusalKind, Option<&str>)> = vec![
        (
            "missing required column",
            Box::new(|fx: &Fx| {
                fx.extract("RYJ", "2026-10-31", vec![changed("admitted", None)]);
                "ae_attendances.parquet".into()
            }),
            RefusalKind::SchemaDrift,
            Some("admitted"),
        ),
        (
            "required column of a wrong type",
            Box::new(|fx: &Fx| {
                fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![changed("arrival_time", Some(DataType::Utf8))],
                );
                "ae_attendances.parquet".into()
            }),
            RefusalKind::SchemaDrift,
            Some("arrival_time"),
        ),
        (
            "optional column of a wrong type",
            Box::new(|fx: &Fx| {
                fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![changed("commissioner_code", Some(DataType::Int64))],
                );
                "ae_attendances.parquet".into()
            }),
            RefusalKind::SchemaDrift,
            Some("commissioner_code"),
        ),
        (
            "row count mismatch",
            Box::new(|fx: &Fx| {
                let d = fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![file(
                        Feed::AeAttendances,
                        ae_days("a", "2026-10-01", 3),
                        covers,
                    )],
                );
                edit_manifest(&d, "\"rows\": 3", "\"rows\": 4");
                "ae_attendances.parquet".into()
            }),
            RefusalKind::RowCountMismatch,
            None,
        ),
        (
            "not Parquet",
            Box::new(|fx: &Fx| {
                let d = fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![file(
                        Feed::AeAttendances,
                        ae_days("a", "2026-10-01", 3),
                        covers,
                    )],
                );
                let p = d.join("ae_attendances.parquet");
                let old = manifest_sha(&d, 0);
                std::fs::write(&p, b"not parquet at all").unwrap();
                let new = icsw_generate::landing::file_sha256(&p).unwrap();
                edit_manifest(&d, &old, &new);
                "ae_attendances.parquet".into()
            }),
            RefusalKind::UnreadableFile,
            None,
        ),
        (
            "file named but absent",
            Box::new(|fx: &Fx| {
                let d = fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![file(
                        Feed::AeAttendances,
                        ae_days("a", "2026-10-01", 3),
                        covers,
                    )],
                );
                std::fs::remove_file(d.join("ae_attendances.parquet")).unwrap();
                "ae_attendances.parquet".into()
            }),
            RefusalKind::MissingFile,
            None,
        ),
        (
            "manifest of another trust",
            Box::new(|fx: &Fx| {
                let d = fx.extract(
                    "RYJ",
                    "2026-10-31",
                    vec![file(
                        Feed::AeAttendances,
                        ae_days("a", "2026-10-01", 3),
                        covers,
                    )],
                );
                edit_manifest(&d, "\"trust\": \"RYJ\"", "\"trust\": \"RQM\"");
                "_manifest.json".into()
            }),
            RefusalKind::InvalidManifest,
            None,
        ),
    ];
    for (name, make, kind, column) in cases {
        let fx = Fx::new();
        let file_name = make(&fx);
        let r = fx.load().await;
        let got = r.loads[0]
            .refusal
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: not refused"));
        assert_eq!(got.kind, kind, "{name}");
        assert_eq!(got.trust, "RYJ", "{name}");
        assert_eq!(got.extract_date, "2026-10-31", "{name}");
        assert_eq!(got.file.as_deref(), Some(file_name.as_str()), "{name}");
        assert_eq!(got.column.as_deref(), column, "{name}: {got}");
        assert_eq!(
            fx.one("SELECT count(*) FROM ae_attendances").await,
            "0",
            "{name}"
        );
    }
    // An extract from a trust the ICS does not have.
    let fx = Fx::new();
    fx.extract(
        "XYZ",
        "2026-10-31",
        vec![file(
            Feed::AeAttendances,
            ae_days("a", "2026-10-01", 3),
            covers,
        )],
    );
    let r = fx.load().await;
    let got = r.loads[0].refusal.as_ref().expect("refused");
    assert_eq!(got.kind, RefusalKind::UnknownTrust);
    assert!(got.message.contains("XYZ is not configured"), "{got}");
    // Extra columns are allowed; a missing optional column reads as null.
    let fx = Fx::new();
    let mut row = ae("A", "2026-10-05 10:00:00");
    row.as_object_mut().unwrap().remove("commissioner_code");
    let s = delivery_schema(Feed::AeAttendances);
    let mut fields: Vec<Field> = s
        .fields()
        .iter()
        .filter(|f| f.name() != "commissioner_code")
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("local_extra", DataType::Utf8, true));
    row["local_extra"] = json!("anything");
    let b = batch_from_json_schema(Arc::new(Schema::new(fields)), &[row]);
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![ExtractFile::new(
            Feed::AeAttendances,
            b,
            covers.map(|(a, b)| (date(a), date(b))),
        )],
    );
    let r = fx.load().await;
    assert_eq!(refusal(&r), None);
    assert_eq!(
        fx.rows("SELECT attendance_id, commissioner_code FROM ae_attendances")
            .await,
        [["A", ""]]
    );
    let _unused: Option<ArrayRef> = Some(Arc::new(StringArray::from(vec!["x"])));
}

/// The accounting fixture: one A&E file with a row for each rule.
fn accounting_rows() -> Vec<serde_json::Value> {
    let a = |id: &str| ae(id, "2026-10-05 10:00:00");
    vec![
        a("G1"),
        with(a("M1"), json!({"attendance_id": null})),
        with(a("M2"), json!({"site_code": ""})),
        with(a("C1"), json!({"department_type": "05"})),
        with(a("C2"), json!({"department_type": "1"})),
        with(a("C3"), json!({"commissioner_code": "w2u3z"})),
        ae("T1", "2026-03-29 01:15:00"),
        ae("O1", "2026-11-05 10:00:00"),
        // Missing and invalid: the first reason in the contract's order.
        with(a("MC"), json!({"site_code": null, "department_type": "09"})),
        with(a("D1"), json!({"department_type": "01"})),
        with(a("D1"), json!({"department_type": "02"})),
        a("E1"),
        a("E1"),
        a("E1"),
        // An id with a valid copy and an invalid one: the valid copy is
        // rejected too (the test looks at every row read).
        a("X1"),
        with(a("X1"), json!({"department_type": "07"})),
    ]
}

async fn check_accounting(ids_in_memory: usize) {
    let mut fx = Fx::new();
    fx.config.load.max_rejected_fraction = 1.0;
    fx.config.load.ids_in_memory = ids_in_memory;
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![file(
            Feed::AeAttendances,
            accounting_rows(),
            Some(("2026-03-01", "2026-10-31")),
        )],
    );
    let r = fx.load().await;
    assert_eq!(refusal(&r), None);
    let f = &r.loads[0].files[0];
    // 16 read; stored G1 and one E1; 14 quarantined, 12 of them rejected.
    assert_eq!(
        (
            f.rows_read,
            f.rows_stored,
            f.rows_quarantined,
            f.rows_rejected
        ),
        (16, 2, 14, 12)
    );
    assert_eq!(
        fx.rows("SELECT attendance_id FROM ae_attendances ORDER BY 1")
            .await,
        [["E1"], ["G1"]]
    );
    assert_eq!(
        fx.rows(
            "SELECT row_number, reason, column_name, value FROM quarantine ORDER BY row_number"
        )
        .await,
        [
            ["2", "missing_required", "attendance_id", ""],
            ["3", "missing_required", "site_code", ""],
            ["4", "invalid_code", "department_type", "05"],
            ["5", "invalid_code", "department_type", "1"],
            ["6", "invalid_code", "commissioner_code", "w2u3z"],
            [
                "7",
                "invalid_datetime",
                "arrival_time",
                "2026-03-29T01:15:00"
            ],
            ["8", "outside_covers", "arrival_time", "2026-11-05T10:00:00"],
            ["9", "missing_required", "site_code", ""],
            ["10", "duplicate_id", "attendance_id", "D1"],
            ["11", "duplicate_id", "attendance_id", "D1"],
            ["13", "exact_duplicate", "attendance_id", "E1"],
            ["14", "exact_duplicate", "attendance_id", "E1"],
            ["15", "duplicate_id", "attendance_id", "X1"],
            ["16", "invalid_code", "department_type", "07"],
        ]
    );
    // Nothing is lost: every quarantined row keeps its whole record.
    assert_eq!(
        fx.one("SELECT count(*) FROM quarantine WHERE record LIKE '%\"local_patient_id\":\"P-%'")
            .await,
        "14"
    );
    assert_eq!(
        fx.rows("SELECT rows_read, rows_stored, rows_quarantined, rows_rejected FROM loads")
            .await,
        [["16", "2", "14", "12"]]
    );
}

#[tokio::test]
async fn quarantine_counts_add_up() {
    check_accounting(4_000_000).await;
}

#[tokio::test]
async fn quarantine_counts_add_up_when_ids_take_several_passes() {
    // Two ids in memory at a time: the delivery is checked in eight passes.
    check_accounting(2).await;
}

#[tokio::test]
async fn the_rejected_rows_guard_holds_an_extract_over_half_bad() {
    let fx = Fx::new();
    let covers = Some(("2026-10-01", "2026-10-31"));
    let bad = |id: &str| {
        with(
            ae(id, "2026-10-05 10:00:00"),
            json!({"department_type": "05"}),
        )
    };
    // 2 of 4 rejected: exactly half is allowed.
    fx.extract(
        "RYJ",
        "2026-10-30",
        vec![file(
            Feed::AeAttendances,
            vec![
                ae("g1", "2026-10-05 10:00:00"),
                ae("g2", "2026-10-05 10:00:00"),
                bad("b1"),
                bad("b2"),
            ],
            covers,
        )],
    );
    // 3 of 5 rejected (the exact duplicate does not count): held.
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![file(
            Feed::AeAttendances,
            vec![
                ae("h1", "2026-10-05 10:00:00"),
                ae("h1", "2026-10-05 10:00:00"),
                bad("c1"),
                bad("c2"),
                bad("c3"),
            ],
            covers,
        )],
    );
    let r = fx.load().await;
    assert!(r.loads[0].refusal.is_none());
    let held = r.loads[1].refusal.as_ref().expect("held");
    assert_eq!(held.kind, RefusalKind::TooManyRejected);
    assert_eq!(held.feed, Some(Feed::AeAttendances));
    assert!(held.message.contains("3 of 5"), "{held}");
    assert_eq!(
        fx.rows("SELECT attendance_id FROM ae_attendances ORDER BY 1")
            .await,
        [["g1"], ["g2"]]
    );
}

#[tokio::test]
async fn the_snapshot_guard_holds_a_shrunken_snapshot() {
    let fx = Fx::new();
    let events = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                rtt(
                    &format!("e{i}"),
                    &format!("p{i}"),
                    "2026-10-01",
                    "10",
                    "REFERRAL",
                )
            })
            .collect()
    };
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(Feed::RttEvents, events(10), None)],
    );
    fx.extract(
        "RYJ",
        "2026-11-02",
        vec![file(Feed::RttEvents, events(4), None)],
    );
    let r = fx.load().await;
    assert_eq!(
        r.loads[1].refusal.as_ref().map(|x| x.kind),
        Some(RefusalKind::ShrunkenSnapshot)
    );
    assert_eq!(fx.one("SELECT count(*) FROM rtt_events").await, "10");
    // Half the previous snapshot is not fewer than half: accepted.
    fx.extract(
        "RYJ",
        "2026-11-03",
        vec![file(Feed::RttEvents, events(5), None)],
    );
    let r = fx.load().await;
    assert!(r.loads[0].refusal.is_none());
    assert_eq!(fx.one("SELECT count(*) FROM rtt_events").await, "5");
}

#[tokio::test]
async fn a_redated_id_supersedes_the_stored_row_and_a_late_one_does_not() {
    let fx = Fx::new();
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(
            Feed::AeAttendances,
            vec![
                ae("X", "2026-10-05 10:00:00"),
                ae("Y", "2026-10-06 10:00:00"),
            ],
            Some(("2026-10-01", "2026-10-31")),
        )],
    );
    // X re-dated to 21 October, in a range of its own.
    fx.extract(
        "RYJ",
        "2026-11-02",
        vec![file(
            Feed::AeAttendances,
            vec![ae("X", "2026-10-21 09:00:00")],
            Some(("2026-10-20", "2026-10-25")),
        )],
    );
    fx.load().await;
    assert_eq!(
        fx.rows("SELECT attendance_id, CAST(activity_date AS VARCHAR), _load_id FROM ae_attendances ORDER BY 1")
            .await,
        [["X", "2026-10-21", "2"], ["Y", "2026-10-06", "1"]]
    );
    assert_eq!(
        fx.rows("SELECT load_id, record_id, CAST(stored_activity_date AS VARCHAR), stored_load_id FROM superseded")
            .await,
        [["2", "X", "2026-10-05", "1"]]
    );
    assert_eq!(
        fx.one("SELECT rows_superseded FROM loads WHERE load_id = 2")
            .await,
        "1"
    );
    // A late extract re-dating Y to 1 October: the stored row is newer.
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![file(
            Feed::AeAttendances,
            vec![ae("Y", "2026-09-30 10:00:00")],
            Some(("2026-09-30", "2026-09-30")),
        )],
    );
    let r = fx.load().await;
    assert_eq!(r.loads[0].outcome, LoadOutcome::LoadedLate);
    assert_eq!(
        fx.rows("SELECT reason, value FROM quarantine").await,
        [["id_held_by_later_extract", "Y"]]
    );
    assert_eq!(
        fx.one(
            "SELECT CAST(activity_date AS VARCHAR) FROM ae_attendances WHERE attendance_id = 'Y'"
        )
        .await,
        "2026-10-06"
    );
}

#[tokio::test]
async fn doubtful_rows_are_stored_with_their_warnings() {
    let fx = Fx::new();
    // Extracted at 01:00 UTC on 1 November 2026 (GMT): local date 1 November.
    fx.extract(
        "RYJ",
        "2026-10-31",
        vec![
            file(
                Feed::AeAttendances,
                vec![
                    ae("ok", "2026-10-05 10:00:00"),
                    with(ae("nhs", "2026-10-05 10:00:00"), json!({"nhs_number": "9434765910"})),
                    with(
                        ae("back", "2026-10-05 10:00:00"),
                        json!({"departure_time": "2026-10-05 09:00:00"}),
                    ),
                    with(
                        ae("dta", "2026-10-05 10:00:00"),
                        json!({"decision_to_admit_time": "2026-10-05 09:59:00"}),
                    ),
                    with(ae("open", "2026-10-30 23:00:00"), json!({"departure_time": null})),
                    with(ae("recent", "2026-10-31 12:00:00"), json!({"departure_time": null})),
                    ae("future", "2026-11-02 10:00:00"),
                ],
                Some(("2026-10-01", "2026-11-02")),
            ),
            file(
                Feed::InpatientSpells,
                vec![with(
                    spell("s1", "2026-10-05 10:00:00", "11"),
                    json!({"treatment_function_code": "999", "discharge_time": "2026-10-04 10:00:00"}),
                )],
                Some(("2026-10-01", "2026-10-31")),
            ),
        ],
    );
    let r = fx.load().await;
    assert_eq!(refusal(&r), None);
    assert_eq!(
        fx.rows("SELECT attendance_id, _warnings FROM ae_attendances ORDER BY 1")
            .await,
        [
            ["back", "departure_before_arrival"],
            ["dta", "decision_to_admit_outside_stay"],
            ["future", "future_activity_date"],
            ["nhs", "invalid_nhs_number"],
            ["ok", ""],
            // 23:00 GMT on 30 October to 01:00 on 1 November: 26 hours open.
            ["open", "ae_open_over_24h"],
            ["recent", ""],
        ]
    );
    assert_eq!(
        fx.one("SELECT _warnings FROM inpatient_spells").await,
        "discharge_before_admission,unknown_treatment_function"
    );
    assert_eq!(fx.one("SELECT sum(rows_warned) FROM load_files").await, "6");
}

#[tokio::test]
async fn generated_extracts_in_every_dialect_load_whole() {
    let fx = Fx::new();
    let mut opts = icsw_generate::Options::new(
        &["RYJ", "RQM", "R1K", "RAS"],
        date("2026-11-01"),
        date("2026-11-02"),
    );
    opts.scale = 8.0;
    opts.history_days = 10;
    let g = icsw_generate::generate(&fx.landing, &opts).unwrap();
    let r = fx.load().await;
    assert_eq!(r.loads.len(), 8);
    for l in &r.loads {
        assert!(l.refusal.is_none(), "{:?}", l.refusal);
        assert_eq!(l.rows_quarantined(), 0, "{} {:?}", l.trust, l.files);
        assert_eq!(l.rows_read(), l.rows_stored());
    }
    assert_eq!(r.loads.iter().map(|l| l.rows_read()).sum::<u64>(), g.rows);
    // Every trust's data is there, whatever types its EPR wrote.
    assert_eq!(
        fx.rows("SELECT trust, count(*) > 0 FROM ae_attendances GROUP BY trust ORDER BY trust")
            .await,
        [
            ["R1K", "true"],
            ["RAS", "true"],
            ["RQM", "true"],
            ["RYJ", "true"]
        ]
    );
}

#[tokio::test]
async fn the_same_code_loads_into_an_object_store_url() {
    let mut fx = Fx::new();
    fx.wh = open_memory().await;
    fx.extract(
        "RYJ",
        "2026-11-01",
        vec![file(
            Feed::AeAttendances,
            ae_days("a", "2026-10-01", 4),
            Some(("2026-10-01", "2026-11-01")),
        )],
    );
    fx.load().await;
    assert!(fx.wh.url_of("x").starts_with("memory:///"));
    assert_eq!(fx.one("SELECT count(*) FROM ae_attendances").await, "4");
    assert_eq!(fx.one("SELECT count(*) FROM loads").await, "1");
    // S3 and Azure URLs open through the same code (nothing is fetched
    // until used).
    for url in ["s3://bucket/warehouse", "az://container/warehouse"] {
        std::env::set_var("AWS_REGION", "eu-west-2");
        std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", "icsw");
        let w = icsw_store::Warehouse::open(url).expect(url);
        assert!(
            w.url_of("data/x.parquet")
                .ends_with("/warehouse/data/x.parquet"),
            "{url}"
        );
    }
}

/// The command line loads the feeds of an extract on every core: what it
/// stores, quarantines, supersedes and records is exactly what a load one
/// feed after another (a current-thread runtime) gives, on generated
/// nights with duplicated rows, invalid codes and re-dated activity.
#[test]
fn a_load_on_every_core_stores_exactly_what_one_feed_at_a_time_does() {
    let landing = tempfile::tempdir().unwrap();
    let mut opts =
        icsw_generate::Options::new(&["RYJ", "RQM"], date("2026-11-01"), date("2026-11-03"));
    opts.scale = 4.0;
    opts.history_days = 40;
    opts.faults = [
        icsw_generate::Fault::DuplicatedRows,
        icsw_generate::Fault::InvalidCodes,
        icsw_generate::Fault::InvalidNhsNumbers,
    ]
    .into_iter()
    .collect();
    icsw_generate::generate(landing.path(), &opts).unwrap();
    let load = |runtime: tokio::runtime::Runtime| {
        let fx = Fx::new();
        let config = fx.config.clone();
        let r = runtime.block_on(async {
            let r = icsw_ingest::load_all(
                &icsw_ingest::Landing::new(landing.path()),
                &fx.wh,
                &config,
                &icsw_ingest::NoProgress,
            )
            .await
            .unwrap();
            let ctx = fx.ctx().await;
            let mut tables = Vec::new();
            for (name, order) in [
                ("ae_attendances", "attendance_id"),
                ("inpatient_spells", "spell_id"),
                ("outpatient_appointments", "appointment_id"),
                ("referrals", "referral_id"),
                ("rtt_events", "event_id"),
                ("patients", "local_patient_id"),
                ("quarantine", "load_id, file, row_number"),
                ("superseded", "load_id, feed, record_id"),
                ("rtt_period_history", "trust, pathway_id, period_number, valid_from"),
            ] {
                let sql = format!("SELECT * FROM {name} ORDER BY trust, {order}");
                tables.push((name, rows_of(&ctx, &sql).await));
            }
            let loads = rows_of(
                &ctx,
                "SELECT load_id, trust, outcome, rows_read, rows_stored, rows_quarantined, rows_superseded \
                 FROM loads ORDER BY load_id",
            )
            .await;
            (r.loads.len(), loads, tables)
        });
        drop(fx);
        r
    };
    let two = load(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let one = load(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    assert_eq!(two.0, 6);
    assert_eq!(two.1, one.1, "the load log");
    for ((name, a), (_, b)) in two.2.iter().zip(&one.2) {
        assert!(!a.is_empty() || *name == "superseded", "{name} is empty");
        assert_eq!(a, b, "{name}");
    }
}
