//! The benchmark's outputs: a markdown table and a log-log SVG line chart, both written here
//! by hand (no plotting dependency).

use std::fmt::Write as _;

use crate::models::Model;
use crate::Point;

pub struct Report {
    points: Vec<Point>,
    secs: f64,
    reps: usize,
    cpu: usize,
    ns: Vec<usize>,
    models: Vec<Model>,
}

/// Median of the repetitions, in microseconds per event.
fn median_us(point: &Point) -> Option<f64> {
    let mut values: Vec<f64> = point
        .samples
        .iter()
        .map(|s| s.ns_per_event() / 1000.0)
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn thousands(n: usize) -> String {
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

fn us(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

impl Report {
    pub fn new(points: Vec<Point>, secs: f64, reps: usize, cpu: usize) -> Report {
        let mut ns: Vec<usize> = points.iter().map(|p| p.n).collect();
        ns.sort_unstable();
        ns.dedup();
        let models = Model::ALL
            .into_iter()
            .filter(|m| points.iter().any(|p| p.model == *m))
            .collect();
        Report {
            points,
            secs,
            reps,
            cpu,
            ns,
            models,
        }
    }

    fn point(&self, model: Model, n: usize) -> Option<&Point> {
        self.points.iter().find(|p| p.model == model && p.n == n)
    }

    /// Microseconds per event, one row per model, one column per N.
    pub fn table(&self) -> String {
        let mut out = String::from("| model |");
        for &n in &self.ns {
            let _ = write!(out, " N = {} |", thousands(n));
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(self.ns.len()));
        for &model in &self.models {
            let _ = write!(out, "\n| {} |", model.name());
            for &n in &self.ns {
                let cell = match self.point(model, n) {
                    Some(p) => match (median_us(p), &p.skipped) {
                        (Some(v), _) => us(v),
                        (None, Some(reason)) => format!("— ({reason})"),
                        (None, None) => "—".into(),
                    },
                    None => "—".into(),
                };
                let _ = write!(out, " {cell} |");
            }
        }
        out
    }

    /// The full report: method, machine, table, per-repetition figures and the chart.
    pub fn markdown(&self, svg_name: &str) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Demultiplexer benchmark — {}\n", today());
        let _ = writeln!(
            w,
            "Cost per event with N idle TCP connections and 1 active one (µs per event, median of \
             {} repetitions of {:.2} s each; lower is better). An event is one round of: wait until \
             the demultiplexer reports the ready end of the active connection, `read` its one \
             byte, `write` it back (which makes the other end ready). The idle connections' far \
             ends live in a helper process; nothing is ever sent on them. Produced by \
             `cargo run --release -p weft-benches --bin demux_bench -- --secs {} --reps {} \
             --write` (`benches/io_models.sh` runs it; see `docs/io-models.md`).\n",
            self.reps, self.secs, self.secs, self.reps
        );
        let _ = writeln!(w, "## Machine\n");
        // SAFETY: sysconf only reads a system parameter. (available_parallelism would say 1
        // here: it honours the affinity mask this process pinned itself to.)
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        let _ = writeln!(w, "- CPUs: {cpus}");
        let _ = writeln!(w, "- CPU model: {}", cpu_model());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let _ = writeln!(w, "- kernel: {}", kernel.trim());
        let _ = writeln!(
            w,
            "- pinning: the benchmark process, its threads and its helper on CPU {}",
            self.cpu
        );
        let _ = writeln!(w, "- build: release profile of the workspace\n");
        let _ = writeln!(w, "## µs per event\n");
        let _ = writeln!(w, "{}\n", self.table());
        let _ = writeln!(w, "![cost per event]({svg_name})\n");
        let _ = writeln!(w, "## Models\n");
        let _ = writeln!(w, "| model | what is measured | example server |");
        let _ = writeln!(w, "|---|---|---|");
        for &model in &self.models {
            let _ = writeln!(
                w,
                "| {} | {} | `{}` |",
                model.name(),
                model.description(),
                model.example()
            );
        }
        let _ = writeln!(w, "\n## Every repetition (µs per event, events counted)\n");
        for &model in &self.models {
            for &n in &self.ns {
                let Some(p) = self.point(model, n) else {
                    continue;
                };
                let reps: Vec<String> = p
                    .samples
                    .iter()
                    .map(|s| format!("{} ({})", us(s.ns_per_event() / 1000.0), s.events))
                    .collect();
                if !reps.is_empty() {
                    let _ = writeln!(
                        w,
                        "- {} N = {}: {}",
                        model.name(),
                        thousands(n),
                        reps.join(", ")
                    );
                }
            }
        }
        out
    }

    /// A log-log line chart: N across, µs per event up, one line per model.
    pub fn svg(&self) -> String {
        const COLORS: [&str; 9] = [
            "#d62728", "#ff7f0e", "#2ca02c", "#17becf", "#9467bd", "#8c564b", "#7f7f7f", "#1f77b4",
            "#e377c2",
        ];
        let (width, height) = (760.0, 480.0);
        let (left, right, top, bottom) = (70.0, 170.0, 40.0, 50.0);
        let values: Vec<f64> = self.points.iter().filter_map(median_us).collect();
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Cost per event: N idle \
             connections + 1 active (log-log)</text>\n",
            left + (width - left - right) / 2.0
        );
        if values.is_empty() || self.ns.is_empty() {
            out.push_str("</svg>\n");
            return out;
        }
        let (x_lo, x_hi) = (
            (self.ns[0] as f64).log10().floor(),
            (self.ns[self.ns.len() - 1] as f64).log10().ceil().max(1.0),
        );
        let x_hi = if x_hi <= x_lo { x_lo + 1.0 } else { x_hi };
        let y_lo = values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor();
        let y_hi = values.iter().copied().fold(0.0, f64::max).log10().ceil();
        let y_hi = if y_hi <= y_lo { y_lo + 1.0 } else { y_hi };
        let plot_w = width - left - right;
        let plot_h = height - top - bottom;
        let x = |n: f64| left + (n.log10() - x_lo) / (x_hi - x_lo) * plot_w;
        let y = |v: f64| top + plot_h - (v.log10() - y_lo) / (y_hi - y_lo) * plot_h;

        // Grid and labels: every decade, with 2 and 5 in between on the µs axis.
        for decade in x_lo as i32..=x_hi as i32 {
            let n = 10f64.powi(decade);
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" y1=\"{top}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>",
                x(n),
                top + plot_h
            );
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(n),
                top + plot_h + 18.0,
                thousands(n as usize)
            );
        }
        for decade in y_lo as i32..=y_hi as i32 {
            for step in [1.0, 2.0, 5.0] {
                let v = step * 10f64.powi(decade);
                if v.log10() > y_hi + 1e-9 {
                    continue;
                }
                let stroke = if step == 1.0 { "#ccc" } else { "#eee" };
                let _ = writeln!(out, "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"{stroke}\"/>", y(v), left + plot_w);
                let label = if v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v}")
                };
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                    left - 6.0,
                    y(v) + 4.0
                );
            }
        }
        let _ = writeln!(out, "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#333\"/>");
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">N idle connections</text>",
            left + plot_w / 2.0,
            height - 12.0
        );
        let _ = writeln!(
            out,
            "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">µs per event</text>",
            top + plot_h / 2.0
        );

        // One line (and dots) per model, legend on the right.
        for (i, &model) in self.models.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dash = if matches!(model, Model::WeftEpoll | Model::WeftPoll) {
                " stroke-dasharray=\"6 3\""
            } else {
                ""
            };
            let points: Vec<(f64, f64)> = self
                .ns
                .iter()
                .filter_map(|&n| Some((x(n as f64), y(median_us(self.point(model, n)?)?))))
                .collect();
            let path: Vec<String> = points
                .iter()
                .map(|(px, py)| format!("{px:.1},{py:.1}"))
                .collect();
            let _ = writeln!(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>", path.join(" "));
            for (px, py) in &points {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
            let ly = top + 10.0 + i as f64 * 20.0;
            let lx = left + plot_w + 15.0;
            let _ = writeln!(out, "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>", lx + 24.0);
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                lx + 30.0,
                ly + 4.0,
                model.name()
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    });
    model.unwrap_or_else(|| "unknown".into())
}

/// Today's date (UTC) as YYYY-MM-DD, from the days since the Unix epoch.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    date((secs / 86_400) as i64)
}

/// The civil date (proleptic Gregorian) `days` days after 1970-01-01, as YYYY-MM-DD.
fn date(days: i64) -> String {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::{date, thousands};

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(59), "1970-03-01");
        assert_eq!(date(10_957), "2000-01-01");
        assert_eq!(date(11_016), "2000-02-29"); // A leap day of a 400-year era.
        assert_eq!(date(20_784), "2026-11-27");
        assert_eq!(date(-1), "1969-12-31");
    }

    #[test]
    fn digit_groups() {
        assert_eq!(thousands(10), "10");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
