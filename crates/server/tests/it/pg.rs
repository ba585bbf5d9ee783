//! The Postgres door with the real clients: psql (Debian's
//! postgresql-client) and psycopg 3 (`tests/clients/psycopg_door.py`).
//! Skipped, with a message, where they are not installed; CI installs them
//! and sets ICSW_REQUIRE_PG_CLIENTS=1 so that it cannot skip them.

use crate::fixture::{fixture, sql};
use std::process::Command;

pub(crate) fn have(cmd: &str, probe: &[&str]) -> bool {
    let ok = Command::new(cmd)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("ICSW_REQUIRE_PG_CLIENTS").is_err(),
            "ICSW_REQUIRE_PG_CLIENTS is set but {cmd} {probe:?} fails"
        );
        eprintln!("skipped: {cmd} {probe:?} is not available");
    }
    ok
}

/// Runs psql as `who` (password: the token), returning (status ok, stdout
/// and stderr).
fn psql(who: &str, password: &str, commands: &[&str]) -> (bool, String) {
    let f = fixture();
    let mut c = Command::new("psql");
    c.arg(format!(
        "host=127.0.0.1 port={} user={who} dbname=icsw",
        f.pg.port()
    ))
    .args([
        "-X",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-v",
        "VERBOSITY=verbose",
    ])
    .env("PGPASSWORD", password)
    .env("PGCONNECT_TIMEOUT", "60");
    for cmd in commands {
        c.args(["-c", cmd]);
    }
    let o = c.output().expect("psql runs");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn http_count(q: &str, who: &str) -> String {
    let r = sql(q, who, "text/csv");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text().lines().nth(1).unwrap().to_string()
}

#[test]
fn psql_signs_in_with_a_token_and_sees_what_the_http_door_shows() {
    if !have("psql", &["--version"]) {
        return;
    }
    let f = fixture();
    let token = |who: &str| f.tokens[who].clone();
    // Tables and columns, for \dt and \d.
    let (ok, out) = psql(
        "analyst",
        &token("analyst"),
        &["\\dt", "\\d ae_attendances"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("ae_attendances") && out.contains("rtt_events"),
        "{out}"
    );
    assert!(out.contains("arrival_time"), "{out}");
    // The same count as the HTTP door, for the same token; a scoped token
    // sees only its trust.
    let q = "SELECT count(*) FROM ae_attendances";
    for who in ["analyst", "analyst_ryj", "admin"] {
        let (ok, out) = psql(who, &token(who), &[q]);
        assert!(ok, "{who}: {out}");
        assert_eq!(out.trim(), http_count(q, who), "{who}");
    }
    let (_, all) = psql("analyst", &token("analyst"), &[q]);
    let (_, ryj) = psql("analyst_ryj", &token("analyst_ryj"), &[q]);
    assert!(ryj.trim().parse::<u64>().unwrap() < all.trim().parse::<u64>().unwrap());
    let (_, trusts) = psql(
        "analyst_ryj",
        &token("analyst_ryj"),
        &["SELECT DISTINCT trust FROM ae_attendances"],
    );
    assert_eq!(trusts.trim(), "RYJ");
    // NHS numbers come back as the analyst's pseudonyms, as over HTTP.
    let q = "SELECT nhs_number FROM patients ORDER BY nhs_number LIMIT 3";
    let (ok, pseud) = psql("analyst", &token("analyst"), &[q]);
    assert!(ok, "{pseud}");
    let http = sql(q, "analyst", "text/csv").text();
    let http: Vec<&str> = http.lines().skip(1).collect();
    assert_eq!(pseud.lines().collect::<Vec<_>>(), http);
    let (_, admin) = psql("admin", &token("admin"), &[q]);
    assert_ne!(admin.trim(), pseud.trim());
    // DDL, COPY and SET refused with a Postgres code; the server is up.
    for (stmt, code) in [
        ("CREATE TABLE x (a int)", "25006"),
        ("COPY ae_attendances TO STDOUT", "25006"),
        ("SET datafusion.execution.batch_size = 1", "25006"),
        ("INSERT INTO ref_trusts VALUES ('x')", "25006"),
    ] {
        let (ok, out) = psql("analyst", &token("analyst"), &[stmt]);
        assert!(!ok && out.contains(code), "{stmt}: {out}");
    }
    // A wrong password, a token under another name, a manager: refused.
    let (ok, out) = psql("analyst", "icsw_wrong", &["SELECT 1"]);
    assert!(
        !ok && out.contains("password authentication failed"),
        "{out}"
    );
    let (ok, out) = psql("admin", &token("analyst"), &["SELECT 1"]);
    assert!(
        !ok && out.contains("password authentication failed"),
        "{out}"
    );
    let (ok, out) = psql("manager", &token("manager"), &["SELECT 1"]);
    assert!(!ok && out.contains("manager role may not sign in"), "{out}");
    // Hostile input as over HTTP: refused, and the door still answers.
    let deep = format!("SELECT {}", vec!["1"; 2500].join("+"));
    let (ok, out) = psql("analyst", &token("analyst"), &[&deep]);
    assert!(!ok, "{out}");
    let (ok, out) = psql(
        "analyst",
        &token("analyst"),
        &["EXPLAIN SELECT * FROM ae_attendances"],
    );
    assert!(!ok && !out.contains("file://"), "{out}");
    let (ok, out) = psql("analyst", &token("analyst"), &["SELECT 1"]);
    assert!(ok && out.trim() == "1", "{out}");
    // The audit line names the door, the token and the query's hash.
    let audit = std::fs::read_to_string(&f.audit).unwrap();
    let sha = icsw_server::sha256_hex("SELECT count(*) FROM ae_attendances");
    assert!(
        audit.lines().any(|l| l.contains("\"path\":\"postgres\"")
            && l.contains("\"token\":\"analyst_ryj\"")
            && l.contains(&sha)
            && l.contains("\"rows\":1")),
        "{audit}"
    );
}

#[test]
fn psycopg_binds_parameters_streams_a_cursor_and_cancels() {
    if !have("python3", &["-c", "import psycopg"]) {
        return;
    }
    let f = fixture();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/psycopg_door.py");
    let o = Command::new("python3")
        .args([
            script,
            "127.0.0.1",
            &f.pg.port().to_string(),
            "analyst",
            &f.tokens["analyst"],
        ])
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let all = http_count("SELECT count(*) FROM ae_attendances", "analyst");
    assert_eq!(v["count_bound"].to_string(), all, "{v}");
    assert_eq!(v["count_prepared"].to_string(), all, "{v}");
    assert_eq!(
        v["types"],
        serde_json::json!([42, "2026-10-31", "x"]),
        "{v}"
    );
    assert_eq!(v["cursor_rows"], 100_000, "{v}");
    assert_eq!(v["cursor_sum"], 5_000_050_000u64, "{v}");
    assert_eq!(v["cancelled"], "57014", "{v}");
    assert_eq!(v["after_cancel"], 1, "{v}");
    for k in ["ddl", "copy", "set"] {
        assert_eq!(v[k], "25006", "{k}: {v}");
    }
    assert_eq!(v["wrong_password"], "refused", "{v}");
}

/// What DBeaver's navigator and Npgsql (Power BI) send when they connect
/// and browse, from their sources (DBeaver's PostgreMetaModel, Npgsql's
/// type loading): each must answer without error.
const CLIENT_STARTUP: &[&str] = &[
    "SELECT version()",
    "SELECT current_schema(), session_user",
    "SELECT current_database()",
    "SHOW search_path",
    "SHOW TRANSACTION ISOLATION LEVEL",
    "SET application_name = 'DBeaver 24.0 - Main'",
    "SET extra_float_digits = 3",
    "DISCARD ALL",
    "SELECT pg_backend_pid()",
    "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='icsw'",
    "SELECT * FROM pg_catalog.pg_settings WHERE name='standard_conforming_strings'",
    "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n \
     LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 \
     AND d.classoid='pg_namespace'::regclass ORDER BY nspname",
    "SELECT c.oid,c.*,d.description FROM pg_catalog.pg_class c \
     LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 \
     AND d.classoid='pg_class'::regclass WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c')",
    "SELECT t.oid,t.*,c.relkind FROM pg_catalog.pg_type t \
     LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid WHERE typnamespace=11",
    "SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.typelem \
     FROM pg_type AS t JOIN pg_namespace AS ns ON (ns.oid = t.typnamespace)",
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
     JOIN pg_class c ON a.attrelid = c.oid WHERE c.relname = 'patients' AND a.attnum > 0",
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
];

#[test]
fn dbeaver_and_npgsql_start_up_queries_are_answered() {
    if !have("psql", &["--version"]) {
        return;
    }
    let f = fixture();
    for q in CLIENT_STARTUP {
        let (ok, out) = psql("analyst", &f.tokens["analyst"], &[q]);
        assert!(ok, "{q}: {out}");
    }
    let (_, db) = psql("analyst", &f.tokens["analyst"], &[CLIENT_STARTUP[9]]);
    assert!(db.contains("icsw"), "{db}");
}
