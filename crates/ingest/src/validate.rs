//! Schema checks, conversion of delivered columns to the stored types, and
//! the per-row rules of contract sections 3 and 6.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Schema, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use icsw_model::codes::CodeCheck;
use icsw_model::feed::{accepts_type, kind_name, stored_type};
use icsw_model::reason::Warning;
use icsw_model::{london, nhs_number, reference, ColumnKind, ColumnSpec, Feed, Reason};
use std::sync::Arc;

/// Where each contract column sits in a delivered file.
#[derive(Clone, Debug)]
pub(crate) struct FileLayout {
    pub positions: Vec<Option<usize>>,
}

/// Checks a delivered schema: every required column present, and every
/// contract column present of a type the contract accepts. Returns the
/// offending column and what is wrong with it.
pub(crate) fn check_schema(feed: Feed, schema: &Schema) -> Result<FileLayout, (String, String)> {
    let mut positions = Vec::new();
    for c in feed.columns() {
        let pos = schema.fields().iter().position(|f| f.name() == c.name);
        match pos {
            None if c.required => {
                return Err((c.name.to_string(), "required column is missing".into()))
            }
            None => positions.push(None),
            Some(p) => {
                let t = schema.field(p).data_type();
                if !accepts_type(c.kind, t) {
                    return Err((
                        c.name.to_string(),
                        format!(
                            "type {t} is not one the contract accepts for a {}",
                            kind_name(c.kind)
                        ),
                    ));
                }
                positions.push(Some(p));
            }
        }
    }
    Ok(FileLayout { positions })
}

/// A batch's contract columns in their stored types.
pub(crate) struct Canonical {
    pub columns: Vec<ArrayRef>,
    /// Per column: rows whose delivered value was present but could not be
    /// read as a date or timestamp.
    pub unreadable: Vec<Option<Vec<bool>>>,
    /// Per column: the delivered array, for showing a quarantined value.
    pub raw: Vec<Option<ArrayRef>>,
    pub rows: usize,
}

pub(crate) fn canonicalize(
    feed: Feed,
    layout: &FileLayout,
    batch: &RecordBatch,
) -> Result<Canonical, ArrowError> {
    let n = batch.num_rows();
    let mut columns = Vec::new();
    let mut unreadable = Vec::new();
    let mut raw = Vec::new();
    for (c, pos) in feed.columns().iter().zip(&layout.positions) {
        let Some(p) = *pos else {
            columns.push(datafusion::arrow::array::new_null_array(
                &stored_type(c.kind),
                n,
            ));
            unreadable.push(None);
            raw.push(None);
            continue;
        };
        let a = batch.column(p);
        let (canon, bad) = match c.kind {
            ColumnKind::Str | ColumnKind::Code(_) => (cast(a, &DataType::Utf8)?, None),
            ColumnKind::Bool => (a.clone(), None),
            ColumnKind::Date => dates(a)?,
            ColumnKind::Timestamp => timestamps(a)?,
        };
        columns.push(canon);
        unreadable.push(bad);
        raw.push(Some(a.clone()));
    }
    Ok(Canonical {
        columns,
        unreadable,
        raw,
        rows: n,
    })
}

fn dates(a: &ArrayRef) -> Result<(ArrayRef, Option<Vec<bool>>), ArrowError> {
    match a.data_type() {
        DataType::Date32 => Ok((a.clone(), None)),
        DataType::Date64 => {
            let v = a.as_primitive::<Date64Type>();
            let out: Date32Array = v
                .iter()
                .map(|x| {
                    x.map(|ms| ms.div_euclid(86_400_000))
                        .and_then(|d| i32::try_from(d).ok())
                })
                .collect();
            let bad = flag_lost(a, &out);
            Ok((Arc::new(out), bad))
        }
        t => Err(ArrowError::CastError(format!("{t} is not a date"))),
    }
}

/// Rows present in `raw` but null in `out`.
fn flag_lost(raw: &dyn Array, out: &dyn Array) -> Option<Vec<bool>> {
    if out.null_count() == raw.null_count() {
        return None;
    }
    Some(
        (0..raw.len())
            .map(|i| raw.is_valid(i) && out.is_null(i))
            .collect(),
    )
}

fn timestamps(a: &ArrayRef) -> Result<(ArrayRef, Option<Vec<bool>>), ArrowError> {
    let DataType::Timestamp(unit, tz) = a.data_type() else {
        return Err(ArrowError::CastError(format!(
            "{} is not a timestamp",
            a.data_type()
        )));
    };
    let values: Vec<Option<i64>> = match unit {
        TimeUnit::Second => a
            .as_primitive::<TimestampSecondType>()
            .iter()
            .map(|v| v.and_then(|s| s.checked_mul(1_000_000)))
            .collect(),
        TimeUnit::Millisecond => a
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|v| v.and_then(|s| s.checked_mul(1_000)))
            .collect(),
        TimeUnit::Microsecond => a
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect(),
        TimeUnit::Nanosecond => a
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|s| s.div_euclid(1_000)))
            .collect(),
    };
    let out: TimestampMicrosecondArray = if tz.is_some() {
        // With a time zone, Arrow stores the instant itself.
        values.into_iter().collect()
    } else {
        // Without one: London wall-clock time.
        values
            .into_iter()
            .map(|v| v.and_then(london::instant_of_local))
            .collect()
    };
    let out = out.with_timezone("UTC");
    let bad = flag_lost(a.as_ref(), &out);
    Ok((Arc::new(out), bad))
}

enum Col<'a> {
    Str(&'a StringArray),
    Date(&'a Date32Array),
    Ts(&'a TimestampMicrosecondArray),
    Bool(&'a BooleanArray),
}

impl Col<'_> {
    fn is_null(&self, i: usize) -> bool {
        match self {
            Col::Str(a) => a.is_null(i),
            Col::Date(a) => a.is_null(i),
            Col::Ts(a) => a.is_null(i),
            Col::Bool(a) => a.is_null(i),
        }
    }
}

fn index_of(feed: Feed, name: &str) -> Option<usize> {
    feed.columns().iter().position(|c| c.name == name)
}

/// What the rules need to know beyond the row itself.
#[derive(Clone, Debug)]
pub(crate) struct RowContext {
    /// The file's `covers`, as days (period feeds).
    pub covers: Option<(i32, i32)>,
    pub extracted_at_us: i64,
    pub extracted_day: i32,
}

/// The rules, over one canonical batch.
pub(crate) struct Checker<'a> {
    specs: &'static [ColumnSpec],
    cols: Vec<Col<'a>>,
    unreadable: &'a [Option<Vec<bool>>],
    ctx: &'a RowContext,
    activity: Option<usize>,
    id: usize,
    nhs: Option<usize>,
    tfc: Option<usize>,
    // A&E and inpatient columns for the warnings.
    arrival: Option<usize>,
    departure: Option<usize>,
    dta: Option<usize>,
    admission: Option<usize>,
    discharge: Option<usize>,
    event_date: Option<usize>,
}

impl<'a> Checker<'a> {
    pub fn new(feed: Feed, canon: &'a Canonical, ctx: &'a RowContext) -> Self {
        let specs = feed.columns();
        let cols = specs
            .iter()
            .zip(&canon.columns)
            .map(|(s, a)| match s.kind {
                ColumnKind::Str | ColumnKind::Code(_) => Col::Str(a.as_string::<i32>()),
                ColumnKind::Date => Col::Date(a.as_primitive::<Date32Type>()),
                ColumnKind::Timestamp => Col::Ts(a.as_primitive::<TimestampMicrosecondType>()),
                ColumnKind::Bool => Col::Bool(a.as_boolean()),
            })
            .collect();
        let (arrival, departure, dta, admission, discharge, event_date) = match feed {
            Feed::AeAttendances => (
                index_of(feed, "arrival_time"),
                index_of(feed, "departure_time"),
                index_of(feed, "decision_to_admit_time"),
                None,
                None,
                None,
            ),
            Feed::InpatientSpells => (
                None,
                None,
                None,
                index_of(feed, "admission_time"),
                index_of(feed, "discharge_time"),
                None,
            ),
            Feed::RttEvents => (None, None, None, None, None, index_of(feed, "event_date")),
            _ => (None, None, None, None, None, None),
        };
        Checker {
            specs,
            cols,
            unreadable: &canon.unreadable,
            ctx,
            activity: feed.activity_column().and_then(|c| index_of(feed, c)),
            id: 0,
            nhs: index_of(feed, "nhs_number"),
            tfc: index_of(feed, "treatment_function_code"),
            arrival,
            departure,
            dta,
            admission,
            discharge,
            event_date,
        }
    }

    fn str(&self, c: usize, i: usize) -> Option<&'a str> {
        match &self.cols[c] {
            Col::Str(a) if a.is_valid(i) => Some(a.value(i)),
            _ => None,
        }
    }

    fn ts(&self, c: Option<usize>, i: usize) -> Option<i64> {
        match c.map(|c| &self.cols[c]) {
            Some(Col::Ts(a)) if a.is_valid(i) => Some(a.value(i)),
            _ => None,
        }
    }

    fn date(&self, c: Option<usize>, i: usize) -> Option<i32> {
        match c.map(|c| &self.cols[c]) {
            Some(Col::Date(a)) if a.is_valid(i) => Some(a.value(i)),
            _ => None,
        }
    }

    /// The id, when present and not blank.
    pub fn id(&self, i: usize) -> Option<&'a str> {
        self.str(self.id, i).filter(|s| !s.trim().is_empty())
    }

    /// The London local date of the activity (period feeds).
    pub fn activity_day(&self, i: usize) -> Option<i32> {
        let c = self.activity?;
        match &self.cols[c] {
            Col::Date(a) if a.is_valid(i) => Some(a.value(i)),
            Col::Ts(a) if a.is_valid(i) => Some(london::local_day_of_instant(a.value(i))),
            _ => None,
        }
    }

    /// The first rejection reason of the row among: a required value
    /// missing; a code not in its list or format; a date or timestamp that
    /// cannot be read; an activity date outside `covers`. With the column.
    pub fn early_reason(&self, i: usize) -> Option<(Reason, usize)> {
        for (c, s) in self.specs.iter().enumerate() {
            if !s.required {
                continue;
            }
            let unreadable = self.unreadable[c].as_ref().is_some_and(|u| u[i]);
            let missing = match &self.cols[c] {
                Col::Str(a) => a.is_null(i) || a.value(i).trim().is_empty(),
                col => col.is_null(i) && !unreadable,
            };
            if missing {
                return Some((Reason::MissingRequired, c));
            }
        }
        for (c, s) in self.specs.iter().enumerate() {
            if let ColumnKind::Code(check) = s.kind {
                if let Some(v) = self.str(c, i) {
                    if !check.accepts(v) {
                        return Some((Reason::InvalidCode, c));
                    }
                }
            }
        }
        for (c, u) in self.unreadable.iter().enumerate() {
            if u.as_ref().is_some_and(|u| u[i]) {
                return Some((Reason::InvalidDatetime, c));
            }
        }
        if let (Some((from, to)), Some(c)) = (self.ctx.covers, self.activity) {
            if let Some(d) = self.activity_day(i) {
                if d < from || d > to {
                    return Some((Reason::OutsideCovers, c));
                }
            }
        }
        None
    }

    /// The warnings of an accepted row, as bits of [`Warning`].
    pub fn warnings(&self, i: usize) -> u8 {
        let mut w = 0u8;
        if let Some(n) = self.nhs.and_then(|c| self.str(c, i)) {
            if !n.is_empty() && !nhs_number::is_valid(n) {
                w |= Warning::InvalidNhsNumber.bit();
            }
        }
        if let Some(t) = self.tfc.and_then(|c| self.str(c, i)) {
            if CodeCheck::TreatmentFunction.accepts(t) && !reference::is_known_treatment_function(t)
            {
                w |= Warning::UnknownTreatmentFunction.bit();
            }
        }
        let future = match self.event_date {
            Some(_) => self.date(self.event_date, i),
            None => self.activity_day(i),
        };
        if future.is_some_and(|d| d > self.ctx.extracted_day) {
            w |= Warning::FutureActivityDate.bit();
        }
        if let Some(arr) = self.ts(self.arrival, i) {
            let dep = self.ts(self.departure, i);
            if let Some(dep) = dep {
                if dep < arr {
                    w |= Warning::DepartureBeforeArrival.bit();
                }
            } else if self.ctx.extracted_at_us - arr > 24 * 3_600 * 1_000_000 {
                w |= Warning::AeOpenOver24h.bit();
            }
            if let Some(dta) = self.ts(self.dta, i) {
                if dta < arr || dep.is_some_and(|dep| dta > dep) {
                    w |= Warning::DecisionToAdmitOutsideStay.bit();
                }
            }
        }
        if let (Some(a), Some(d)) = (self.ts(self.admission, i), self.ts(self.discharge, i)) {
            if d < a {
                w |= Warning::DischargeBeforeAdmission.bit();
            }
        }
        w
    }
}

/// The delivered value of column `c` at row `i`, as text, for the
/// quarantine record (never logged).
pub(crate) fn shown_value(canon: &Canonical, c: usize, i: usize) -> Option<String> {
    let a = canon.raw[c].as_ref()?;
    if a.is_null(i) {
        return None;
    }
    let f =
        datafusion::arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
            .ok()?;
    Some(f.value(i).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampSecondArray;
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn naive_timestamps_are_london_and_gap_is_unreadable() {
        // 2026-03-29 01:30 local (skipped) and 2026-07-01 00:30 local (BST).
        let gap = chrono::NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let bst = chrono::NaiveDate::from_ymd_opt(2026, 7, 1)
            .unwrap()
            .and_hms_opt(0, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let a: ArrayRef = Arc::new(TimestampSecondArray::from(vec![Some(gap), Some(bst), None]));
        let (out, bad) = timestamps(&a).unwrap();
        let out = out.as_primitive::<TimestampMicrosecondType>();
        assert!(out.is_null(0));
        assert_eq!(out.value(1), (bst - 3600) * 1_000_000);
        assert!(out.is_null(2));
        assert_eq!(bad.unwrap(), vec![true, false, false]);
        // With a zone, the instant is taken as it is.
        let z: ArrayRef =
            Arc::new(TimestampSecondArray::from(vec![Some(gap)]).with_timezone("+00:00"));
        let (out, bad) = timestamps(&z).unwrap();
        assert_eq!(
            out.as_primitive::<TimestampMicrosecondType>().value(0),
            gap * 1_000_000
        );
        assert!(bad.is_none());
    }

    #[test]
    fn schema_drift_names_the_column() {
        let s = Schema::new(vec![Field::new("attendance_id", DataType::Int64, false)]);
        let (col, msg) = check_schema(Feed::AeAttendances, &s).unwrap_err();
        assert_eq!(col, "attendance_id");
        assert!(msg.contains("Int64"), "{msg}");
        let s = Schema::new(vec![Field::new("attendance_id", DataType::Utf8, false)]);
        let (col, msg) = check_schema(Feed::AeAttendances, &s).unwrap_err();
        assert_eq!(col, "site_code");
        assert!(msg.contains("missing"));
    }
}
