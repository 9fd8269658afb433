//! Line plots as SVG, for the reports' figures in docs/benchmarks.md: a few series of
//! `(x, y)` points over shared axes, with a legend. No dependency: the format is text, and
//! these plots need axes, lines and labels, nothing more.
//!
//! Pure: [`Plot::to_svg`] returns the document.

use std::fmt::Write;

/// One line of a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// In the legend.
    pub name: String,
    /// An SVG colour, e.g. `#1f77b4`.
    pub color: &'static str,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Drawn as steps (a value holds until the next point), as a capacity or a limit is.
    pub steps: bool,
    /// Dashed.
    pub dashed: bool,
}

impl Series {
    /// A solid line.
    pub fn line(name: &str, color: &'static str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_owned(),
            color,
            points,
            steps: false,
            dashed: false,
        }
    }

    /// A dashed step line.
    pub fn steps(name: &str, color: &'static str, points: Vec<(f64, f64)>) -> Series {
        Series {
            steps: true,
            dashed: true,
            ..Series::line(name, color, points)
        }
    }
}

/// A plot: a title, axis labels and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// Above the plot.
    pub title: String,
    /// Under the x axis.
    pub x_label: String,
    /// Beside the y axis.
    pub y_label: String,
    /// The lines, drawn in order (the last on top).
    pub series: Vec<Series>,
}

/// Plot area and margins, pixels.
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 80.0;

impl Plot {
    /// The SVG document. Axes start at 0 and end at a round number above the largest value.
    pub fn to_svg(&self) -> String {
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (x_max, y_max) = points.fold((0.0f64, 0.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
        let (x_max, y_max) = (nice(x_max), nice(y_max));
        let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let px = |x: f64| LEFT + x / x_max * w;
        let py = |y: f64| TOP + h - y / y_max * h;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for i in 0..=5 {
            let (x, y) = (x_max * f64::from(i) / 5.0, y_max * f64::from(i) / 5.0);
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT,
                py(y),
                LEFT + w,
                py(y),
                LEFT - 5.0,
                py(y) + 4.0,
                label(y)
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                px(x),
                TOP + h + 15.0,
                label(x)
            );
        }
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + w / 2.0,
            TOP + h + 32.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text transform="translate(15,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + h / 2.0,
            escape(&self.y_label)
        );
        for s in &self.series {
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.5"{} points="{}"/>"#,
                s.color,
                if s.dashed {
                    r#" stroke-dasharray="6,3""#
                } else {
                    ""
                },
                path(s, &px, &py, x_max)
            );
        }
        let per_row = 4;
        for (i, s) in self.series.iter().enumerate() {
            let x = LEFT + (i % per_row) as f64 * (w / per_row as f64);
            let y = TOP + h + 50.0 + (i / per_row) as f64 * 16.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                y - 4.0,
                x + 20.0,
                y - 4.0,
                s.color,
                x + 25.0,
                y,
                escape(&s.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// The polyline's points; a step series holds each value until the next x (the last until
/// `x_end`).
fn path(s: &Series, px: &dyn Fn(f64) -> f64, py: &dyn Fn(f64) -> f64, x_end: f64) -> String {
    let mut out = String::new();
    for (i, &(x, y)) in s.points.iter().enumerate() {
        let _ = write!(out, "{:.1},{:.1} ", px(x), py(y));
        if s.steps {
            let next = s.points.get(i + 1).map_or(x_end, |p| p.0);
            let _ = write!(out, "{:.1},{:.1} ", px(next), py(y));
        }
    }
    out.trim_end().to_owned()
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `v` (1 for nothing).
fn nice(v: f64) -> f64 {
    if !(v > 0.0 && v.is_finite()) {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|c| *c >= v * 0.999_999)
        .unwrap_or(10.0 * power)
}

fn label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_at_round_numbers() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(2.4), 2.5);
        assert_eq!(nice(2.6), 5.0);
        assert_eq!(nice(100.0), 100.0);
        assert_eq!(nice(101.0), 200.0);
        assert_eq!(nice(f64::NAN), 1.0);
    }

    #[test]
    fn a_plot_has_its_lines_and_legend() {
        let plot = Plot {
            title: "rate & capacity".into(),
            x_label: "s".into(),
            y_label: "Mbit/s".into(),
            series: vec![
                Series::steps("capacity", "black", vec![(0.0, 1.0), (40.0, 2.5)]),
                Series::line("received", "blue", vec![(0.0, 0.5), (50.0, 2.0)]),
            ],
        };
        let svg = plot.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("rate &amp; capacity"));
        assert!(svg.contains(">capacity</text>") && svg.contains(">received</text>"));
        // x runs to 50, y to 2.5: the step holds 2.5 to the right edge.
        assert!(svg.contains("780.0,40.0"), "{svg}");
    }
}
