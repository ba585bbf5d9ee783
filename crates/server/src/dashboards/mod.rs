//! Dashboards for managers, defined in `dashboards/*.toml`: a title and
//! panels, each a query from `sql/dashboards/` and a chart. Monthly
//! measures are Making Data Count SPC charts with their variation and
//! assurance icons against the configured targets; every chart has its
//! table under it. Rendered on the server as HTML with inline SVG: no
//! JavaScript.

use crate::access::{need, Auth, Need, Principal};
use crate::state::Snapshot;
use crate::{html, ApiError, ApiResult, AppState, Cached};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use icsw_model::{IcsConfig, Month};
use icsw_query::SqlFile;
use icsw_returns::ReturnKind;
use icsw_spc::Direction;
use serde::Deserialize;
use std::sync::Arc;

mod panels;

const DEFINITIONS: &[(&str, &str)] = &[
    ("ae", include_str!("../../../../dashboards/ae.toml")),
    ("rtt", include_str!("../../../../dashboards/rtt.toml")),
    (
        "long_waits",
        include_str!("../../../../dashboards/long_waits.toml"),
    ),
    (
        "activity",
        include_str!("../../../../dashboards/activity.toml"),
    ),
    (
        "quality",
        include_str!("../../../../dashboards/quality.toml"),
    ),
    (
        "system_flow",
        include_str!("../../../../dashboards/system_flow.toml"),
    ),
];

const SQL: &[(&str, &str)] = &[
    (
        "ae_monthly",
        include_str!("../../../../sql/dashboards/ae_monthly.sql"),
    ),
    (
        "rtt_monthly",
        include_str!("../../../../sql/dashboards/rtt_monthly.sql"),
    ),
    (
        "activity_monthly",
        include_str!("../../../../sql/dashboards/activity_monthly.sql"),
    ),
    (
        "quality_by_trust",
        include_str!("../../../../sql/dashboards/quality_by_trust.sql"),
    ),
    (
        "reattendance_monthly",
        include_str!("../../../../sql/dashboards/reattendance_monthly.sql"),
    ),
    (
        "rtt_multi_provider_latest",
        include_str!("../../../../sql/dashboards/rtt_multi_provider_latest.sql"),
    ),
    (
        "rtt_transfers_latest",
        include_str!("../../../../sql/dashboards/rtt_transfers_latest.sql"),
    ),
];

/// Months a chart shows.
pub(crate) const MONTHS: u32 = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub title: String,
    pub description: String,
    /// `ics`: ICS-wide linked measures, by provider (as the linkage
    /// reports): not for a commissioner-scoped token.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(rename = "panel")]
    pub panels: Vec<Panel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub title: String,
    /// A file of `sql/dashboards/`.
    pub sql: String,
    pub chart: Chart,
    pub value: String,
    #[serde(default)]
    pub percent: bool,
    #[serde(default)]
    pub improvement: Improvement,
    /// The standard the measure is assured against (`[targets]`).
    #[serde(default)]
    pub target: Option<Target>,
    /// For SPC charts: the return (`ae`, `rtt`, `activity`) whose
    /// completeness rules decide which months are charted. A month the
    /// extracts do not wholly cover would be a false point (a part-month of
    /// attendances looks like a collapse), so it is left out and named.
    #[serde(default)]
    pub coverage: Option<ReturnKind>,
    /// Columns of the table under the chart.
    pub columns: Vec<String>,
    /// For bars: the column whose values are the bars of each provider.
    #[serde(default)]
    pub group: Option<String>,
}

/// A panel's chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    /// A monthly series as a Making Data Count SPC chart.
    Spc,
    /// A value by provider.
    Bar,
}

/// Which way is better for an SPC chart's measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Improvement {
    Higher,
    Lower,
    #[default]
    Neither,
}

impl From<Improvement> for Direction {
    fn from(i: Improvement) -> Self {
        match i {
            Improvement::Higher => Direction::HigherIsBetter,
            Improvement::Lower => Direction::LowerIsBetter,
            Improvement::Neither => Direction::Neither,
        }
    }
}

/// A standard of `[targets]` in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Target {
    #[serde(rename = "ae_four_hour")]
    AeFourHour,
    #[serde(rename = "rtt_18_weeks")]
    Rtt18Weeks,
    #[serde(rename = "rtt_52_weeks")]
    Rtt52Weeks,
}

impl Target {
    /// The configured value.
    pub fn value(self, config: &IcsConfig) -> f64 {
        match self {
            Target::AeFourHour => config.targets.ae_four_hour,
            Target::Rtt18Weeks => config.targets.rtt_18_weeks,
            Target::Rtt52Weeks => config.targets.rtt_52_weeks,
        }
    }
}

/// The dashboards, parsed once.
pub fn dashboards() -> &'static [(&'static str, Dashboard)] {
    static PARSED: std::sync::OnceLock<Vec<(&'static str, Dashboard)>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        DEFINITIONS
            .iter()
            .map(|(n, t)| {
                (
                    *n,
                    toml::from_str(t).unwrap_or_else(|e| panic!("dashboards/{n}.toml: {e}")),
                )
            })
            .collect()
    })
}

impl Dashboard {
    /// Whether `p` may see this dashboard: the linked measures are by
    /// provider, so not for a commissioner's scope.
    fn open_to(&self, p: &Principal) -> ApiResult<()> {
        if self.scope.as_deref() == Some("ics") && p.commissioners.is_some() {
            return Err(ApiError::Forbidden(
                "ICS-wide linked measures are by provider, not by commissioner".into(),
            ));
        }
        Ok(())
    }
}

/// The dashboard called `name` (404 if none).
fn dashboard(name: &str) -> ApiResult<&'static Dashboard> {
    dashboards()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .ok_or(ApiError::NotFound)
}

pub(crate) fn sql_file(name: &str) -> ApiResult<SqlFile> {
    let (n, t) = SQL
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| ApiError::Internal(format!("no dashboard query {name}")))?;
    SqlFile::parse(n, t).map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Deserialize)]
pub struct PageQuery {
    trust: Option<String>,
    period: Option<String>,
}

pub async fn index(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Any>,
) -> ApiResult<Response> {
    let mut body = String::new();
    if state.access.is_none() {
        body.push_str(
            "<p class=\"note\">Open mode: no access control is configured, so this server \
listens on the loopback address only.</p>",
        );
    }
    if p.may(Need::Dashboards) {
        for (name, d) in dashboards().iter().filter(|(_, d)| d.open_to(&p).is_ok()) {
            body.push_str(&format!(
                "<div class=\"panel\"><h2><a href=\"/dashboards/{name}\">{}</a></h2><p>{}</p></div>",
                html::esc(&d.title),
                html::esc(&d.description)
            ));
        }
    }
    if p.may(Need::Returns) {
        body.push_str(
            "<div class=\"panel\"><h2><a href=\"/returns\">Statutory returns</a></h2>\
<p>RTT, A&amp;E and activity returns by month, with their completeness.</p></div>",
        );
    }
    Ok(Html(html::page("Dashboards", &body)).into_response())
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Dashboards>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let dash = dashboard(&name)?;
    let snap = state.snapshot().await?;
    let (trust, period) = asked(&state, &p, &q)?;
    let page = rendered(&state, &snap, &p, &name, dash, trust, period, false).await?;
    Ok(page.respond(&headers))
}

/// The series a page or panel shows (one trust, or the ICS; a trust-scoped
/// token sees its own) and the month asked for.
fn asked(
    state: &AppState,
    p: &Principal,
    q: &PageQuery,
) -> ApiResult<(Option<String>, Option<Month>)> {
    let asked = q.trust.as_deref().filter(|t| !t.is_empty() && *t != "ICS");
    if let Some(t) = asked {
        if state.config.trust(t).is_none() {
            return Err(ApiError::bad("bad_request", format!("no trust {t}")));
        }
    }
    let trust = crate::trust_asked(p, asked)?;
    let period = match &q.period {
        Some(m) if !m.is_empty() => Some(crate::month(m)?),
        _ => None,
    };
    Ok((trust, period))
}

/// The trust and month a page shows by default: a trust-scoped principal's
/// own first trust, the latest complete month; and that latest month.
fn defaults(
    snap: &Snapshot,
    p: &Principal,
    trust: Option<String>,
    period: Option<Month>,
) -> (Option<String>, Month, Option<Month>) {
    let trust = trust.or_else(|| p.trusts.as_ref()?.first().cloned());
    let latest = snap.full.view().latest_complete_month();
    let period = period
        .or(latest)
        .unwrap_or_else(|| Month::of(chrono::Utc::now().date_naive()).prev());
    (trust, period, latest)
}

/// One SPC panel's series as JSON, with the fields NHSRplotthedots gives
/// each point (`/api/dashboards/{name}/{panel}.json?trust=&period=`), for
/// Power BI or a web page to draw its own chart; managers get it with
/// their suppression, as their page shows it.
pub async fn series(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Dashboards>,
    headers: HeaderMap,
    Path((name, file)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let dash = dashboard(&name)?;
    dash.open_to(&p)?;
    let id = file.strip_suffix(".json").ok_or(ApiError::NotFound)?;
    let panel = dash
        .panels
        .iter()
        .find(|x| x.value == id && x.chart == Chart::Spc)
        .ok_or(ApiError::NotFound)?;
    let snap = state.snapshot().await?;
    let (trust, period) = asked(&state, &p, &q)?;
    let (trust, period, _) = defaults(&snap, &p, trust, period);
    let key = format!(
        "json|{name}|{id}|{trust:?}|{period}|{}",
        AppState::scope_key(&p)
    );
    let body = match snap.cached(&key) {
        Some(c) => c,
        None => {
            let ctx = state.context(&snap, &p).await?;
            let json = panels::series_json(
                &state,
                &ctx,
                &name,
                panel,
                trust.as_deref(),
                period,
                p.suppressed(),
            )
            .await?;
            snap.keep(
                key,
                Cached::new("application/json", json.into_bytes(), vec![]),
            )
        }
    };
    Ok(body.respond(&headers))
}

/// A dashboard page as `p` sees it (the ICS, or `trust`; a trust-scoped
/// principal's own first trust by default), for `period` (the latest
/// complete month by default), from the snapshot's cache or rendered and
/// kept there.
#[allow(clippy::too_many_arguments)]
async fn rendered(
    state: &AppState,
    snap: &Snapshot,
    p: &Principal,
    name: &str,
    dash: &Dashboard,
    trust: Option<String>,
    period: Option<Month>,
    warming: bool,
) -> ApiResult<Arc<Cached>> {
    dash.open_to(p)?;
    let (trust, period, latest) = defaults(snap, p, trust, period);
    let key = format!("dash|{name}|{trust:?}|{period}|{}", AppState::scope_key(p));
    if let Some(c) = snap.cached(&key) {
        if !warming {
            state.metrics.page(true);
        }
        return Ok(c);
    }
    if !warming {
        state.metrics.page(false);
    }
    let ctx = state.context(snap, p).await?;
    let html = panels::render(
        state,
        &ctx,
        dash,
        name,
        trust.as_deref(),
        period,
        latest,
        p.suppressed(),
        p.trusts.as_deref(),
    )
    .await?;
    Ok(snap.keep(
        key,
        Cached::new("text/html; charset=utf-8", html.into_bytes(), vec![]),
    ))
}

/// Renders every dashboard's default page for every principal that may
/// see dashboards (each configured token's scope once; the open principal
/// in open mode) into `snap`'s cache, one page at a time, stopping early
/// when a newer version is served. Returns the pages rendered.
pub(crate) async fn warm(state: &AppState, snap: &Snapshot) -> usize {
    let mut principals: Vec<Principal> = match &state.access {
        None => vec![Principal::open()],
        Some(a) => a
            .tokens
            .iter()
            .map(Principal::of)
            .filter(|p| p.may(Need::Dashboards))
            .collect(),
    };
    principals.sort_by_key(AppState::scope_key);
    principals.dedup_by_key(|p| AppState::scope_key(p));
    let mut n = 0;
    for p in &principals {
        for (name, dash) in dashboards().iter().filter(|(_, d)| d.open_to(p).is_ok()) {
            if state.serving_key().await.is_some_and(|k| k != snap.key) {
                return n;
            }
            match rendered(state, snap, p, name, dash, None, None, true).await {
                Ok(_) => {
                    n += 1;
                    state.metrics.page_warmed();
                }
                Err(e) => tracing::warn!(dashboard = %name, "warming: {e}"),
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_field_value_is_refused_when_parsed() {
        let bad = "title = \"t\"\ndescription = \"d\"\n[[panel]]\ntitle = \"p\"\nsql = \"ae_monthly\"\nchart = \"pie\"\nvalue = \"v\"\ncolumns = []\n";
        assert!(toml::from_str::<Dashboard>(bad).is_err());
        let good = bad.replace("pie", "bar");
        assert_eq!(
            toml::from_str::<Dashboard>(&good).unwrap().panels[0].chart,
            Chart::Bar
        );
    }

    #[test]
    fn the_linked_measures_are_not_for_a_commissioners_scope() {
        let mut p = Principal::open();
        let flow = dashboard("system_flow").unwrap();
        assert!(flow.open_to(&p).is_ok());
        p.commissioners = Some(vec!["W2U3Z".into()]);
        assert!(flow.open_to(&p).is_err());
        assert!(dashboard("ae").unwrap().open_to(&p).is_ok());
    }

    #[test]
    fn every_dashboard_parses_and_names_known_queries() {
        let ds = dashboards();
        assert_eq!(ds.len(), 6);
        for (n, d) in ds {
            for p in &d.panels {
                assert!(SQL.iter().any(|(s, _)| *s == p.sql), "{n}: {}", p.sql);
                assert!(sql_file(&p.sql).is_ok());
                if p.chart == Chart::Spc {
                    assert!(p.coverage.is_some(), "{n}: an SPC panel names its coverage");
                }
            }
        }
    }
}
