//! Drawing an SPC chart as SVG with plotters, in NHS colours: the process
//! (common cause) grey, improvement blue, concern orange, neutral purple;
//! the mean solid, the limits dashed, the target red.

use crate::{PointType, Spc};
use plotters::prelude::*;

/// NHS identity colours.
pub const NHS_BLUE: RGBColor = RGBColor(0, 94, 184);
pub const NHS_DARK_BLUE: RGBColor = RGBColor(0, 48, 135);
pub const NHS_DARK_GREY: RGBColor = RGBColor(66, 84, 98);
pub const NHS_MID_GREY: RGBColor = RGBColor(118, 134, 146);
pub const NHS_ORANGE: RGBColor = RGBColor(237, 139, 0);
pub const NHS_PURPLE: RGBColor = RGBColor(51, 0, 114);
pub const NHS_RED: RGBColor = RGBColor(218, 41, 28);

/// How to draw a chart.
#[derive(Clone, Debug)]
pub struct ChartStyle {
    pub title: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
    /// Show values as percentages.
    pub percent: bool,
}

fn colour(t: PointType) -> RGBColor {
    match t {
        PointType::CommonCause => NHS_MID_GREY,
        PointType::Improvement => NHS_BLUE,
        PointType::Concern => NHS_ORANGE,
        PointType::NeutralHigh | PointType::NeutralLow => NHS_PURPLE,
    }
}

/// Renders the chart as an SVG document; `labels` name the x positions.
pub fn render_svg(spc: &Spc, labels: &[String], style: &ChartStyle) -> String {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (style.width, style.height)).into_drawing_area();
        draw(&root, spc, labels, style);
        let _ = root.present();
    }
    svg
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    spc: &Spc,
    labels: &[String],
    style: &ChartStyle,
) {
    {
        let _ = root.fill(&WHITE);
        let n = spc.points.len();
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in &spc.points {
            for v in [p.value, Some(p.upper), Some(p.lower)]
                .into_iter()
                .flatten()
            {
                if v.is_finite() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        if let Some(t) = spc.target.filter(|t| t.is_finite()) {
            lo = lo.min(t);
            hi = hi.max(t);
        }
        if n == 0 || !lo.is_finite() || !hi.is_finite() {
            let _ = root.draw(&Text::new(
                "No data",
                (20, 20),
                ("sans-serif", 16).into_font().color(&NHS_DARK_GREY),
            ));
            return;
        }
        // A flat series still gets an axis of some height.
        let pad = if hi - lo > 1e-9 * hi.abs().max(1.0) {
            (hi - lo) * 0.08
        } else {
            hi.abs().max(1.0) * 0.1
        };
        let (lo, hi) = (lo - pad, hi + pad);
        let scale = if style.percent { 100.0 } else { 1.0 };
        // Enough decimals that the axis labels differ (a rate under 1%
        // would otherwise read 0%, 0%, 1%, 1%).
        let decimals = axis_decimals((hi - lo) * scale);
        let chart = ChartBuilder::on(root)
            .caption(
                &style.title,
                ("sans-serif", 18).into_font().color(&NHS_DARK_BLUE),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi);
        let Ok(mut chart) = chart else {
            return;
        };
        let step = (n / 12).max(1);
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(RGBColor(232, 237, 238))
            .x_labels(n.min(13))
            .x_label_formatter(&|x| {
                let i = x.round() as i64;
                if i >= 0 && (i as usize) < labels.len() && (i as usize).is_multiple_of(step) {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                let (v, unit) = if style.percent {
                    (*y * scale, "%")
                } else {
                    (*y, "")
                };
                format!("{v:.decimals$}{unit}")
            })
            .y_desc(style.y_label.as_str())
            .label_style(("sans-serif", 12).into_font().color(&NHS_DARK_GREY))
            .axis_style(NHS_MID_GREY)
            .draw();
        // Limits, mean and target, segment by segment.
        let mut start = 0;
        while start < n {
            let seg = spc.points[start].segment;
            let mut end = start;
            while end + 1 < n && spc.points[end + 1].segment == seg {
                end += 1;
            }
            let p = &spc.points[start];
            let (a, b) = (start as f64 - 0.4, end as f64 + 0.4);
            if !p.mean.is_finite() {
                // A segment of gaps only has no mean or limits to draw.
                start = end + 1;
                continue;
            }
            let dashed = |y: f64| {
                DashedLineSeries::new(vec![(a, y), (b, y)], 6, 4, NHS_DARK_GREY.stroke_width(1))
            };
            let _ = chart.draw_series(dashed(p.upper));
            let _ = chart.draw_series(dashed(p.lower));
            let _ = chart.draw_series(LineSeries::new(
                vec![(a, p.mean), (b, p.mean)],
                NHS_DARK_GREY.stroke_width(1),
            ));
            if p.trial {
                // Fewer than 12 points: the segment's limits are trial limits.
                let _ = chart.draw_series(std::iter::once(Text::new(
                    "trial limits",
                    (a, p.upper),
                    ("sans-serif", 11).into_font().color(&NHS_DARK_GREY),
                )));
            }
            start = end + 1;
        }
        if let Some(t) = spc.target {
            let _ = chart.draw_series(LineSeries::new(
                vec![(-0.4, t), (n as f64 - 0.6, t)],
                NHS_RED.stroke_width(2),
            ));
        }
        // The line is broken at a gap (a missing value is not a 0).
        let mut run: Vec<(f64, f64)> = Vec::new();
        for (i, p) in spc.points.iter().enumerate() {
            match p.value {
                Some(v) => run.push((i as f64, v)),
                None => {
                    let _ = chart.draw_series(LineSeries::new(
                        std::mem::take(&mut run),
                        NHS_MID_GREY.stroke_width(2),
                    ));
                }
            }
        }
        let _ = chart.draw_series(LineSeries::new(run, NHS_MID_GREY.stroke_width(2)));
        let _ = chart.draw_series(spc.points.iter().enumerate().filter_map(|(i, p)| {
            Some(Circle::new(
                (i as f64, p.value?),
                4,
                colour(p.point_type).filled(),
            ))
        }));
    }
}

/// Decimals for axis labels over a range of `span` (in the units shown).
fn axis_decimals(span: f64) -> usize {
    if span >= 10.0 {
        0
    } else if span >= 1.0 {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compute, Direction, Options};

    #[test]
    fn axis_labels_have_the_decimals_their_range_needs() {
        // A rate between 0.1% and 0.8%: 0.2 points apart, two decimals.
        assert_eq!(axis_decimals(0.9), 2);
        assert_eq!(axis_decimals(4.0), 1);
        assert_eq!(axis_decimals(40.0), 0);
    }

    fn style() -> ChartStyle {
        ChartStyle {
            title: "t".into(),
            y_label: String::new(),
            width: 300,
            height: 200,
            percent: false,
        }
    }

    #[test]
    fn gaps_only_and_flat_series_are_drawn() {
        let labels: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let gaps = compute(&[None; 4], Direction::Neither, &Options::default()).unwrap();
        assert!(render_svg(&gaps, &labels, &style()).contains("No data"));
        let flat = compute(&[Some(0.0); 4], Direction::Neither, &Options::default()).unwrap();
        assert!(render_svg(&flat, &labels, &style()).contains("<circle"));
        let some = compute(
            &[Some(1.0), None, Some(3.0), Some(2.0)],
            Direction::Neither,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(
            render_svg(&some, &labels, &style())
                .matches("<circle")
                .count(),
            3
        );
    }
}
