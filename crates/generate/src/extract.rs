//! Cutting nightly extracts out of the world, in each trust's own Parquet
//! dialect, with the go-live faults the warehouse must catch.

use crate::landing::{file_sha256, write_parquet, ExtractSpec, WrittenFile};
use crate::rng::Rng;
use crate::world::{Ae, Day, Op, Referral, RttEvent, Spell, TrustWorld};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use icsw_model::london::{day_to_date, local_micros_of_instant};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// How one trust's EPR writes Parquet: the contract accepts all of these.
#[derive(Clone, Copy, Debug)]
pub enum Dialect {
    /// Utf8, Date32, naive microsecond timestamps (London wall-clock).
    Plain,
    /// LargeUtf8, Date32, millisecond timestamps in UTC.
    UtcMillis,
    /// Utf8View, Date64, naive second timestamps.
    ViewSeconds,
    /// Dictionary-encoded strings, Date32, nanosecond timestamps with the
    /// zone Europe/London.
    DictNanosLondon,
}

impl Dialect {
    pub fn of(index: u64) -> Dialect {
        match index % 4 {
            0 => Dialect::Plain,
            1 => Dialect::UtcMillis,
            2 => Dialect::ViewSeconds,
            _ => Dialect::DictNanosLondon,
        }
    }

    fn string_type(self) -> DataType {
        match self {
            Dialect::Plain => DataType::Utf8,
            Dialect::UtcMillis => DataType::LargeUtf8,
            Dialect::ViewSeconds => DataType::Utf8View,
            Dialect::DictNanosLondon => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
        }
    }

    fn date_type(self) -> DataType {
        match self {
            Dialect::ViewSeconds => DataType::Date64,
            _ => DataType::Date32,
        }
    }

    fn timestamp_type(self) -> DataType {
        match self {
            Dialect::Plain => DataType::Timestamp(TimeUnit::Microsecond, None),
            Dialect::UtcMillis => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Dialect::ViewSeconds => DataType::Timestamp(TimeUnit::Second, None),
            Dialect::DictNanosLondon => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some("Europe/London".into()))
            }
        }
    }

    fn naive(self) -> bool {
        matches!(self, Dialect::Plain | Dialect::ViewSeconds)
    }

    /// Instants as this dialect delivers them.
    fn timestamps(self, instants: Vec<Option<i64>>) -> ArrayRef {
        let values: Vec<Option<i64>> = if self.naive() {
            instants
                .into_iter()
                .map(|v| v.map(local_micros_of_instant))
                .collect()
        } else {
            instants
        };
        let a: ArrayRef = Arc::new(TimestampMicrosecondArray::from(values));
        let target = self.timestamp_type();
        let as_utc = match &target {
            DataType::Timestamp(u, Some(_)) => {
                // Cast the instant as UTC first, then relabel the zone: the
                // stored values are instants whatever the label.
                let a: ArrayRef = Arc::new(
                    a.as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .expect("micros")
                        .clone()
                        .with_timezone("UTC"),
                );
                let c = cast(&a, &DataType::Timestamp(*u, Some("UTC".into()))).expect("cast");
                relabel(c, &target)
            }
            _ => cast(&a, &target).expect("cast"),
        };
        as_utc
    }
}

fn relabel(a: ArrayRef, target: &DataType) -> ArrayRef {
    use datafusion::arrow::array::{Array, TimestampMillisecondArray, TimestampNanosecondArray};
    let DataType::Timestamp(_, Some(tz)) = target else {
        return a;
    };
    if let Some(x) = a.as_any().downcast_ref::<TimestampMillisecondArray>() {
        return Arc::new(x.clone().with_timezone(tz.to_string()));
    }
    if let Some(x) = a.as_any().downcast_ref::<TimestampNanosecondArray>() {
        return Arc::new(x.clone().with_timezone(tz.to_string()));
    }
    debug_assert!(a.is_empty() || a.data_type() == target);
    a
}

/// Builds a batch column by column, in the dialect's types, in the feed's
/// contract column order.
struct Cols {
    dialect: Dialect,
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Cols {
    fn new(dialect: Dialect) -> Self {
        Cols {
            dialect,
            fields: Vec::new(),
            arrays: Vec::new(),
        }
    }

    fn str<I, S>(&mut self, name: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = Option<S>>,
        S: AsRef<str>,
    {
        let a: StringArray = values.into_iter().collect();
        let t = self.dialect.string_type();
        self.fields.push(Field::new(name, t.clone(), true));
        self.arrays
            .push(cast(&(Arc::new(a) as ArrayRef), &t).expect("cast"));
        self
    }

    fn date(&mut self, name: &str, days: Vec<Option<i32>>) -> &mut Self {
        let a: ArrayRef = Arc::new(Date32Array::from(days));
        let t = self.dialect.date_type();
        self.fields.push(Field::new(name, t.clone(), true));
        self.arrays.push(cast(&a, &t).expect("cast"));
        self
    }

    fn ts(&mut self, name: &str, instants: Vec<Option<i64>>) -> &mut Self {
        let a = self.dialect.timestamps(instants);
        self.fields
            .push(Field::new(name, a.data_type().clone(), true));
        self.arrays.push(a);
        self
    }

    fn bool(&mut self, name: &str, values: Vec<Option<bool>>) -> &mut Self {
        self.fields.push(Field::new(name, DataType::Boolean, true));
        self.arrays.push(Arc::new(BooleanArray::from(values)));
        self
    }

    fn finish(self) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.arrays).expect("batch")
    }
}

/// Patient columns, shared by every feed.
fn patient_cols(c: &mut Cols, w: &TrustWorld, patients: &[u32], nhs_override: &[Option<String>]) {
    c.str(
        "local_patient_id",
        patients
            .iter()
            .map(|p| Some(w.patients[*p as usize].id.as_str())),
    );
    c.str(
        "nhs_number",
        patients.iter().zip(nhs_override).map(|(p, o)| {
            o.clone()
                .or_else(|| w.patients[*p as usize].nhs_number.clone())
        }),
    );
}

pub(crate) fn ae_batch(
    w: &TrustWorld,
    d: Dialect,
    rows: &[Ae],
    at: i64,
    nhs: &[Option<String>],
) -> RecordBatch {
    let departed = |a: &Ae| a.departure <= at;
    let mut c = Cols::new(d);
    c.str("attendance_id", rows.iter().map(|a| Some(a.id.as_str())))
        .str("site_code", rows.iter().map(|a| Some(a.site)))
        .str("department_type", rows.iter().map(|a| Some(a.dept)))
        .ts(
            "arrival_time",
            rows.iter().map(|a| Some(a.arrival)).collect(),
        )
        .bool(
            "booked_appointment",
            rows.iter().map(|a| Some(a.booked)).collect(),
        )
        .ts(
            "decision_to_admit_time",
            rows.iter().map(|a| a.dta.filter(|t| *t <= at)).collect(),
        )
        .ts(
            "departure_time",
            rows.iter()
                .map(|a| departed(a).then_some(a.departure))
                .collect(),
        )
        .bool(
            "admitted",
            rows.iter()
                .map(|a| Some(a.admitted && departed(a)))
                .collect(),
        )
        .str(
            "commissioner_code",
            rows.iter().map(|a| Some(a.commissioner)),
        );
    let p: Vec<u32> = rows.iter().map(|a| a.patient).collect();
    patient_cols(&mut c, w, &p, nhs);
    c.finish()
}

pub(crate) fn spell_batch(w: &TrustWorld, d: Dialect, rows: &[Spell], at: i64) -> RecordBatch {
    let mut c = Cols::new(d);
    c.str("spell_id", rows.iter().map(|s| Some(s.id.as_str())))
        .ts(
            "admission_time",
            rows.iter().map(|s| Some(s.admission)).collect(),
        )
        .ts(
            "discharge_time",
            rows.iter()
                .map(|s| (s.discharge <= at).then_some(s.discharge))
                .collect(),
        )
        .str("admission_method", rows.iter().map(|s| Some(s.method)))
        .str("patient_classification", rows.iter().map(|s| Some(s.class)))
        .str("treatment_function_code", rows.iter().map(|s| Some(s.tfc)))
        .str(
            "commissioner_code",
            rows.iter().map(|s| Some(s.commissioner)),
        )
        .str("site_code", rows.iter().map(|s| Some(s.site)))
        .str("ae_attendance_id", rows.iter().map(|s| s.ae_id.as_deref()));
    let p: Vec<u32> = rows.iter().map(|s| s.patient).collect();
    patient_cols(&mut c, w, &p, &vec![None; rows.len()]);
    c.finish()
}

pub(crate) fn op_batch(w: &TrustWorld, d: Dialect, rows: &[Op]) -> RecordBatch {
    let mut c = Cols::new(d);
    c.str("appointment_id", rows.iter().map(|o| Some(o.id.as_str())))
        .str("pathway_id", rows.iter().map(|o| o.pathway.as_deref()))
        .date(
            "appointment_date",
            rows.iter().map(|o| Some(o.day)).collect(),
        )
        .str("attendance_status", rows.iter().map(|o| Some(o.status)))
        .str("first_attendance", rows.iter().map(|o| Some(o.first)))
        .str("treatment_function_code", rows.iter().map(|o| Some(o.tfc)))
        .str("referral_source", rows.iter().map(|o| o.source))
        .str("priority", rows.iter().map(|o| o.priority))
        .bool(
            "consultant_led",
            rows.iter().map(|o| o.consultant_led).collect(),
        )
        .str(
            "commissioner_code",
            rows.iter().map(|o| Some(o.commissioner)),
        )
        .str("site_code", rows.iter().map(|o| Some(o.site)));
    let p: Vec<u32> = rows.iter().map(|o| o.patient).collect();
    patient_cols(&mut c, w, &p, &vec![None; rows.len()]);
    c.finish()
}

pub(crate) fn referral_batch(w: &TrustWorld, d: Dialect, rows: &[Referral]) -> RecordBatch {
    let mut c = Cols::new(d);
    c.str("referral_id", rows.iter().map(|r| Some(r.id.as_str())))
        .str("pathway_id", rows.iter().map(|r| r.pathway.as_deref()))
        .date(
            "referral_received_date",
            rows.iter().map(|r| Some(r.day)).collect(),
        )
        .str("referral_source", rows.iter().map(|r| Some(r.source)))
        .str("treatment_function_code", rows.iter().map(|r| Some(r.tfc)))
        .str("priority", rows.iter().map(|r| r.priority))
        .str(
            "commissioner_code",
            rows.iter().map(|r| Some(r.commissioner)),
        );
    let p: Vec<u32> = rows.iter().map(|r| r.patient).collect();
    patient_cols(&mut c, w, &p, &vec![None; rows.len()]);
    c.finish()
}

pub(crate) fn rtt_batch(w: &TrustWorld, d: Dialect, rows: &[&RttEvent]) -> RecordBatch {
    let mut c = Cols::new(d);
    c.str("event_id", rows.iter().map(|e| Some(e.id.as_str())))
        .str("pathway_id", rows.iter().map(|e| Some(e.pathway.as_str())))
        .date("event_date", rows.iter().map(|e| Some(e.day)).collect())
        .str("rtt_status", rows.iter().map(|e| Some(e.status)))
        .str("activity", rows.iter().map(|e| Some(e.activity)))
        .str("treatment_function_code", rows.iter().map(|e| Some(e.tfc)))
        .str(
            "commissioner_code",
            rows.iter().map(|e| Some(e.commissioner)),
        );
    let p: Vec<u32> = rows.iter().map(|e| e.patient).collect();
    patient_cols(&mut c, w, &p, &vec![None; rows.len()]);
    c.finish()
}

pub(crate) fn patient_batch(w: &TrustWorld, d: Dialect) -> RecordBatch {
    let ps = &w.patients;
    let mut c = Cols::new(d);
    c.str("local_patient_id", ps.iter().map(|p| Some(p.id.as_str())))
        .str("nhs_number", ps.iter().map(|p| p.nhs_number.as_deref()))
        .date("birth_date", ps.iter().map(|p| Some(p.birth_day)).collect())
        .str("sex", ps.iter().map(|p| Some(p.sex)))
        .str("postcode_district", ps.iter().map(|p| Some(p.postcode)))
        .str(
            "gp_practice_code",
            ps.iter().map(|p| Some(p.practice.as_str())),
        )
        .date("death_date", ps.iter().map(|p| p.death_day).collect());
    c.finish()
}

/// Days `from..=to` of activity, with each admission placed on the day it
/// happened (an A&E patient arriving late may be admitted the next day).
pub(crate) fn days(w: &TrustWorld, from: i32, to: i32) -> Vec<Day> {
    let mut out: Vec<Day> = (from..=to).map(|_| Day::default()).collect();
    for d in (from - 2)..=to {
        let mut day = w.day(d);
        for s in std::mem::take(&mut day.spells) {
            let ad = icsw_model::london::local_day_of_instant(s.admission);
            if ad >= from && ad <= to {
                out[(ad - from) as usize].spells.push(s);
            }
        }
        if d >= from {
            let slot = &mut out[(d - from) as usize];
            slot.ae = day.ae;
            slot.op = day.op;
            slot.referrals = day.referrals;
        }
    }
    for d in &mut out {
        d.spells.sort_by_key(|s| s.admission);
    }
    out
}

/// A fault the generator injected, with the rows it touched (for tests
/// that check each data-quality check finds exactly these).
#[derive(Clone, Debug, Serialize)]
pub struct InjectedFault {
    pub kind: String,
    pub trust: String,
    pub extract_date: NaiveDate,
    pub feed: Option<String>,
    pub file: Option<String>,
    /// Ids of the rows affected (record or pathway ids; never NHS numbers).
    pub keys: Vec<String>,
}

pub(crate) fn extracted_at(seed: u64, trust_index: u64, night: i32) -> DateTime<Utc> {
    let mut rng = Rng::derive(seed, &[trust_index, 9, night as u64]);
    let base = day_to_date(night + 1)
        .and_hms_opt(1, 0, 0)
        .expect("time")
        .and_utc();
    base + chrono::Duration::seconds(rng.range(0, 7200))
}

/// Writes the files of one extract (each written whole before the manifest).
pub(crate) fn write_files(dir: &Path, spec: &ExtractSpec) -> std::io::Result<Vec<WrittenFile>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for f in &spec.files {
        let path = dir.join(&f.name);
        let schema = f.batches[0].schema();
        let rows = write_parquet(&path, schema, &f.batches)?;
        out.push(WrittenFile {
            feed: f.feed,
            name: f.name.clone(),
            rows,
            sha256: file_sha256(&path)?,
            covers: f.covers,
        });
    }
    Ok(out)
}
