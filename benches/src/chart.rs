//! Hand-written SVG charts for the benchmark reports (no plotting dependency): a line chart over
//! a log₁₀ x axis with a log or linear y axis, and a grouped bar chart.

use std::fmt::Write as _;

/// Line and bar colours, in the order series take them.
pub const COLORS: [&str; 9] = [
    "#d62728", "#ff7f0e", "#2ca02c", "#17becf", "#9467bd", "#8c564b", "#7f7f7f", "#1f77b4",
    "#e377c2",
];

/// One line of a [`LineChart`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour (any SVG colour).
    pub color: &'static str,
    /// Draw the line dashed (to tell a second family of lines apart).
    pub dashed: bool,
    /// `(x, y)` points, drawn in this order; every `x` must be positive, and every `y` too on a
    /// log y axis (other points are left out).
    pub points: Vec<(f64, f64)>,
}

/// A line chart: x on a log₁₀ axis labelled at each power of ten, one line per series, the legend
/// on the right.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label beside the y axis.
    pub y_label: String,
    /// A log₁₀ y axis (gridlines at 1, 2 and 5 of each decade) instead of a linear one from 0.
    pub y_log: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// A bar chart: one cluster per group, one bar per series in each cluster, y linear from 0.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Label beside the y axis.
    pub y_label: String,
    /// Cluster names, along the x axis.
    pub groups: Vec<String>,
    /// Bar names (the legend) and colours.
    pub series: Vec<(String, &'static str)>,
    /// `values[group][series]`; `None` leaves a gap labelled "n/a".
    pub values: Vec<Vec<Option<f64>>>,
}

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;

/// `n` with a comma between groups of three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let split = digits.len() % 3;
    let mut out = digits[..split].to_string();
    for group in digits.as_bytes()[split..].chunks(3) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

/// `text` with the characters XML gives a meaning escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An axis tick label: digit groups from 1,000 up, the shortest plain form below.
fn tick_label(v: f64) -> String {
    if v >= 1000.0 {
        thousands(v.round() as u64)
    } else if v >= 1.0 || v == 0.0 {
        format!("{}", (v * 1000.0).round() / 1000.0)
    } else {
        format!("{v}")
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts `0..=max` into at most about 6 pieces.
fn linear_step(max: f64) -> f64 {
    let raw = max / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The document head: white background and the title.
fn open(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        LEFT + PLOT_W / 2.0,
        escape(title)
    )
}

/// The y axis of a linear chart from 0 to `max`: gridlines, labels, the y label. Returns the
/// top of the axis: the first multiple of the step above `max`, which leaves room for labels.
fn linear_y_axis(out: &mut String, max: f64, y_label: &str) -> f64 {
    let step = linear_step(if max > 0.0 { max } else { 1.0 });
    let top_value = ((max / step).floor() + 1.0) * step;
    let y = |v: f64| TOP + PLOT_H - v / top_value * PLOT_H;
    let mut tick = 0.0;
    while tick <= top_value + step / 2.0 {
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/>",
            y(tick),
            LEFT + PLOT_W
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y(tick) + 4.0,
            tick_label(tick)
        );
        tick += step;
    }
    y_axis_label(out, y_label);
    top_value
}

fn y_axis_label(out: &mut String, label: &str) {
    let _ = writeln!(
        out,
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        TOP + PLOT_H / 2.0,
        escape(label)
    );
}

/// The plot's frame and the document's end.
fn close(out: &mut String) {
    let _ = writeln!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" fill=\"none\" \
         stroke=\"#333\"/>"
    );
    out.push_str("</svg>\n");
}

/// One legend row at position `i`: a swatch (`line` or bar) and the name.
fn legend(out: &mut String, i: usize, name: &str, color: &str, dash: &str, bar: bool) {
    let ly = TOP + 10.0 + i as f64 * 20.0;
    let lx = LEFT + PLOT_W + 15.0;
    if bar {
        let _ = writeln!(
            out,
            "<rect x=\"{lx}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{color}\"/>",
            ly - 5.0
        );
    } else {
        let _ = writeln!(
            out,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" \
             stroke-width=\"2\"{dash}/>",
            lx + 24.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\">{}</text>",
        lx + 30.0,
        ly + 4.0,
        escape(name)
    );
}

impl LineChart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let mut out = open(&self.title);
        let usable = |&(x, y): &(f64, f64)| {
            x > 0.0 && x.is_finite() && y.is_finite() && (y > 0.0 || !self.y_log && y >= 0.0)
        };
        let points: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(usable)
            .collect();
        if points.is_empty() {
            close(&mut out);
            return out;
        }
        let min_of = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(f64::INFINITY, f64::min);
        let max_of = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(0.0, f64::max);
        let x_lo = min_of(|p| p.0).log10().floor();
        let x_hi = max_of(|p| p.0).log10().ceil().max(x_lo + 1.0);
        let x = |v: f64| LEFT + (v.log10() - x_lo) / (x_hi - x_lo) * PLOT_W;

        // The x axis: a gridline and a label at every power of ten.
        for decade in x_lo as i32..=x_hi as i32 {
            let v = 10f64.powi(decade);
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>",
                x(v),
                TOP + PLOT_H
            );
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(v),
                TOP + PLOT_H + 18.0,
                tick_label(v)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + PLOT_W / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label)
        );

        // The y axis, and the mapping from values to pixels.
        let y: Box<dyn Fn(f64) -> f64> = if self.y_log {
            let y_lo = min_of(|p| p.1).log10().floor();
            let y_hi = max_of(|p| p.1).log10().ceil().max(y_lo + 1.0);
            for decade in y_lo as i32..=y_hi as i32 {
                for step in [1.0, 2.0, 5.0] {
                    let v = step * 10f64.powi(decade);
                    if v.log10() > y_hi + 1e-9 {
                        continue;
                    }
                    let py = TOP + PLOT_H - (v.log10() - y_lo) / (y_hi - y_lo) * PLOT_H;
                    let stroke = if step == 1.0 { "#ccc" } else { "#eee" };
                    let _ = writeln!(
                        out,
                        "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" \
                         stroke=\"{stroke}\"/>",
                        LEFT + PLOT_W
                    );
                    let _ = writeln!(
                        out,
                        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                        LEFT - 6.0,
                        py + 4.0,
                        tick_label(v)
                    );
                }
            }
            y_axis_label(&mut out, &self.y_label);
            Box::new(move |v: f64| TOP + PLOT_H - (v.log10() - y_lo) / (y_hi - y_lo) * PLOT_H)
        } else {
            let top_value = linear_y_axis(&mut out, max_of(|p| p.1), &self.y_label);
            Box::new(move |v: f64| TOP + PLOT_H - v / top_value * PLOT_H)
        };

        // One line (and dots) per series.
        for (i, series) in self.series.iter().enumerate() {
            let dash = if series.dashed {
                " stroke-dasharray=\"6 3\""
            } else {
                ""
            };
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|p| usable(p))
                .map(|&(px, py)| (x(px), y(py)))
                .collect();
            let path: Vec<String> = points
                .iter()
                .map(|(px, py)| format!("{px:.1},{py:.1}"))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
                path.join(" "),
                series.color
            );
            for (px, py) in &points {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{}\"/>",
                    series.color
                );
            }
            legend(&mut out, i, &series.name, series.color, dash, false);
        }
        close(&mut out);
        out
    }
}

impl BarChart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let mut out = open(&self.title);
        let max = self
            .values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top_value = linear_y_axis(&mut out, max, &self.y_label);
        let y = |v: f64| TOP + PLOT_H - v.max(0.0) / top_value * PLOT_H;
        let cluster = PLOT_W / self.groups.len().max(1) as f64;
        let bar = cluster * 0.8 / self.series.len().max(1) as f64;
        for (g, group) in self.groups.iter().enumerate() {
            let left = LEFT + g as f64 * cluster + cluster * 0.1;
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                left + cluster * 0.4,
                TOP + PLOT_H + 18.0,
                escape(group)
            );
            for (s, (_, color)) in self.series.iter().enumerate() {
                let bx = left + s as f64 * bar;
                match self
                    .values
                    .get(g)
                    .and_then(|row| row.get(s))
                    .copied()
                    .flatten()
                {
                    Some(v) if v.is_finite() => {
                        let _ = writeln!(
                            out,
                            "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                             fill=\"{color}\"/>",
                            y(v),
                            bar * 0.9,
                            TOP + PLOT_H - y(v)
                        );
                        let _ = writeln!(
                            out,
                            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                             font-size=\"10\">{}</text>",
                            bx + bar * 0.45,
                            y(v) - 4.0,
                            tick_label(v.round())
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                             font-size=\"10\">n/a</text>",
                            bx + bar * 0.45,
                            TOP + PLOT_H - 4.0
                        );
                    }
                }
            }
        }
        for (s, (name, color)) in self.series.iter().enumerate() {
            legend(&mut out, s, name, color, "", true);
        }
        close(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn digit_groups() {
        assert_eq!(thousands(10), "10");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn linear_steps_are_one_two_five() {
        assert_eq!(linear_step(6.0), 1.0);
        assert_eq!(linear_step(190_000.0), 50_000.0);
        assert_eq!(linear_step(11.0), 2.0);
        assert_eq!(linear_step(0.6), 0.1);
    }

    #[test]
    fn a_line_per_series_and_a_dot_per_usable_point() {
        let chart = LineChart {
            title: "a < b".into(),
            x_label: "connections".into(),
            y_label: "per second".into(),
            y_log: false,
            series: vec![
                Series {
                    name: "one".into(),
                    color: COLORS[0],
                    dashed: false,
                    points: vec![(100.0, 10.0), (1000.0, 20.0), (10_000.0, 5.0)],
                },
                Series {
                    name: "two & more".into(),
                    color: COLORS[1],
                    dashed: true,
                    // x = 0 cannot sit on a log axis: left out.
                    points: vec![(0.0, 3.0), (100.0, 8.0)],
                },
            ],
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(count(&svg, "<polyline"), 2);
        assert_eq!(count(&svg, "<circle"), 4);
        assert_eq!(count(&svg, "stroke-dasharray"), 2); // The dashed line and its legend swatch.
        assert!(svg.contains("a &lt; b") && svg.contains("two &amp; more"));
        assert!(svg.contains(">10,000<"), "x axis labelled per decade");
    }

    #[test]
    fn log_y_axis_spans_whole_decades() {
        let chart = LineChart {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            y_log: true,
            series: vec![Series {
                name: "s".into(),
                color: COLORS[0],
                dashed: false,
                points: vec![(10.0, 3.0), (100.0, 300.0)],
            }],
        };
        let svg = chart.svg();
        for label in [">1<", ">2<", ">5<", ">10<", ">100<", ">1,000<"] {
            assert!(svg.contains(label), "missing tick {label}");
        }
    }

    #[test]
    fn bars_and_gaps() {
        let chart = BarChart {
            title: "RSS".into(),
            y_label: "bytes".into(),
            groups: vec!["a".into(), "b".into()],
            series: vec![("echo".into(), COLORS[0]), ("http".into(), COLORS[1])],
            values: vec![vec![Some(1000.0), Some(2500.0)], vec![None, Some(400.0)]],
        };
        let svg = chart.svg();
        // Three bars and two legend swatches, besides the background and the frame.
        assert_eq!(count(&svg, "<rect"), 3 + 2 + 2);
        assert_eq!(count(&svg, ">n/a<"), 1);
        assert!(svg.contains(">2,500<"));
        assert!(
            svg.contains(">3,000<"),
            "the axis reaches past the tallest bar"
        );
    }
}
