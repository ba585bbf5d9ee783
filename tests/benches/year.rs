//! A year of generated data for four trusts (about 1 M A&E attendances,
//! 5 M outpatient appointments and 1.5 M RTT events), and on it:
//!
//! - `returns`: all three statutory returns for one month, as
//!   `icsw return` makes them (the data-quality gate, then the return's
//!   SQL), cold and warm, with the peak memory;
//! - `quality`: the data-quality checks for a month and for a night;
//! - `serve`: a bounded load test of the HTTP server on loopback, 50
//!   clients on dashboards and 5 on SQL for 30 seconds;
//! - `cold`: each thing a user starts as a fresh process, timed from the
//!   process's start to its end with its peak memory: each `icsw return`,
//!   `icsw quality --period`, the first `/dashboards/rtt` of a server just
//!   started (no warming), and a load of the whole year into a new
//!   warehouse; beside them, when the `duckdb` Python package is present,
//!   DuckDB's process for the A&E return's figures over the same files
//!   (which must equal icsw's) and DuckDB merely copying the landing
//!   Parquet files to Parquet; and the ratios;
//! - `--child probe` (not a measure of its own): where a fresh process's
//!   returns spend their time (the session, each gate, each return's SQL),
//!   and any statements in the file `ICSW_PROBE_SQL` (one per paragraph),
//!   timed cold and warm;
//! - `soak`: the `serve` measure for 10 minutes (`ICSW_BENCH_SECONDS`), one of the
//!   five SQL clients sending hostile queries (each must be refused, the
//!   others must all succeed), with the resident memory sampled every 10
//!   seconds: it must stay flat.
//!
//! How to run: `cargo bench -p icsw-tests --bench year` (release build);
//! `-- cold`, `-- returns`, `-- quality`, `-- serve` or `-- soak` for one of them (the soak
//! only when asked for). The warehouse is
//! built once under `ICSW_BENCH_DIR` (default: the system temp directory)
//! and reused. Each measure runs in a child process, so its peak resident
//! memory (VmHWM) is its own.

use icsw_model::{IcsConfig, Month};
use icsw_query::WarehouseContext;
use icsw_returns::{AsAt, ReturnKind, ReturnRequest};
use icsw_store::Warehouse;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TRUSTS: [&str; 4] = ["RYJ", "RQM", "R1K", "RAS"];
const NIGHT: &str = "2026-11-01";
const PERIOD: &str = "2026-10";

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Generates and loads the year once; later runs reuse it.
fn prepare(dir: &Path) -> Warehouse {
    let warehouse = dir.join("warehouse");
    let ready = dir.join("ready");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("bench dir");
        let landing = dir.join("landing");
        let night = NIGHT.parse().expect("date");
        let mut opts = icsw_generate::Options::new(&TRUSTS, night, night);
        opts.history_days = 364;
        // A&E attendances per trust per day: 4 trusts x 365 days x 685 = 1.0 M.
        opts.scale = 685.0;
        let t = Instant::now();
        let report = icsw_generate::generate(&landing, &opts).expect("generate");
        println!(
            "generated {} rows in {:.0} s",
            report.rows,
            t.elapsed().as_secs_f64()
        );
        let wh = Warehouse::open(warehouse.to_str().expect("utf8")).expect("warehouse");
        let t = Instant::now();
        let r = runtime()
            .block_on(icsw_ingest::load_all(
                &icsw_ingest::Landing::new(&landing),
                &wh,
                &IcsConfig::default(),
                &icsw_ingest::NoProgress,
            ))
            .expect("load");
        assert!(r.loads.iter().all(|l| l.refusal.is_none()));
        let rows: u64 = r.loads.iter().map(|l| l.rows_read()).sum();
        println!("loaded {rows} rows in {:.0} s", t.elapsed().as_secs_f64());
        std::fs::write(&ready, "").expect("ready");
    }
    Warehouse::open(warehouse.to_str().expect("utf8")).expect("warehouse")
}

fn request(kind: ReturnKind) -> ReturnRequest {
    ReturnRequest {
        kind,
        period: Month::parse(PERIOD).expect("month"),
        trust: None,
        as_at: AsAt::default(),
        allow_incomplete: false,
    }
}

/// The three returns as `icsw return` makes them (a session over the
/// view, the data-quality gate, the return), each in a new session unless
/// `shared` is given (as the server holds one per warehouse version); the
/// seconds each took and the bytes written.
async fn three_returns(
    wh: &Warehouse,
    config: &IcsConfig,
    shared: Option<&WarehouseContext>,
) -> Vec<(ReturnKind, f64, usize)> {
    let mut out = Vec::new();
    for kind in ReturnKind::ALL {
        let t = Instant::now();
        let req = request(kind);
        let ctx = match shared {
            Some(c) => c.clone(),
            None => WarehouseContext::at(wh, req.as_at, config)
                .await
                .expect("session"),
        };
        let mut csv = Vec::new();
        icsw_returns::write_return(&ctx, config, &req, &icsw_quality::QualityGate, &mut csv)
            .await
            .expect("return");
        out.push((kind, t.elapsed().as_secs_f64(), csv.len()));
    }
    out
}

fn child_returns(wh: &Warehouse) {
    let config = IcsConfig::default();
    let rt = runtime();
    let show = |label: &str, r: &[(ReturnKind, f64, usize)]| {
        let total: f64 = r.iter().map(|x| x.1).sum();
        let each: Vec<String> = r
            .iter()
            .map(|(k, s, b)| format!("{} {s:.2} s ({b} bytes)", k.name()))
            .collect();
        println!("{label:<40} {total:>6.2} s   {}", each.join(", "));
    };
    let median = |runs: &mut Vec<Vec<(ReturnKind, f64, usize)>>| {
        runs.sort_by(|a, b| {
            let s = |r: &Vec<(ReturnKind, f64, usize)>| r.iter().map(|x| x.1).sum::<f64>();
            s(a).total_cmp(&s(b))
        });
        runs[runs.len() / 2].clone()
    };
    let cold = rt.block_on(three_returns(wh, &config, None));
    show("cold: first in the process", &cold);
    let mut runs: Vec<_> = (0..3)
        .map(|_| rt.block_on(three_returns(wh, &config, None)))
        .collect();
    show("warm: a new session each (icsw return)", &median(&mut runs));
    let ctx = rt
        .block_on(WarehouseContext::latest(wh, &config))
        .expect("session");
    show(
        "one session: first (server, new version)",
        &rt.block_on(three_returns(wh, &config, Some(&ctx))),
    );
    let mut runs: Vec<_> = (0..3)
        .map(|_| rt.block_on(three_returns(wh, &config, Some(&ctx))))
        .collect();
    show("one session: warm (median of 3)", &median(&mut runs));
    println!("peak resident memory {:.0} MB", peak_rss_mb());
}

fn child_quality(wh: &Warehouse) {
    let config = IcsConfig::default();
    let rt = runtime();
    let ctx = rt
        .block_on(WarehouseContext::latest(wh, &config))
        .expect("session");
    for scope in [
        icsw_quality::Scope::Period(Month::parse(PERIOD).expect("month")),
        icsw_quality::Scope::Date(NIGHT.parse().expect("date")),
    ] {
        for round in ["cold", "warm"] {
            let t = Instant::now();
            let f = rt
                .block_on(icsw_quality::run(&ctx, &config, scope, None, &[]))
                .expect("checks");
            let errors = f
                .iter()
                .filter(|x| x.severity == icsw_quality::Severity::Error)
                .count();
            println!(
                "checks for {scope:<10} {round}: {:>6.2} s, {} findings ({errors} errors)",
                t.elapsed().as_secs_f64(),
                f.len()
            );
        }
    }
    println!("peak resident memory {:.0} MB", peak_rss_mb());
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn pct(&mut self, p: f64) -> f64 {
        self.0.sort();
        if self.0.is_empty() {
            return 0.0;
        }
        let i = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len()) - 1;
        self.0[i].as_secs_f64() * 1000.0
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Queries a hostile analyst sends in the soak: each must be refused.
fn hostile() -> Vec<String> {
    vec![
        "SELECT length(repeat('x', 500000000))".into(),
        format!("SELECT {}", vec!["1"; 2500].join("+")),
        "SELECT 1; SELECT 2".into(),
        "SELECT levenshtein(repeat('a', 100000), repeat('b', 100000))".into(),
        "DROP TABLE ae_attendances".into(),
        vec!["SELECT 1 AS x"; 5000].join(" UNION ALL "),
        // Stopped by the time limit (30 s), inside a plan that never yields.
        // (10^12 rows: no statistic answers it, nothing prunes it.)
        "SELECT max(a.value - b.value) AS v FROM generate_series(1, 1000000) a, \
         generate_series(1, 1000000) b"
            .into(),
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
            .into(),
    ]
}

fn child_serve(wh: &Warehouse, soak: bool) {
    let rt = runtime();
    let secs: u64 = std::env::var("ICSW_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if soak { 600 } else { 30 });
    rt.block_on(async {
        let state = icsw_server::AppState::new(
            wh.clone(),
            IcsConfig::default(),
            // Every client is the one open-mode principal: room for all.
            icsw_server::ServerOptions {
                max_queries: 8,
                max_queries_per_token: 8,
                ..Default::default()
            },
        )
        .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(icsw_server::serve(state, listener));
        let mut pages = Vec::new();
        for d in ["ae", "rtt", "long_waits", "activity", "quality"] {
            for t in ["ICS", "RYJ", "RQM", "R1K", "RAS"] {
                pages.push(format!("{base}/dashboards/{d}?trust={t}"));
            }
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        // Warm: each page once (the first render of each runs its queries).
        let t = Instant::now();
        for p in &pages {
            let r = client.get(p).send().await.expect("get");
            assert!(r.status().is_success(), "{p}: {}", r.status());
            r.bytes().await.expect("body");
        }
        println!(
            "first render of {} dashboard pages: {:.1} s",
            pages.len(),
            t.elapsed().as_secs_f64()
        );
        let until = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for c in 0..50usize {
            let (client, pages) = (client.clone(), pages.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = c;
                while Instant::now() < until {
                    let t = Instant::now();
                    let r = client.get(&pages[i % pages.len()]).send().await.expect("get");
                    assert!(r.status().is_success());
                    r.bytes().await.expect("body");
                    lat.push(t.elapsed());
                    i += 7;
                }
                (false, lat)
            }));
        }
        let queries = [
            "SELECT trust, count(*) AS n FROM ae_attendances GROUP BY trust",
            "SELECT trust, treatment_function_code, count(*) AS n FROM outpatient_appointments \
             WHERE appointment_date >= DATE '2026-10-01' GROUP BY 1, 2 ORDER BY 1, 2",
            "SELECT trust, count(*) AS n FROM rtt_periods WHERE clock_stop IS NULL GROUP BY trust",
        ];
        let memory = tokio::spawn(async move {
            let mut samples = vec![rss_mb()];
            while Instant::now() + Duration::from_secs(10) < until {
                tokio::time::sleep(Duration::from_secs(10)).await;
                samples.push(rss_mb());
            }
            samples
        });
        let hostile_queries = std::sync::Arc::new(hostile());
        for c in 0..5usize {
            let client = client.clone();
            let base = base.clone();
            let hostile = soak && c == 4;
            let bad = hostile_queries.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = c;
                while Instant::now() < until {
                    let t = Instant::now();
                    let q = if hostile {
                        bad[i % bad.len()].clone()
                    } else {
                        queries[i % queries.len()].to_string()
                    };
                    let r = client
                        .post(format!("{base}/api/sql"))
                        .header("accept", "text/csv")
                        .body(q.clone())
                        .send()
                        .await
                        .expect("post");
                    if hostile {
                        assert!(r.status().is_client_error(), "{q}: {}", r.status());
                        r.bytes().await.expect("body");
                        i += 1;
                        continue;
                    }
                    assert!(r.status().is_success(), "{}", r.status());
                    r.bytes().await.expect("body");
                    lat.push(t.elapsed());
                    i += 1;
                }
                (true, lat)
            }));
        }
        let (mut dash, mut sql) = (Latencies(Vec::new()), Latencies(Vec::new()));
        for t in tasks {
            let (is_sql, lat) = t.await.expect("task");
            if is_sql { &mut sql } else { &mut dash }.0.extend(lat);
        }
        let samples = memory.await.expect("memory");
        let sql_name = if soak { "SQL, 4 clients (+1 hostile)" } else { "SQL, 5 clients" };
        for (name, l) in [("dashboards, 50 clients", &mut dash), (sql_name, &mut sql)] {
            let n = l.0.len();
            println!(
                "{name:<24} {n:>7} requests  {:>8.1} req/s  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
                n as f64 / secs as f64,
                l.pct(0.50),
                l.pct(0.99),
                l.pct(1.0)
            );
        }
        let (lo, hi) = samples
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        println!(
            "resident memory over the run: first {:.0} MB, last {:.0} MB, min {lo:.0} MB, max {hi:.0} MB ({} samples)",
            samples.first().copied().unwrap_or(0.0),
            samples.last().copied().unwrap_or(0.0),
            samples.len()
        );
        println!(
            "every 10 s (MB): {}",
            samples
                .iter()
                .map(|m| format!("{m:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    });
    println!("peak resident memory {:.0} MB", peak_rss_mb());
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir: PathBuf = std::env::var_os("ICSW_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("icsw-bench-year"));
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let wh = Warehouse::open(dir.join("warehouse").to_str().expect("utf8")).expect("warehouse");
        match args[i + 1].as_str() {
            "returns" => child_returns(&wh),
            "quality" => child_quality(&wh),
            "serve" => child_serve(&wh, false),
            "soak" => child_serve(&wh, true),
            one => child_one(&wh, &dir, one),
        }
        return;
    }
    prepare(&dir);
    let all = ["cold", "returns", "quality", "serve", "soak"];
    // The soak (10 minutes) runs only when asked for.
    let chosen: Vec<&str> = all
        .iter()
        .copied()
        .filter(|m| {
            if args.is_empty() {
                *m != "soak"
            } else {
                args.iter().any(|a| a == m)
            }
        })
        .collect();
    for m in chosen {
        println!("== {m}");
        if m == "cold" {
            cold(&dir);
            continue;
        }
        let mut child = Command::new(std::env::current_exe().expect("exe"));
        child.args(["--child", m]).env("ICSW_BENCH_DIR", &dir);
        // The server as `icsw serve` runs it.
        if matches!(m, "serve" | "soak") && std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            child.env("MALLOC_ARENA_MAX", icsw_server::MALLOC_ARENA_MAX);
        }
        let status = child.status().expect("child");
        assert!(status.success(), "{m} failed");
    }
}

/// One thing a user starts, in this (fresh) process.
fn child_one(wh: &Warehouse, dir: &Path, what: &str) {
    let config = IcsConfig::default();
    let rt = runtime();
    if let Some(kind) = what.strip_prefix("return-") {
        let req = request(ReturnKind::parse(kind).expect("kind"));
        let csv = rt.block_on(async {
            let ctx = WarehouseContext::at(wh, req.as_at, &config)
                .await
                .expect("session");
            let mut csv = Vec::new();
            icsw_returns::write_return(&ctx, &config, &req, &icsw_quality::QualityGate, &mut csv)
                .await
                .expect("return");
            csv
        });
        std::fs::write(dir.join(format!("{what}.csv")), csv).expect("csv");
    } else if what == "probe" {
        // Where a fresh process's RTT return spends its time.
        rt.block_on(async {
            let t = Instant::now();
            let ctx = WarehouseContext::latest(wh, &config)
                .await
                .expect("session");
            println!("session {:.3}", t.elapsed().as_secs_f64());
            let m = Month::parse(PERIOD).expect("month");
            for kind in ReturnKind::ALL {
                let t = Instant::now();
                icsw_quality::gate_reasons(&ctx, &config, kind, m, None)
                    .await
                    .expect("gate");
                println!("gate {kind} {:.3}", t.elapsed().as_secs_f64());
            }
            for kind in ReturnKind::ALL {
                let t = Instant::now();
                let mut csv = Vec::new();
                icsw_returns::write_csv(&ctx, &request(kind), &mut csv)
                    .await
                    .expect("csv");
                println!("sql {kind} {:.3}", t.elapsed().as_secs_f64());
            }
            // Any further statements to time: one per paragraph of the file.
            if let Ok(path) = std::env::var("ICSW_PROBE_SQL") {
                let text = std::fs::read_to_string(path).expect("probe sql");
                for sql in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
                    for round in ["cold", "warm"] {
                        let t = Instant::now();
                        let b = ctx.collect(sql).await.expect("sql");
                        let rows: usize = b.iter().map(|b| b.num_rows()).sum();
                        println!(
                            "{round} {:.3} s, {rows} rows: {}",
                            t.elapsed().as_secs_f64(),
                            sql.lines().next().unwrap_or("")
                        );
                    }
                }
            }
            for sql in [
                "SELECT count(*) FROM rtt_period_history",
                "SELECT count(*) FROM rtt_census_periods WHERE census_date = DATE '2026-10-31'",
                "SELECT count(*) FROM rtt_findings",
            ] {
                let t = Instant::now();
                ctx.collect(sql).await.expect("sql");
                println!("{sql}: {:.3}", t.elapsed().as_secs_f64());
            }
        });
    } else if what == "quality-month" {
        rt.block_on(async {
            let ctx = WarehouseContext::latest(wh, &config)
                .await
                .expect("session");
            let scope = icsw_quality::Scope::Period(Month::parse(PERIOD).expect("month"));
            icsw_quality::run(&ctx, &config, scope, None, &[])
                .await
                .expect("checks");
        });
    } else if what == "dashboard-rtt" {
        rt.block_on(async {
            let state = icsw_server::AppState::new(
                wh.clone(),
                config,
                icsw_server::ServerOptions {
                    warm_dashboards: false,
                    ..Default::default()
                },
            )
            .expect("state");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!(
                "http://{}/dashboards/rtt",
                listener.local_addr().expect("addr")
            );
            tokio::spawn(icsw_server::serve(state, listener));
            let r = reqwest::get(&url).await.expect("get");
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.expect("body");
        });
    } else if what == "load" {
        let target = dir.join("load-warehouse");
        let _ = std::fs::remove_dir_all(&target);
        let fresh = Warehouse::open(target.to_str().expect("utf8")).expect("warehouse");
        let r = rt
            .block_on(icsw_ingest::load_all(
                &icsw_ingest::Landing::new(dir.join("landing")),
                &fresh,
                &config,
                &icsw_ingest::NoProgress,
            ))
            .expect("load");
        let rows: u64 = r.loads.iter().map(|l| l.rows_read()).sum();
        println!("rows {rows}");
        let _ = std::fs::remove_dir_all(&target);
    } else {
        panic!("no measure {what}");
    }
    println!("peak {:.0} MB", peak_rss_mb());
}

/// A process's wall time, and what it printed as `rows N` and `peak N MB`.
struct Run {
    seconds: f64,
    rows: Option<f64>,
    peak_mb: f64,
    stdout: String,
}

fn run(cmd: &mut Command) -> Run {
    let t = Instant::now();
    let out = cmd.output().expect("process");
    let seconds = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        stdout.lines().find_map(|l| {
            l.strip_prefix(name)?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
    };
    Run {
        seconds,
        rows: field("rows "),
        peak_mb: field("peak ").unwrap_or(0.0),
        stdout,
    }
}

/// The A&E return's figures by provider and column, from icsw's CSV or
/// DuckDB's JSON.
type Figures = std::collections::BTreeMap<(String, String), i64>;

fn icsw_ae_figures(csv: &str) -> Figures {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let mut out = Figures::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let org = cells[header.iter().position(|h| *h == "Org Code").expect("org")].to_string();
        for (h, v) in header.iter().zip(&cells) {
            if let Ok(n) = v.parse::<i64>() {
                out.insert((org.clone(), h.to_string()), n);
            }
        }
    }
    out
}

fn duckdb_ae_figures(stdout: &str) -> Figures {
    let json: serde_json::Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("duckdb's figures");
    let header: Vec<String> = json["header"]
        .as_array()
        .expect("header")
        .iter()
        .map(|h| h.as_str().expect("name").to_string())
        .collect();
    let mut out = Figures::new();
    for row in json["rows"].as_array().expect("rows") {
        let org = row[0].as_str().expect("org").to_string();
        for (h, v) in header.iter().zip(row.as_array().expect("row")).skip(1) {
            out.insert((org.clone(), h.clone()), v.as_i64().expect("count"));
        }
    }
    out
}

/// The `cold` measures, each a fresh process, with DuckDB beside them.
fn cold(dir: &Path) {
    let me = std::env::current_exe().expect("exe");
    let child = |what: &str| {
        let mut c = Command::new(&me);
        c.args(["--child", what]).env("ICSW_BENCH_DIR", dir);
        if what == "dashboard-rtt" && std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            c.env("MALLOC_ARENA_MAX", icsw_server::MALLOC_ARENA_MAX);
        }
        run(&mut c)
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/duckdb_year.py");
    let duckdb = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    let duck = |args: &[&str]| duckdb.then(|| run(Command::new("python3").arg(script).args(args)));
    let warehouse = dir.join("warehouse");
    let wh = warehouse.to_str().expect("utf8");
    // DuckDB first, so its files are as warm in the page cache as icsw's.
    let duck_ae = duck(&["ae", wh, PERIOD]);
    let copy_dir = dir.join("duckdb-copy");
    let duck_copy = duck(&[
        "copy",
        dir.join("landing").to_str().expect("utf8"),
        copy_dir.to_str().expect("utf8"),
    ]);
    let _ = std::fs::remove_dir_all(&copy_dir);
    let mut rows: Vec<(String, Run)> = Vec::new();
    for what in [
        "return-ae",
        "return-rtt",
        "return-activity",
        "quality-month",
        "dashboard-rtt",
        "load",
    ] {
        rows.push((what.to_string(), child(what)));
    }
    if let Some(d) = &duck_ae {
        let csv = std::fs::read_to_string(dir.join("return-ae.csv")).expect("csv");
        let ours = icsw_ae_figures(&csv);
        let theirs = duckdb_ae_figures(&d.stdout);
        assert!(!theirs.is_empty());
        for (k, v) in &theirs {
            assert_eq!(ours.get(k), Some(v), "A&E {k:?}: icsw and DuckDB differ");
        }
        println!(
            "DuckDB's A&E figures equal icsw's ({} values)",
            theirs.len()
        );
    }
    println!("| what | icsw s | icsw peak MB | DuckDB s | DuckDB peak MB | icsw / DuckDB A&E |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let base = duck_ae.as_ref().map(|d| d.seconds);
    for (what, r) in &rows {
        let (ds, dm) = match (what.as_str(), &duck_ae, &duck_copy) {
            ("return-ae", Some(d), _) | ("load", _, Some(d)) => {
                (format!("{:.2}", d.seconds), format!("{:.0}", d.peak_mb))
            }
            _ => ("".into(), "".into()),
        };
        let ratio = base.map_or(String::new(), |b| format!("{:.1}x", r.seconds / b));
        let label = match (what.as_str(), r.rows) {
            ("load", Some(n)) => format!("load ({:.0} k rows/s)", n / r.seconds / 1000.0),
            _ => what.clone(),
        };
        println!(
            "| {label} | {:.2} | {:.0} | {ds} | {dm} | {ratio} |",
            r.seconds, r.peak_mb
        );
    }
    if let Some(d) = &duck_copy {
        if let Some(n) = d.rows {
            println!(
                "DuckDB copies the landing files at {:.0} k rows/s",
                n / d.seconds / 1000.0
            );
        }
    }
}
