//! Making Data Count SPC charts (`shared/spc/README.md`): XmR process
//! limits with moving-range screening, the four special-cause rules, the
//! variation and assurance icons, and the charts drawn as SVG.
//!
//! Pure computation and drawing: no I/O, no SQL.

mod bars;
mod chart;

pub use bars::render_bars;
pub use chart::{render_svg, ChartStyle};

use serde::Serialize;

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Neither,
}

/// Options of a chart.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Fix the limits after this many points (at least 12).
    pub fix_after: Option<usize>,
    /// Indices at which a new segment (with its own mean and limits) starts.
    pub rebase_at: Vec<usize>,
    /// Whether to screen out moving ranges over 3.267 x their mean.
    pub no_screening: bool,
    pub target: Option<f64>,
}

/// The special-cause rule that flagged a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    OutsideLimits,
    Trend,
    TwoOfThreeCloseToLimits,
    Shift,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointType {
    CommonCause,
    Improvement,
    Concern,
    Neutral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assurance {
    /// The target lies beyond the limits on the better side.
    ConsistentlyFail,
    /// The target lies beyond the limits on the worse side.
    ConsistentlyPass,
    /// The target lies between the limits.
    Inconsistent,
}

/// One point of the chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub value: f64,
    pub mean: f64,
    pub upper: f64,
    pub lower: f64,
    pub upper_close: f64,
    pub lower_close: f64,
    pub segment: usize,
    pub rule: Option<Rule>,
    pub point_type: PointType,
}

/// A computed chart.
#[derive(Clone, Debug, Serialize)]
pub struct Spc {
    pub points: Vec<Point>,
    pub direction: Direction,
    /// Limits from fewer than 12 points.
    pub trial_limits: bool,
    /// From the latest point's type.
    pub variation: PointType,
    pub assurance: Option<Assurance>,
    pub target: Option<f64>,
}

const LIMIT: f64 = 2.66;
const SCREEN: f64 = 3.267;

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The mean and mean moving range of a run of values (screened).
fn centre_and_spread(xs: &[f64], screen: bool) -> (f64, f64) {
    let m = mean(xs);
    if xs.len() < 2 {
        return (m, 0.0);
    }
    let mr: Vec<f64> = xs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let mr_bar = mean(&mr);
    if !screen {
        return (m, mr_bar);
    }
    let kept: Vec<f64> = mr
        .iter()
        .copied()
        .filter(|r| *r < SCREEN * mr_bar)
        .collect();
    (m, if kept.is_empty() { mr_bar } else { mean(&kept) })
}

/// Computes an XmR chart.
pub fn compute(values: &[f64], direction: Direction, opts: &Options) -> Spc {
    let n = values.len();
    let mut bounds: Vec<usize> = vec![0];
    bounds.extend(opts.rebase_at.iter().copied().filter(|i| *i > 0 && *i < n));
    bounds.sort_unstable();
    bounds.dedup();
    bounds.push(n);
    let mut points = Vec::with_capacity(n);
    for (s, w) in bounds.windows(2).enumerate() {
        let seg = &values[w[0]..w[1]];
        let basis = match opts.fix_after {
            Some(k) if k >= 12 && seg.len() > k => &seg[..k],
            _ => seg,
        };
        let (m, mr) = centre_and_spread(basis, !opts.no_screening);
        for &v in seg {
            points.push(Point {
                value: v,
                mean: m,
                upper: m + LIMIT * mr,
                lower: m - LIMIT * mr,
                upper_close: m + 2.0 / 3.0 * LIMIT * mr,
                lower_close: m - 2.0 / 3.0 * LIMIT * mr,
                segment: s,
                rule: None,
                point_type: PointType::CommonCause,
            });
        }
    }
    let trends = apply_rules(&mut points);
    for (p, trend) in points.iter_mut().zip(trends) {
        if p.rule.is_some() {
            // A trend is judged by the way it moves, whichever side of the
            // mean it lies on; every other rule by the side of the mean.
            let better = if p.rule == Some(Rule::Trend) {
                trend as f64
            } else {
                p.value - p.mean
            };
            p.point_type = match direction {
                Direction::Neither => PointType::Neutral,
                Direction::HigherIsBetter if better > 0.0 => PointType::Improvement,
                Direction::LowerIsBetter if better < 0.0 => PointType::Improvement,
                _ => PointType::Concern,
            };
        }
    }
    let variation = points
        .last()
        .map_or(PointType::CommonCause, |p| p.point_type);
    let assurance = opts.target.and_then(|t| {
        let last = points.last()?;
        Some(match direction {
            Direction::Neither => return None,
            Direction::HigherIsBetter if t > last.upper => Assurance::ConsistentlyFail,
            Direction::HigherIsBetter if t < last.lower => Assurance::ConsistentlyPass,
            Direction::LowerIsBetter if t < last.lower => Assurance::ConsistentlyFail,
            Direction::LowerIsBetter if t > last.upper => Assurance::ConsistentlyPass,
            _ => Assurance::Inconsistent,
        })
    });
    let last_segment_len = bounds[bounds.len() - 1] - bounds[bounds.len() - 2];
    Spc {
        trial_limits: last_segment_len < 12 && opts.fix_after.is_none_or(|k| last_segment_len < k),
        points,
        direction,
        variation,
        assurance,
        target: opts.target,
    }
}

/// The four rules, per segment; a point keeps the first rule that holds.
/// Returns, per point, the direction of the trend it is part of (1 rising,
/// -1 falling, 0 none; a point ending one trend and starting the next keeps
/// the first's).
fn apply_rules(points: &mut [Point]) -> Vec<i8> {
    let n = points.len();
    let mut rule: Vec<Option<Rule>> = vec![None; n];
    let mut trend = vec![0i8; n];
    let set = |rule: &mut Vec<Option<Rule>>, i: usize, r: Rule| {
        // Rules are numbered in priority order: keep the first that holds.
        let rank = |r: Rule| match r {
            Rule::OutsideLimits => 0,
            Rule::Trend => 1,
            Rule::TwoOfThreeCloseToLimits => 2,
            Rule::Shift => 3,
        };
        if rule[i].is_none_or(|old| rank(r) < rank(old)) {
            rule[i] = Some(r);
        }
    };
    // 1. Outside the limits.
    for (i, p) in points.iter().enumerate() {
        if p.value > p.upper || p.value < p.lower {
            set(&mut rule, i, Rule::OutsideLimits);
        }
    }
    let same_segment = |a: usize, b: usize| points[a].segment == points[b].segment;
    // 2. Runs of 7 or more increasing or decreasing points.
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut dir = 0i8;
        while end + 1 < n && same_segment(end, end + 1) {
            let d = points[end + 1].value - points[end].value;
            let s = if d > 0.0 {
                1
            } else if d < 0.0 {
                -1
            } else {
                0
            };
            if s == 0 || (dir != 0 && s != dir) {
                break;
            }
            dir = s;
            end += 1;
        }
        if end - start + 1 >= 7 {
            for i in start..=end {
                set(&mut rule, i, Rule::Trend);
            }
            for t in &mut trend[start..=end] {
                if *t == 0 {
                    *t = dir;
                }
            }
        }
        start = if end > start { end } else { start + 1 };
    }
    // 3. Two of three close to the limits, all three on one side.
    for i in 0..n.saturating_sub(2) {
        if !same_segment(i, i + 2) {
            continue;
        }
        for side in [1.0, -1.0] {
            let on_side = (i..i + 3).all(|j| (points[j].value - points[j].mean) * side > 0.0);
            if !on_side {
                continue;
            }
            let close: Vec<usize> = (i..i + 3)
                .filter(|&j| {
                    let p = &points[j];
                    if side > 0.0 {
                        p.value > p.upper_close && p.value <= p.upper
                    } else {
                        p.value < p.lower_close && p.value >= p.lower
                    }
                })
                .collect();
            if close.len() >= 2 {
                for j in close {
                    set(&mut rule, j, Rule::TwoOfThreeCloseToLimits);
                }
            }
        }
    }
    // 4. Runs of 7 or more on one side of the mean.
    let side = |p: &Point| {
        if p.value > p.mean {
            1
        } else if p.value < p.mean {
            -1
        } else {
            0
        }
    };
    let mut start = 0;
    while start < n {
        let s = side(&points[start]);
        let mut end = start;
        while s != 0 && end + 1 < n && same_segment(end, end + 1) && side(&points[end + 1]) == s {
            end += 1;
        }
        if s != 0 && end - start + 1 >= 7 {
            for i in start..=end {
                set(&mut rule, i, Rule::Shift);
            }
        }
        start = end + 1;
    }
    for (p, r) in points.iter_mut().zip(rule) {
        p.rule = r;
    }
    trend
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_common_cause() {
        let s = compute(&[5.0; 20], Direction::HigherIsBetter, &Options::default());
        assert!(s.points.iter().all(|p| p.rule.is_none()));
        assert_eq!(s.variation, PointType::CommonCause);
    }

    /// Twelve points alternating 40 and 60: mean 50, no special cause.
    fn baseline() -> Vec<f64> {
        (0..12)
            .map(|i| if i % 2 == 0 { 40.0 } else { 60.0 })
            .collect()
    }

    #[test]
    fn rules_in_order() {
        // Seven rising points below the mean but inside the limits are
        // flagged by the trend rule (which comes before the shift rule they
        // also meet), and a trend is judged by the way it moves (the spec,
        // as NHSRplotthedots): rising, higher being better, is improvement
        // although every point is below the mean.
        let mut v = baseline();
        v.extend([30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0]);
        let s = compute(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::Trend));
        assert!(last.value < last.mean);
        assert_eq!(last.point_type, PointType::Improvement);
        // Seven falling points above the mean, higher being better: concern
        // (the spec's own example); lower being better: improvement.
        let mut v = baseline();
        v.extend([70.0, 69.0, 68.0, 67.0, 66.0, 65.0, 64.0]);
        let s = compute(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::Trend));
        assert!(last.value > last.mean);
        assert_eq!(last.point_type, PointType::Concern);
        let s = compute(&v, Direction::LowerIsBetter, &Options::default());
        assert_eq!(s.points.last().unwrap().point_type, PointType::Improvement);
        // Outside the limits is still judged by its side of the mean.
        let mut v = baseline();
        v.push(200.0);
        let s = compute(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::OutsideLimits));
        assert_eq!(last.point_type, PointType::Improvement);
        // Equal neighbours break a run.
        let v = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let s = compute(&v, Direction::Neither, &Options::default());
        assert!(s.points.iter().all(|p| p.rule != Some(Rule::Trend)));
    }

    /// The NHSRplotthedots README example (shared/spc/README.md): Chelsea
    /// and Westminster (RQM), type 1 breaches, April 2016 to March 2018,
    /// lower is better.
    #[test]
    fn reproduces_the_nhsrplotthedots_example() {
        let csv = include_str!("../../../tests/data/ae_attendances.csv");
        let mut rows: Vec<(String, f64)> = csv
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1] == "RQM" && f[2] == "1" && f[0] >= "2016-04-01" && f[0] <= "2018-03-01")
                    .then(|| (f[0].to_string(), f[4].parse().unwrap()))
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(rows.len(), 24);
        let values: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let s = compute(&values, Direction::LowerIsBetter, &Options::default());
        let p = &s.points[0];
        assert!((p.mean - 1545.1667).abs() < 1e-4, "{}", p.mean);
        assert!((p.lower - 740.3958).abs() < 1e-4, "{}", p.lower);
        assert!((p.upper - 2349.9376).abs() < 1e-4, "{}", p.upper);
        let may = &s.points[1];
        assert_eq!(may.value, 929.0);
        assert_eq!(may.rule, Some(Rule::TwoOfThreeCloseToLimits));
        assert_eq!(may.point_type, PointType::Improvement);
    }

    #[test]
    fn assurance_against_a_target() {
        let v: Vec<f64> = (0..24).map(|i| 70.0 + (i % 3) as f64).collect();
        let s = compute(
            &v,
            Direction::HigherIsBetter,
            &Options {
                target: Some(95.0),
                ..Default::default()
            },
        );
        assert_eq!(s.assurance, Some(Assurance::ConsistentlyFail));
        let s = compute(
            &v,
            Direction::HigherIsBetter,
            &Options {
                target: Some(50.0),
                ..Default::default()
            },
        );
        assert_eq!(s.assurance, Some(Assurance::ConsistentlyPass));
        assert!(!s.trial_limits);
        let s = compute(&v[..8], Direction::HigherIsBetter, &Options::default());
        assert!(s.trial_limits);
    }
}
