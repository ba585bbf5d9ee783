//! The published state of the warehouse: for each trust, the data files of
//! each feed and what its extracts covered. One JSON file per version.

use chrono::{DateTime, NaiveDate, Utc};
use icsw_model::{Feed, Month};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An inclusive range of dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        DateRange { from, to }
    }

    pub fn day(d: NaiveDate) -> Self {
        DateRange { from: d, to: d }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    pub fn overlaps(&self, other: &DateRange) -> bool {
        self.from <= other.to && other.from <= self.to
    }

    /// Merges a set of ranges into sorted, disjoint, non-adjacent ranges.
    pub fn normalise(mut ranges: Vec<DateRange>) -> Vec<DateRange> {
        ranges.sort();
        let mut out: Vec<DateRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if r.from <= last.to.succ_opt().unwrap_or(last.to) => {
                    last.to = last.to.max(r.to)
                }
                _ => out.push(r),
            }
        }
        out
    }

    /// Whether any of `ranges` (normalised or not) holds `d`.
    pub fn any_contains(ranges: &[DateRange], d: NaiveDate) -> bool {
        ranges.iter().any(|r| r.contains(d))
    }
}

/// One immutable Parquet file of stored rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path relative to the warehouse root.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// The activity dates it holds (period feeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_date: Option<NaiveDate>,
    /// The load that wrote it.
    pub load_id: u64,
}

/// A range of activity dates and the extract whose rows now stand for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub extract_date: NaiveDate,
    pub extracted_at: DateTime<Utc>,
    pub load_id: u64,
}

/// The snapshot a snapshot feed currently holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub extract_date: NaiveDate,
    pub extracted_at: DateTime<Utc>,
    pub load_id: u64,
    /// Rows read from the delivery (the shrunken-snapshot guard compares
    /// the next delivery with this).
    pub rows_read: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    pub files: Vec<DataFile>,
    /// Period feeds: disjoint, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<Coverage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotInfo>,
}

impl FeedState {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// The extract that last replaced date `d`, if any did.
    pub fn covered_by(&self, d: NaiveDate) -> Option<&Coverage> {
        self.coverage.iter().find(|c| c.from <= d && d <= c.to)
    }

    /// Records that `extract` replaced `ranges`, keeping coverage disjoint.
    pub fn set_coverage(&mut self, ranges: &[DateRange], extract: &Coverage) {
        let mut out: Vec<Coverage> = Vec::new();
        for c in &self.coverage {
            // Keep the parts of c outside every new range.
            let mut pieces = vec![DateRange::new(c.from, c.to)];
            for r in ranges {
                pieces = pieces.into_iter().flat_map(|p| subtract(p, *r)).collect();
            }
            for p in pieces {
                out.push(Coverage {
                    from: p.from,
                    to: p.to,
                    ..c.clone()
                });
            }
        }
        for r in DateRange::normalise(ranges.to_vec()) {
            out.push(Coverage {
                from: r.from,
                to: r.to,
                ..extract.clone()
            });
        }
        out.sort_by_key(|c| c.from);
        // Merge neighbours from the same load.
        let mut merged: Vec<Coverage> = Vec::with_capacity(out.len());
        for c in out {
            match merged.last_mut() {
                Some(m) if m.load_id == c.load_id && m.to.succ_opt() == Some(c.from) => m.to = c.to,
                _ => merged.push(c),
            }
        }
        self.coverage = merged;
    }
}

/// `a` without the days of `b`.
fn subtract(a: DateRange, b: DateRange) -> Vec<DateRange> {
    if !a.overlaps(&b) {
        return vec![a];
    }
    let mut out = Vec::new();
    if a.from < b.from {
        out.push(DateRange::new(a.from, b.from.pred_opt().expect("date")));
    }
    if a.to > b.to {
        out.push(DateRange::new(b.to.succ_opt().expect("date"), a.to));
    }
    out
}

/// An extract that was refused; it is tried again when its manifest changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusedExtract {
    pub manifest_sha256: String,
    pub load_id: u64,
    pub reason: String,
    /// The dates its period feeds would have replaced, when the manifest
    /// could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<DateRange>,
    /// The feeds it carried, when the manifest could be read (empty when
    /// it could not: then it may have carried any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<Feed>,
}

impl RefusedExtract {
    /// Whether it may have carried any of `feeds`: the returns made from
    /// them are held by it.
    pub fn may_carry(&self, feeds: &[Feed]) -> bool {
        self.feeds.is_empty() || self.feeds.iter().any(|f| feeds.contains(f))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustState {
    /// The newest extract date loaded: a later-loaded older extract is late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_extract_date: Option<NaiveDate>,
    /// Every extract date loaded, as merged ranges.
    #[serde(default)]
    pub loaded_extracts: Vec<DateRange>,
    /// Refused extracts not since loaded, by extract date.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<NaiveDate, RefusedExtract>,
    #[serde(default)]
    pub feeds: BTreeMap<Feed, FeedState>,
    /// The last version that changed this trust's data.
    #[serde(default)]
    pub data_version: u64,
    /// Tables derived from this trust's data and stored with it, by table
    /// name (what they are and when they are current is the query crate's
    /// rule; a warehouse written before them has none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub derived: BTreeMap<String, DerivedTable>,
}

/// One derived table of a trust: its files and what it was derived from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DerivedTable {
    /// The derivation's format: a change to how the table is derived bumps
    /// it, and older files are derived again.
    pub format: u32,
    /// A digest of the input files it was derived from.
    pub inputs: String,
    pub files: Vec<DataFile>,
}

impl TrustState {
    pub fn is_loaded(&self, extract_date: NaiveDate) -> bool {
        DateRange::any_contains(&self.loaded_extracts, extract_date)
    }

    pub fn mark_loaded(&mut self, extract_date: NaiveDate) {
        let mut r = std::mem::take(&mut self.loaded_extracts);
        r.push(DateRange::day(extract_date));
        self.loaded_extracts = DateRange::normalise(r);
        self.latest_extract_date = self.latest_extract_date.max(Some(extract_date));
        self.refused.remove(&extract_date);
    }

    /// The trust's missing nights between `from` and `to` (inclusive): the
    /// one rule for them, used by the returns' provenance and the
    /// `completeness.extract_missing` check alike. A night is missing when
    /// it is on or after the trust's first loaded extract (the warehouse
    /// knows nothing of nights before it), on or before `horizon` (the
    /// newest night any trust of the view has loaded, so a trust that
    /// stops sending is seen to stop), and neither loaded nor refused (a
    /// refused night is reported as refused, once).
    pub fn missing_nights(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        horizon: Option<NaiveDate>,
    ) -> Vec<NaiveDate> {
        let (Some(first), Some(horizon)) = (self.loaded_extracts.first().map(|r| r.from), horizon)
        else {
            return Vec::new();
        };
        from.max(first)
            .iter_days()
            .take_while(|d| *d <= to.min(horizon))
            .filter(|d| !self.is_loaded(*d) && !self.refused.contains_key(d))
            .collect()
    }
}

/// How a load ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadOutcome {
    Loaded,
    /// Loaded, older than an extract already loaded for the trust.
    LoadedLate,
    /// Refused whole; the previous data stays served.
    Refused,
}

impl LoadOutcome {
    pub fn code(self) -> &'static str {
        match self {
            LoadOutcome::Loaded => "loaded",
            LoadOutcome::LoadedLate => "loaded_late",
            LoadOutcome::Refused => "refused",
        }
    }
}

/// One published version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionState {
    pub format: u32,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    /// The load this version records (its id is the version number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<LoadOutcome>,
    pub trusts: BTreeMap<String, TrustState>,
}

impl VersionState {
    pub const FORMAT: u32 = 1;

    /// The state of an empty warehouse.
    pub fn empty() -> Self {
        VersionState {
            format: Self::FORMAT,
            version: 0,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            trust: None,
            extract_date: None,
            outcome: None,
            trusts: BTreeMap::new(),
        }
    }

    pub fn view(&self) -> View {
        View {
            trusts: self
                .trusts
                .iter()
                .map(|(t, s)| (t.clone(), (self.version, s.clone())))
                .collect(),
            version: self.version,
        }
    }
}

/// What a reader sees: each trust's state, possibly taken from different
/// versions (as at an extract date), with the version it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub trusts: BTreeMap<String, (u64, TrustState)>,
    /// The newest version any trust's state was taken from: log tables show
    /// loads up to it.
    pub version: u64,
}

impl View {
    pub fn files(&self, feed: Feed) -> impl Iterator<Item = (&str, &DataFile)> {
        self.trusts.iter().flat_map(move |(t, (_, s))| {
            s.feeds
                .get(&feed)
                .into_iter()
                .flat_map(move |f| f.files.iter().map(move |d| (t.as_str(), d)))
        })
    }

    /// The newest night any trust of the view has loaded: the horizon up to
    /// which a trust's missing nights are counted.
    pub fn horizon(&self) -> Option<NaiveDate> {
        self.trusts
            .values()
            .filter_map(|(_, s)| s.latest_extract_date)
            .max()
    }

    /// The latest month every trust with data is past (its newest extract
    /// is dated after the month's last day): the month returns, the demo
    /// and `quality_findings` default to.
    pub fn latest_complete_month(&self) -> Option<Month> {
        self.trusts
            .values()
            .filter_map(|(_, s)| s.latest_extract_date)
            .min()
            .map(|d| Month::of(d).prev())
    }

    /// A key that changes whenever what this view shows changes: the version
    /// each trust was read at.
    pub fn cache_key(&self) -> String {
        let parts: Vec<String> = self
            .trusts
            .iter()
            .map(|(t, (v, _))| format!("{t}@{v}"))
            .collect();
        format!("v{}:{}", self.version, parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cov(load: u64) -> Coverage {
        Coverage {
            from: d("2000-01-01"),
            to: d("2000-01-01"),
            extract_date: d("2026-01-01"),
            extracted_at: DateTime::<Utc>::UNIX_EPOCH,
            load_id: load,
        }
    }

    #[test]
    fn missing_nights_run_to_the_ics_horizon_and_leave_out_refused_ones() {
        let mut s = TrustState::default();
        for day in ["2026-10-02", "2026-10-03", "2026-10-06"] {
            s.mark_loaded(d(day));
        }
        s.refused.insert(
            d("2026-10-05"),
            RefusedExtract {
                manifest_sha256: String::new(),
                load_id: 9,
                reason: "bad".into(),
                covers: None,
                feeds: vec![],
            },
        );
        // Before the first extract: nothing known. 04 missing, 05 refused,
        // 07 and 08 missing up to another trust's newer night.
        assert_eq!(
            s.missing_nights(d("2026-10-01"), d("2026-10-31"), Some(d("2026-10-08"))),
            vec![d("2026-10-04"), d("2026-10-07"), d("2026-10-08")]
        );
        assert_eq!(
            s.missing_nights(d("2026-10-05"), d("2026-10-07"), Some(d("2026-10-08"))),
            vec![d("2026-10-07")]
        );
        assert!(s
            .missing_nights(d("2026-10-01"), d("2026-10-31"), None)
            .is_empty());
    }

    #[test]
    fn normalise_merges_adjacent() {
        let r = DateRange::normalise(vec![
            DateRange::new(d("2026-01-05"), d("2026-01-07")),
            DateRange::new(d("2026-01-01"), d("2026-01-04")),
            DateRange::new(d("2026-01-10"), d("2026-01-10")),
        ]);
        assert_eq!(
            r,
            vec![
                DateRange::new(d("2026-01-01"), d("2026-01-07")),
                DateRange::new(d("2026-01-10"), d("2026-01-10"))
            ]
        );
    }

    #[test]
    fn coverage_replaces_exactly_the_new_range() {
        let mut f = FeedState::default();
        f.set_coverage(&[DateRange::new(d("2026-10-01"), d("2026-10-31"))], &cov(1));
        f.set_coverage(&[DateRange::new(d("2026-10-10"), d("2026-10-14"))], &cov(2));
        let got: Vec<_> = f
            .coverage
            .iter()
            .map(|c| (c.from.to_string(), c.to.to_string(), c.load_id))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-10-01".into(), "2026-10-09".into(), 1),
                ("2026-10-10".into(), "2026-10-14".into(), 2),
                ("2026-10-15".into(), "2026-10-31".into(), 1),
            ]
        );
        assert_eq!(f.covered_by(d("2026-10-12")).unwrap().load_id, 2);
        assert!(f.covered_by(d("2026-11-01")).is_none());
    }
}
