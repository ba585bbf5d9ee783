//! What a load run did: per load and per file, rows read, stored and
//! quarantined (the load log is written from these).

use crate::error::Refusal;
use crate::landing::ArrivingFolder;
use chrono::{DateTime, NaiveDate, Utc};
use icsw_model::Feed;
use icsw_store::{DateRange, LoadOutcome};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one file of a load became.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    pub feed: Feed,
    pub path: String,
    pub sha256: String,
    pub covers: Option<DateRange>,
    pub rows_manifest: u64,
    pub rows_read: u64,
    pub rows_stored: u64,
    pub rows_quarantined: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    /// Quarantined rows by reason code.
    pub quarantined: BTreeMap<&'static str, u64>,
}

/// One load attempt.
#[derive(Clone, Debug, Serialize)]
pub struct LoadSummary {
    pub load_id: u64,
    pub trust: String,
    pub extract_date: Option<NaiveDate>,
    pub extracted_at: Option<DateTime<Utc>>,
    pub source_system: Option<String>,
    pub manifest_sha256: String,
    pub outcome: LoadOutcome,
    pub late: bool,
    pub refusal: Option<Refusal>,
    /// A warning about a load that went through (a late extract).
    pub note: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub files: Vec<FileSummary>,
    /// Stored rows of other date ranges replaced by newer rows with the same id.
    pub rows_superseded: u64,
    /// The span of the manifest's `covers`, when it could be read.
    pub covers: Option<DateRange>,
    /// The feeds the manifest names, when it could be read.
    pub feeds: Vec<Feed>,
}

impl LoadSummary {
    pub fn rows_read(&self) -> u64 {
        self.files.iter().map(|f| f.rows_read).sum()
    }
    pub fn rows_stored(&self) -> u64 {
        self.files.iter().map(|f| f.rows_stored).sum()
    }
    pub fn rows_quarantined(&self) -> u64 {
        self.files.iter().map(|f| f.rows_quarantined).sum()
    }
    pub fn rows_rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rows_rejected).sum()
    }
    pub fn rows_warned(&self) -> u64 {
        self.files.iter().map(|f| f.rows_warned).sum()
    }
}

/// An extract not loaded this run, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub trust: String,
    pub extract_date: String,
    pub why: &'static str,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub loads: Vec<LoadSummary>,
    pub skipped: Vec<Skipped>,
    /// Folders without a manifest yet.
    pub arriving: Vec<ArrivingFolder>,
    /// The warehouse version after the run.
    pub version: u64,
}
