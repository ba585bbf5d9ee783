//! Fixtures written by hand: extracts as JSON rows, a temporary landing
//! zone and warehouse, and SQL results as strings. Not every test module
//! uses every helper.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use icsw_generate::landing::{batch_from_json, write_extract, ExtractFile, ExtractSpec};
use icsw_ingest::{load_all, Landing, LoadReport, NoProgress};
use icsw_model::{Feed, IcsConfig};
use icsw_query::{Limits, WarehouseContext};
use icsw_store::Warehouse;
use serde_json::{json, Value};
use std::path::PathBuf;

pub struct Fx {
    pub dir: tempfile::TempDir,
    pub landing: PathBuf,
    pub wh: Warehouse,
    pub config: IcsConfig,
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

impl Fx {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).expect("landing");
        let wh = Warehouse::open(dir.path().join("warehouse").to_str().expect("utf8"))
            .expect("warehouse");
        Fx {
            dir,
            landing,
            wh,
            config: IcsConfig::default(),
        }
    }

    /// Writes an extract taken at 01:00 UTC the morning after `night`.
    pub fn extract(&self, trust: &str, night: &str, files: Vec<ExtractFile>) -> PathBuf {
        let at = date(night)
            .succ_opt()
            .expect("date")
            .and_hms_opt(1, 0, 0)
            .expect("time")
            .and_utc();
        self.extract_at(trust, night, at, files)
    }

    pub fn extract_at(
        &self,
        trust: &str,
        night: &str,
        at: DateTime<Utc>,
        files: Vec<ExtractFile>,
    ) -> PathBuf {
        let spec = ExtractSpec {
            trust: trust.into(),
            extract_date: date(night),
            extracted_at: at,
            source_system: "Cerner Millennium".into(),
            files,
        };
        write_extract(&self.landing, &spec)
            .expect("write extract")
            .0
    }

    pub async fn load(&self) -> LoadReport {
        load_all(
            &Landing::new(&self.landing),
            &self.wh,
            &self.config,
            &NoProgress,
        )
        .await
        .expect("load runs")
    }

    pub async fn ctx(&self) -> WarehouseContext {
        WarehouseContext::latest(&self.wh, &self.config)
            .await
            .expect("context")
    }

    /// Every value of a query's result as display text ("" for null).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        rows_of(&self.ctx().await, sql).await
    }

    /// The single value of a one-row, one-column query.
    pub async fn one(&self, sql: &str) -> String {
        let r = self.rows(sql).await;
        assert_eq!(r.len(), 1, "{sql} gave {r:?}");
        r[0][0].clone()
    }
}

pub async fn rows_of(ctx: &WarehouseContext, sql: &str) -> Vec<Vec<String>> {
    let batches = ctx
        .collect(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let opts = FormatOptions::default().with_null("");
    let mut out = Vec::new();
    for b in batches {
        let fs: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            out.push(fs.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

pub fn file(feed: Feed, rows: Vec<Value>, covers: Option<(&str, &str)>) -> ExtractFile {
    ExtractFile::new(
        feed,
        batch_from_json(feed, &rows),
        covers.map(|(a, b)| (date(a), date(b))),
    )
}

/// Merges `extra` into `base` (a null in `extra` removes the key).
pub fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object") {
        if v.is_null() {
            base.as_object_mut().expect("object").remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// A valid A&E attendance arriving at `arrival` (London wall-clock),
/// leaving three hours later.
pub fn ae(id: &str, arrival: &str) -> Value {
    let a = chrono::NaiveDateTime::parse_from_str(arrival, "%Y-%m-%d %H:%M:%S").expect("time");
    let d = a + chrono::Duration::hours(3);
    json!({
        "attendance_id": id, "site_code": "RYJ01", "department_type": "01",
        "arrival_time": arrival, "booked_appointment": false,
        "departure_time": d.format("%Y-%m-%d %H:%M:%S").to_string(),
        "admitted": false, "commissioner_code": "W2U3Z",
        "local_patient_id": format!("P-{id}"), "nhs_number": "9434765919"
    })
}

pub fn spell(id: &str, admission: &str, method: &str) -> Value {
    json!({
        "spell_id": id, "admission_time": admission, "admission_method": method,
        "patient_classification": "1", "treatment_function_code": "100",
        "commissioner_code": "W2U3Z", "site_code": "RYJ01",
        "local_patient_id": format!("P-{id}")
    })
}

pub fn op(id: &str, day: &str) -> Value {
    json!({
        "appointment_id": id, "appointment_date": day, "attendance_status": "5",
        "first_attendance": "1", "treatment_function_code": "110",
        "commissioner_code": "W2U3Z", "site_code": "RYJ01",
        "local_patient_id": format!("P-{id}")
    })
}

pub fn referral(id: &str, day: &str, source: &str) -> Value {
    json!({
        "referral_id": id, "referral_received_date": day, "referral_source": source,
        "treatment_function_code": "110", "commissioner_code": "W2U3Z",
        "local_patient_id": format!("P-{id}")
    })
}

/// An RTT event: (event id, pathway id, date, status, activity).
pub fn rtt(id: &str, pathway: &str, day: &str, status: &str, activity: &str) -> Value {
    json!({
        "event_id": id, "pathway_id": pathway, "event_date": day,
        "rtt_status": status, "activity": activity,
        "treatment_function_code": "110", "commissioner_code": "W2U3Z",
        "local_patient_id": format!("P-{pathway}")
    })
}

pub fn patient(id: &str) -> Value {
    json!({"local_patient_id": id, "nhs_number": "9434765919", "sex": "2"})
}

/// Rows of A&E attendances, one per day from `from` for `days` days, at noon.
pub fn ae_days(prefix: &str, from: &str, days: i64) -> Vec<Value> {
    (0..days)
        .map(|i| {
            let d = date(from) + chrono::Duration::days(i);
            ae(&format!("{prefix}{i}"), &format!("{d} 12:00:00"))
        })
        .collect()
}

pub async fn open_memory() -> Warehouse {
    Warehouse::open("memory:///warehouse").expect("memory warehouse")
}

pub fn limits() -> Limits {
    Limits::default()
}
