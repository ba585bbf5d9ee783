//! A chart as a table: one row per point with the columns, names and order
//! of NHSRplotthedots' `ptd_spc()` output (0.2.0), and a summary per facet
//! and rebase group with the columns of its `summary()`, so that an
//! analyst can set the two side by side. Gaps and values R would show as
//! `NA` are empty.

use crate::{PointType, Spc};
use serde::Serialize;

/// One facet's chart, with the x label of each point.
#[derive(Clone, Debug)]
pub struct Faceted {
    pub facet: String,
    pub x: Vec<String>,
    /// Per point: the rebase group (how many rebase dates fall on or
    /// before it, as NHSRplotthedots counts them).
    pub rebase_group: Vec<usize>,
    /// Fix the limits after this many points of each group, if set.
    pub fix_after: Option<usize>,
    pub spc: Spc,
}

impl Faceted {
    /// The chart of one facet's series (in x order; `None` is a gap),
    /// rebased at each point whose x is one of `rebase` (as NHSRplotthedots
    /// matches rebase dates: exactly).
    pub fn compute(
        facet: String,
        x: Vec<String>,
        y: &[Option<f64>],
        rebase: &[String],
        direction: crate::Direction,
        opts: &crate::Options,
    ) -> Result<Faceted, crate::Invalid> {
        let mut group = 0;
        let mut rebase_group = Vec::with_capacity(x.len());
        let mut rebase_at = Vec::new();
        for (i, label) in x.iter().enumerate() {
            if rebase.contains(label) {
                group += 1;
                rebase_at.push(i);
            }
            rebase_group.push(group);
        }
        let opts = crate::Options {
            rebase_at,
            ..opts.clone()
        };
        Ok(Faceted {
            facet,
            x,
            rebase_group,
            fix_after: opts.fix_after,
            spc: crate::compute(y, direction, &opts)?,
        })
    }
}

/// A row of `ptd_spc()`'s output.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PointRow {
    pub y: Option<f64>,
    pub x: String,
    pub f: String,
    pub trajectory: Option<f64>,
    pub rebase_group: usize,
    pub short_group_warning: bool,
    pub fix_y: Option<f64>,
    pub mean_col: f64,
    pub lpl: f64,
    pub upl: f64,
    pub outside_limits: Option<bool>,
    pub relative_to_mean: Option<i8>,
    pub close_to_limits: Option<bool>,
    pub special_cause_type: String,
    pub special_cause_flag: bool,
    pub point_type: &'static str,
    pub target: Option<f64>,
}

/// A row of `summary()`, with counts of neutral points after R's columns.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SummaryRow {
    pub f: String,
    pub rebase_group: usize,
    pub mean_col: f64,
    pub lpl: f64,
    pub upl: f64,
    pub n: usize,
    pub common_cause: usize,
    pub special_cause_improvement: usize,
    pub special_cause_concern: usize,
    pub special_cause_neutral_high: usize,
    pub special_cause_neutral_low: usize,
    pub variation_type: &'static str,
    /// Only on the latest group of a facet, when there is a target.
    pub assurance_type: Option<&'static str>,
    pub trial_limits: bool,
}

pub const POINT_COLUMNS: &[&str] = &[
    "y",
    "x",
    "f",
    "trajectory",
    "rebase_group",
    "short_group_warning",
    "fix_y",
    "mean_col",
    "lpl",
    "upl",
    "outside_limits",
    "relative_to_mean",
    "close_to_limits",
    "special_cause_type",
    "special_cause_flag",
    "point_type",
    "target",
];

pub const SUMMARY_COLUMNS: &[&str] = &[
    "f",
    "rebase_group",
    "mean_col",
    "lpl",
    "upl",
    "n",
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
    "variation_type",
    "assurance_type",
    "trial_limits",
];

/// The point rows of every facet, facet by facet.
pub fn point_rows(charts: &[Faceted]) -> Vec<PointRow> {
    let mut out = Vec::new();
    for c in charts {
        let mut index_in_group = 0usize;
        for (i, p) in c.spc.points.iter().enumerate() {
            if i > 0 && c.rebase_group[i] != c.rebase_group[i - 1] {
                index_in_group = 0;
            }
            index_in_group += 1;
            let observed = p.value.is_some();
            out.push(PointRow {
                y: p.value,
                x: c.x[i].clone(),
                f: c.facet.clone(),
                trajectory: None,
                rebase_group: c.rebase_group[i],
                short_group_warning: p.trial,
                fix_y: p
                    .value
                    .filter(|_| c.fix_after.is_none_or(|k| index_in_group <= k)),
                mean_col: p.mean,
                lpl: p.lower,
                upl: p.upper,
                outside_limits: observed.then_some(p.outside_limits),
                relative_to_mean: observed.then_some(p.relative_to_mean),
                close_to_limits: observed.then_some(p.close_to_limits),
                special_cause_type: p.special_cause_type(),
                special_cause_flag: p.rule.is_some(),
                point_type: p.point_type.as_str(),
                target: c.spc.target,
            });
        }
    }
    out
}

/// The summary rows: one per facet and rebase group.
pub fn summary_rows(charts: &[Faceted]) -> Vec<SummaryRow> {
    let mut out = Vec::new();
    for c in charts {
        let n = c.spc.points.len();
        let mut start = 0;
        while start < n {
            let g = c.rebase_group[start];
            let end = (start..n).find(|&i| c.rebase_group[i] != g).unwrap_or(n);
            let pts = &c.spc.points[start..end];
            let count = |t: PointType| pts.iter().filter(|p| p.point_type == t).count();
            let latest = pts.iter().rev().find(|p| p.value.is_some());
            out.push(SummaryRow {
                f: c.facet.clone(),
                rebase_group: g,
                mean_col: pts[0].mean,
                lpl: pts[0].lower,
                upl: pts[0].upper,
                n: pts.len(),
                common_cause: pts.iter().filter(|p| p.rule.is_none()).count(),
                special_cause_improvement: count(PointType::Improvement),
                special_cause_concern: count(PointType::Concern),
                special_cause_neutral_high: count(PointType::NeutralHigh),
                special_cause_neutral_low: count(PointType::NeutralLow),
                variation_type: latest
                    .map_or(PointType::CommonCause, |p| p.point_type)
                    .as_str(),
                assurance_type: (end == n)
                    .then_some(c.spc.assurance)
                    .flatten()
                    .map(|a| a.as_str()),
                trial_limits: pts[0].trial,
            });
            start = end;
        }
    }
    out
}

/// A number as R writes it to CSV: the shortest decimal that reads back
/// the same, empty for `NA`.
fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}

fn text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn flag(b: Option<bool>) -> String {
    b.map_or(String::new(), |b| if b { "TRUE" } else { "FALSE" }.into())
}

/// The point rows as CSV (logical values as R writes them: TRUE, FALSE).
pub fn points_csv(rows: &[PointRow]) -> String {
    let mut s = POINT_COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let cells = [
            num(r.y),
            text(&r.x),
            text(&r.f),
            num(r.trajectory),
            r.rebase_group.to_string(),
            flag(Some(r.short_group_warning)),
            num(r.fix_y),
            num(Some(r.mean_col)),
            num(Some(r.lpl)),
            num(Some(r.upl)),
            flag(r.outside_limits),
            r.relative_to_mean.map_or(String::new(), |v| v.to_string()),
            flag(r.close_to_limits),
            text(&r.special_cause_type),
            flag(Some(r.special_cause_flag)),
            r.point_type.to_string(),
            num(r.target),
        ];
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// The summary rows as CSV.
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut s = SUMMARY_COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let cells = [
            text(&r.f),
            r.rebase_group.to_string(),
            num(Some(r.mean_col)),
            num(Some(r.lpl)),
            num(Some(r.upl)),
            r.n.to_string(),
            r.common_cause.to_string(),
            r.special_cause_improvement.to_string(),
            r.special_cause_concern.to_string(),
            r.special_cause_neutral_high.to_string(),
            r.special_cause_neutral_low.to_string(),
            r.variation_type.to_string(),
            r.assurance_type.unwrap_or_default().to_string(),
            flag(Some(r.trial_limits)),
        ];
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// Points and summary together, for JSON.
#[derive(Serialize)]
pub struct Table {
    pub points: Vec<PointRow>,
    pub summary: Vec<SummaryRow>,
}

impl Table {
    pub fn of(charts: &[Faceted]) -> Table {
        Table {
            points: point_rows(charts),
            summary: summary_rows(charts),
        }
    }
}

/// Every facet's chart in one SVG document, one under another.
pub fn facets_svg(charts: &[Faceted], title: &str, style: &crate::ChartStyle) -> String {
    let mut body = String::new();
    for (i, c) in charts.iter().enumerate() {
        let style = crate::ChartStyle {
            title: if c.facet == "no facet" {
                title.to_string()
            } else {
                format!("{title} ({})", c.facet)
            },
            ..style.clone()
        };
        let svg = crate::render_svg(&c.spc, &c.x, &style);
        let svg = svg.trim_start_matches(|ch| ch != '<');
        let svg = match svg.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or(rest, |(_, r)| r).trim_start(),
            None => svg,
        };
        // Nested, each at its offset.
        body.push_str(&svg.replacen(
            "<svg",
            &format!("<svg y=\"{}\"", i as u32 * style.height),
            1,
        ));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">{body}</svg>\n",
        w = style.width,
        h = style.height * charts.len().max(1) as u32
    )
}
