//! Rendering a dashboard: its panels (SPC charts, bars) with the table
//! under each, and the filters above them.

use super::{sql_file, Chart, Dashboard, Panel, MONTHS};
use crate::{html, ApiError, ApiResult, AppState};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::scalar::ScalarValue;
use icsw_model::Month;
use icsw_query::WarehouseContext;
use icsw_spc::{ChartStyle, Direction};
use std::collections::HashMap;
/// A query's result as text cells and numbers, by column name.
struct Rows {
    columns: Vec<(String, DataType)>,
    cells: Vec<Vec<String>>,
    numbers: Vec<Vec<Option<f64>>>,
}

impl Rows {
    /// A result's rows; the columns come from its schema, so a query that
    /// returns no rows still names them.
    fn from(
        schema: &datafusion::arrow::datatypes::Schema,
        batches: &[RecordBatch],
    ) -> ApiResult<Rows> {
        let mut r = Rows {
            columns: schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect(),
            cells: Vec::new(),
            numbers: Vec::new(),
        };
        let opts = FormatOptions::default().with_null("");
        for b in batches {
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

#[allow(clippy::too_many_arguments)]
pub(super) async fn render(
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
    let params = month_params(period);
    let series = trust.unwrap_or("ICS");
    // Per query: its exact rows, and (for managers) the rows as shown.
    let mut results: HashMap<String, (Rows, Option<Rows>)> = HashMap::new();
    let mut body = format!("<p>{}</p>", html::esc(&dash.description));
    body.push_str(&filters(state, name, trust, period, latest, own_trusts));
    if suppressed {
        body.push_str(
            "<p class=\"note\">Counts are suppressed for small numbers: 1 to 7 \
shown as *, others rounded to the nearest 5; rates are computed from the counts as shown, and \
a point whose count is * is not drawn. The SPC signals and icons are those of the exact series.</p>",
        );
    }
    for panel in &dash.panels {
        if !results.contains_key(&panel.sql) {
            let r = query_rows(ctx, panel, &params, suppressed).await?;
            results.insert(panel.sql.clone(), r);
        }
        let (rows, shown) = &results[&panel.sql];
        let shown = shown.as_ref();
        // A trust early in a go-live may send only some feeds: say which
        // this panel lacks, rather than draw a chart of nothing.
        if let Some(why) = no_data(state, ctx.view(), panel, rows, trust) {
            body.push_str(&format!(
                "<section class=\"panel\"><h2>{}</h2><p class=\"note\">{}</p></section>",
                html::esc(&panel.title),
                html::esc(&why)
            ));
            continue;
        }
        body.push_str(&match panel.chart {
            Chart::Spc => spc_panel(state, ctx.view(), panel, rows, shown, series)?,
            Chart::Bar => bar_panel(panel, shown.unwrap_or(rows), trust)?,
        });
    }
    body.push_str(&format!(
        "<p class=\"note\">Warehouse version {}. SPC: Making Data Count rules (points beyond the \
limits; runs of 7 rising or falling; 2 of 3 close to a limit; runs of 7 on one side of the mean).</p>",
        ctx.view().version
    ));
    Ok(html::page(&dash.title, &body))
}

/// The parameters of a dashboard query: the 24 months to `period`.
fn month_params(period: Month) -> [(&'static str, ScalarValue); 2] {
    let from = period.back(MONTHS - 1);
    [
        (
            "month_from",
            ScalarValue::Date32(Some(icsw_model::london::date_to_day(from.first_day()))),
        ),
        (
            "month_to",
            ScalarValue::Date32(Some(icsw_model::london::date_to_day(period.last_day()))),
        ),
    ]
}

/// A panel query's exact rows, and (for managers) the rows as shown.
async fn query_rows(
    ctx: &WarehouseContext,
    panel: &Panel,
    params: &[(&str, ScalarValue)],
    suppressed: bool,
) -> ApiResult<(Rows, Option<Rows>)> {
    let f = sql_file(&panel.sql)?;
    let given: Vec<(&str, ScalarValue)> = params
        .iter()
        .filter(|(n, _)| f.params.iter().any(|p| p.name == *n))
        .cloned()
        .collect();
    let df = ctx.file(&f, &given).await?;
    let schema = df.schema().as_arrow().clone();
    let batches = df.collect().await?;
    let exact = Rows::from(&schema, &batches)?;
    let shown = if suppressed {
        let b = crate::disclosure::for_managers(batches, &crate::disclosure::rates(&f))?;
        let schema = b.first().map_or(schema, |b| b.schema().as_ref().clone());
        Some(Rows::from(&schema, &b)?)
    } else {
        None
    };
    Ok((exact, shown))
}

/// Why a panel has nothing to chart (feeds not loaded, or no rows), if so.
fn no_data(
    state: &AppState,
    view: &icsw_store::View,
    panel: &Panel,
    rows: &Rows,
    trust: Option<&str>,
) -> Option<String> {
    let missing = panel
        .coverage
        .map(|kind| missing_feeds(view, &state.config, kind, trust))
        .unwrap_or_default();
    if !missing.is_empty() {
        Some(format!(
            "No data: {} not loaded{}.",
            missing.join(", "),
            trust.map(|t| format!(" for {t}")).unwrap_or_default()
        ))
    } else if rows.cells.is_empty() {
        Some("No data for these months.".to_string())
    } else {
        None
    }
}

/// One SPC panel's series as JSON (`/api/dashboards/{name}/{panel}.json`):
/// per point the columns of NHSRplotthedots' `ptd_spc()` and a summary, as
/// the chart draws them (for managers, from the values shown).
pub(super) async fn series_json(
    state: &AppState,
    ctx: &WarehouseContext,
    name: &str,
    panel: &Panel,
    trust: Option<&str>,
    period: Month,
    suppressed: bool,
) -> ApiResult<String> {
    let (rows, shown) = query_rows(ctx, panel, &month_params(period), suppressed).await?;
    let series = trust.unwrap_or("ICS");
    let (table, left_out, why) = match no_data(state, ctx.view(), panel, &rows, trust) {
        Some(why) => (icsw_spc::table::Table::of(&[]), Vec::new(), Some(why)),
        None => {
            let s = panel_series(state, ctx.view(), panel, &rows, shown.as_ref(), series)?;
            let n = s.labels.len();
            let chart = icsw_spc::table::Faceted {
                facet: series.to_string(),
                x: s.labels,
                rebase_group: vec![0; n],
                fix_after: None,
                spc: s.spc,
            };
            (icsw_spc::table::Table::of(&[chart]), s.left_out, None)
        }
    };
    // A struct, not a json! map, so that each point's fields keep their order.
    #[derive(serde::Serialize)]
    struct Series<'a> {
        dashboard: &'a str,
        panel: &'a str,
        title: &'a str,
        trust: &'a str,
        period: String,
        improvement: icsw_spc::Direction,
        percent: bool,
        suppressed: bool,
        version: u64,
        no_data: Option<String>,
        left_out: Vec<String>,
        points: Vec<icsw_spc::table::PointRow>,
        summary: Vec<icsw_spc::table::SummaryRow>,
    }
    let body = Series {
        dashboard: name,
        panel: &panel.value,
        title: &panel.title,
        trust: series,
        period: period.to_string(),
        improvement: icsw_spc::Direction::from(panel.improvement),
        percent: panel.percent,
        suppressed,
        version: ctx.view().version,
        no_data: why,
        left_out,
        points: table.points,
        summary: table.summary,
    };
    serde_json::to_string_pretty(&body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The feeds a return kind is made from that no trust in scope (one, or
/// every configured trust that expects it) has loaded.
fn missing_feeds(
    view: &icsw_store::View,
    config: &icsw_model::IcsConfig,
    kind: icsw_returns::ReturnKind,
    trust: Option<&str>,
) -> Vec<&'static str> {
    kind.feeds()
        .iter()
        .filter(|feed| {
            !config
                .trusts
                .iter()
                .filter(|t| trust.is_none_or(|x| x == t.ods) && t.expected_feeds.contains(feed))
                .any(|t| {
                    view.trusts
                        .get(&t.ods)
                        .and_then(|(_, s)| s.feeds.get(feed))
                        .is_some_and(|f| !f.files.is_empty())
                })
        })
        .map(|f| f.name())
        .collect()
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

fn cell(rows: &Rows, r: usize, c: usize, percent_col: bool) -> String {
    let (_, t) = &rows.columns[c];
    match (t, rows.numbers[r][c]) {
        (DataType::Float64 | DataType::Float32, Some(v)) if percent_col => {
            format!("{:.1}%", v * 100.0)
        }
        (DataType::Float64 | DataType::Float32, Some(v)) => format!("{v:.2}"),
        (DataType::Float64 | DataType::Float32, None) => "*".into(),
        _ => html::esc(&rows.cells[r][c]),
    }
}

fn table(rows: &Rows, which: &[usize], columns: &[String], percent_value: Option<&str>) -> String {
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
            s.push_str(&format!("<td>{}</td>", cell(rows, r, c, pct)));
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

/// An SPC panel's series as charted: the months, the chart (for managers
/// drawn from the values shown, with the signals of the exact series) and
/// the months left out as not wholly covered.
struct PanelSeries {
    which: Vec<usize>,
    labels: Vec<String>,
    spc: icsw_spc::Spc,
    left_out: Vec<String>,
}

fn panel_series(
    state: &AppState,
    view: &icsw_store::View,
    panel: &Panel,
    rows: &Rows,
    shown: Option<&Rows>,
    series: &str,
) -> ApiResult<PanelSeries> {
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
    if let Some(kind) = panel.coverage {
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
    // A null is a gap in the chart, never a 0.
    let values: Vec<Option<f64>> = which.iter().map(|&r| rows.numbers[r][vc]).collect();
    let direction = Direction::from(panel.improvement);
    let options = icsw_spc::Options {
        target: panel.target.map(|k| k.value(&state.config)),
        ..Default::default()
    };
    let exact = icsw_spc::compute(&values, direction, &options)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let spc = match shown {
        None => exact,
        Some(shown) => {
            let shown: Vec<Option<f64>> = which.iter().map(|&r| shown.numbers[r][vc]).collect();
            drawn_series(&exact, &shown, direction, &options)?
        }
    };
    Ok(PanelSeries {
        which,
        labels,
        spc,
        left_out,
    })
}

/// The series a manager's chart draws: the values as shown (a withheld
/// one is a gap), with limits from them, and the special-cause signals
/// and icons of the exact series.
fn drawn_series(
    exact: &icsw_spc::Spc,
    shown: &[Option<f64>],
    direction: Direction,
    options: &icsw_spc::Options,
) -> ApiResult<icsw_spc::Spc> {
    let mut drawn = icsw_spc::compute(shown, direction, options)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    for (p, e) in drawn.points.iter_mut().zip(&exact.points) {
        (p.point_type, p.rule, p.trend) = match p.value {
            Some(_) => (e.point_type, e.rule, e.trend),
            None => (icsw_spc::PointType::CommonCause, None, 0),
        };
    }
    drawn.variation = exact.variation;
    drawn.assurance = exact.assurance;
    Ok(drawn)
}

fn spc_panel(
    state: &AppState,
    view: &icsw_store::View,
    panel: &Panel,
    rows: &Rows,
    shown: Option<&Rows>,
    series: &str,
) -> ApiResult<String> {
    let PanelSeries {
        which,
        labels,
        spc,
        left_out,
    } = panel_series(state, view, panel, rows, shown, series)?;
    let direction = Direction::from(panel.improvement);
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
    let high = spc.latest().is_some_and(|p| p.high_or_low() > 0);
    let mut s = format!(
        "<section class=\"panel\"><div class=\"icons\">{}{}</div><h2>{}</h2>",
        html::variation_icon(spc.variation, direction, high),
        html::assurance_icon(spc.assurance),
        html::esc(&panel.title)
    );
    if !left_out.is_empty() {
        s.push_str(&format!(
            "<p class=\"note\">Left out as not wholly covered by the extracts: {}</p>",
            html::esc(&left_out.join(", "))
        ));
    }
    if spc.trial_limits && !labels.is_empty() {
        s.push_str("<p class=\"note\">Fewer than 12 points: the limits are trial limits.</p>");
    }
    if let Some(t) = spc.target {
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
        shown.unwrap_or(rows),
        &which,
        &panel.columns,
        panel.percent.then_some(panel.value.as_str()),
    ));
    s.push_str("</section>");
    Ok(s)
}

fn bar_panel(panel: &Panel, rows: &Rows, trust: Option<&str>) -> ApiResult<String> {
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
    s.push_str(&table(rows, &which, &panel.columns, None));
    s.push_str("</section>");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_managers_chart_draws_the_shown_values_with_the_exact_signals() {
        // Twelve steady months and a jump: the exact series flags the jump.
        let exact_values: Vec<f64> = [
            40.0, 42.0, 38.0, 41.0, 39.0, 40.0, 43.0, 37.0, 40.0, 41.0, 3.0, 39.0, 95.0,
        ]
        .to_vec();
        let shown: Vec<Option<f64>> = exact_values
            .iter()
            .map(|v| crate::disclosure::shown(*v as i64))
            .collect();
        let options = icsw_spc::Options::default();
        let exact_in: Vec<Option<f64>> = exact_values.iter().copied().map(Some).collect();
        let exact = icsw_spc::compute(&exact_in, Direction::LowerIsBetter, &options).unwrap();
        let drawn = drawn_series(&exact, &shown, Direction::LowerIsBetter, &options).unwrap();
        // The 3 is shown as *, so it is a gap; every drawn value is a shown one.
        let values: Vec<Option<f64>> = drawn.points.iter().map(|p| p.value).collect();
        assert_eq!(values, shown);
        assert_eq!(values[10], None);
        assert_eq!(
            drawn.points[10].point_type,
            icsw_spc::PointType::CommonCause
        );
        // The signals are the exact series' (the jump is special cause).
        assert_eq!(drawn.points[12].point_type, exact.points[12].point_type);
        assert_ne!(
            exact.points[12].point_type,
            icsw_spc::PointType::CommonCause
        );
        assert_eq!(drawn.variation, exact.variation);
    }
}
