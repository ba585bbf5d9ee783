use crate::fixture::{fixture, get, send, sql, sql_cell, table_rows, Reply};
use datafusion::arrow::array::RecordBatch;
use icsw_returns::{AsAt, ReturnKind, ReturnRequest};
use std::collections::BTreeSet;

const CSV: &str = "text/csv";

fn assert_status(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
}

fn error_code(r: &Reply) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

/// CSV text as rows of cells (no quoted commas in what these tests read).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A single-column CSV answer as a set.
fn csv_set(r: &Reply) -> BTreeSet<String> {
    csv_rows(&r.text())
        .into_iter()
        .skip(1)
        .map(|mut c| c.remove(0))
        .collect()
}

fn one(q: &str, who: &str) -> String {
    let r = sql(q, who, CSV);
    assert_status(&r, 200, q);
    let rows = csv_rows(&r.text());
    assert_eq!(rows.len(), 2, "{q}: {}", r.text());
    rows[1][0].clone()
}

#[test]
fn health_and_metrics_need_no_token() {
    let r = get("/healthz", "");
    assert_status(&r, 200, "healthz");
    assert_eq!(r.text(), "ok");
    get("/api/loads", "analyst");
    let m = get("/metrics", "");
    assert_status(&m, 200, "metrics");
    let text = m.text();
    assert!(text.contains("icsw_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/loads\""), "{text}");
    assert!(text.contains("icsw_warehouse_version"), "{text}");
}

#[test]
fn every_route_needs_a_valid_token() {
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/dashboards/ae"),
        ("GET", "/returns"),
        ("POST", "/api/sql"),
        ("GET", "/api/tables"),
        ("GET", "/api/quality"),
        ("GET", "/api/loads"),
        ("GET", "/api/returns"),
        ("GET", "/api/returns/ae/2026-10.csv"),
        ("GET", "/api/reports/ae-performance?period=2026-10"),
    ] {
        for who in ["", "icsw_not_a_token"] {
            let r = send(method, path, who, Some("SELECT 1"), &[]);
            assert_status(&r, 401, &format!("{method} {path} as {who:?}"));
            assert_eq!(error_code(&r), "unauthorized");
            assert_eq!(r.header("www-authenticate"), "Bearer");
        }
    }
    // The login page is public, and a cookie carries the token too.
    assert_status(&get("/login", ""), 200, "login");
    let r = send(
        "GET",
        "/dashboards/ae",
        "",
        None,
        &[("cookie", "theme=dark; icsw_token=icsw_test_manager")],
    );
    assert_status(&r, 200, "cookie");
}

#[test]
fn each_role_reaches_only_its_own_routes() {
    let dashboard = |who| get("/dashboards/ae", who).status;
    let returns = |who| get("/api/returns/ae/2026-10.csv", who).status;
    let sql_ = |who| sql("SELECT 1 AS one", who, CSV).status;
    let report = |who| get("/api/reports/ae-performance?period=2026-10", who).status;
    // role: dashboards, returns, SQL, reports
    for (who, want) in [
        ("manager", [200, 403, 403, 200]),
        ("commissioner", [403, 200, 403, 403]),
        ("analyst", [403, 403, 200, 403]),
        ("admin", [200, 200, 200, 200]),
    ] {
        let got = [dashboard(who), returns(who), sql_(who), report(who)];
        assert_eq!(got, want, "{who}: dashboards, returns, SQL, reports");
    }
    let r = sql("SELECT 1", "manager", CSV);
    assert_eq!(error_code(&r), "forbidden");
    // Loads, findings and the table list are for every signed-in role.
    for who in ["manager", "commissioner", "analyst", "admin"] {
        assert_status(&get("/api/loads", who), 200, who);
        assert_status(&get("/api/tables", who), 200, who);
        assert_status(&get("/", who), 200, who);
    }
}

#[test]
fn sql_answers_in_the_format_asked_for() {
    let q = "SELECT trust, count(*) AS n FROM ae_attendances GROUP BY trust ORDER BY trust";
    let csv = sql(q, "analyst", CSV);
    assert_status(&csv, 200, "csv");
    assert!(csv.header("content-type").starts_with("text/csv"));
    let rows = csv_rows(&csv.text());
    assert_eq!(rows[0], vec!["trust", "n"]);
    let trusts: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(trusts, vec!["R1K", "RAS", "RQM", "RYJ"]);
    let total: i64 = rows[1..].iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
    assert!(total > 0);

    let json = sql(q, "analyst", "application/json").json();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 4);
    assert_eq!(arr[3]["trust"], "RYJ");
    assert_eq!(
        arr[3]["n"].as_i64().unwrap(),
        rows[4][1].parse::<i64>().unwrap()
    );

    let arrow = sql(q, "analyst", "application/vnd.apache.arrow.stream");
    assert_status(&arrow, 200, "arrow");
    let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(
        std::io::Cursor::new(arrow.body.clone()),
        None,
    )
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 4);

    let parquet = sql(q, "analyst", "application/vnd.apache.parquet");
    assert_status(&parquet, 200, "parquet");
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(parquet.body.clone()),
        )
        .unwrap()
        .build()
        .unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, 4);
}

#[test]
fn json_results_are_limited_and_say_so() {
    let q = "SELECT value FROM generate_series(1, 1000)";
    let r = sql(q, "analyst", "application/json");
    assert_status(&r, 200, "json");
    assert_eq!(r.header("x-icsw-row-limit"), "100");
    assert_eq!(r.json().as_array().unwrap().len(), 100);
    // CSV streams the whole result.
    let r = sql(q, "analyst", CSV);
    assert_eq!(r.text().lines().count(), 1001);
    assert_eq!(r.header("x-icsw-row-limit"), "");
}

#[test]
fn sql_is_read_only() {
    let marker = std::env::temp_dir().join(format!("icsw-copy-{}.csv", std::process::id()));
    for q in [
        "CREATE TABLE t AS SELECT 1".to_string(),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "DROP TABLE patients".to_string(),
        "INSERT INTO patients SELECT * FROM patients".to_string(),
        format!("COPY (SELECT 1) TO '{}'", marker.display()),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "SELECT * FROM '/etc/passwd'".to_string(),
        "SELECT * FROM no_such_table".to_string(),
        "SELEC 1".to_string(),
        "   ".to_string(),
    ] {
        let r = sql(&q, "admin", CSV);
        assert_status(&r, 400, &q);
        assert_eq!(error_code(&r), "bad_query", "{q}");
    }
    assert!(!marker.exists());
    // The tables are still there.
    assert_status(
        &sql("SELECT count(*) FROM patients", "admin", CSV),
        200,
        "after",
    );
}

#[test]
fn a_query_past_its_time_limit_is_stopped_and_the_server_carries_on() {
    let started = std::time::Instant::now();
    let r = sql(
        "SELECT count(*) FROM generate_series(1, 100000000000) WHERE value % 7 = 3",
        "analyst",
        CSV,
    );
    assert_status(&r, 408, "timeout");
    assert_eq!(error_code(&r), "query_time_limit");
    assert!(started.elapsed().as_secs() < 30);
    assert_status(&get("/healthz", ""), 200, "healthz");
    assert_eq!(one("SELECT 41 + 1", "analyst"), "42");
}

#[test]
fn a_query_past_its_memory_limit_is_refused() {
    let r = sql(
        "SELECT value FROM generate_series(1, 20000000) ORDER BY value DESC",
        "analyst",
        CSV,
    );
    assert_status(&r, 422, "memory");
    assert_eq!(error_code(&r), "query_memory_limit");
    assert_eq!(one("SELECT 6 * 7", "analyst"), "42");
}

#[test]
fn analysts_see_pseudonyms_and_birth_years_and_joins_still_work() {
    let real = sql(
        "SELECT nhs_number FROM patients WHERE nhs_number IS NOT NULL",
        "admin",
        CSV,
    );
    let real = csv_set(&real);
    assert!(real.len() > 100);
    assert!(real
        .iter()
        .all(|n| n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit())));

    let r = sql("SELECT * FROM patients", "analyst", CSV);
    assert_status(&r, 200, "patients");
    let text = r.text();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("birth_year") && !header.contains("birth_date"),
        "{header}"
    );
    for n in &real {
        assert!(
            !text.contains(n.as_str()),
            "an NHS number reached an analyst"
        );
    }
    let pseudo = csv_set(&sql(
        "SELECT nhs_number FROM patients WHERE nhs_number IS NOT NULL",
        "analyst",
        CSV,
    ));
    assert_eq!(pseudo.len(), real.len(), "one pseudonym per number");
    assert!(pseudo.iter().all(|p| p.len() == 21
        && p.starts_with('p')
        && p[1..].bytes().all(|b| b.is_ascii_hexdigit())));
    // The same pseudonym in every table: joins give what they give on the
    // real identifiers.
    let join = "SELECT count(*) FROM ae_attendances a JOIN patients p \
                ON a.trust = p.trust AND a.local_patient_id = p.local_patient_id \
                AND a.nhs_number = p.nhs_number";
    let n = one(join, "admin");
    assert!(n.parse::<i64>().unwrap() > 0);
    assert_eq!(one(join, "analyst"), n);
    // Record identifiers too, and the derived views are built on them.
    let ids = csv_set(&sql(
        "SELECT attendance_id FROM ae_attendance_measures LIMIT 20",
        "analyst",
        CSV,
    ));
    assert!(
        ids.iter().all(|p| p.starts_with('p') && p.len() == 21),
        "{ids:?}"
    );
    // The pseudonym function is not callable.
    assert_status(
        &sql("SELECT pseudonym('1')", "analyst", CSV),
        400,
        "pseudonym()",
    );
    // The table list shows the analyst's columns.
    let tables = get("/api/tables", "analyst").json();
    let patients = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "patients")
        .unwrap()
        .to_string();
    assert!(
        patients.contains("birth_year") && !patients.contains("birth_date"),
        "{patients}"
    );
}

#[test]
fn a_trust_scoped_analyst_sees_that_trust_only() {
    for q in [
        "SELECT DISTINCT trust FROM ae_attendances",
        "SELECT DISTINCT trust FROM ae_attendance_measures",
        "SELECT DISTINCT trust FROM rtt_events",
        "SELECT DISTINCT trust FROM rtt_periods",
        "SELECT DISTINCT trust FROM rtt_periods_at(DATE '2026-10-31')",
        "SELECT DISTINCT trust FROM patients",
        "SELECT DISTINCT trust FROM loads",
    ] {
        let r = sql(q, "analyst_ryj", CSV);
        assert_status(&r, 200, q);
        assert_eq!(csv_set(&r), BTreeSet::from(["RYJ".to_string()]), "{q}");
        let all = csv_set(&sql(q, "admin", CSV));
        assert_eq!(all.len(), 4, "{q}: {all:?}");
    }
    // Counts match the full session's for that trust.
    assert_eq!(
        one(
            "SELECT count(*) FROM outpatient_appointments",
            "analyst_ryj"
        ),
        one(
            "SELECT count(*) FROM outpatient_appointments WHERE trust = 'RYJ'",
            "admin"
        )
    );
}

#[test]
fn a_trust_scoped_manager_cannot_ask_for_another_trust() {
    let r = get("/dashboards/ae?trust=RQM", "manager_ryj");
    assert_status(&r, 403, "other trust");
    let r = get("/dashboards/ae", "manager_ryj");
    assert_status(&r, 200, "own trust");
    let html = r.text();
    assert!(html.contains("(RYJ)"), "the RYJ series");
    assert!(!html.contains("value=\"RQM\"") && !html.contains("ICS-wide"));
    let r = get(
        "/api/reports/ae-performance?period=2026-10&trust=RQM",
        "manager_ryj",
    );
    assert_status(&r, 403, "report of another trust");
    let r = get("/api/quality?trust=RQM", "manager_ryj");
    assert_status(&r, 403, "findings of another trust");
}

fn library_return(kind: ReturnKind, period: &str, trust: Option<&str>) -> Vec<u8> {
    let f = fixture();
    let req = ReturnRequest {
        kind,
        period: icsw_model::Month::parse(period).unwrap(),
        trust: trust.map(str::to_string),
        as_at: AsAt::default(),
        allow_incomplete: false,
    };
    let mut out = Vec::new();
    f.runtime
        .block_on(async {
            let ctx = icsw_query::WarehouseContext::at(&f.warehouse, req.as_at, &f.config).await?;
            let no_gate = icsw_returns::KnownReasons(vec![]);
            icsw_returns::write_return(&ctx, &f.config, &req, &no_gate, &mut out).await
        })
        .unwrap();
    out
}

#[test]
fn returns_download_as_icsw_return_writes_them() {
    for kind in ReturnKind::ALL {
        let path = format!("/api/returns/{}/2026-10.csv", kind.name());
        let r = get(&path, "commissioner");
        assert_status(&r, 200, &path);
        assert_eq!(r.header("x-icsw-complete"), "true");
        assert!(r
            .header("content-disposition")
            .contains(&format!("{}-2026-10.csv", kind.name())));
        assert!(
            r.header("x-icsw-loads").contains("RYJ="),
            "{}",
            r.header("x-icsw-loads")
        );
        assert_eq!(r.body, library_return(kind, "2026-10", None), "{path}");
        // One trust's.
        let r = get(&format!("{path}?trust=RAS"), "commissioner");
        assert_status(&r, 200, "one trust");
        assert_eq!(r.body, library_return(kind, "2026-10", Some("RAS")));
        // Cached, with an ETag the client can revalidate.
        let etag = get(&path, "commissioner").header("etag");
        assert!(!etag.is_empty());
        let again = send(
            "GET",
            &path,
            "commissioner",
            None,
            &[("if-none-match", &etag)],
        );
        assert_status(&again, 304, "revalidated");
        assert!(again.body.is_empty());
    }
    let p = get("/api/returns/rtt/2026-10.provenance.json", "commissioner").json();
    assert_eq!(p["complete"], true);
    assert_eq!(p["sql"], "sql/returns/rtt.sql");
    assert_eq!(p["trusts"].as_array().unwrap().len(), 4);
    assert_status(
        &get("/api/returns/nonsense/2026-10.csv", "commissioner"),
        400,
        "kind",
    );
    assert_status(
        &get("/api/returns/ae/2026-10.xlsx", "commissioner"),
        404,
        "format",
    );
    assert_status(
        &get("/api/returns/ae/2026-13.csv", "commissioner"),
        400,
        "month",
    );
}

#[test]
fn an_incomplete_return_is_held_unless_asked_for() {
    // November 2026 has two days of data.
    let r = get("/api/returns/ae/2026-11.csv", "commissioner");
    assert_status(&r, 409, "held");
    let body = r.json();
    assert_eq!(body["error"], "return_held");
    let reasons = body["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    assert!(
        reasons
            .iter()
            .any(|x| x.as_str().unwrap().starts_with("RYJ:")),
        "{reasons:?}"
    );
    assert_eq!(r.header("x-icsw-complete"), "false");
    let r = get(
        "/api/returns/ae/2026-11.csv?allow_incomplete=true",
        "commissioner",
    );
    assert_status(&r, 200, "allowed");
    assert_eq!(r.header("x-icsw-complete"), "false");
    assert!(!r.header("x-icsw-incomplete-reasons").is_empty());
    assert!(r.text().starts_with("Period,"));
    // An as-at date before the first load: nothing to report.
    let r = get(
        "/api/returns/ae/2026-10.csv?as_at=2020-01-01",
        "commissioner",
    );
    assert!(
        r.status == 409 || r.status == 400,
        "{} {}",
        r.status,
        r.text()
    );
}

#[test]
fn a_commissioner_scoped_token_gets_its_own_rows_only() {
    let all = String::from_utf8(library_return(ReturnKind::Rtt, "2026-10", None)).unwrap();
    let r = get("/api/returns/rtt/2026-10.csv", "commissioner_w2u3z");
    assert_status(&r, 200, "w2u3z");
    let mine = r.text();
    let mut lines = mine.lines();
    let header = lines.next().unwrap();
    let col = header
        .split(',')
        .position(|c| c == "Commissioner Org Code")
        .unwrap();
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|l| l.split(',').nth(col) == Some("W2U3Z")));
    // Exactly the W2U3Z rows of the full return, in the same order.
    let expected: Vec<&str> = all
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(col) == Some("W2U3Z"))
        .collect();
    assert_eq!(rows, expected);
    assert!(all.lines().count() > rows.len() + 1, "others' rows exist");
}

#[test]
fn the_returns_list_shows_each_period_with_its_completeness() {
    let j = get("/api/returns", "commissioner").json();
    let periods = j.as_array().unwrap();
    let oct = periods.iter().find(|p| p["period"] == "2026-10").unwrap();
    let rets = oct["returns"].as_array().unwrap();
    assert_eq!(rets.len(), 3);
    assert!(rets.iter().all(|r| r["complete"] == true), "{oct}");
    // August 2026 is only partly covered by the history.
    let aug = periods.iter().find(|p| p["period"] == "2026-08").unwrap();
    assert!(aug["returns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["complete"] == false));
    let html = get("/returns", "commissioner").text();
    assert!(html.contains("/api/returns/rtt/2026-10.csv"));
    assert!(html.contains("complete"));
}

/// Managers' counts: 0, `*` for 1 to 7, else the nearest 5.
fn suppressed(n: i64) -> String {
    match n {
        0 => "0".into(),
        1..=7 => "*".into(),
        n => (((n + 2) / 5) * 5).to_string(),
    }
}

#[test]
fn managers_see_small_numbers_suppressed() {
    let path = "/api/reports/ae-performance?period=2026-10";
    let exact = get(path, "admin").json();
    let shown = get(path, "manager").json();
    let (exact, shown) = (exact.as_array().unwrap(), shown.as_array().unwrap());
    assert_eq!(exact.len(), shown.len());
    assert!(!exact.is_empty());
    let mut counts = 0;
    let shown_n = |n: i64| suppressed(n).parse::<f64>().ok();
    for (e, s) in exact.iter().zip(shown) {
        for (k, v) in e.as_object().unwrap() {
            if let Some(n) = v.as_i64() {
                assert_eq!(s[k].as_str().unwrap(), suppressed(n), "{k}: {n}");
                counts += 1;
            } else if k == "pct_within_4_hours" {
                // From the counts as shown, so that it gives back no exact
                // count; withheld when either is shown as *.
                let n = |c: &str| shown_n(e[c].as_i64().unwrap());
                match (n("within_4_hours"), n("attendances")) {
                    (Some(w), Some(a)) if a > 0.0 => {
                        let got = s[k].as_f64().unwrap();
                        assert!(
                            (got - 100.0 * w / a).abs() < 1e-9,
                            "{k}: {got} from {w}/{a}"
                        );
                    }
                    _ => assert!(s[k].is_null(), "{k}: {}", s[k]),
                }
            } else {
                assert_eq!(&s[k], v, "{k}: labels are as they are");
            }
        }
    }
    assert!(counts > 10);
    let html = get("/dashboards/ae", "manager").text();
    assert!(html.contains("suppressed for small numbers"));
    let html = get("/dashboards/ae", "admin").text();
    assert!(!html.contains("suppressed for small numbers"));
}

#[test]
fn every_dashboard_renders_spc_charts_with_their_tables() {
    for name in [
        "ae",
        "rtt",
        "long_waits",
        "activity",
        "quality",
        "system_flow",
    ] {
        for q in ["", "?trust=RQM", "?trust=ICS&period=2026-09"] {
            let path = format!("/dashboards/{name}{q}");
            let r = get(&path, "manager");
            assert_status(&r, 200, &path);
            let html = r.text();
            assert!(html.contains("<svg class=\"chart\""), "{path}");
            assert!(html.contains("<table>"), "{path}");
            assert!(r.header("etag").starts_with('"'));
        }
    }
    let ae = get("/dashboards/ae?trust=RQM&period=2026-10", "manager").text();
    assert!(ae.contains("(RQM)"));
    assert!(ae.contains("<option selected>2026-10</option>"));
    // The history begins on 23 August: August is no month to chart.
    assert!(
        ae.contains("Left out as not wholly covered by the extracts: 2026-08 (RQM: "),
        "{ae}"
    );
    assert!(!ae.contains("<td>2026-08</td>") && ae.contains("<td>2026-09</td>"));
    // SPC points and the variation and assurance icons.
    assert!(
        ae.matches("<circle").count() >= 6,
        "two points in each of three charts"
    );
    assert!(ae.contains("variation") || ae.contains("Common cause"));
    assert_status(&get("/dashboards/nope", "manager"), 404, "unknown");
    assert_status(
        &get("/dashboards/ae?trust=XXX", "manager"),
        400,
        "unknown trust",
    );
    assert_status(
        &get("/dashboards/ae?period=2026-13", "manager"),
        400,
        "bad month",
    );
}

#[test]
fn findings_and_loads_are_served() {
    let loads = get("/api/loads", "manager").json();
    let loads = loads.as_array().unwrap();
    assert_eq!(loads.len(), 8, "four trusts, two nights");
    assert!(loads.iter().all(|l| l["outcome"] == "loaded"), "{loads:?}");
    let f = get("/api/quality?period=2026-10", "manager");
    assert_status(&f, 200, "quality");
    let findings = f.json();
    for x in findings.as_array().unwrap() {
        assert!(x["check_id"].is_string() && x["trust"].is_string(), "{x}");
    }
    assert_status(
        &get("/api/quality?date=2026-11-02", "analyst"),
        200,
        "by date",
    );
    assert_status(
        &get("/api/quality?period=nonsense", "analyst"),
        400,
        "bad period",
    );
}

#[test]
fn the_audit_log_names_the_token_and_holds_no_query_text() {
    let q = "SELECT count(*) AS audit_marker_7731 FROM patients";
    assert_status(&sql(q, "analyst", CSV), 200, "query");
    get("/api/loads", "icsw_wrong");
    // Written after the response: give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = std::fs::read_to_string(&fixture().audit).unwrap();
    assert!(!log.contains("audit_marker_7731"));
    assert!(!log.contains("icsw_test_"), "tokens are not logged");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["token"] == "analyst" && l["path"] == "/api/sql" && l["status"] == 200));
    assert!(lines
        .iter()
        .any(|l| l["token"] == "(invalid token)" && l["status"] == 401));
}

#[test]
fn login_sets_the_cookie_and_redirects_within_the_server_only() {
    let f = fixture();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = |token: &str, next: &str| {
        let url = format!("{}/login", f.base);
        f.runtime.block_on(async {
            let r = no_redirect
                .post(url)
                .form(&[("token", token), ("next", next)])
                .send()
                .await
                .unwrap();
            let h = |k: &str| {
                r.headers()
                    .get(k)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            (r.status().as_u16(), h("location"), h("set-cookie"))
        })
    };
    let (status, location, cookie) = go("icsw_test_manager", "/dashboards/rtt");
    assert_eq!(status, 303);
    assert_eq!(location, "/dashboards/rtt");
    assert!(
        cookie.starts_with("icsw_token=icsw_test_manager;"),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "no https public URL: {cookie}");
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\t/evil.example",
        "/\\evil.example",
    ] {
        assert_eq!(go("icsw_test_manager", evil).1, "/", "{evil:?}");
    }
    // A token that is not valid is never set (no login CSRF with a token
    // of the attacker's own making).
    let (status, location, cookie) = go("icsw_made_up", "/");
    assert_eq!((status, location.as_str(), cookie.as_str()), (401, "", ""));
    // The form posts; a token in a GET URL is ignored.
    let r = get("/login?token=icsw_test_manager&next=/", "");
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").is_empty());
    assert!(r.text().contains("method=\"post\""), "{}", r.text());
}

/// A server of its own: one trust, loaded night by night.
#[test]
fn a_new_load_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    let config = icsw_model::IcsConfig::from_toml("").unwrap();
    let warehouse =
        icsw_store::Warehouse::open(dir.path().join("warehouse").to_str().unwrap()).unwrap();
    let night = |d: &str| {
        let mut o = icsw_generate::Options::new(&["RYJ"], d.parse().unwrap(), d.parse().unwrap());
        o.scale = 2.0;
        o.history_days = if d == "2026-11-01" { 40 } else { 0 };
        icsw_generate::generate(&landing, &o).unwrap();
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = || {
        rt.block_on(icsw_ingest::load_all(
            &icsw_ingest::Landing::new(&landing),
            &warehouse,
            &config,
            &icsw_ingest::NoProgress,
        ))
        .unwrap()
    };
    night("2026-11-01");
    load();
    let base = rt.block_on(async {
        let state = icsw_server::AppState::new(
            warehouse.clone(),
            config.clone(),
            icsw_server::ServerOptions::default(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(icsw_server::serve(state, listener));
        format!("http://{addr}")
    });
    let fetch = |path: &str| {
        rt.block_on(async {
            let r = reqwest::get(format!("{base}{path}")).await.unwrap();
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), etag, r.text().await.unwrap())
        })
    };
    // Open mode (no [access]): loopback only, everyone an admin.
    let (status, before, html) = fetch("/dashboards/ae");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Warehouse version 1."), "{html:.300}");
    let n1 = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/api/sql"))
            .header("accept", "text/csv")
            .body("SELECT count(*) FROM loads")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(n1.lines().nth(1), Some("1"));

    night("2026-11-02");
    let report = load();
    assert!(report.loads.iter().all(|l| l.refusal.is_none()));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, after, html) = fetch("/dashboards/ae");
    assert!(html.contains("Warehouse version 2."));
    assert_ne!(before, after, "a new version, a new ETag");
    let loads = fetch("/api/loads");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&loads.2)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A server renders every configured principal's dashboards as soon as it
/// serves a version, before anyone asks: the first page a manager asks for
/// comes from the cache (and the metrics say so).
#[test]
fn dashboards_are_rendered_before_the_first_request() {
    let f = fixture();
    let base = f.runtime.block_on(async {
        let options = icsw_server::ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            warm_dashboards: true,
            ..Default::default()
        };
        let state =
            icsw_server::AppState::new(f.warehouse.clone(), f.config.clone(), options).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(icsw_server::serve(state, listener));
        format!("http://{addr}")
    });
    let get_own = |path: &str, who: &str| {
        f.runtime.block_on(async {
            let r = crate::fixture::client()
                .get(format!("{base}{path}"))
                .bearer_auth(&f.tokens[who])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    // Three scopes may see dashboards (admin, manager, manager_ryj); six
    // dashboards each.
    let started = std::time::Instant::now();
    loop {
        let (_, m) = get_own("/metrics", "admin");
        if metric(&m, "icsw_dashboard_pages_warmed ") == 18 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "not warmed: {m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (status, page) = get_own("/dashboards/rtt", "manager_ryj");
    assert_eq!(status, 200);
    assert!(page.contains("<svg"), "{page}");
    let (_, m) = get_own("/metrics", "admin");
    assert_eq!(
        metric(&m, "icsw_dashboard_pages_total{cache=\"hit\"} "),
        1,
        "{m}"
    );
    assert_eq!(
        metric(&m, "icsw_dashboard_pages_total{cache=\"miss\"} "),
        0,
        "{m}"
    );
}

#[test]
fn each_spc_panel_is_a_json_series_with_the_managers_suppression() {
    let path = "/api/dashboards/ae/attendances.json?trust=RYJ";
    let exact = get(path, "admin").json();
    let shown = get(path, "manager").json();
    assert_eq!(exact["panel"], "attendances");
    assert_eq!(exact["trust"], "RYJ");
    assert_eq!(exact["suppressed"], false);
    assert_eq!(shown["suppressed"], true);
    let (e, s) = (
        exact["points"].as_array().unwrap(),
        shown["points"].as_array().unwrap(),
    );
    assert!(!e.is_empty());
    assert_eq!(e.len(), s.len());
    // NHSRplotthedots' ptd_spc() columns, in its order.
    for p in e {
        let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = icsw_spc::table::POINT_COLUMNS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
    }
    let text = get(path, "admin").text();
    let first = &text[text.find("\"points\"").unwrap()..];
    let first = &first[..first.find('}').unwrap()];
    let at: Vec<usize> = icsw_spc::table::POINT_COLUMNS
        .iter()
        .map(|c| first.find(&format!("\"{c}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{first}");
    for (pe, ps) in e.iter().zip(s) {
        assert_eq!(pe["x"], ps["x"]);
        let n = pe["y"].as_f64().unwrap() as i64;
        // The manager's value is the one shown (a * is a gap), and the
        // signals are the exact series'.
        match suppressed(n).parse::<f64>() {
            Ok(v) => {
                assert_eq!(ps["y"].as_f64(), Some(v), "{pe} / {ps}");
                assert_eq!(ps["point_type"], pe["point_type"]);
            }
            Err(_) => {
                assert!(ps["y"].is_null());
                assert_eq!(ps["point_type"], "common_cause");
            }
        }
    }
    assert_eq!(exact["summary"].as_array().unwrap().len(), 1);
    // A rate is from the counts shown: the JSON agrees with the page.
    let pct = get(
        "/api/dashboards/ae/pct_within_4_hours.json?trust=RYJ",
        "manager",
    )
    .json();
    assert_eq!(pct["percent"], true);
    assert!(pct["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["y"].is_null() || p["y"].as_f64().is_some_and(|y| (0.0..=1.0).contains(&y))));
    // No such panel, a bar panel, no .json; another trust for a scoped token.
    for bad in [
        "/api/dashboards/ae/nope.json",
        "/api/dashboards/nope/attendances.json",
        "/api/dashboards/quality/findings.json",
        "/api/dashboards/ae/attendances",
    ] {
        assert_eq!(get(bad, "admin").status, 404, "{bad}");
    }
    assert_eq!(
        get(
            "/api/dashboards/ae/attendances.json?trust=RQM",
            "manager_ryj"
        )
        .status,
        403
    );
    assert_eq!(
        get("/api/dashboards/ae/attendances.json", "commissioner").status,
        403
    );
}

/// An ICS-wide linkage report reads every trust's records: a trust-scoped
/// token gets its own trust's rows, counted against every trust, and
/// nothing of another trust's rows; its view gives analysts the
/// pseudonyms their session shows, and no one an NHS number.
#[test]
fn a_linkage_report_shows_a_scoped_token_its_trust_linked_ics_wide() {
    let path = "/api/reports/ae-reattendance?period=2026-10";
    let all = get(path, "admin").json();
    let ryj = get(path, "manager_ryj").json();
    let rows = |v: &serde_json::Value, level: &str| -> Vec<serde_json::Value> {
        v.as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .filter(|r| r["Level"] == level)
            .cloned()
            .collect()
    };
    // The scoped manager's own trust's row only, its counts the admin's RYJ
    // row's as managers see counts.
    let providers = rows(&ryj, "provider");
    assert_eq!(providers.len(), 1, "{ryj}");
    assert_eq!(providers[0]["Provider Org Code"], "RYJ");
    let admin_ryj = rows(&all, "provider")
        .into_iter()
        .find(|r| r["Provider Org Code"] == "RYJ")
        .unwrap();
    for c in [
        "Attendances",
        "Attendances Linkable",
        "Reattendances",
        "Reattendances Other Trust",
    ] {
        assert_eq!(
            providers[0][c].as_str().unwrap(),
            suppressed(admin_ryj[c].as_i64().unwrap()),
            "{c}"
        );
    }
    assert!(
        admin_ryj["Attendances Linkable"].as_i64().unwrap() > 0,
        "{admin_ryj}"
    );
    // Its ics row is its own trust's, not the ICS's.
    assert_eq!(
        rows(&ryj, "ics")[0]["Attendances"],
        providers[0]["Attendances"]
    );
    assert!(rows(&all, "provider").len() > 1);
    assert_status(
        &get(&format!("{path}&trust=RQM"), "manager_ryj"),
        403,
        "another trust",
    );
    assert_status(
        &get(path, "commissioner_w2u3z"),
        403,
        "a commissioner's scope",
    );
    // The view behind it: an analyst's patient_key and attendance_key are
    // the pseudonyms their session shows for the NHS number and the
    // attendance id; a scoped analyst sees its own trust's rows; an
    // admin's view shows no NHS number and no attendance id.
    let keyed = "SELECT count(*) FROM ics_ae_reattendance r JOIN ae_attendances a \
                 ON a.trust = r.provider_org_code AND a.attendance_id = r.attendance_key \
                 AND a.nhs_number = r.patient_key";
    let linkable = "SELECT count(patient_key) FROM ics_ae_reattendance";
    assert_eq!(sql_cell(keyed, "analyst"), sql_cell(linkable, "analyst"));
    assert_ne!(sql_cell(linkable, "analyst"), "0");
    assert_eq!(
        sql_cell(
            "SELECT string_agg(DISTINCT provider_org_code, ',') FROM ics_ae_reattendance",
            "analyst_ryj"
        ),
        "RYJ"
    );
    for on in [
        "a.nhs_number = r.patient_key",
        "a.attendance_id = r.attendance_key",
    ] {
        let raw =
            format!("SELECT count(*) FROM ics_ae_reattendance r JOIN ae_attendances a ON {on}");
        assert_eq!(sql_cell(&raw, "admin"), "0", "{on}");
    }
}

#[test]
fn the_rtt_linkage_views_key_what_an_analyst_sees_and_scope_by_provider() {
    // Every linkable open pathway of the view is one of the analyst's
    // Part_2 periods, by the pseudonyms their session shows for the
    // pathway id and the period's NHS number.
    let at = "census_date = DATE '2026-10-31'";
    let keyed = format!(
        "SELECT count(*) FROM ics_rtt_multi_provider r JOIN rtt_census_periods p \
         ON p.census_date = r.census_date AND p.part = 'Part_2' \
         AND p.trust = r.provider_org_code AND p.pathway_id = r.pathway_key \
         AND p.nhs_number = r.patient_key WHERE r.{at}"
    );
    let linkable = format!("SELECT count(patient_key) FROM ics_rtt_multi_provider WHERE {at}");
    assert_eq!(sql_cell(&keyed, "analyst"), sql_cell(&linkable, "analyst"));
    assert_ne!(sql_cell(&linkable, "analyst"), "0");
    // A scoped analyst: its own trust's rows of both views.
    for view in ["ics_rtt_multi_provider", "ics_rtt_transfers"] {
        let trusts = sql_cell(
            &format!(
                "SELECT COALESCE(string_agg(DISTINCT provider_org_code, ','), 'RYJ') FROM {view}"
            ),
            "analyst_ryj",
        );
        assert_eq!(trusts, "RYJ", "{view}");
    }
    // The views at one census date, as table functions, scoped alike; a
    // date that is no month end is refused.
    assert_eq!(
        sql_cell(
            "SELECT COALESCE(string_agg(DISTINCT provider_org_code, ','), 'RYJ') \
             FROM ics_rtt_multi_provider_at(DATE '2026-10-31')",
            "analyst_ryj"
        ),
        "RYJ"
    );
    assert_eq!(
        sql_cell(
            "SELECT count(*) FROM ics_rtt_multi_provider_at(DATE '2026-10-31')",
            "analyst"
        ),
        sql_cell(
            &format!("SELECT count(*) FROM ics_rtt_multi_provider WHERE {at}"),
            "analyst"
        )
    );
    let r = sql(
        "SELECT count(*) FROM ics_rtt_transfers_at(DATE '2026-10-30')",
        "analyst",
        "text/csv",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("month-end census date"), "{}", r.text());
    // No NHS number or pathway id in the admin's view.
    for on in [
        "p.pathway_id = r.pathway_key",
        "p.nhs_number = r.patient_key",
    ] {
        let raw = format!(
            "SELECT count(*) FROM ics_rtt_multi_provider r JOIN rtt_census_periods p \
             ON p.census_date = r.census_date AND {on} WHERE r.{at}"
        );
        assert_eq!(sql_cell(&raw, "admin"), "0", "{on}");
    }
    // Complete when every trust has a snapshot dated after the census (the
    // fixture's of 2 November): October, not November.
    let oct = get("/api/reports/rtt-transfers?period=2026-10", "admin");
    assert_eq!(oct.header("x-icsw-complete"), "true");
    let nov = get("/api/reports/rtt-transfers?period=2026-11", "manager_ryj");
    assert_eq!(nov.header("x-icsw-complete"), "false");
    assert!(
        nov.header("x-icsw-incomplete-reasons")
            .contains("RQM: rtt_events: the latest snapshot is dated 2026-11-02, not after the census date 2026-11-30"),
        "{}",
        nov.header("x-icsw-incomplete-reasons")
    );
    // The reports: a scoped manager sees its own provider's rows.
    for report in ["rtt-multi-provider", "rtt-transfers"] {
        let v = get(
            &format!("/api/reports/{report}?period=2026-10"),
            "manager_ryj",
        )
        .json();
        let rows = v.as_array().unwrap_or_else(|| panic!("{report}: {v}"));
        assert!(!rows.is_empty(), "{report}");
        assert!(
            rows.iter()
                .all(|r| r["Level"] == "ics" || r["Provider Org Code"] == "RYJ"),
            "{report}: {v}"
        );
        assert_status(
            &get(
                &format!("/api/reports/{report}?period=2026-10"),
                "commissioner_w2u3z",
            ),
            403,
            "a commissioner's scope",
        );
    }
}

#[test]
fn the_system_flow_dashboard_charts_the_linked_measures_as_the_reports_count_them() {
    // The re-attendance table's October row, ICS-wide, as the report
    // counts it: month, attendances, same trust, rate.
    let report = get("/api/reports/ae-reattendance?period=2026-10", "admin").json();
    let ics = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Level"] == "ics")
        .unwrap()
        .clone();
    let html = get("/dashboards/system_flow?period=2026-10", "admin").text();
    for title in [
        "A&amp;E re-attendances within 7 days of an attendance at the same trust",
        "only at another ICS trust",
        "Open pathways whose patient also waits at another ICS trust",
        "Transfers out in the month by outcome",
    ] {
        assert!(html.contains(title), "{title}");
    }
    let rows: Vec<Vec<String>> = table_rows(&html)
        .into_iter()
        .filter(|r| r.first().is_some_and(|m| m == "2026-10"))
        .collect();
    let want_same = [
        "2026-10".to_string(),
        ics["Attendances"].to_string(),
        ics["Reattendances Same Trust"].to_string(),
    ];
    let want_other = [
        "2026-10".to_string(),
        ics["Attendances"].to_string(),
        ics["Reattendances Other Trust"].to_string(),
    ];
    assert!(rows.iter().any(|r| r[..3] == want_same[..]), "{rows:?}");
    assert!(rows.iter().any(|r| r[..3] == want_other[..]), "{rows:?}");
    assert!(
        ics["Reattendances Other Trust"].as_i64().unwrap() > 0,
        "the sample data has patients at two trusts: {ics}"
    );
    // A manager's page is suppressed; a trust-scoped manager's is of its
    // own trust.
    assert!(get("/dashboards/system_flow", "manager")
        .text()
        .contains("suppressed for small numbers"));
    let ryj = get("/dashboards/system_flow", "manager_ryj");
    assert_status(&ryj, 200, "a trust-scoped manager");
    assert!(ryj.text().contains("(RYJ)"));
    assert!(get("/", "manager").text().contains("System flow"));
}
