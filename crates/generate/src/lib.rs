//! A deterministic generator of contract-conformant extracts (and, with
//! faults, of the go-live failures the warehouse must catch).
//!
//! `generate` simulates each trust's activity and writes one extract per
//! trust per night into a landing zone. The same options always give the
//! same bytes. Generated data is for scale and demonstration; the tests'
//! expected figures come from hand-written fixtures.

pub mod extract;
pub mod landing;
pub mod rng;
pub mod world;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::take_record_batch;
use extract::{
    ae_batch, days, extracted_at, op_batch, patient_batch, referral_batch, rtt_batch, spell_batch,
    write_files, Dialect, InjectedFault,
};
use icsw_model::london::date_to_day;
use icsw_model::Feed;
use landing::{ExtractFile, ExtractSpec};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use world::TrustWorld;

/// A go-live failure to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// A trust's extract missing for one night.
    MissingNight,
    /// An extract folder with files but no manifest.
    MissingManifest,
    /// Exact copies of some A&E rows.
    DuplicatedRows,
    /// NHS numbers failing the modulus-11 check.
    InvalidNhsNumbers,
    /// Department types and admission methods outside their lists.
    InvalidCodes,
    /// A column delivered with a type the contract does not accept.
    SchemaDrift,
    /// A file cut short (its manifest describes the cut file).
    TruncatedFile,
    /// A manifest whose sha256 does not match its file.
    Sha256Mismatch,
    /// RTT pathways whose clock start is missing.
    StopsWithoutStarts,
    /// A&E departures recorded before arrival.
    DeparturesBeforeArrivals,
}

impl Fault {
    pub const ALL: [Fault; 10] = [
        Fault::MissingNight,
        Fault::MissingManifest,
        Fault::DuplicatedRows,
        Fault::InvalidNhsNumbers,
        Fault::InvalidCodes,
        Fault::SchemaDrift,
        Fault::TruncatedFile,
        Fault::Sha256Mismatch,
        Fault::StopsWithoutStarts,
        Fault::DeparturesBeforeArrivals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::MissingNight => "missing-night",
            Fault::MissingManifest => "missing-manifest",
            Fault::DuplicatedRows => "duplicated-rows",
            Fault::InvalidNhsNumbers => "invalid-nhs-numbers",
            Fault::InvalidCodes => "invalid-codes",
            Fault::SchemaDrift => "schema-drift",
            Fault::TruncatedFile => "truncated-file",
            Fault::Sha256Mismatch => "sha256-mismatch",
            Fault::StopsWithoutStarts => "stops-without-starts",
            Fault::DeparturesBeforeArrivals => "departures-before-arrivals",
        }
    }

    /// Parses a comma-separated list; `all` means every fault.
    pub fn parse_list(s: &str) -> Result<BTreeSet<Fault>, String> {
        let mut out = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(Fault::ALL);
                continue;
            }
            let f = Fault::ALL
                .into_iter()
                .find(|f| f.name() == part)
                .ok_or_else(|| {
                    format!(
                        "unknown fault {part:?}; known: all, {}",
                        Fault::ALL.map(|f| f.name()).join(", ")
                    )
                })?;
            out.insert(f);
        }
        Ok(out)
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// ODS codes and source systems.
    pub trusts: Vec<(String, String)>,
    /// First and last night (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub seed: u64,
    /// A&E attendances per trust per day; the other feeds scale with it
    /// (outpatients about 5x, RTT events about 1.5x over a year).
    pub scale: f64,
    /// Days of history the first night's extract covers before `from`.
    pub history_days: u32,
    /// Days each later night's extract covers (ending on its night).
    pub window_days: u32,
    pub faults: BTreeSet<Fault>,
    /// Only these feeds (all when empty).
    pub feeds: Vec<Feed>,
}

impl Options {
    pub fn new(trusts: &[&str], from: NaiveDate, to: NaiveDate) -> Self {
        Options {
            trusts: trusts
                .iter()
                .map(|t| (t.to_string(), "Cerner Millennium".to_string()))
                .collect(),
            from,
            to,
            seed: 1,
            scale: 50.0,
            history_days: 0,
            window_days: 7,
            faults: BTreeSet::new(),
            feeds: Vec::new(),
        }
    }
}

/// What was written.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub extracts: usize,
    pub rows: u64,
    pub faults: Vec<InjectedFault>,
}

/// Writes the extracts into `landing` (and `_faults.json` when faults were
/// asked for).
pub fn generate(landing: &Path, opts: &Options) -> std::io::Result<Report> {
    let first = date_to_day(opts.from);
    let last = date_to_day(opts.to);
    let start = first - opts.history_days as i32;
    let mut report = Report::default();
    let n_trusts = opts.trusts.len().max(1);
    let nights = (last - first + 1).max(1);
    // Where each fault lands: (trust index, night offset).
    let place = |k: usize, night: i32| (k % n_trusts, night.min(nights - 1));
    let has = |f: Fault| opts.faults.contains(&f);
    for (ti, (ods, system)) in opts.trusts.iter().enumerate() {
        let pathways = opts.feeds.is_empty()
            || opts.feeds.iter().any(|f| {
                matches!(
                    f,
                    Feed::InpatientSpells
                        | Feed::OutpatientAppointments
                        | Feed::Referrals
                        | Feed::RttEvents
                )
            });
        let world =
            TrustWorld::with_pathways(ods, ti as u64, opts.seed, opts.scale, start, last, pathways);
        let dialect = Dialect::of(ti as u64);
        let mut first_written = true;
        for night in first..=last {
            let offset = night - first;
            if has(Fault::MissingNight) && place(1, 1) == (ti, offset) && nights > 1 {
                report.faults.push(InjectedFault {
                    kind: Fault::MissingNight.name().into(),
                    trust: ods.clone(),
                    extract_date: icsw_model::london::day_to_date(night),
                    feed: None,
                    file: None,
                    keys: vec![],
                });
                continue;
            }
            let from = if first_written {
                start
            } else {
                (night - opts.window_days as i32 + 1).max(start)
            };
            first_written = false;
            let at = extracted_at(opts.seed, ti as u64, night);
            let at_us = at.timestamp_micros();
            let date = icsw_model::london::day_to_date(night);
            let covers = Some((icsw_model::london::day_to_date(from), date));
            let ds = days(&world, from, night);
            let mut ae: Vec<_> = ds.iter().flat_map(|d| d.ae.iter().cloned()).collect();
            let spells: Vec<_> = ds
                .iter()
                .flat_map(|d| d.spells.iter().cloned())
                .filter(|s| s.admission <= at_us)
                .collect();
            let op: Vec<_> = ds.iter().flat_map(|d| d.op.iter().cloned()).collect();
            let referrals: Vec<_> = ds
                .iter()
                .flat_map(|d| d.referrals.iter().cloned())
                .collect();
            let mut events: Vec<&world::RttEvent> = world.rtt_until(night).iter().collect();
            let mut nhs = vec![None; ae.len()];
            let mut faults_here: Vec<InjectedFault> = Vec::new();
            let fault = |kind: Fault, feed: Option<Feed>, keys: Vec<String>| InjectedFault {
                kind: kind.name().into(),
                trust: ods.clone(),
                extract_date: date,
                feed: feed.map(|f| f.name().to_string()),
                file: feed.map(|f| format!("{}.parquet", f.name())),
                keys,
            };
            if has(Fault::DeparturesBeforeArrivals) && place(0, 0) == (ti, offset) {
                let mut keys = vec![];
                for a in ae
                    .iter_mut()
                    .filter(|a| a.departure <= at_us)
                    .step_by(97)
                    .take(4)
                {
                    a.departure = a.arrival - 30 * 60_000_000;
                    a.dta = None;
                    a.admitted = false;
                    keys.push(a.id.clone());
                }
                faults_here.push(fault(
                    Fault::DeparturesBeforeArrivals,
                    Some(Feed::AeAttendances),
                    keys,
                ));
            }
            if has(Fault::InvalidNhsNumbers) && place(2, 0) == (ti, offset) {
                let mut keys = vec![];
                for (i, a) in ae.iter().enumerate().step_by(53).take(6) {
                    if let Some(n) = &world.patients[a.patient as usize].nhs_number {
                        let mut b = n.clone().into_bytes();
                        b[9] = b'0' + (b[9] - b'0' + 1) % 10;
                        nhs[i] = Some(String::from_utf8(b).expect("digits"));
                        keys.push(a.id.clone());
                    }
                }
                faults_here.push(fault(
                    Fault::InvalidNhsNumbers,
                    Some(Feed::AeAttendances),
                    keys,
                ));
            }
            if has(Fault::StopsWithoutStarts) && ti == 3 % n_trusts {
                // Pathways whose clock start is followed by a stop: without
                // the start, the stop stands alone.
                let mut by_pathway: std::collections::BTreeMap<&str, Vec<&str>> =
                    std::collections::BTreeMap::new();
                for e in &events {
                    by_pathway
                        .entry(e.pathway.as_str())
                        .or_default()
                        .push(e.status);
                }
                let chosen: BTreeSet<String> = by_pathway
                    .iter()
                    .filter(|(p, s)| {
                        p.ends_with('7') && s.len() >= 2 && s[0] == "10" && s[1].starts_with('3')
                    })
                    .map(|(p, _)| p.to_string())
                    .take(5)
                    .collect();
                events.retain(|e| !(e.status == "10" && chosen.contains(&e.pathway)));
                faults_here.push(fault(
                    Fault::StopsWithoutStarts,
                    Some(Feed::RttEvents),
                    chosen.into_iter().collect(),
                ));
            }
            let mut ae_b = ae_batch(&world, dialect, &ae, at_us, &nhs);
            let mut spell_b = spell_batch(&world, dialect, &spells, at_us);
            if has(Fault::DuplicatedRows) && place(0, 0) == (ti, offset) && ae_b.num_rows() > 10 {
                let idx: Vec<u32> = (0..ae_b.num_rows() as u32).step_by(41).take(5).collect();
                let ids = ae_b.column(0).clone();
                let keys = idx.iter().map(|&i| string_at(&ids, i as usize)).collect();
                let copies =
                    take_record_batch(&ae_b, &datafusion::arrow::array::UInt32Array::from(idx))
                        .expect("take");
                ae_b = datafusion::arrow::compute::concat_batches(&ae_b.schema(), &[ae_b, copies])
                    .expect("concat");
                faults_here.push(fault(
                    Fault::DuplicatedRows,
                    Some(Feed::AeAttendances),
                    keys,
                ));
            }
            if has(Fault::InvalidCodes) && place(3, 0) == (ti, offset) {
                let (b, keys) = replace_codes(&ae_b, "department_type", "05", 29, 3);
                ae_b = b;
                faults_here.push(fault(Fault::InvalidCodes, Some(Feed::AeAttendances), keys));
                let (b, keys) = replace_codes(&spell_b, "admission_method", "99", 17, 2);
                spell_b = b;
                faults_here.push(fault(
                    Fault::InvalidCodes,
                    Some(Feed::InpatientSpells),
                    keys,
                ));
            }
            let last_night = offset == nights - 1 && nights > 1;
            if has(Fault::SchemaDrift) && last_night && place(0, 0).0 == ti {
                ae_b = drift(&ae_b, "arrival_time");
                faults_here.push(fault(Fault::SchemaDrift, Some(Feed::AeAttendances), vec![]));
            }
            let mut spec = ExtractSpec {
                trust: ods.clone(),
                extract_date: date,
                extracted_at: at,
                source_system: system.clone(),
                files: vec![
                    ExtractFile::new(Feed::AeAttendances, ae_b, covers),
                    ExtractFile::new(Feed::InpatientSpells, spell_b, covers),
                    ExtractFile::new(
                        Feed::OutpatientAppointments,
                        op_batch(&world, dialect, &op),
                        covers,
                    ),
                    ExtractFile::new(
                        Feed::Referrals,
                        referral_batch(&world, dialect, &referrals),
                        covers,
                    ),
                    ExtractFile::new(Feed::RttEvents, rtt_batch(&world, dialect, &events), None),
                    ExtractFile::new(Feed::Patients, patient_batch(&world, dialect), None),
                ],
            };
            if !opts.feeds.is_empty() {
                spec.files.retain(|f| opts.feeds.contains(&f.feed));
            }
            let dir = landing::folder(landing, ods, date);
            let mut written = write_files(&dir, &spec)?;
            report.rows += written.iter().map(|w| w.rows).sum::<u64>();
            let truncate = written
                .iter_mut()
                .find(|f| f.feed == Feed::OutpatientAppointments)
                .filter(|_| has(Fault::TruncatedFile) && last_night && place(1, 0).0 == ti);
            if let Some(f) = truncate {
                let path = dir.join(&f.name);
                let len = std::fs::metadata(&path)?.len();
                let f2 = std::fs::OpenOptions::new().write(true).open(&path)?;
                f2.set_len(len * 2 / 3)?;
                f.sha256 = landing::file_sha256(&path)?;
                faults_here.push(fault(Fault::TruncatedFile, Some(f.feed), vec![]));
            }
            let mismatch = written
                .iter_mut()
                .find(|f| f.feed == Feed::Referrals)
                .filter(|_| has(Fault::Sha256Mismatch) && last_night && place(2, 0).0 == ti);
            if let Some(f) = mismatch {
                f.sha256 = "0".repeat(64);
                faults_here.push(fault(Fault::Sha256Mismatch, Some(f.feed), vec![]));
            }
            if has(Fault::MissingManifest) && last_night && place(3, 0).0 == ti {
                faults_here.push(fault(Fault::MissingManifest, None, vec![]));
            } else {
                crate::landing::write_manifest(&dir, &spec, &written)?;
            }
            report.extracts += 1;
            report.faults.extend(faults_here);
        }
    }
    if !opts.faults.is_empty() {
        std::fs::create_dir_all(landing)?;
        std::fs::write(
            landing.join("_faults.json"),
            serde_json::to_string_pretty(&report.faults).expect("json"),
        )?;
    }
    Ok(report)
}

fn string_at(a: &ArrayRef, i: usize) -> String {
    let s = datafusion::arrow::compute::cast(a, &datafusion::arrow::datatypes::DataType::Utf8)
        .expect("cast");
    s.as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8")
        .value(i)
        .to_string()
}

/// Sets `column` to `code` on every `step`-th row (up to `n`), returning
/// the rows' ids.
fn replace_codes(
    b: &RecordBatch,
    column: &str,
    code: &str,
    step: usize,
    n: usize,
) -> (RecordBatch, Vec<String>) {
    let idx = b.schema().index_of(column).expect("column");
    let col = datafusion::arrow::compute::cast(
        b.column(idx),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )
    .expect("cast");
    let col = col.as_any().downcast_ref::<StringArray>().expect("utf8");
    let mut keys = vec![];
    let values: StringArray = (0..b.num_rows())
        .map(|i| {
            if i % step == 0 && i / step < n {
                keys.push(string_at(b.column(0), i));
                Some(code.to_string())
            } else {
                col.is_valid(i).then(|| col.value(i).to_string())
            }
        })
        .collect();
    let typed = datafusion::arrow::compute::cast(
        &(Arc::new(values) as ArrayRef),
        b.column(idx).data_type(),
    )
    .expect("cast back");
    let mut cols = b.columns().to_vec();
    cols[idx] = typed;
    (RecordBatch::try_new(b.schema(), cols).expect("batch"), keys)
}

/// The column rewritten as text: a type the contract does not accept for it.
fn drift(b: &RecordBatch, column: &str) -> RecordBatch {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let idx = b.schema().index_of(column).expect("column");
    let text = datafusion::arrow::compute::cast(b.column(idx), &DataType::Utf8).expect("cast");
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[idx] = Field::new(column, DataType::Utf8, true);
    let mut cols = b.columns().to_vec();
    cols[idx] = text;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("batch")
}

use datafusion::arrow::array::Array;
