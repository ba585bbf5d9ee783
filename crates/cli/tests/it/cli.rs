use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn icsw(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_icsw"))
        .args(args)
        .current_dir(dir)
        .env_remove("ICSW_WAREHOUSE")
        .env_remove("ICSW_CONFIG")
        .output()
        .expect("icsw runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = icsw(dir, args);
    assert!(
        o.status.success(),
        "icsw {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf8")
}

fn generate(dir: &Path, landing: &str, from: &str, to: &str, scale: &str, history: &str) {
    ok(
        dir,
        &[
            "generate",
            "--landing",
            landing,
            "--trusts",
            "RYJ",
            "--from",
            from,
            "--to",
            to,
            "--scale",
            scale,
            "--history-days",
            history,
        ],
    );
}

#[test]
fn a_killed_load_leaves_a_consistent_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A first night, loaded.
    generate(d, "first", "2026-10-01", "2026-10-01", "20", "5");
    ok(d, &["load", "--landing", "first"]);
    let before = ok(
        d,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) FROM ae_attendances",
        ],
    );
    // A larger second night, killed while it checks rows, while it writes
    // data files, and as it writes its log just before publishing.
    generate(d, "second", "2026-10-02", "2026-10-02", "200", "60");
    let wh = d.join("warehouse");
    let v2 = "v00000000000000000002";
    let has = |dir: &Path| -> bool {
        fn walk(p: &Path, needle: &str) -> bool {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    let path = e.path();
                    path.to_string_lossy().contains(needle)
                        || (path.is_dir() && walk(&path, needle))
                })
        }
        walk(dir, "v00000000000000000002") || walk(dir, "v=00000000000000000002")
    };
    let _ = v2;
    let mut killed = 0;
    type Ready<'a> = Box<dyn Fn() -> bool + 'a>;
    let points: [(&str, Ready<'_>); 3] = [
        ("while checking", Box::new(|| false)),
        ("while writing data", Box::new(|| has(&wh.join("data")))),
        (
            "while writing the log",
            Box::new(|| has(&wh.join("log/load_files"))),
        ),
    ];
    for (when, ready) in points {
        let mut child = Command::new(env!("CARGO_BIN_EXE_icsw"))
            .args(["load", "--landing", "second"])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        loop {
            let early = when == "while checking" && start.elapsed() > Duration::from_millis(300);
            if early || ready() || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
            eprintln!("killed a load {when}");
        }
        child.wait().unwrap();
        // Readers see the previous state or the new one, never a mix.
        let versions = ok(
            d,
            &["sql", "--format", "csv", "SELECT count(*) AS n FROM loads"],
        );
        let now = ok(
            d,
            &[
                "sql",
                "--format",
                "csv",
                "SELECT count(*) FROM ae_attendances",
            ],
        );
        match versions.trim() {
            "n\n1" => assert_eq!(now, before, "killed {when}"),
            "n\n2" => break,
            v => panic!("unexpected loads after a kill {when}: {v}"),
        }
    }
    assert!(
        killed >= 2,
        "too few loads were killed: make the second night larger"
    );
    // The next load finishes the job, and nothing is counted twice.
    ok(d, &["load", "--landing", "second"]);
    let out = ok(
        d,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT sum(rows_read) = sum(rows_stored) + sum(rows_quarantined) AS balanced, \
             sum(rows_quarantined) AS q FROM load_files",
        ],
    );
    assert_eq!(out, "balanced,q\ntrue,0\n");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.join("second/RYJ/2026-10-02/_manifest.json")).unwrap(),
    )
    .unwrap();
    let rows = manifest["files"][0]["rows"].as_u64().unwrap();
    let stored = ok(
        d,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM ae_attendances WHERE _load_id = 2",
        ],
    );
    assert_eq!(stored, format!("n\n{rows}\n"));
    // No lock is left behind.
    assert!(!d.join("warehouse/_lock.json").exists());
}

#[test]
fn sql_writes_each_format_and_a_bad_query_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "landing", "2026-10-01", "2026-10-01", "5", "2");
    ok(d, &["load"]);
    let q = "SELECT trust, count(*) AS n FROM ae_attendances GROUP BY trust";
    let csv = ok(d, &["sql", "--format", "csv", q]);
    assert!(csv.starts_with("trust,n\nRYJ,"), "{csv}");
    let json = ok(d, &["sql", "--format", "json", q]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["trust"], "RYJ");
    let table = ok(d, &["sql", q]);
    assert!(table.contains("| trust |"), "{table}");
    ok(d, &["sql", "--format", "parquet", "--out", "r.parquet", q]);
    assert_eq!(&std::fs::read(d.join("r.parquet")).unwrap()[..4], b"PAR1");
    // The query on stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_icsw"))
        .args(["sql", "--format", "csv"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT 1 AS one")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "one\n1\n");
    for bad in [
        "SELEC 1",
        "SELECT nope FROM ae_attendances",
        "DROP TABLE ae_attendances",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "COPY ae_attendances TO '/tmp/x.csv'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let o = icsw(d, &["sql", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{bad}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn load_refuses_an_unconfigured_trust_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("icsw.toml"), "[[trust]]\nods = \"RQM\"\n").unwrap();
    generate(d, "landing", "2026-10-01", "2026-10-01", "5", "0");
    let o = icsw(d, &["load"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("extract RYJ 2026-10-01 refused (unknown_trust)"),
        "{err}"
    );
    // The warehouse option can also come from the environment.
    let o = Command::new(env!("CARGO_BIN_EXE_icsw"))
        .args(["sql", "--format", "csv", "SELECT outcome FROM loads"])
        .current_dir(d)
        .env("ICSW_WAREHOUSE", d.join("warehouse"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "outcome\nrefused\n");
}

fn generate_all(dir: &Path, landing: &str, from: &str, to: &str, history: &str) {
    ok(
        dir,
        &[
            "generate",
            "--landing",
            landing,
            "--from",
            from,
            "--to",
            to,
            "--scale",
            "4",
            "--history-days",
            history,
        ],
    );
}

#[test]
fn returns_are_written_with_provenance_held_by_the_gate_and_reproducible_as_at_a_date() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate_all(d, "landing", "2026-11-01", "2026-11-02", "35");
    ok(d, &["load"]);
    // October is complete for every trust: written, with its provenance.
    ok(
        d,
        &["return", "ae", "--period", "2026-10", "--out", "ae.csv"],
    );
    let csv = std::fs::read_to_string(d.join("ae.csv")).unwrap();
    assert!(
        csv.starts_with("Period,Org Code,Org Name,A&E attendances Type 1,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5, "a header and four providers");
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.starts_with("MSitAE-OCTOBER-2026,")));
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("ae.csv.provenance.json")).unwrap()).unwrap();
    assert_eq!(p["complete"], true);
    assert_eq!(p["trusts"].as_array().unwrap().len(), 4);
    assert_eq!(
        p["trusts"][0]["feeds"]["ae_attendances"][0]["extract_date"],
        "2026-11-01"
    );
    // November is not: the gate holds it (exit 4) and writes nothing...
    let o = icsw(
        d,
        &["return", "rtt", "--period", "2026-11", "--out", "nov.csv"],
    );
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("is held and was not written"), "{err}");
    assert!(
        err.contains("not after the census date 2026-11-30"),
        "{err}"
    );
    assert!(!d.join("nov.csv").exists());
    // ...unless asked: then the provenance says why it is incomplete.
    ok(
        d,
        &[
            "return",
            "rtt",
            "--period",
            "2026-11",
            "--out",
            "nov.csv",
            "--allow-incomplete",
        ],
    );
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("nov.csv.provenance.json")).unwrap()).unwrap();
    assert_eq!(p["complete"], false);
    assert_eq!(p["written_anyway"], true);
    assert!(p["reasons"][0].as_str().unwrap().contains("rtt_events"));
    // As at 1 November, the same bytes after another night is loaded.
    ok(
        d,
        &[
            "return",
            "rtt",
            "--period",
            "2026-10",
            "--as-at",
            "2026-11-01",
            "--out",
            "a.csv",
        ],
    );
    generate_all(d, "later", "2026-11-03", "2026-11-03", "10");
    ok(d, &["load", "--landing", "later"]);
    ok(
        d,
        &[
            "return",
            "rtt",
            "--period",
            "2026-10",
            "--as-at",
            "2026-11-01",
            "--out",
            "b.csv",
        ],
    );
    assert_eq!(
        std::fs::read(d.join("a.csv")).unwrap(),
        std::fs::read(d.join("b.csv")).unwrap()
    );
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("b.csv.provenance.json")).unwrap()).unwrap();
    assert_eq!(
        p["trusts"][0]["feeds"]["rtt_events"][0]["extract_date"],
        "2026-11-01"
    );
    // Reports: listed from their SQL headers, and run.
    let list = ok(d, &["report", "--list"]);
    for name in ["rtt-waits", "ae-performance", "activity"] {
        assert!(list.contains(name), "{list}");
    }
    let r = ok(
        d,
        &[
            "report",
            "ae-performance",
            "--period",
            "2026-10",
            "--format",
            "csv",
        ],
    );
    assert!(
        r.starts_with("level,provider,type,attendances,within_4_hours,pct_within_4_hours,"),
        "{r}"
    );
    let o = icsw(d, &["report", "nope", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(2));
    // The linkage reports, and --min-attendances where it means something.
    for name in ["rtt-multi-provider", "rtt-transfers", "frequent-attenders"] {
        assert!(list.contains(name), "{list}");
    }
    let fa = |n: &str| {
        ok(
            d,
            &[
                "report",
                "frequent-attenders",
                "--period",
                "2026-10",
                "--min-attendances",
                n,
                "--format",
                "csv",
            ],
        )
    };
    // Frequent Attenders, ICS-wide: every linked patient at a threshold of
    // one, fewer at ten.
    let ics = |csv: &str| -> Vec<String> {
        csv.lines()
            .find(|l| l.contains(",ics,"))
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let (one, ten) = (ics(&fa("1")), ics(&fa("10")));
    assert_eq!(one[3], one[4], "every linked patient attended once");
    assert!(ten[4].parse::<u64>().unwrap() < one[4].parse::<u64>().unwrap());
    for bad in [
        vec![
            "report",
            "rtt-transfers",
            "--period",
            "2026-10",
            "--min-attendances",
            "3",
        ],
        vec![
            "report",
            "frequent-attenders",
            "--period",
            "2026-10",
            "--min-attendances",
            "0",
        ],
    ] {
        let o = icsw(d, &bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("attendances"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A GET over a plain TCP connection: the status line and the body.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    let status = out.lines().next().unwrap_or_default().to_string();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Starts a serving command and waits for its address.
/// A running server: the process, its HTTP address, and what it printed
/// before serving.
struct Serving(std::process::Child, String, String);

impl Serving {
    fn start(dir: &Path, args: &[&str]) -> Serving {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_icsw"))
            .args(args)
            .current_dir(dir)
            .env_remove("ICSW_WAREHOUSE")
            .env_remove("ICSW_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("icsw runs");
        let mut printed = String::new();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = None;
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("icsw {args:?} stopped before serving: {printed}"))
                .unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if let Some(rest) = line.strip_prefix("Serving at http://") {
                addr = Some(rest.split('/').next().unwrap().to_string());
            }
            if line.starts_with("Ctrl-C stops it") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Serving(child, addr.expect("an address"), printed)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_loads_shows_the_figures_and_serves_them_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    generate_all(dir.path(), "landing", "2026-11-01", "2026-11-02", "45");
    let s = Serving::start(
        dir.path(),
        &["demo", "--landing", "landing", "--addr", "127.0.0.1:0"],
    );
    assert!(s.1.starts_with("127.0.0.1:"), "{}", s.1);
    let (status, body) = http_get(&s.1, "/healthz", None);
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok");
    // Open mode: no token needed, and it says so.
    let (status, body) = http_get(&s.1, "/", None);
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("Open mode"));
    let (status, body) = http_get(&s.1, "/dashboards/ae", None);
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("<svg class=\"chart\""));
    // The Postgres door on a free loopback port, with how to connect.
    let pg =
        s.2.lines()
            .find_map(|l| l.strip_prefix("Postgres protocol at "))
            .unwrap_or_else(|| panic!("{}", s.2));
    let conn = pg.split('"').nth(1).unwrap();
    assert!(conn.starts_with("host=127.0.0.1 port="), "{conn}");
    assert!(s.2.contains("Flight SQL at 127.0.0.1:"), "{}", s.2);
    if Command::new("psql").arg("--version").output().is_ok() {
        let o = Command::new("psql")
            .args([
                conn,
                "-X",
                "-A",
                "-t",
                "-c",
                "SELECT count(*) > 0 FROM ae_attendances",
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "t", "{o:?}");
    } else {
        assert!(std::env::var("ICSW_REQUIRE_PG_CLIENTS").is_err(), "no psql");
    }
    // And with --no-serve it prints and stops.
    let out = ok(dir.path(), &["demo", "--landing", "landing", "--no-serve"]);
    assert!(out.contains("Statutory returns for 2026-10"), "{out}");
    assert!(!out.contains("Serving at"));
}

#[test]
fn tokens_are_made_for_the_configuration_and_serve_refuses_to_listen_openly() {
    let dir = tempfile::tempdir().unwrap();
    generate_all(dir.path(), "landing", "2026-11-01", "2026-11-01", "35");
    ok(dir.path(), &["load", "--landing", "landing"]);
    // No [access]: only the loopback address.
    let o = icsw(dir.path(), &["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("without access control"));
    let o = icsw(dir.path(), &["token", "--role", "boss", "--name", "x"]);
    assert_eq!(o.status.code(), Some(2));

    let out = ok(
        dir.path(),
        &[
            "token",
            "--role",
            "analyst",
            "--name",
            "ryj-analysts",
            "--trusts",
            "RYJ",
        ],
    );
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap()
        .to_string();
    assert!(!out.contains(&format!("sha256 = \"{token}\"")));
    let section = &out[out.find("[[access.token]]").unwrap()..];
    std::fs::write(
        dir.path().join("icsw.toml"),
        format!(
            "[access]\npseudonym_key = \"k\"\naudit_log = \"audit.log\"\n{section}\n\
             [doors]\nflight_addr = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    // A SQL door beyond loopback without TLS is refused; so is a TLS
    // set-up that cannot be read (never a fall-back to plaintext).
    let o = icsw(
        dir.path(),
        &["serve", "--addr", "127.0.0.1:0", "--pg-addr", "0.0.0.0:0"],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("without TLS"),
        "{o:?}"
    );
    let o = icsw(
        dir.path(),
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "nope.crt",
            "--tls-key",
            "nope.key",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nope.crt"),
        "{o:?}"
    );
    let o = icsw(
        dir.path(),
        &["serve", "--addr", "127.0.0.1:0", "--tls-cert", "a.crt"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("go together"),
        "{o:?}"
    );
    // [doors] in icsw.toml starts Flight SQL, and says how to connect.
    let s = Serving::start(dir.path(), &["serve", "--addr", "127.0.0.1:0"]);
    assert!(s.2.contains("Flight SQL at 127.0.0.1:"), "{}", s.2);
    assert!(s.2.contains("adbc_driver_flightsql"), "{}", s.2);
    assert!(!s.2.contains("Postgres protocol at"), "{}", s.2);
    let (status, _) = http_get(&s.1, "/api/loads", None);
    assert!(status.contains("401"), "{status}");
    let (status, body) = http_get(&s.1, "/api/loads", Some(&token));
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("\"trust\":\"RYJ\""), "{body}");
    let (status, _) = http_get(&s.1, "/dashboards/ae", Some(&token));
    assert!(status.contains("403"), "{status}");
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(audit.contains("\"token\":\"ryj-analysts\""));
    assert!(!audit.contains(&token));
}

#[test]
fn spc_charts_a_csv_with_a_gap_a_constant_baseline_and_a_trend_below_the_mean() {
    let dir = tempfile::tempdir().unwrap();
    let month = |i: usize| format!("{}-{:02}-01", 2024 + i / 12, i % 12 + 1);
    let mut csv = String::from("month,series,value\n");
    // "gap": 40, 60, ... with month 7 missing (an empty cell), 13 months.
    for i in 0..13 {
        let v = if i == 6 {
            String::new()
        } else {
            (if i % 2 == 0 { 40 } else { 60 }).to_string()
        };
        csv.push_str(&format!("{},gap,{v}\n", month(i)));
    }
    // "flat": twelve 10s, then 11, 9, 12.
    for (i, v) in [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11, 9, 12]
        .iter()
        .enumerate()
    {
        csv.push_str(&format!("{},flat,{v}\n", month(i)));
    }
    // "trend": twelve months alternating 40 and 60, then 30, 31, ... 36.
    for i in 0..19 {
        let v = if i < 12 {
            if i % 2 == 0 {
                40
            } else {
                60
            }
        } else {
            30 + (i - 12)
        };
        csv.push_str(&format!("{},trend,{v}\n", month(i)));
    }
    std::fs::write(dir.path().join("series.csv"), csv).unwrap();
    let out = ok(
        dir.path(),
        &[
            "spc",
            "--csv",
            "series.csv",
            "--x",
            "month",
            "--y",
            "value",
            "--facet",
            "series",
            "--fix-after",
            "12",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let points: Vec<&serde_json::Value> = v["points"].as_array().unwrap().iter().collect();
    let of = |f: &str| -> Vec<&serde_json::Value> {
        points.iter().copied().filter(|p| p["f"] == f).collect()
    };
    // The gap is null, not 0, and takes no part: limits from the 11 values
    // of the first 12 months (five 40s, six 60s: mean 560 / 11), moving
    // ranges all 20 (none across the gap), so 560 / 11 +- 2.66 x 20.
    let gap = of("gap");
    assert_eq!(gap.len(), 13);
    assert!(gap[6]["y"].is_null());
    assert!(gap[6]["relative_to_mean"].is_null());
    assert_eq!(gap[6]["point_type"], "common_cause");
    let mean = gap[0]["mean_col"].as_f64().unwrap();
    assert!((mean - 560.0 / 11.0).abs() < 1e-9, "{mean}");
    assert!((gap[0]["upl"].as_f64().unwrap() - (560.0 / 11.0 + 53.2)).abs() < 1e-9);
    assert!(gap.iter().all(|p| p["point_type"] == "common_cause"));
    // A constant baseline has no width: nothing after it is special cause.
    let flat = of("flat");
    assert!(flat
        .iter()
        .all(|p| p["point_type"] == "common_cause" && p["special_cause_flag"] == false));
    // Seven rising points below the mean (50, limits 50 +- 53.2 from the
    // first twelve): a trend, and rising is improvement (higher is better,
    // the default) whichever side of the mean it lies on.
    let trend = of("trend");
    for p in &trend[12..] {
        assert!(p["y"].as_f64().unwrap() < p["mean_col"].as_f64().unwrap());
        assert_eq!(p["special_cause_type"], "7 Point Trend (Increasing)");
        assert_eq!(p["point_type"], "special_cause_improvement");
    }
    assert!(trend[..12]
        .iter()
        .all(|p| p["point_type"] == "common_cause"));
    let summary = v["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 3);
    let t = summary.iter().find(|s| s["f"] == "trend").unwrap();
    assert_eq!(t["variation_type"], "special_cause_improvement");
    assert_eq!(t["special_cause_improvement"], 7);
    // Fixing after fewer than 12 points is refused, exit 2.
    let o = icsw(
        dir.path(),
        &[
            "spc",
            "--csv",
            "series.csv",
            "--x",
            "month",
            "--y",
            "value",
            "--facet",
            "series",
            "--fix-after",
            "6",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("12 points"));
}
