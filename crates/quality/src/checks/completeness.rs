//! Completeness: what was loaded, from the warehouse state alone (no SQL):
//! refused extracts, missing nights, folders still without a manifest, and
//! months a return cannot be made for.

use super::{finding, in_scope};
use crate::{Finding, QualityConfig, Result, Scope};
use chrono::Utc;
use icsw_model::manifest::ArrivingFolder;
use icsw_model::{IcsConfig, Month};
use icsw_returns::{completeness, ReturnKind};
use icsw_store::View;

/// Checks of what was loaded (from the warehouse state): refused extracts,
/// missing nights and feeds, and folders still without a manifest.
pub(super) fn state_checks(
    view: &View,
    config: &IcsConfig,
    q: &QualityConfig,
    scope: Scope,
    trust: Option<&str>,
    arriving: &[ArrivingFolder],
) -> Result<Vec<Finding>> {
    let (first, last) = (scope.first_day(), scope.last_day());
    let horizon = view.horizon();
    let mut out = Vec::new();
    for (tc, s) in in_scope(config, view, trust) {
        for (d, r) in &s.refused {
            // The morning after a night: that night's refusals. A month:
            // every refusal dated in it or whose covers reach into it.
            let touches = match scope {
                Scope::Date(day) => *d == day,
                Scope::Period(_) => {
                    (first..=last).contains(d)
                        || r.covers.is_some_and(|c| c.from <= last && first <= c.to)
                }
            };
            if touches {
                out.push(finding(
                    q,
                    "completeness.extract_refused",
                    &tc.ods,
                    None,
                    Some(*d),
                    1,
                    None,
                    vec![],
                    Some(format!(
                        "the extract of {d} was refused and has not been loaded since{}: {}",
                        if r.feeds.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (it carried {})",
                                r.feeds
                                    .iter()
                                    .map(|f| f.name())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                        r.reason
                    )),
                )?);
            }
        }
        for d in s.missing_nights(first, last, horizon) {
            out.push(finding(
                q,
                "completeness.extract_missing",
                &tc.ods,
                None,
                Some(d),
                1,
                None,
                vec![],
                Some(format!("no extract for the night of {d}")),
            )?);
        }
    }
    let now = Utc::now();
    for a in arriving {
        if trust.is_some_and(|t| t != a.trust) {
            continue;
        }
        let age = a
            .last_modified
            .map_or(f64::INFINITY, |m| (now - m).num_seconds() as f64 / 3600.0);
        if age >= q.manifest_deadline_hours {
            out.push(finding(
                q,
                "completeness.manifest_late",
                &a.trust,
                None,
                a.extract_date.parse().ok(),
                1,
                None,
                vec![],
                Some(format!(
                    "the extract folder {}/{} has had no manifest for {:.1} hours (deadline {} hours)",
                    a.trust, a.extract_date, age, q.manifest_deadline_hours
                )),
            )?);
        }
    }
    Ok(out)
}

/// A finding for each return and trust whose month is incomplete (returns
/// spec section 4).
pub(super) fn period_incomplete(
    view: &View,
    config: &IcsConfig,
    q: &QualityConfig,
    m: Month,
    trust: Option<&str>,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for kind in ReturnKind::ALL {
        for p in completeness(view, config, kind, m, trust) {
            if !p.complete {
                out.push(finding(
                    q,
                    "completeness.period_incomplete",
                    &p.trust,
                    None,
                    Some(m.last_day()),
                    p.reasons.len() as i64,
                    None,
                    vec![],
                    Some(format!(
                        "the {kind} return for {m} is incomplete: {}",
                        p.reasons.join("; ")
                    )),
                )?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use icsw_store::{RefusedExtract, TrustState};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// RYJ sent the 1st and 2nd, the 4th was refused, nothing came for
    /// the 3rd and 5th; RQM sent up to the 5th, so RYJ's 5th is missing.
    fn view() -> View {
        let mut ryj = TrustState::default();
        ryj.mark_loaded(d("2026-10-01"));
        ryj.mark_loaded(d("2026-10-02"));
        ryj.refused.insert(
            d("2026-10-04"),
            RefusedExtract {
                manifest_sha256: String::new(),
                load_id: 3,
                reason: "sha256_mismatch".into(),
                covers: None,
                feeds: vec![],
            },
        );
        let mut rqm = TrustState::default();
        rqm.mark_loaded(d("2026-10-05"));
        View {
            trusts: [("RYJ".to_string(), (3, ryj)), ("RQM".to_string(), (4, rqm))].into(),
            version: 4,
        }
    }

    fn found(fs: &[Finding], id: &str) -> Vec<(String, Option<NaiveDate>)> {
        fs.iter()
            .filter(|f| f.check_id == id)
            .map(|f| (f.trust.clone(), f.day))
            .collect()
    }

    #[test]
    fn a_night_is_missing_or_refused_never_both() {
        let q = QualityConfig::default();
        let config = IcsConfig::default();
        let m = Scope::Period(Month::parse("2026-10").unwrap());
        let fs = state_checks(&view(), &config, &q, m, None, &[]).unwrap();
        assert_eq!(
            found(&fs, "completeness.extract_missing"),
            vec![
                ("RYJ".to_string(), Some(d("2026-10-03"))),
                ("RYJ".to_string(), Some(d("2026-10-05"))),
            ]
        );
        assert_eq!(
            found(&fs, "completeness.extract_refused"),
            vec![("RYJ".to_string(), Some(d("2026-10-04")))]
        );
        // The morning after the 4th: that night's refusal, no missing night.
        let fs = state_checks(
            &view(),
            &config,
            &q,
            Scope::Date(d("2026-10-04")),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(found(&fs, "completeness.extract_missing"), vec![]);
        assert_eq!(found(&fs, "completeness.extract_refused").len(), 1);
    }

    #[test]
    fn a_folder_without_a_manifest_is_late_after_the_deadline() {
        let q = QualityConfig::default();
        let folder = |hours: i64| ArrivingFolder {
            trust: "RQM".into(),
            extract_date: "2026-10-06".into(),
            folder: "landing/RQM/2026-10-06".into(),
            last_modified: Some(Utc::now() - chrono::Duration::hours(hours)),
        };
        let scope = Scope::Date(d("2026-10-06"));
        let config = IcsConfig::default();
        let late = state_checks(&view(), &config, &q, scope, None, &[folder(7)]).unwrap();
        assert_eq!(
            found(&late, "completeness.manifest_late"),
            vec![("RQM".to_string(), Some(d("2026-10-06")))]
        );
        let fresh = state_checks(&view(), &config, &q, scope, None, &[folder(5)]).unwrap();
        assert!(found(&fresh, "completeness.manifest_late").is_empty());
    }
}
