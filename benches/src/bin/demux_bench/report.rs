//! The benchmark's outputs: a markdown table and a log-log SVG line chart, both written here
//! by hand (no plotting dependency).

use std::fmt::Write as _;

use weft_benches::chart::{thousands, LineChart, Series, COLORS};

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
            let _ = write!(out, " N = {} |", thousands(n as u64));
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
                        thousands(n as u64),
                        reps.join(", ")
                    );
                }
            }
        }
        out
    }

    /// A log-log line chart: N across, µs per event up, one line per model (weft's dashed).
    pub fn svg(&self) -> String {
        let series = self
            .models
            .iter()
            .enumerate()
            .map(|(i, &model)| Series {
                name: model.name().to_string(),
                color: COLORS[i % COLORS.len()],
                dashed: matches!(model, Model::WeftEpoll | Model::WeftPoll | Model::WeftCoro),
                points: self
                    .ns
                    .iter()
                    .filter_map(|&n| Some((n as f64, median_us(self.point(model, n)?)?)))
                    .collect(),
            })
            .collect();
        LineChart {
            title: "Cost per event: N idle connections + 1 active (log-log)".into(),
            x_label: "N idle connections".into(),
            y_label: "µs per event".into(),
            y_log: true,
            series,
        }
        .svg()
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
    use super::date;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(59), "1970-03-01");
        assert_eq!(date(10_957), "2000-01-01");
        assert_eq!(date(11_016), "2000-02-29"); // A leap day of a 400-year era.
        assert_eq!(date(20_784), "2026-11-27");
        assert_eq!(date(-1), "1969-12-31");
    }
}
