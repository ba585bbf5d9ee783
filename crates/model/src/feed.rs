//! The six feeds of contract section 4: their columns, kinds, ids and
//! activity dates, and the schema each is stored with in the warehouse.

use crate::codes::{self, CodeCheck};
use crate::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    AeAttendances,
    InpatientSpells,
    OutpatientAppointments,
    Referrals,
    RttEvents,
    Patients,
}

/// Period feeds are replaced by date range (`covers`); snapshot feeds whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    Period,
    Snapshot,
}

/// The accepted kinds of value (contract section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A free string (ids, site and practice codes).
    Str,
    /// A code, checked as the [`CodeCheck`] says.
    Code(CodeCheck),
    Date,
    Timestamp,
    Bool,
}

#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub required: bool,
}

const fn col(name: &'static str, kind: ColumnKind, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required,
    }
}

use ColumnKind::{Bool, Code, Date, Str, Timestamp};

const PATIENT_COLUMNS: [ColumnSpec; 2] = [
    col("local_patient_id", Str, true),
    col("nhs_number", Str, false),
];

const AE: &[ColumnSpec] = &[
    col("attendance_id", Str, true),
    col("site_code", Str, true),
    col(
        "department_type",
        Code(CodeCheck::List(codes::DEPARTMENT_TYPE)),
        true,
    ),
    col("arrival_time", Timestamp, true),
    col("booked_appointment", Bool, true),
    col("decision_to_admit_time", Timestamp, false),
    col("departure_time", Timestamp, false),
    col("admitted", Bool, true),
    col("commissioner_code", Code(CodeCheck::Commissioner), false),
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
];

const IP: &[ColumnSpec] = &[
    col("spell_id", Str, true),
    col("admission_time", Timestamp, true),
    col("discharge_time", Timestamp, false),
    col(
        "admission_method",
        Code(CodeCheck::List(codes::ADMISSION_METHOD)),
        true,
    ),
    col(
        "patient_classification",
        Code(CodeCheck::List(codes::PATIENT_CLASSIFICATION)),
        true,
    ),
    col(
        "treatment_function_code",
        Code(CodeCheck::TreatmentFunction),
        true,
    ),
    col("commissioner_code", Code(CodeCheck::Commissioner), true),
    col("site_code", Str, true),
    col("ae_attendance_id", Str, false),
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
];

const OP: &[ColumnSpec] = &[
    col("appointment_id", Str, true),
    col("pathway_id", Str, false),
    col("appointment_date", Date, true),
    col(
        "attendance_status",
        Code(CodeCheck::List(codes::ATTENDANCE_STATUS)),
        true,
    ),
    col(
        "first_attendance",
        Code(CodeCheck::List(codes::FIRST_ATTENDANCE)),
        true,
    ),
    col(
        "treatment_function_code",
        Code(CodeCheck::TreatmentFunction),
        true,
    ),
    col("referral_source", Code(CodeCheck::ReferralSource), false),
    col("priority", Code(CodeCheck::List(codes::PRIORITY)), false),
    col("consultant_led", Bool, false),
    col("commissioner_code", Code(CodeCheck::Commissioner), true),
    col("site_code", Str, true),
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
];

const REF: &[ColumnSpec] = &[
    col("referral_id", Str, true),
    col("pathway_id", Str, false),
    col("referral_received_date", Date, true),
    col("referral_source", Code(CodeCheck::ReferralSource), true),
    col(
        "treatment_function_code",
        Code(CodeCheck::TreatmentFunction),
        true,
    ),
    col("priority", Code(CodeCheck::List(codes::PRIORITY)), false),
    col("commissioner_code", Code(CodeCheck::Commissioner), true),
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
];

const RTT: &[ColumnSpec] = &[
    col("event_id", Str, true),
    col("pathway_id", Str, true),
    col("event_date", Date, true),
    col("rtt_status", Code(CodeCheck::List(codes::RTT_STATUS)), true),
    col("activity", Code(CodeCheck::List(codes::ACTIVITY)), true),
    col(
        "treatment_function_code",
        Code(CodeCheck::TreatmentFunction),
        true,
    ),
    col("commissioner_code", Code(CodeCheck::Commissioner), true),
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
];

const PAT: &[ColumnSpec] = &[
    PATIENT_COLUMNS[0],
    PATIENT_COLUMNS[1],
    col("birth_date", Date, false),
    col("sex", Code(CodeCheck::List(codes::SEX)), false),
    col("postcode_district", Str, false),
    col("gp_practice_code", Str, false),
    col("death_date", Date, false),
];

/// Lineage columns the warehouse adds to every stored row.
pub const LINEAGE_COLUMNS: &[&str] = &[
    "_load_id",
    "_extract_date",
    "_extracted_at",
    "_source_file",
    "_source_row",
    "_warnings",
];

impl Feed {
    pub const ALL: [Feed; 6] = [
        Feed::AeAttendances,
        Feed::InpatientSpells,
        Feed::OutpatientAppointments,
        Feed::Referrals,
        Feed::RttEvents,
        Feed::Patients,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feed::AeAttendances => "ae_attendances",
            Feed::InpatientSpells => "inpatient_spells",
            Feed::OutpatientAppointments => "outpatient_appointments",
            Feed::Referrals => "referrals",
            Feed::RttEvents => "rtt_events",
            Feed::Patients => "patients",
        }
    }

    pub fn parse(s: &str) -> Result<Feed> {
        Feed::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| Error::Invalid(format!("no such feed: {s:?}")))
    }

    pub fn kind(self) -> FeedKind {
        match self {
            Feed::RttEvents | Feed::Patients => FeedKind::Snapshot,
            _ => FeedKind::Period,
        }
    }

    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Feed::AeAttendances => AE,
            Feed::InpatientSpells => IP,
            Feed::OutpatientAppointments => OP,
            Feed::Referrals => REF,
            Feed::RttEvents => RTT,
            Feed::Patients => PAT,
        }
    }

    /// The column unique within the trust.
    pub fn id_column(self) -> &'static str {
        self.columns()[0].name
    }

    /// The column whose London local date is the activity date (period feeds).
    pub fn activity_column(self) -> Option<&'static str> {
        match self {
            Feed::AeAttendances => Some("arrival_time"),
            Feed::InpatientSpells => Some("admission_time"),
            Feed::OutpatientAppointments => Some("appointment_date"),
            Feed::Referrals => Some("referral_received_date"),
            Feed::RttEvents | Feed::Patients => None,
        }
    }

    /// The schema rows are stored with: `trust`, the contract columns in
    /// canonical types (strings Utf8, dates Date32, timestamps microseconds
    /// UTC), `activity_date` for period feeds, then lineage.
    pub fn stored_schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| Feed::ALL.iter().map(|f| f.build_schema()).collect());
        all[self as usize].clone()
    }

    fn build_schema(self) -> SchemaRef {
        let mut fields = vec![Field::new("trust", DataType::Utf8, false)];
        for c in self.columns() {
            fields.push(Field::new(c.name, stored_type(c.kind), !c.required));
        }
        if self.kind() == FeedKind::Period {
            fields.push(Field::new("activity_date", DataType::Date32, false));
        }
        fields.push(Field::new("_load_id", DataType::Int64, false));
        fields.push(Field::new("_extract_date", DataType::Date32, false));
        fields.push(Field::new("_extracted_at", utc_micros(), false));
        fields.push(Field::new("_source_file", DataType::Utf8, false));
        fields.push(Field::new("_source_row", DataType::Int64, false));
        fields.push(Field::new("_warnings", DataType::Utf8, true));
        Arc::new(Schema::new(fields))
    }
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Timestamps are stored as microseconds since the epoch, UTC.
pub fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The stored Arrow type of a contract kind.
pub fn stored_type(kind: ColumnKind) -> DataType {
    match kind {
        Str | Code(_) => DataType::Utf8,
        Date => DataType::Date32,
        Timestamp => utc_micros(),
        Bool => DataType::Boolean,
    }
}

/// Whether a delivered column's Arrow type is one the contract accepts for
/// `kind` (contract section 3).
pub fn accepts_type(kind: ColumnKind, t: &DataType) -> bool {
    match kind {
        Str | Code(_) => match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, v) => {
                matches!(
                    v.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            }
            _ => false,
        },
        Date => matches!(t, DataType::Date32 | DataType::Date64),
        Timestamp => matches!(t, DataType::Timestamp(_, _)),
        Bool => matches!(t, DataType::Boolean),
    }
}

/// A short human name for a kind, for error messages.
pub fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        Str => "string",
        Code(_) => "code (string)",
        Date => "date",
        Timestamp => "timestamp",
        Bool => "boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_kinds() {
        assert_eq!(Feed::AeAttendances.id_column(), "attendance_id");
        assert_eq!(Feed::Patients.id_column(), "local_patient_id");
        assert_eq!(Feed::RttEvents.kind(), FeedKind::Snapshot);
        assert_eq!(Feed::parse("referrals").unwrap(), Feed::Referrals);
        for f in Feed::ALL {
            let names: Vec<_> = f.columns().iter().map(|c| c.name).collect();
            assert!(names.contains(&"local_patient_id"), "{f}");
            assert!(names.contains(&"nhs_number"), "{f}");
            assert_eq!(f.stored_schema().field(0).name(), "trust");
        }
    }

    #[test]
    fn accepted_types() {
        assert!(accepts_type(
            Str,
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::LargeUtf8))
        ));
        assert!(!accepts_type(Str, &DataType::Int64));
        assert!(accepts_type(Date, &DataType::Date64));
        assert!(!accepts_type(Date, &DataType::Utf8));
        assert!(accepts_type(
            Timestamp,
            &DataType::Timestamp(TimeUnit::Nanosecond, None)
        ));
    }
}
