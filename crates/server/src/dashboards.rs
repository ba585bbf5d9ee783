//! Dashboards for managers, defined in `dashboards/*.toml`: a title and
//! panels, each a query from `sql/dashboards/` and a chart. Monthly
//! measures are Making Data Count SPC charts with their variation and
//! assurance icons against the configured targets; every chart has its
//! table under it. Rendered on the server as HTML with inline SVG: no
//! JavaScript.

use crate::access::Need;
use crate::{html, ApiError, ApiResult, AppState, Cached};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::scalar::ScalarValue;
use icsw_model::{IcsConfig, Month};
use icsw_query::{SqlFile, WarehouseContext};
use icsw_spc::{ChartStyle, Direction};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

const DEFINITIONS: &[(&str, &str)] = &[
    ("ae", include_str!("../../../dashboards/ae.toml")),
    ("rtt", include_str!("../../../dashboards/rtt.toml")),
    (
        "long_waits",
        include_str!("../../../dashboards/long_waits.toml"),
    ),
    (
        "activity",
        include_str!("../../../dashboards/activity.toml"),
    ),
    ("quality", include_str!("../../../dashboards/quality.toml")),
];

const SQL: &[(&str, &str)] = &[
    (
        "ae_monthly",
        include_str!("../../../sql/dashboards/ae_monthly.sql"),
    ),
    (
        "rtt_monthly",
        include_str!("../../../sql/dashboards/rtt_monthly.sql"),
    ),
    (
        "activity_monthly",
        include_str!("../../../sql/dashboards/activity_monthly.sql"),
    ),
    (
        "quality_by_trust",
        include_str!("../../../sql/dashboards/quality_by_trust.sql"),
    ),
];

/// Months a chart shows.
const MONTHS: u32 = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub title: String,
    pub description: String,
    #[serde(rename = "panel")]
    pub panels: Vec<Panel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub title: String,
    /// A file of `sql/dashboards/`.
    pub sql: String,
    /// `spc` (a monthly series) or `bar` (a value by provider).
    pub chart: String,
    pub value: String,
    #[serde(default)]
    pub percent: bool,
    /// `higher`, `lower` or `neither`.
    #[serde(default)]
    pub improvement: Option<String>,
    /// A key of `[targets]` in the configuration.
    #[serde(default)]
    pub target: Option<String>,
    /// For SPC charts: the return (`ae`, `rtt`, `activity`) whose
    /// completeness rules decide which months are charted. A month the
    /// extracts do not wholly cover would be a false point (a part-month of
    /// attendances looks like a collapse), so it is left out and named.
    #[serde(default)]
    pub coverage: Option<String>,
    /// Columns of the table under the chart.
    pub columns: Vec<String>,
    /// For bars: the column whose values are the bars of each provider.
    #[serde(default)]
    pub group: Option<String>,
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

fn sql_file(name: &str) -> ApiResult<SqlFile> {
    let (n, t) = SQL
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| ApiError::Internal(format!("no dashboard query {name}")))?;
    SqlFile::parse(n, t).map_err(|e| ApiError::Internal(e.to_string()))
}

fn target(config: &IcsConfig, key: &str) -> Option<f64> {
    match key {
        "ae_four_hour" => Some(config.targets.ae_four_hour),
        "rtt_18_weeks" => Some(config.targets.rtt_18_weeks),
        "rtt_52_weeks" => Some(config.targets.rtt_52_weeks),
        _ => None,
    }
}

/// A query's result as text cells and numbers, by column name.
struct Rows {
    columns: Vec<(String, DataType)>,
    cells: Vec<Vec<String>>,
    numbers: Vec<Vec<Option<f64>>>,
}

impl Rows {
    fn from(batches: &[RecordBatch]) -> ApiResult<Rows> {
        let mut r = Rows {
            columns: Vec::new(),
            cells: Vec::new(),
            numbers: Vec::new(),
        };
        let opts = FormatOptions::default().with_null("");
        for b in batches {
            if r.columns.is_empty() {
                r.columns = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect();
            }
            let f: Vec<_> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                .collect::<Result<_, _>>()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let nums: Vec<Option<datafusion::arrow::array::ArrayRef>> = b
                .columns()
                .iter()
                .map(|c| datafusion::arrow::compute::cast(c, &DataType::Float64).ok())
                .collect();
            for i in 0..b.num_rows() {
                r.cells
                    .push(f.iter().map(|x| x.value(i).to_string()).collect());
                r.numbers.push(
                    nums.iter()
                        .map(|c| {
                            c.as_ref().and_then(|c| {
                                let c = c
                                    .as_any()
                                    .downcast_ref::<datafusion::arrow::array::Float64Array>()?;
                                c.is_valid(i).then(|| c.value(i))
                            })
                        })
                        .collect(),
                );
            }
        }
        Ok(r)
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    trust: Option<String>,
    period: Option<String>,
}

pub async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    let p = state.principal(&headers, crate::access::Need::Any)?;
    let mut body = String::new();
    if state.access.is_none() {
        body.push_str(
            "<p class=\"note\">Open mode: no access control is configured, so this server \
listens on the loopback address only.</p>",
        );
    }
    if p.may(Need::Dashboards) {
        for (name, d) in dashboards() {
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
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let p = state.principal(&headers, Need::Dashboards)?;
    let (_, dash) = dashboards()
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or(ApiError::NotFound)?;
    let snap = state.snapshot().await?;
    // The series: one trust, or the ICS. A trust-scoped token sees its own.
    let asked = q.trust.as_deref().filter(|t| !t.is_empty() && *t != "ICS");
    if let Some(t) = asked {
        if state.config.trust(t).is_none() {
            return Err(ApiError::bad("bad_request", format!("no trust {t}")));
        }
    }
    let trust = crate::trust_asked(&p, asked)?.or_else(|| p.trusts.as_ref()?.first().cloned());
    let latest = icsw_quality::default_scopes(snap.full.view())
        .into_iter()
        .find_map(|s| match s {
            icsw_quality::Scope::Period(m) => Some(m),
            _ => None,
        });
    let period = match &q.period {
        Some(m) if !m.is_empty() => crate::month(m)?,
        _ => latest.unwrap_or_else(|| Month::of(chrono::Utc::now().date_naive()).prev()),
    };
    let key = format!("dash|{name}|{trust:?}|{period}|{}", AppState::scope_key(&p));
    if let Some(c) = snap.cached(&key) {
        return Ok(c.respond(&headers));
    }
    let ctx = state.context(&snap, &p).await?;
    let html = render(
        &state,
        &ctx,
        dash,
        &name,
        trust.as_deref(),
        period,
        latest,
        p.suppressed(),
        p.trusts.as_deref(),
    )
    .await?;
    Ok(snap
        .keep(
            key,
            Cached::new("text/html; charset=utf-8", html.into_bytes(), vec![]),
        )
        .respond(&headers))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    ctx: &WarehouseContext,
    dash: &Dashboard,
    name: &str,
    trust: Option<&str>,
    period: Month,
    latest: Option<Month>,
    suppressed: bool,
    own_trusts: Option<&[String]>,
) -> ApiResult<String> {
    let mut from = period;
    for _ in 1..MONTHS {
        from = from.prev();
    }
    let params = [
        (
            "month_from",
            ScalarValue::Date32(Some(icsw_model::london::date_to_day(from.first_day()))),
        ),
        (
            "month_to",
            ScalarValue::Date32(Some(icsw_model::london::date_to_day(period.last_day()))),
        ),
    ];
    let series = trust.unwrap_or("ICS");
    let mut results: HashMap<String, Rows> = HashMap::new();
    let mut body = format!("<p>{}</p>", html::esc(&dash.description));
    body.push_str(&filters(state, name, trust, period, latest, own_trusts));
    if suppressed {
        body.push_str(
            "<p class=\"note\">Counts are suppressed for small numbers: 1 to 7 \
shown as *, others rounded to the nearest 5. Rates and SPC charts use the exact counts.</p>",
        );
    }
    for panel in &dash.panels {
        if !results.contains_key(&panel.sql) {
            let f = sql_file(&panel.sql)?;
            let given: Vec<(&str, ScalarValue)> = params
                .iter()
                .filter(|(n, _)| f.params.iter().any(|p| p.name == *n))
                .cloned()
                .collect();
            let batches = ctx.file(&f, &given).await?.collect().await?;
            results.insert(panel.sql.clone(), Rows::from(&batches)?);
        }
        let rows = &results[&panel.sql];
        body.push_str(&match panel.chart.as_str() {
            "spc" => spc_panel(state, ctx.view(), panel, rows, series, suppressed)?,
            "bar" => bar_panel(panel, rows, trust, suppressed)?,
            c => return Err(ApiError::Internal(format!("unknown chart type {c}"))),
        });
    }
    body.push_str(&format!(
        "<p class=\"note\">Warehouse version {}. SPC: Making Data Count rules (points beyond the \
limits; runs of 7 rising or falling; 2 of 3 close to a limit; runs of 7 on one side of the mean).</p>",
        ctx.view().version
    ));
    Ok(html::page(&dash.title, &body))
}

fn filters(
    state: &AppState,
    name: &str,
    trust: Option<&str>,
    period: Month,
    latest: Option<Month>,
    own: Option<&[String]>,
) -> String {
    let mut s = format!("<form class=\"filters\" method=\"get\" action=\"/dashboards/{name}\"><label>Trust <select name=\"trust\">");
    if own.is_none() {
        s.push_str(&format!(
            "<option value=\"ICS\"{}>{} (ICS-wide)</option>",
            if trust.is_none() { " selected" } else { "" },
            html::esc(&state.config.name)
        ));
    }
    for t in &state.config.trusts {
        if own.is_some_and(|o| !o.contains(&t.ods)) {
            continue;
        }
        s.push_str(&format!(
            "<option value=\"{o}\"{sel}>{o} {n}</option>",
            o = html::esc(&t.ods),
            n = html::esc(&t.name),
            sel = if trust == Some(t.ods.as_str()) {
                " selected"
            } else {
                ""
            }
        ));
    }
    s.push_str("</select></label><label>To month <select name=\"period\">");
    let mut m = latest.unwrap_or(period).max(period);
    for _ in 0..MONTHS {
        s.push_str(&format!(
            "<option{}>{m}</option>",
            if m == period { " selected" } else { "" }
        ));
        m = m.prev();
    }
    s.push_str("</select></label><button type=\"submit\">Show</button></form>");
    s
}

fn cell(rows: &Rows, r: usize, c: usize, percent_col: bool, suppressed: bool) -> String {
    let (_, t) = &rows.columns[c];
    match (t, rows.numbers[r][c]) {
        (DataType::Float64 | DataType::Float32, Some(v)) if percent_col => {
            format!("{:.1}%", v * 100.0)
        }
        (DataType::Float64 | DataType::Float32, Some(v)) => format!("{v:.2}"),
        (DataType::Int64 | DataType::Int32, Some(v)) if suppressed => html::suppress(v as i64),
        _ => html::esc(&rows.cells[r][c]),
    }
}

fn table(
    rows: &Rows,
    which: &[usize],
    columns: &[String],
    percent_value: Option<&str>,
    suppressed: bool,
) -> String {
    let idx: Vec<usize> = columns.iter().filter_map(|c| rows.col(c)).collect();
    let mut s = String::from("<div class=\"scroll\"><table><tr>");
    for &c in &idx {
        s.push_str(&format!(
            "<th>{}</th>",
            html::esc(&rows.columns[c].0.replace('_', " "))
        ));
    }
    s.push_str("</tr>");
    for &r in which {
        s.push_str("<tr>");
        for &c in &idx {
            let pct = percent_value == Some(rows.columns[c].0.as_str());
            s.push_str(&format!("<td>{}</td>", cell(rows, r, c, pct, suppressed)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
    s
}

fn chart_svg(svg: String) -> String {
    // Inline SVG, scaled to the page by CSS.
    let svg = svg.trim_start_matches(|c| c != '<').to_string();
    match svg.find("<svg") {
        Some(i) => {
            let (a, b) = svg.split_at(i + 4);
            format!("{a} class=\"chart\" role=\"img\"{b}")
        }
        None => svg,
    }
}

fn spc_panel(
    state: &AppState,
    view: &icsw_store::View,
    panel: &Panel,
    rows: &Rows,
    series: &str,
    suppressed: bool,
) -> ApiResult<String> {
    let (Some(pc), Some(mc), Some(vc)) = (
        rows.col("provider"),
        rows.col("month"),
        rows.col(&panel.value),
    ) else {
        return Err(ApiError::Internal(format!(
            "{}: the query lacks provider, month or {}",
            panel.title, panel.value
        )));
    };
    let mut which: Vec<usize> = (0..rows.cells.len())
        .filter(|&r| rows.cells[r][pc] == series)
        .collect();
    let mut left_out = Vec::new();
    if let Some(kind) = &panel.coverage {
        let kind =
            icsw_returns::ReturnKind::parse(kind).map_err(|e| ApiError::Internal(e.to_string()))?;
        let trust = (series != "ICS").then_some(series);
        which.retain(|&r| {
            let Ok(m) = Month::parse(&rows.cells[r][mc]) else {
                return true;
            };
            let reasons: Vec<String> =
                icsw_returns::completeness(view, &state.config, kind, m, trust)
                    .into_iter()
                    .flat_map(|t| {
                        t.reasons
                            .into_iter()
                            .map(move |x| format!("{}: {x}", t.trust))
                    })
                    .collect();
            if let Some(first) = reasons.first() {
                left_out.push(format!(
                    "{m} ({first}{})",
                    if reasons.len() > 1 { "; ..." } else { "" }
                ));
            }
            reasons.is_empty()
        });
    }
    let labels: Vec<String> = which.iter().map(|&r| rows.cells[r][mc].clone()).collect();
    let values: Vec<f64> = which
        .iter()
        .map(|&r| rows.numbers[r][vc].unwrap_or(0.0))
        .collect();
    let direction = match panel.improvement.as_deref() {
        Some("higher") => Direction::HigherIsBetter,
        Some("lower") => Direction::LowerIsBetter,
        _ => Direction::Neither,
    };
    let t = panel
        .target
        .as_deref()
        .and_then(|k| target(&state.config, k));
    let spc = icsw_spc::compute(
        &values,
        direction,
        &icsw_spc::Options {
            target: t,
            ..Default::default()
        },
    );
    let svg = icsw_spc::render_svg(
        &spc,
        &labels,
        &ChartStyle {
            title: format!("{} ({series})", panel.title),
            y_label: if panel.percent {
                "%".into()
            } else {
                String::new()
            },
            width: 900,
            height: 360,
            percent: panel.percent,
        },
    );
    let last_above = spc.points.last().is_some_and(|p| p.value > p.mean);
    let mut s = format!(
        "<section class=\"panel\"><div class=\"icons\">{}{}</div><h2>{}</h2>",
        html::variation_icon(spc.variation, direction, last_above),
        html::assurance_icon(spc.assurance),
        html::esc(&panel.title)
    );
    if !left_out.is_empty() {
        s.push_str(&format!(
            "<p class=\"note\">Left out as not wholly covered by the extracts: {}</p>",
            html::esc(&left_out.join(", "))
        ));
    }
    if spc.trial_limits && !values.is_empty() {
        s.push_str("<p class=\"note\">Fewer than 12 points: the limits are trial limits.</p>");
    }
    if let Some(t) = t {
        s.push_str(&format!(
            "<p class=\"note\">Target: {}</p>",
            if panel.percent {
                format!("{:.0}%", t * 100.0)
            } else {
                format!("{t}")
            }
        ));
    }
    s.push_str(&chart_svg(svg));
    s.push_str(&table(
        rows,
        &which,
        &panel.columns,
        panel.percent.then_some(panel.value.as_str()),
        suppressed,
    ));
    s.push_str("</section>");
    Ok(s)
}

fn bar_panel(
    panel: &Panel,
    rows: &Rows,
    trust: Option<&str>,
    suppressed: bool,
) -> ApiResult<String> {
    let (Some(pc), Some(vc)) = (rows.col("provider"), rows.col(&panel.value)) else {
        return Err(ApiError::Internal(format!(
            "{}: the query lacks provider or {}",
            panel.title, panel.value
        )));
    };
    let gc = panel.group.as_deref().and_then(|g| rows.col(g));
    let which: Vec<usize> = (0..rows.cells.len())
        .filter(|&r| trust.is_none_or(|t| rows.cells[r][pc] == t))
        .collect();
    let mut categories: Vec<String> = which.iter().map(|&r| rows.cells[r][pc].clone()).collect();
    categories.sort();
    categories.dedup();
    let mut groups: Vec<String> = match gc {
        Some(g) => which.iter().map(|&r| rows.cells[r][g].clone()).collect(),
        None => vec![panel.value.clone()],
    };
    groups.sort();
    groups.dedup();
    let series: Vec<(String, Vec<f64>)> = groups
        .iter()
        .map(|g| {
            let v = categories
                .iter()
                .map(|c| {
                    which
                        .iter()
                        .filter(|&&r| {
                            rows.cells[r][pc] == *c && gc.is_none_or(|gc| rows.cells[r][gc] == *g)
                        })
                        .map(|&r| rows.numbers[r][vc].unwrap_or(0.0))
                        .sum()
                })
                .collect();
            (g.clone(), v)
        })
        .collect();
    let svg = icsw_spc::render_bars(
        &categories,
        &series,
        &ChartStyle {
            title: panel.title.clone(),
            y_label: panel.value.replace('_', " "),
            width: 900,
            height: 360,
            percent: false,
        },
    );
    let mut s = format!(
        "<section class=\"panel\"><h2>{}</h2>",
        html::esc(&panel.title)
    );
    if which.is_empty() {
        s.push_str("<p>No findings.</p>");
    }
    s.push_str(&chart_svg(svg));
    s.push_str(&table(rows, &which, &panel.columns, None, suppressed));
    s.push_str("</section>");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dashboard_parses_and_names_known_queries() {
        let ds = dashboards();
        assert_eq!(ds.len(), 5);
        for (n, d) in ds {
            for p in &d.panels {
                assert!(SQL.iter().any(|(s, _)| *s == p.sql), "{n}: {}", p.sql);
                assert!(sql_file(&p.sql).is_ok());
                assert!(["spc", "bar"].contains(&p.chart.as_str()), "{n}");
                if p.chart == "spc" {
                    let kind = p
                        .coverage
                        .as_deref()
                        .expect("an SPC panel names its coverage");
                    assert!(icsw_returns::ReturnKind::parse(kind).is_ok(), "{n}: {kind}");
                }
            }
        }
    }
}
