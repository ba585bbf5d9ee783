//! Completeness (returns spec section 4): a period is complete for a trust
//! when, for every feed the return uses and the configuration expects, the
//! `covers` of its loaded extracts include every day of the period, and (for
//! RTT) a snapshot dated after the census date is loaded.

use crate::ReturnKind;
use chrono::NaiveDate;
use icsw_model::{Feed, FeedKind, IcsConfig, Month};
use icsw_store::{DateRange, View};
use serde::Serialize;
use std::collections::BTreeMap;

/// One extract whose data a return uses.
#[derive(Clone, Debug, Serialize)]
pub struct ExtractUsed {
    pub load_id: u64,
    pub extract_date: NaiveDate,
    /// For period feeds: the dates of the period this extract stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dates: Option<DateRange>,
}

/// A trust's part in a return.
#[derive(Clone, Debug, Serialize)]
pub struct TrustProvenance {
    pub trust: String,
    /// The version the trust's state was read at.
    pub warehouse_version: Option<u64>,
    /// Per feed, the extracts the return's figures come from.
    pub feeds: BTreeMap<String, Vec<ExtractUsed>>,
    /// Days of the period no loaded extract covers, per period feed.
    pub missing_days: BTreeMap<String, Vec<DateRange>>,
    /// Nights of the period with no extract loaded or refused
    /// ([`icsw_store::TrustState::missing_nights`]).
    pub missing_extracts: Vec<NaiveDate>,
    /// Extracts refused and not since loaded.
    pub refused_extracts: Vec<(NaiveDate, String)>,
    pub complete: bool,
    pub reasons: Vec<String>,
}

fn ranges(days: &[NaiveDate]) -> Vec<DateRange> {
    DateRange::normalise(days.iter().map(|d| DateRange::day(*d)).collect())
}

/// The days and feeds a figure reads: every day from `from` to `to` of each
/// period feed, and for `rtt_events` a snapshot dated after `census`.
#[derive(Clone, Debug)]
pub struct Window {
    pub feeds: Vec<Feed>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub census: NaiveDate,
    /// How the reasons name the days (the period, for a return).
    pub label: String,
}

impl Window {
    /// A return's: its feeds over its month, the census its last day.
    pub fn of_return(kind: ReturnKind, period: Month) -> Self {
        Window {
            feeds: kind.feeds().to_vec(),
            from: period.first_day(),
            to: period.last_day(),
            census: period.last_day(),
            label: period.to_string(),
        }
    }
}

/// The completeness of every trust in scope (one trust, or all configured).
pub fn completeness(
    view: &View,
    config: &IcsConfig,
    kind: ReturnKind,
    period: Month,
    trust: Option<&str>,
) -> Vec<TrustProvenance> {
    completeness_of(view, config, &Window::of_return(kind, period), trust)
}

/// The completeness of every trust in scope over `w`.
pub fn completeness_of(
    view: &View,
    config: &IcsConfig,
    w: &Window,
    trust: Option<&str>,
) -> Vec<TrustProvenance> {
    let label = &w.label;
    config
        .trusts
        .iter()
        .filter(|t| trust.is_none_or(|x| x == t.ods))
        .map(|tc| {
            let state = view.trusts.get(&tc.ods);
            let mut p = TrustProvenance {
                trust: tc.ods.clone(),
                warehouse_version: state.map(|(v, _)| *v),
                feeds: BTreeMap::new(),
                missing_days: BTreeMap::new(),
                missing_extracts: Vec::new(),
                refused_extracts: Vec::new(),
                complete: true,
                reasons: Vec::new(),
            };
            let Some((_, s)) = state else {
                p.complete = false;
                p.reasons.push("no extract loaded".into());
                return p;
            };
            for feed in &w.feeds {
                if !tc.expected_feeds.contains(feed) {
                    continue;
                }
                let fs = s.feeds.get(feed);
                match feed.kind() {
                    FeedKind::Period => {
                        let mut used = Vec::new();
                        for c in fs.map(|f| f.coverage.as_slice()).unwrap_or_default() {
                            let from = c.from.max(w.from);
                            let to = c.to.min(w.to);
                            if from <= to {
                                used.push(ExtractUsed {
                                    load_id: c.load_id,
                                    extract_date: c.extract_date,
                                    dates: Some(DateRange::new(from, to)),
                                });
                            }
                        }
                        let missing: Vec<NaiveDate> = w
                            .from
                            .iter_days()
                            .take_while(|d| *d <= w.to)
                            .filter(|d| fs.and_then(|f| f.covered_by(*d)).is_none())
                            .collect();
                        if !missing.is_empty() {
                            let r = ranges(&missing);
                            p.reasons.push(format!(
                                "{feed}: {} day(s) of {label} not covered by any loaded extract ({})",
                                missing.len(),
                                r.iter()
                                    .map(|r| if r.from == r.to {
                                        r.from.to_string()
                                    } else {
                                        format!("{} to {}", r.from, r.to)
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                            p.missing_days.insert(feed.name().into(), r);
                        }
                        p.feeds.insert(feed.name().into(), used);
                    }
                    FeedKind::Snapshot => match fs.and_then(|f| f.snapshot.as_ref()) {
                        Some(sn) => {
                            p.feeds.insert(
                                feed.name().into(),
                                vec![ExtractUsed {
                                    load_id: sn.load_id,
                                    extract_date: sn.extract_date,
                                    dates: None,
                                }],
                            );
                            if *feed == Feed::RttEvents && sn.extract_date <= w.census {
                                p.reasons.push(format!(
                                    "{feed}: the latest snapshot is dated {}, not after the census date {}",
                                    sn.extract_date, w.census
                                ));
                            }
                        }
                        None => p.reasons.push(format!("{feed}: no snapshot loaded")),
                    },
                }
            }
            p.missing_extracts =
                s.missing_nights(w.from, w.to, view.horizon());
            p.refused_extracts = s
                .refused
                .iter()
                .map(|(d, r)| (*d, r.reason.clone()))
                .collect();
            p.complete = p.reasons.is_empty();
            p
        })
        .collect()
}
