//! Making Data Count SPC charts (`shared/spc/README.md`): XmR process
//! limits with moving-range screening, the four special-cause rules, the
//! variation and assurance icons, and the charts drawn as SVG.
//!
//! Pure computation and drawing: no I/O, no SQL.

mod bars;
mod chart;
pub mod table;

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

impl Direction {
    /// NHSRplotthedots' `improvement_direction`: 1, -1 or 0.
    fn sign(self) -> i8 {
        match self {
            Direction::HigherIsBetter => 1,
            Direction::LowerIsBetter => -1,
            Direction::Neither => 0,
        }
    }
}

/// Options of a chart.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Fix the limits of each segment after its first this many points
    /// (at least 12: fewer is refused).
    pub fix_after: Option<usize>,
    /// Indices at which a new segment (with its own mean and limits) starts.
    pub rebase_at: Vec<usize>,
    /// Whether to screen out moving ranges over 3.267 x their mean.
    pub no_screening: bool,
    pub target: Option<f64>,
}

/// Options that cannot make a chart (NHSRplotthedots refuses them too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// The special-cause rule that flagged a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    OutsideLimits,
    Trend,
    TwoOfThreeCloseToLimits,
    Shift,
}

/// A point's type, named as NHSRplotthedots names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PointType {
    #[serde(rename = "common_cause")]
    CommonCause,
    #[serde(rename = "special_cause_improvement")]
    Improvement,
    #[serde(rename = "special_cause_concern")]
    Concern,
    /// Special cause on a measure with no direction, high or low.
    #[serde(rename = "special_cause_neutral_high")]
    NeutralHigh,
    #[serde(rename = "special_cause_neutral_low")]
    NeutralLow,
}

impl PointType {
    pub fn as_str(self) -> &'static str {
        match self {
            PointType::CommonCause => "common_cause",
            PointType::Improvement => "special_cause_improvement",
            PointType::Concern => "special_cause_concern",
            PointType::NeutralHigh => "special_cause_neutral_high",
            PointType::NeutralLow => "special_cause_neutral_low",
        }
    }
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

impl Assurance {
    /// NHSRplotthedots' `assurance_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::ConsistentlyFail => "consistent_fail",
            Assurance::ConsistentlyPass => "consistent_pass",
            Assurance::Inconsistent => "inconsistent",
        }
    }
}

/// One point of the chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The value; `None` is a gap (a missing month), never a 0: it takes no
    /// part in the mean or a moving range, and breaks every run.
    pub value: Option<f64>,
    pub mean: f64,
    pub upper: f64,
    pub lower: f64,
    pub upper_close: f64,
    pub lower_close: f64,
    pub segment: usize,
    /// The segment has fewer than 12 points: its limits are trial limits.
    pub trial: bool,
    pub outside_limits: bool,
    /// -1, 0 or 1: below, on or above the mean (0 for a gap).
    pub relative_to_mean: i8,
    pub close_to_limits: bool,
    pub rule: Option<Rule>,
    /// For a trend, the way it moves (1 rising, -1 falling), chosen as
    /// NHSRplotthedots chooses it; 0 otherwise.
    pub trend: i8,
    pub point_type: PointType,
}

impl Point {
    /// NHSRplotthedots' `special_cause_type`: "Above UCL", "7 Point Trend
    /// (Increasing)", "2 in 3 Below CL", "7 Points Above CL", "Common Cause".
    pub fn special_cause_type(&self) -> String {
        let side = if self.relative_to_mean > 0 {
            "Above"
        } else {
            "Below"
        };
        match self.rule {
            None => "Common Cause".into(),
            Some(Rule::OutsideLimits) if self.relative_to_mean == 1 => "Above UCL".into(),
            Some(Rule::OutsideLimits) => "Below LCL".into(),
            Some(Rule::Trend) => format!(
                "7 Point Trend ({}creasing)",
                if self.trend == 1 { "In" } else { "De" }
            ),
            Some(Rule::TwoOfThreeCloseToLimits) => format!("2 in 3 {side} CL"),
            Some(Rule::Shift) => format!("7 Points {side} CL"),
        }
    }

    /// Which way the special cause points: 1 high (above, increasing), -1
    /// low, 0 for common cause.
    pub fn high_or_low(&self) -> i8 {
        match self.rule {
            None => 0,
            Some(Rule::Trend) => {
                if self.trend == 1 {
                    1
                } else {
                    -1
                }
            }
            Some(_) => {
                if self.relative_to_mean > 0 {
                    1
                } else {
                    -1
                }
            }
        }
    }
}

/// A computed chart.
#[derive(Clone, Debug, Serialize)]
pub struct Spc {
    pub points: Vec<Point>,
    pub direction: Direction,
    /// Some segment has fewer than 12 points (its limits are trial limits).
    pub trial_limits: bool,
    /// The latest observed point's type.
    pub variation: PointType,
    pub assurance: Option<Assurance>,
    pub target: Option<f64>,
}

impl Spc {
    /// The latest observed point.
    pub fn latest(&self) -> Option<&Point> {
        self.points.iter().rev().find(|p| p.value.is_some())
    }
}

const LIMIT: f64 = 2.66;
const SCREEN: f64 = 3.267;
/// A segment with fewer points has trial limits.
pub const TRIAL_BELOW: usize = 12;

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The mean and mean moving range of a run of values (screened); moving
/// ranges only between neighbours that are both present.
fn centre_and_spread(xs: &[Option<f64>], screen: bool) -> (f64, Option<f64>) {
    let m = mean(xs.iter().flatten().copied()).unwrap_or(f64::NAN);
    let mr: Vec<f64> = xs
        .windows(2)
        .filter_map(|w| Some((w[1]? - w[0]?).abs()))
        .collect();
    let Some(mr_bar) = mean(mr.iter().copied()) else {
        return (m, None);
    };
    if !screen {
        return (m, Some(mr_bar));
    }
    let kept = mean(mr.iter().copied().filter(|r| *r < SCREEN * mr_bar));
    (m, Some(kept.unwrap_or(mr_bar)))
}

fn sign(d: f64) -> i8 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// Computes an XmR chart. Refuses `fix_after` below 12, as NHSRplotthedots
/// does.
pub fn compute(
    values: &[Option<f64>],
    direction: Direction,
    opts: &Options,
) -> Result<Spc, Invalid> {
    if let Some(k) = opts.fix_after {
        if k < 12 {
            return Err(Invalid(format!(
                "limits can be fixed after 12 points or more, not {k}"
            )));
        }
    }
    let n = values.len();
    let mut bounds: Vec<usize> = vec![0];
    bounds.extend(opts.rebase_at.iter().copied().filter(|i| *i > 0 && *i < n));
    bounds.sort_unstable();
    bounds.dedup();
    bounds.push(n);
    let mut points = Vec::with_capacity(n);
    for (s, w) in bounds.windows(2).enumerate() {
        let seg = &values[w[0]..w[1]];
        let basis = &seg[..opts.fix_after.unwrap_or(usize::MAX).min(seg.len())];
        let (m, mr) = centre_and_spread(basis, !opts.no_screening);
        // A segment with no spread (a constant baseline) or none to measure
        // has no limits to judge by: its points are all common cause.
        let spread = mr.filter(|r| *r > 0.0);
        let amr = spread.unwrap_or(0.0);
        let start = points.len();
        for &v in seg {
            let (upper, lower) = (m + LIMIT * amr, m - LIMIT * amr);
            let (upper_close, lower_close) =
                (m + 2.0 * (LIMIT / 3.0) * amr, m - 2.0 * (LIMIT / 3.0) * amr);
            let judged = v.filter(|_| spread.is_some());
            let outside = judged.is_some_and(|y| y > upper || y < lower);
            points.push(Point {
                value: v,
                mean: m,
                upper,
                lower,
                upper_close,
                lower_close,
                segment: s,
                trial: seg.len() < TRIAL_BELOW,
                outside_limits: outside,
                relative_to_mean: v.map_or(0, |y| sign(y - m)),
                close_to_limits: !outside
                    && judged.is_some_and(|y| y < lower_close || y > upper_close),
                rule: None,
                trend: 0,
                point_type: PointType::CommonCause,
            });
        }
        if spread.is_some() {
            apply_rules(&mut points[start..]);
        }
    }
    for p in &mut points {
        let v = p.high_or_low();
        p.point_type = match (direction.sign(), v) {
            (_, 0) => PointType::CommonCause,
            (0, 1) => PointType::NeutralHigh,
            (0, _) => PointType::NeutralLow,
            (d, v) if d * v > 0 => PointType::Improvement,
            _ => PointType::Concern,
        };
    }
    let latest = points.iter().rev().find(|p| p.value.is_some());
    let variation = latest.map_or(PointType::CommonCause, |p| p.point_type);
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
    Ok(Spc {
        trial_limits: points.iter().any(|p| p.trial),
        points,
        direction,
        variation,
        assurance,
        target: opts.target,
    })
}

/// Flags for "part of a run": point `i` is part of a run of 7 if a run
/// ends at one of `i..i+7` (`ends[j]` true when the run `j-6..=j` holds).
fn part_of_seven(ends: &[bool]) -> Vec<bool> {
    (0..ends.len())
        .map(|i| (i..(i + 7).min(ends.len())).any(|j| ends[j]))
        .collect()
}

/// The four rules over one segment, as NHSRplotthedots applies them; a
/// point keeps the first rule that holds.
fn apply_rules(points: &mut [Point]) {
    let n = points.len();
    let y: Vec<Option<f64>> = points.iter().map(|p| p.value).collect();
    let rtm: Vec<i8> = points.iter().map(|p| p.relative_to_mean).collect();
    let close: Vec<bool> = points.iter().map(|p| p.close_to_limits).collect();
    // sign(y[j] - y[j-1]), 0 across a gap.
    let step = |j: usize| match (y[j - 1], y[j]) {
        (Some(a), Some(b)) => sign(b - a),
        _ => 0,
    };
    // 2. Seven points each higher (or lower) than the one before.
    let trend_ends: Vec<bool> = (0..n)
        .map(|i| {
            i >= 6 && {
                let s = step(i);
                s != 0 && (i - 5..=i).all(|j| step(j) == s)
            }
        })
        .collect();
    let in_trend = part_of_seven(&trend_ends);
    // 3. Two of three close to the limits, all three on one side; only the
    // close points are flagged.
    let window = |a: isize| {
        let at = |j: isize| (j >= 0 && (j as usize) < n).then_some(j as usize);
        let closes = (a..a + 3)
            .filter(|&j| at(j).is_some_and(|j| close[j]))
            .count();
        let side: i32 = (a..a + 3).map(|j| at(j).map_or(0, |j| rtm[j] as i32)).sum();
        closes >= 2 && side.abs() == 3
    };
    let in_two_of_three: Vec<bool> = (0..n as isize)
        .map(|i| close[i as usize] && (window(i - 2) || window(i - 1) || window(i)))
        .collect();
    // 4. Seven points on one side of the mean (one on it, or a gap, breaks it).
    let shift_ends: Vec<bool> = (0..n)
        .map(|i| i >= 6 && rtm[i] != 0 && (i - 6..i).all(|j| rtm[j] == rtm[i]))
        .collect();
    let in_shift = part_of_seven(&shift_ends);
    for i in 0..n {
        let p = &mut points[i];
        p.rule = if p.outside_limits {
            Some(Rule::OutsideLimits)
        } else if in_trend[i] {
            // The way a trend point moves: to the next point when that is
            // in a trend too, else from the previous one (NHSRplotthedots).
            let s = if i + 1 < n && in_trend[i + 1] {
                step(i + 1)
            } else if i > 0 {
                step(i)
            } else {
                0
            };
            p.trend = if s == 1 { 1 } else { -1 };
            Some(Rule::Trend)
        } else if in_two_of_three[i] {
            Some(Rule::TwoOfThreeCloseToLimits)
        } else if in_shift[i] {
            Some(Rule::Shift)
        } else {
            None
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[f64], direction: Direction, opts: &Options) -> Spc {
        let v: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        compute(&v, direction, opts).unwrap()
    }

    #[test]
    fn a_straight_line_is_common_cause() {
        let s = chart(&[5.0; 20], Direction::HigherIsBetter, &Options::default());
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
        let s = chart(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::Trend));
        assert!(last.value.unwrap() < last.mean);
        assert_eq!(last.point_type, PointType::Improvement);
        // Seven falling points above the mean, higher being better: concern
        // (the spec's own example); lower being better: improvement.
        let mut v = baseline();
        v.extend([70.0, 69.0, 68.0, 67.0, 66.0, 65.0, 64.0]);
        let s = chart(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::Trend));
        assert!(last.value.unwrap() > last.mean);
        assert_eq!(last.point_type, PointType::Concern);
        let s = chart(&v, Direction::LowerIsBetter, &Options::default());
        assert_eq!(s.points.last().unwrap().point_type, PointType::Improvement);
        // Outside the limits is still judged by its side of the mean.
        let mut v = baseline();
        v.push(200.0);
        let s = chart(&v, Direction::HigherIsBetter, &Options::default());
        let last = s.points.last().unwrap();
        assert_eq!(last.rule, Some(Rule::OutsideLimits));
        assert_eq!(last.point_type, PointType::Improvement);
        // Equal neighbours break a run.
        let v = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let s = chart(&v, Direction::Neither, &Options::default());
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
        let s = chart(&values, Direction::LowerIsBetter, &Options::default());
        let p = &s.points[0];
        assert!((p.mean - 1545.1667).abs() < 1e-4, "{}", p.mean);
        assert!((p.lower - 740.3958).abs() < 1e-4, "{}", p.lower);
        assert!((p.upper - 2349.9376).abs() < 1e-4, "{}", p.upper);
        let may = &s.points[1];
        assert_eq!(may.value, Some(929.0));
        assert_eq!(may.rule, Some(Rule::TwoOfThreeCloseToLimits));
        assert_eq!(may.point_type, PointType::Improvement);
    }

    #[test]
    fn assurance_against_a_target() {
        let v: Vec<f64> = (0..24).map(|i| 70.0 + (i % 3) as f64).collect();
        let s = chart(
            &v,
            Direction::HigherIsBetter,
            &Options {
                target: Some(95.0),
                ..Default::default()
            },
        );
        assert_eq!(s.assurance, Some(Assurance::ConsistentlyFail));
        let s = chart(
            &v,
            Direction::HigherIsBetter,
            &Options {
                target: Some(50.0),
                ..Default::default()
            },
        );
        assert_eq!(s.assurance, Some(Assurance::ConsistentlyPass));
        assert!(!s.trial_limits);
        let s = chart(&v[..8], Direction::HigherIsBetter, &Options::default());
        assert!(s.trial_limits);
    }

    #[test]
    fn fixing_limits_after_fewer_than_12_points_is_refused() {
        let v = vec![Some(1.0); 20];
        let opts = |k| Options {
            fix_after: Some(k),
            ..Default::default()
        };
        let e = compute(&v, Direction::Neither, &opts(11)).unwrap_err();
        assert!(e.0.contains("12"), "{e}");
        assert!(compute(&v, Direction::Neither, &opts(12)).is_ok());
    }

    #[test]
    fn every_short_segment_has_trial_limits() {
        // 20 points rebased at 8: the first segment (8) is trial, the
        // second (12) is not.
        let v: Vec<f64> = (0..20).map(|i| (i % 4) as f64).collect();
        let s = chart(
            &v,
            Direction::Neither,
            &Options {
                rebase_at: vec![8],
                ..Default::default()
            },
        );
        assert!(s.points[..8].iter().all(|p| p.trial));
        assert!(s.points[8..].iter().all(|p| !p.trial));
        assert!(s.trial_limits);
    }

    #[test]
    fn a_gap_is_not_a_zero() {
        // Twelve alternating points, a gap, then more: the gap is not in
        // the mean, makes no moving range, and is never a special cause.
        let mut v: Vec<Option<f64>> = baseline().into_iter().map(Some).collect();
        v.push(None);
        v.extend([Some(40.0), Some(60.0)]);
        let s = compute(&v, Direction::HigherIsBetter, &Options::default()).unwrap();
        assert_eq!(s.points[0].mean, 50.0);
        // Moving ranges all 20 (none across the gap): limits 50 +- 53.2.
        assert!((s.points[0].upper - 103.2).abs() < 1e-9);
        let gap = &s.points[12];
        assert_eq!(gap.value, None);
        assert_eq!(gap.point_type, PointType::CommonCause);
        assert_eq!(gap.relative_to_mean, 0);
        // A gap breaks a run: six above, a gap, six above is no shift.
        let mut v: Vec<Option<f64>> = baseline().into_iter().map(Some).collect();
        v.push(Some(40.0));
        v.extend([Some(55.0); 6]);
        v.push(None);
        v.extend([Some(55.0); 6]);
        let s = compute(&v, Direction::HigherIsBetter, &Options::default()).unwrap();
        assert!(s.points.iter().all(|p| p.rule.is_none()), "{:?}", s.points);
        assert_eq!(s.latest().unwrap().value, Some(55.0));
    }

    #[test]
    fn a_constant_baseline_flags_nothing() {
        // Limits fixed on 12 equal points have no width; what follows is
        // not a special cause at every step.
        let mut v = vec![10.0; 12];
        v.extend([11.0, 9.0, 12.0]);
        let s = chart(
            &v,
            Direction::HigherIsBetter,
            &Options {
                fix_after: Some(12),
                ..Default::default()
            },
        );
        assert!(s.points.iter().all(|p| p.rule.is_none()));
        assert_eq!(s.variation, PointType::CommonCause);
    }

    #[test]
    fn a_neutral_measure_keeps_high_and_low() {
        let mut v = baseline();
        v.push(200.0);
        let s = chart(&v, Direction::Neither, &Options::default());
        assert_eq!(s.variation, PointType::NeutralHigh);
        v.pop();
        v.push(-100.0);
        let s = chart(&v, Direction::Neither, &Options::default());
        assert_eq!(s.variation, PointType::NeutralLow);
        assert_eq!(s.points.last().unwrap().special_cause_type(), "Below LCL");
    }

    #[test]
    fn a_point_between_two_trends_moves_as_the_second() {
        // Up seven, then down seven sharing the peak: the peak takes the
        // direction of the step after it (NHSRplotthedots' "right side").
        let mut v = baseline();
        v.extend([
            41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0, 46.5, 46.0, 45.5, 45.0, 44.5, 44.0,
        ]);
        let s = chart(&v, Direction::HigherIsBetter, &Options::default());
        let peak = &s.points[18];
        assert_eq!(peak.value, Some(47.0));
        assert_eq!(peak.special_cause_type(), "7 Point Trend (Decreasing)");
        assert_eq!(peak.point_type, PointType::Concern);
        assert_eq!(
            s.points[17].special_cause_type(),
            "7 Point Trend (Increasing)"
        );
    }
}
