//! `_manifest.json` as it is on the wire (contract section 2): what the
//! generator writes and the loader reads. Every field is optional here so
//! that the loader can name the one missing; the loader's checks (types,
//! folder, covers by feed kind) are in `icsw_ingest::manifest`.

use crate::Feed;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The contract version this build reads and writes.
pub const CONTRACT_VERSION: u64 = 1;

/// The file whose arrival marks an extract complete.
pub const MANIFEST_FILE: &str = "_manifest.json";

/// A manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestJson {
    /// A number; kept as JSON so that a string or a fraction can be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
    /// `YYYY-MM-DD`, the folder's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract_date: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<ManifestFileJson>>,
}

/// One file of a manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestFileJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// A file name in the extract's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A whole number; kept as JSON so that another type can be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<serde_json::Value>,
    /// 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Period feeds only: the activity dates the file replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<CoversJson>,
}

/// `covers`: `YYYY-MM-DD` dates, inclusive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoversJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl ManifestJson {
    /// A manifest of this contract version, as a sender writes one.
    pub fn new(
        trust: &str,
        extract_date: NaiveDate,
        extracted_at: DateTime<Utc>,
        source_system: &str,
        files: Vec<ManifestFileJson>,
    ) -> Self {
        ManifestJson {
            contract_version: Some(CONTRACT_VERSION.into()),
            trust: Some(trust.to_string()),
            extract_date: Some(extract_date.to_string()),
            extracted_at: Some(extracted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            source_system: Some(source_system.to_string()),
            files: Some(files),
        }
    }
}

impl ManifestFileJson {
    /// A file entry, as a sender writes one.
    pub fn new(
        feed: Feed,
        path: &str,
        rows: u64,
        sha256: &str,
        covers: Option<(NaiveDate, NaiveDate)>,
    ) -> Self {
        ManifestFileJson {
            feed: Some(feed.name().to_string()),
            path: Some(path.to_string()),
            rows: Some(rows.into()),
            sha256: Some(sha256.to_string()),
            covers: covers.map(|(from, to)| CoversJson {
                from: Some(from.to_string()),
                to: Some(to.to_string()),
            }),
        }
    }
}

/// An extract folder with no manifest yet: still arriving (contract
/// section 2). The loader leaves it; the late-manifest check reports it
/// once its newest file is older than the deadline.
#[derive(Clone, Debug)]
pub struct ArrivingFolder {
    pub trust: String,
    pub extract_date: String,
    pub folder: std::path::PathBuf,
    /// When its newest file was last written.
    pub last_modified: Option<DateTime<Utc>>,
}
