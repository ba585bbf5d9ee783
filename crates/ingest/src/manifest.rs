//! `_manifest.json` (contract section 2).

use crate::error::{Refusal, RefusalKind};
use chrono::{DateTime, NaiveDate, Utc};
use icsw_model::manifest::{ManifestJson, CONTRACT_VERSION, MANIFEST_FILE};
use icsw_model::{Feed, FeedKind};
use icsw_store::DateRange;

/// A checked manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub trust: String,
    pub extract_date: NaiveDate,
    pub extracted_at: DateTime<Utc>,
    pub source_system: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Clone, Debug)]
pub struct ManifestFile {
    pub feed: Feed,
    pub path: String,
    pub rows: u64,
    pub sha256: String,
    pub covers: Option<DateRange>,
}

impl Manifest {
    /// Parses and checks a manifest against the folder it was found in.
    pub fn parse(bytes: &[u8], folder_trust: &str, folder_date: &str) -> Result<Self, Refusal> {
        let refuse = |file: Option<&str>, message: String| Refusal {
            kind: RefusalKind::InvalidManifest,
            trust: folder_trust.to_string(),
            extract_date: folder_date.to_string(),
            file: Some(file.unwrap_or(MANIFEST_FILE).to_string()),
            feed: None,
            column: None,
            message,
        };
        let raw: ManifestJson = serde_json::from_slice(bytes)
            .map_err(|e| refuse(None, format!("not valid manifest JSON: {e}")))?;
        match raw.contract_version.as_ref().and_then(|v| v.as_u64()) {
            Some(CONTRACT_VERSION) => {}
            Some(v) => {
                return Err(refuse(
                    None,
                    format!("contract_version {v} is not {CONTRACT_VERSION}"),
                ))
            }
            None => return Err(refuse(None, "contract_version is missing".into())),
        }
        let trust = raw
            .trust
            .ok_or_else(|| refuse(None, "trust is missing".into()))?;
        if trust != folder_trust {
            return Err(refuse(
                None,
                format!("trust {trust:?} does not match its folder {folder_trust:?}"),
            ));
        }
        let date_text = raw
            .extract_date
            .ok_or_else(|| refuse(None, "extract_date is missing".into()))?;
        if date_text != folder_date {
            return Err(refuse(
                None,
                format!("extract_date {date_text:?} does not match its folder {folder_date:?}"),
            ));
        }
        let extract_date = parse_date(&date_text)
            .ok_or_else(|| refuse(None, format!("extract_date {date_text:?} is not a date")))?;
        let at = raw
            .extracted_at
            .ok_or_else(|| refuse(None, "extracted_at is missing".into()))?;
        let extracted_at = DateTime::parse_from_rfc3339(&at)
            .map_err(|e| refuse(None, format!("extracted_at {at:?} is not RFC 3339: {e}")))?
            .with_timezone(&Utc);
        let files_raw = raw
            .files
            .ok_or_else(|| refuse(None, "files is missing".into()))?;
        if files_raw.is_empty() {
            return Err(refuse(None, "files is empty".into()));
        }
        let mut files = Vec::with_capacity(files_raw.len());
        let mut seen_paths = std::collections::HashSet::new();
        for (i, f) in files_raw.into_iter().enumerate() {
            let entry = format!("files[{i}]");
            let path = f
                .path
                .ok_or_else(|| refuse(None, format!("{entry}: path is missing")))?;
            let p = Some(path.as_str());
            if path.is_empty()
                || path.contains('/')
                || path.contains('\\')
                || path.starts_with('.')
                || path == MANIFEST_FILE
            {
                return Err(refuse(
                    p,
                    format!("{entry}: path must name a file in the extract's folder"),
                ));
            }
            if !seen_paths.insert(path.clone()) {
                return Err(refuse(p, format!("{entry}: path is listed twice")));
            }
            let feed_name = f
                .feed
                .ok_or_else(|| refuse(p, format!("{entry}: feed is missing")))?;
            let feed = Feed::parse(&feed_name)
                .map_err(|_| refuse(p, format!("{entry}: unknown feed {feed_name:?}")))?;
            let rows = f
                .rows
                .as_ref()
                .and_then(|v| v.as_u64())
                .ok_or_else(|| refuse(p, format!("{entry}: rows must be a whole number")))?;
            let sha256 = f
                .sha256
                .ok_or_else(|| refuse(p, format!("{entry}: sha256 is missing")))?
                .to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(refuse(p, format!("{entry}: sha256 is not 64 hex digits")));
            }
            let covers = match (feed.kind(), f.covers) {
                (FeedKind::Period, None) => {
                    return Err(refuse(
                        p,
                        format!("{entry}: covers is required for period feed {feed}"),
                    ))
                }
                (FeedKind::Snapshot, Some(_)) => {
                    return Err(refuse(
                        p,
                        format!("{entry}: covers is not allowed for snapshot feed {feed}"),
                    ))
                }
                (FeedKind::Snapshot, None) => None,
                (FeedKind::Period, Some(c)) => {
                    let from = c.from.as_deref().and_then(parse_date);
                    let to = c.to.as_deref().and_then(parse_date);
                    match (from, to) {
                        (Some(from), Some(to)) if from <= to => Some(DateRange::new(from, to)),
                        (Some(_), Some(_)) => {
                            return Err(refuse(
                                p,
                                format!("{entry}: covers.from is after covers.to"),
                            ))
                        }
                        _ => {
                            return Err(refuse(
                                p,
                                format!("{entry}: covers needs from and to as YYYY-MM-DD"),
                            ))
                        }
                    }
                }
            };
            files.push(ManifestFile {
                feed,
                path,
                rows,
                sha256,
                covers,
            });
        }
        Ok(Manifest {
            trust,
            extract_date,
            extracted_at,
            source_system: raw.source_system.unwrap_or_default(),
            files,
        })
    }

    pub fn total_rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// The feeds delivered, in first-mention order.
    pub fn feeds(&self) -> Vec<Feed> {
        let mut out: Vec<Feed> = Vec::new();
        for f in &self.files {
            if !out.contains(&f.feed) {
                out.push(f.feed);
            }
        }
        out
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
      "contract_version": 1, "trust": "RYJ", "extract_date": "2026-11-21",
      "extracted_at": "2026-11-22T01:12:09Z", "source_system": "Cerner Millennium",
      "files": [
        {"feed": "ae_attendances", "path": "ae_attendances.parquet", "rows": 10412,
         "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "covers": {"from": "2026-10-01", "to": "2026-11-21"}},
        {"feed": "rtt_events", "path": "rtt_events.parquet", "rows": 231877,
         "sha256": "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"}
      ]}"#;

    #[test]
    fn contract_example_parses() {
        let m = Manifest::parse(GOOD.as_bytes(), "RYJ", "2026-11-21").unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.total_rows(), 242_289);
        assert!(m.files[1].covers.is_none());
        assert!(m.files[1].sha256.starts_with("00112233445566778899aabb"));
    }

    #[test]
    fn refusals_name_the_problem() {
        let e = Manifest::parse(GOOD.as_bytes(), "RQM", "2026-11-21").unwrap_err();
        assert!(e.message.contains("does not match its folder"), "{e}");
        let e = Manifest::parse(GOOD.as_bytes(), "RYJ", "2026-11-20").unwrap_err();
        assert!(e.message.contains("extract_date"), "{e}");
        let bad = GOOD.replace(
            r#""covers": {"from": "2026-10-01", "to": "2026-11-21"}"#,
            r#""note": 0"#,
        );
        let e = Manifest::parse(bad.as_bytes(), "RYJ", "2026-11-21").unwrap_err();
        assert!(e.message.contains("covers is required"), "{e}");
        assert_eq!(e.file.as_deref(), Some("ae_attendances.parquet"));
        let bad = GOOD.replace(
            "\"rows\": 231877,",
            "\"rows\": 231877, \"covers\": {\"from\": \"2026-10-01\", \"to\": \"2026-11-21\"},",
        );
        assert!(Manifest::parse(bad.as_bytes(), "RYJ", "2026-11-21").is_err());
        let bad = GOOD.replace("\"contract_version\": 1", "\"contract_version\": 2");
        assert!(Manifest::parse(bad.as_bytes(), "RYJ", "2026-11-21").is_err());
        let bad = GOOD.replace("rtt_events.parquet", "../x.parquet");
        assert!(Manifest::parse(bad.as_bytes(), "RYJ", "2026-11-21").is_err());
        assert!(Manifest::parse(b"{", "RYJ", "2026-11-21").is_err());
    }
}
