//! Why a row was quarantined, and why an accepted row carries a warning.
//! The codes are stable: they are stored in the warehouse and queried in SQL.

use serde::{Deserialize, Serialize};

/// The reason a row read was not stored. Rejections come first, in the order
/// of contract section 6 (a row with several problems gets the first); the
/// others are the loader's bookkeeping of rows that are valid but not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A required column is null or blank.
    MissingRequired,
    /// A code is not in its list, or not of its format.
    InvalidCode,
    /// A date or timestamp cannot be read, including a naive timestamp in the
    /// hour skipped when the clocks go forward.
    InvalidDatetime,
    /// The activity date lies outside the file's `covers`.
    OutsideCovers,
    /// The id is repeated in this delivery of the feed with different content.
    DuplicateId,
    /// A late extract's row for a date that a later extract already covered.
    CoveredByLaterExtract,
    /// A late extract's snapshot feed: the later snapshot is newer.
    LateSnapshotSkipped,
    /// An extra copy of a row whose every contract column equals an earlier one.
    ExactDuplicate,
    /// A late extract's row whose id the warehouse holds from a later extract
    /// (outside this row's replaced range): the newest data wins.
    IdHeldByLaterExtract,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::MissingRequired,
        Reason::InvalidCode,
        Reason::InvalidDatetime,
        Reason::OutsideCovers,
        Reason::DuplicateId,
        Reason::CoveredByLaterExtract,
        Reason::LateSnapshotSkipped,
        Reason::ExactDuplicate,
        Reason::IdHeldByLaterExtract,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::MissingRequired => "missing_required",
            Reason::InvalidCode => "invalid_code",
            Reason::InvalidDatetime => "invalid_datetime",
            Reason::OutsideCovers => "outside_covers",
            Reason::DuplicateId => "duplicate_id",
            Reason::CoveredByLaterExtract => "covered_by_later_extract",
            Reason::LateSnapshotSkipped => "late_snapshot_skipped",
            Reason::ExactDuplicate => "exact_duplicate",
            Reason::IdHeldByLaterExtract => "id_held_by_later_extract",
        }
    }

    /// Rejected rows are unusable data; they count towards the guard that
    /// holds an extract with too many of them. The rest are valid rows the
    /// warehouse already has, or a newer version of.
    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            Reason::MissingRequired
                | Reason::InvalidCode
                | Reason::InvalidDatetime
                | Reason::OutsideCovers
                | Reason::DuplicateId
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A doubt about an accepted row (contract sections 3 and 6). Stored with
/// the row in `_warnings` (comma-separated codes) and counted per load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// `nhs_number` present but failing the format or modulus-11 check.
    InvalidNhsNumber,
    /// A&E departure before arrival.
    DepartureBeforeArrival,
    /// Inpatient discharge before admission.
    DischargeBeforeAdmission,
    /// A&E decision to admit before arrival or after departure.
    DecisionToAdmitOutsideStay,
    /// The activity date is after the local date of `extracted_at`.
    FutureActivityDate,
    /// An A&E attendance with no departure more than 24 hours after arrival
    /// (judged at `extracted_at`).
    AeOpenOver24h,
    /// A treatment function code of the right format that the project's
    /// treatment function table does not list; reported under `X06`.
    UnknownTreatmentFunction,
}

impl Warning {
    pub const ALL: [Warning; 7] = [
        Warning::InvalidNhsNumber,
        Warning::DepartureBeforeArrival,
        Warning::DischargeBeforeAdmission,
        Warning::DecisionToAdmitOutsideStay,
        Warning::FutureActivityDate,
        Warning::AeOpenOver24h,
        Warning::UnknownTreatmentFunction,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Warning::InvalidNhsNumber => "invalid_nhs_number",
            Warning::DepartureBeforeArrival => "departure_before_arrival",
            Warning::DischargeBeforeAdmission => "discharge_before_admission",
            Warning::DecisionToAdmitOutsideStay => "decision_to_admit_outside_stay",
            Warning::FutureActivityDate => "future_activity_date",
            Warning::AeOpenOver24h => "ae_open_over_24h",
            Warning::UnknownTreatmentFunction => "unknown_treatment_function",
        }
    }

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Renders a set of warning bits as the stored comma-separated codes.
pub fn warnings_text(bits: u8) -> Option<String> {
    if bits == 0 {
        return None;
    }
    let codes: Vec<&str> = Warning::ALL
        .iter()
        .filter(|w| bits & w.bit() != 0)
        .map(|w| w.code())
        .collect();
    Some(codes.join(","))
}
