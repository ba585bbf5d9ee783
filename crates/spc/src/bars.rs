//! Grouped bar charts (counts by category and series) as SVG, in NHS
//! colours, for measures that are not a time series.

use crate::chart::{ChartStyle, NHS_BLUE, NHS_DARK_BLUE, NHS_DARK_GREY, NHS_ORANGE, NHS_PURPLE};
use plotters::prelude::*;

const COLOURS: [RGBColor; 4] = [NHS_ORANGE, NHS_BLUE, NHS_PURPLE, NHS_DARK_GREY];

/// Bars for each category, one per series (`series`: name and a value per
/// category), with a legend.
pub fn render_bars(
    categories: &[String],
    series: &[(String, Vec<f64>)],
    style: &ChartStyle,
) -> String {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (style.width, style.height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = categories.len().max(1);
        let k = series.len().max(1);
        let top = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.35; // headroom for the legend
        if let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(
                &style.title,
                ("sans-serif", 18).into_font().color(&NHS_DARK_BLUE),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)
        {
            let _ = chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(RGBColor(232, 237, 238))
                .x_labels(0)
                .y_label_formatter(&|y| {
                    if y.fract() == 0.0 {
                        format!("{y:.0}")
                    } else {
                        String::new()
                    }
                })
                .y_desc(style.y_label.as_str())
                .label_style(("sans-serif", 12).into_font().color(&NHS_DARK_GREY))
                .draw();
            // The category under the middle of its bars.
            for (i, c) in categories.iter().enumerate() {
                let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                let _ = root.draw(&Text::new(
                    c.clone(),
                    (x, y + 8),
                    ("sans-serif", 13).into_font().color(&NHS_DARK_GREY).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Top,
                        ),
                    ),
                ));
            }
            let width = 0.8 / k as f64;
            for (s, (name, values)) in series.iter().enumerate() {
                let colour = COLOURS[s % COLOURS.len()];
                let drawn = chart.draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, *v)], colour.filled())
                }));
                if let Ok(d) = drawn {
                    d.label(name.as_str()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                    });
                }
            }
            let _ = chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(NHS_DARK_GREY)
                .draw();
        }
        let _ = root.present();
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_is_labelled_and_each_value_is_a_bar() {
        let cats: Vec<String> = ["R1K", "RAS", "RQM"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let series = vec![
            ("error".to_string(), vec![1.0, 0.0, 2.0]),
            ("warning".to_string(), vec![3.0, 4.0, 5.0]),
        ];
        let style = ChartStyle {
            title: "Findings".into(),
            y_label: "findings".into(),
            width: 600,
            height: 300,
            percent: false,
        };
        let svg = render_bars(&cats, &series, &style);
        for c in &cats {
            assert_eq!(
                svg.matches(&format!("\n{c}\n</text>")).count(),
                1,
                "{c}: {svg}"
            );
        }
        assert!(svg.contains("\nwarning\n</text>") && svg.contains("\nerror\n</text>"));
        // Background, plot area, six bars, the legend's box and two swatches.
        assert!(svg.matches("<rect").count() >= 6 + 3);
        // Integer ticks only for counts.
        assert!(!svg.contains("\n0.5\n</text>") && svg.contains("\n4\n</text>"));
    }
}
