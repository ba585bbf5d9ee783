//! Golden files: `tests/golden/*.slt`, a sqllogictest-like format over
//! hand-made fixtures whose expected figures are worked out by hand in each
//! file's comments.
//!
//! Records are separated by blank lines; `#` starts a comment line.
//!
//! - `fixture FILE.json` loads a fixture into a new warehouse (see below).
//! - `query [ret] [rowsort]`, the SQL, `----`, then the expected rows with
//!   values separated by `|` (`NULL` for null, `(empty)` for ""). With
//!   `ret`, the query runs over the last return, registered as table `ret`
//!   (every column text).
//! - `return KIND PERIOD [trust=X] [as_at=D] [as_at_load=N] [allow_incomplete]`,
//!   `----`, then the exact CSV the return must be (byte for byte).
//! - `held KIND PERIOD [options]`, `----`, then text each held reason
//!   must contain, a line each.
//! - `report NAME PERIOD [trust=X] [min_attendances=N] [header]`, `----`,
//!   then its rows as for `query` (the header first with `header`).
//! - `complete NAME PERIOD`, `----`, then the report's incomplete reasons
//!   over every configured trust, a line each (or `complete`).
//!
//! A fixture is JSON: optional `config` (icsw.toml text) and `extracts`,
//! each with `trust`, `night`, optional `extracted_at` (default 01:00 UTC the
//! next morning) and `files`: `feed`, optional `covers` [from, to],
//! optional `columns` (rows given as arrays in that order), optional
//! `defaults` (added to every row), and `rows`. A row
//! `{"$repeat": N, "row": ...}` stands for N rows with `{i}` in its strings
//! replaced by 0..N-1.

use crate::support::{date, file, rows_of, Fx};
use icsw_model::{Feed, IcsConfig, Month};
use icsw_query::WarehouseContext;
use icsw_returns::{AsAt, ReturnKind, ReturnRequest};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn expand(
    rows: &[Value],
    columns: Option<&Vec<Value>>,
    defaults: &Map<String, Value>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for r in rows {
        if let Some(n) = r.get("$repeat").and_then(Value::as_u64) {
            let template = r["row"].clone();
            for i in 0..n {
                let text = serde_json::to_string(&template)
                    .unwrap()
                    .replace("{i}", &i.to_string());
                out.extend(expand(
                    &[serde_json::from_str(&text).unwrap()],
                    columns,
                    defaults,
                ));
            }
            continue;
        }
        let mut obj = defaults.clone();
        match (r, columns) {
            (Value::Array(vals), Some(cols)) => {
                for (c, v) in cols.iter().zip(vals) {
                    if !v.is_null() {
                        obj.insert(c.as_str().unwrap().to_string(), v.clone());
                    }
                }
            }
            (Value::Object(m), _) => {
                for (k, v) in m {
                    if v.is_null() {
                        obj.remove(k);
                    } else {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => panic!("a fixture row is an object, or an array with columns: {r}"),
        }
        out.push(Value::Object(obj));
    }
    out
}

pub async fn load_fixture(path: &Path) -> Fx {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fx = Fx::new();
    if let Some(c) = fixture.get("config").and_then(Value::as_str) {
        fx.config = IcsConfig::from_toml(c).expect("fixture config");
    }
    for ex in fixture["extracts"].as_array().expect("extracts") {
        let trust = ex["trust"].as_str().unwrap();
        let night = ex["night"].as_str().unwrap();
        let mut files = Vec::new();
        for f in ex["files"].as_array().unwrap() {
            let feed = Feed::parse(f["feed"].as_str().unwrap()).unwrap();
            let covers = f.get("covers").map(|c| {
                (
                    c[0].as_str().unwrap().to_string(),
                    c[1].as_str().unwrap().to_string(),
                )
            });
            let defaults = f
                .get("defaults")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let rows = expand(
                f["rows"].as_array().unwrap(),
                f.get("columns").and_then(Value::as_array),
                &defaults,
            );
            files.push(file(
                feed,
                rows,
                covers.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            ));
        }
        match ex.get("extracted_at").and_then(Value::as_str) {
            Some(at) => {
                let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc();
                fx.extract_at(trust, night, at, files);
            }
            None => {
                fx.extract(trust, night, files);
            }
        }
    }
    let report = fx.load().await;
    for l in &report.loads {
        assert!(
            l.refusal.is_none(),
            "{}: fixture refused: {:?}",
            path.display(),
            l.refusal
        );
        assert_eq!(
            l.rows_quarantined(),
            0,
            "{}: fixture rows quarantined: {:?}",
            path.display(),
            l.files
        );
    }
    fx
}

struct Record {
    line: usize,
    head: String,
    body: Vec<String>,
    expected: Vec<String>,
}

fn parse(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, l)) = lines.next() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let mut r = Record {
            line: n + 1,
            head: l.trim().to_string(),
            body: Vec::new(),
            expected: Vec::new(),
        };
        let mut in_expected = false;
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            let l = lines.next().unwrap().1;
            if l.starts_with('#') {
                continue;
            }
            if l == "----" {
                in_expected = true;
            } else if in_expected {
                r.expected.push(l.to_string());
            } else {
                r.body.push(l.to_string());
            }
        }
        out.push(r);
    }
    out
}

fn show(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| {
                    if v.is_empty() {
                        "(empty)".to_string()
                    } else {
                        v
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Values as the golden files show them: nulls as NULL.
async fn query_rows(ctx: &WarehouseContext, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let batches = ctx.collect(sql).await.map_err(|e| e.to_string())?;
    Ok(batch_rows(batches))
}

fn batch_rows(batches: Vec<datafusion::arrow::array::RecordBatch>) -> Vec<Vec<String>> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fs: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(fs.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

fn request(words: &[&str]) -> ReturnRequest {
    let mut req = ReturnRequest {
        kind: ReturnKind::parse(words[1]).unwrap(),
        period: Month::parse(words[2]).unwrap(),
        trust: None,
        as_at: AsAt::default(),
        allow_incomplete: false,
    };
    for w in &words[3..] {
        match w.split_once('=') {
            Some(("trust", t)) => req.trust = Some(t.to_string()),
            Some(("as_at", d)) => req.as_at.date = Some(date(d)),
            Some(("as_at_load", v)) => req.as_at.load = Some(v.parse().unwrap()),
            None if *w == "allow_incomplete" => req.allow_incomplete = true,
            _ => panic!("unknown option {w}"),
        }
    }
    req
}

async fn run_file(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut fx: Option<Fx> = None;
    let mut ret: Option<String> = None;
    let mut failures = Vec::new();
    for r in parse(&text) {
        let at = format!("{name}:{}", r.line);
        let words: Vec<&str> = r.head.split_whitespace().collect();
        let mut fail = |msg: String| failures.push(format!("{at}: {msg}"));
        match words[0] {
            "fixture" => {
                fx = Some(load_fixture(&golden_dir().join(words[1])).await);
            }
            "query" => {
                let fx = fx.as_ref().expect("a fixture first");
                let ctx = fx.ctx().await;
                if words.contains(&"ret") {
                    let Some(csv) = ret.as_ref() else {
                        fail("no return to query".into());
                        continue;
                    };
                    register_csv(&ctx, "ret", csv);
                }
                let sql = r.body.join("\n");
                match query_rows(&ctx, &sql).await {
                    Ok(rows) => {
                        let mut got = show(rows);
                        let mut want = r.expected.clone();
                        if words.contains(&"rowsort") {
                            got.sort();
                            want.sort();
                        }
                        if got != want {
                            fail(format!(
                                "query gave\n{}\nexpected\n{}",
                                got.join("\n"),
                                want.join("\n")
                            ));
                        }
                    }
                    Err(e) => fail(format!("query failed: {e}")),
                }
            }
            "return" | "held" => {
                let fx = fx.as_ref().expect("a fixture first");
                let req = request(&words);
                let mut out = Vec::new();
                let ctx = WarehouseContext::at(&fx.wh, req.as_at, &fx.config)
                    .await
                    .unwrap();
                let no_gate = icsw_returns::KnownReasons(vec![]);
                let result =
                    icsw_returns::write_return(&ctx, &fx.config, &req, &no_gate, &mut out).await;
                match (words[0], result) {
                    ("return", Ok(_)) => {
                        let csv = String::from_utf8(out).unwrap();
                        let want = r.expected.join("\n") + "\n";
                        if csv != want {
                            let got_lines: Vec<&str> = csv.lines().collect();
                            let diff: Vec<String> = got_lines
                                .iter()
                                .zip(r.expected.iter())
                                .enumerate()
                                .filter(|(_, (g, w))| *g != w)
                                .map(|(i, (g, w))| {
                                    format!("line {}:\n  got  {g}\n  want {w}", i + 1)
                                })
                                .collect();
                            fail(format!(
                                "return differs ({} lines, {} expected)\n{}",
                                got_lines.len(),
                                r.expected.len(),
                                diff.join("\n")
                            ));
                        }
                        ret = Some(csv);
                    }
                    ("held", Err(icsw_returns::Error::Held(p))) => {
                        for want in &r.expected {
                            if !p.reasons.iter().any(|x| x.contains(want.as_str())) {
                                fail(format!(
                                    "held, but no reason contains {want:?}: {:?}",
                                    p.reasons
                                ));
                            }
                        }
                    }
                    (kind, Ok(_)) => fail(format!("{kind}: the return was written")),
                    (_, Err(e)) => fail(format!("return failed: {e}")),
                }
            }
            "complete" => {
                let fx = fx.as_ref().expect("a fixture first");
                let ctx = fx.ctx().await;
                let month = Month::parse(words[2]).unwrap();
                let mut got =
                    icsw_returns::report_completeness(ctx.view(), &fx.config, words[1], month)
                        .unwrap()
                        .expect("the report declares covers:");
                if got.is_empty() {
                    got.push("complete".into());
                }
                if got != r.expected {
                    fail(format!(
                        "completeness gave\n{}\nexpected\n{}",
                        got.join("\n"),
                        r.expected.join("\n")
                    ));
                }
            }
            "report" => {
                let fx = fx.as_ref().expect("a fixture first");
                let ctx = fx.ctx().await;
                let trust = words.iter().find_map(|w| w.strip_prefix("trust="));
                let options = icsw_returns::ReportOptions {
                    min_attendances: words
                        .iter()
                        .find_map(|w| w.strip_prefix("min_attendances="))
                        .map(|n| n.parse().unwrap()),
                };
                let month = Month::parse(words[2]).unwrap();
                let df = icsw_returns::report(&ctx, words[1], month, trust, &options)
                    .await
                    .unwrap();
                let header = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                match df.collect().await.map(batch_rows) {
                    Ok(rows) => {
                        let mut got = show(rows);
                        if words.contains(&"header") {
                            got.insert(0, header);
                        }
                        if got != r.expected {
                            fail(format!(
                                "report gave\n{}\nexpected\n{}",
                                got.join("\n"),
                                r.expected.join("\n")
                            ));
                        }
                    }
                    Err(e) => fail(format!("report failed: {e}")),
                }
            }
            other => panic!("{at}: unknown record {other}"),
        }
    }
    failures
}

/// Registers CSV text as a table of text columns.
fn register_csv(ctx: &WarehouseContext, name: &str, csv: &str) {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let header = csv.lines().next().unwrap();
    let fields: Vec<Field> = icsw_model::reference::csv_rows(header)[0]
        .iter()
        .map(|h| Field::new(h, DataType::Utf8, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let reader = datafusion::arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(std::io::Cursor::new(csv.as_bytes().to_vec()))
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let t = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
    let _ = ctx.session().deregister_table(name);
    ctx.session().register_table(name, Arc::new(t)).unwrap();
}

async fn check(name: &str) {
    let failures = run_file(&golden_dir().join(name)).await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[tokio::test]
async fn rtt_return() {
    check("rtt.slt").await;
}

#[allow(dead_code)]
fn unused(_: &Fx) -> Vec<Vec<String>> {
    let _ = rows_of;
    vec![]
}

#[tokio::test]
async fn ae_return() {
    check("ae.slt").await;
}

#[tokio::test]
async fn activity_return() {
    check("activity.slt").await;
}

#[tokio::test]
async fn rtt_waits_report() {
    check("rtt_waits.slt").await;
}

#[tokio::test]
async fn linkage_ae_reattendance() {
    check("linkage_ae.slt").await;
}

#[tokio::test]
async fn linkage_frequent_attenders() {
    check("linkage_fa.slt").await;
}

#[tokio::test]
async fn linkage_rtt_multi_provider_and_transfers() {
    check("linkage_rtt.slt").await;
}
