//! Writes the network matrix report from the measurements `benches/matrix.sh` collected: a
//! markdown file and two SVG charts (throughput against connections; RSS per idle connection).
//!
//! ```text
//! matrix_report --work DIR --out benches/results/matrix-DATE
//! ```
//!
//! `DIR` holds tab-separated files, `NA` where a figure is missing:
//!
//! - `meta.tsv`: `key value` lines (machine, method), printed in order under "Machine and method";
//! - `servers.tsv`: `key label echo_binary http_binary`, a binary `-` when it is not built;
//! - `throughput.tsv`: `bench conns round server rate errors p50_us p99_us p999_us`;
//! - `rss.tsv`: `bench server conns connected errors rss_before_kb rss_after_kb bytes_per_conn`;
//! - `instructions.tsv`: `bench server ir completed errors`;
//! - `cpu_stall.txt`: the output of the `cpu_stall` example, quoted as it is.
//!
//! It writes `OUT.md`, `OUT-throughput.svg` and `OUT-rss.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use weft_benches::chart::{thousands, BarChart, LineChart, Series, COLORS};

/// One server of the matrix.
struct Server {
    key: String,
    label: String,
    /// Binaries per bench (`echo`, `http`); `None` when not built.
    binaries: BTreeMap<String, Option<String>>,
}

impl Server {
    fn built(&self, bench: &str) -> bool {
        matches!(self.binaries.get(bench), Some(Some(_)))
    }
}

/// One measured throughput run.
struct Run {
    bench: String,
    conns: u64,
    round: u64,
    server: String,
    rate: Option<f64>,
    errors: Option<u64>,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
}

/// Everything the report is made of.
struct Matrix {
    meta: Vec<(String, String)>,
    servers: Vec<Server>,
    runs: Vec<Run>,
    /// `(bench, server)` -> (conns, connected, errors, before_kb, after_kb, bytes per conn).
    rss: BTreeMap<(String, String), [Option<f64>; 6]>,
    /// `(bench, server)` -> (Ir, completed, errors).
    instructions: BTreeMap<(String, String), [Option<f64>; 3]>,
    cpu_stall: String,
}

const BENCHES: [(&str, &str, &str); 2] = [
    ("echo", "echo, 64-byte ping-pong", "messages/s"),
    ("http", "HTTP hello (wrk)", "requests/s"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (work, out) = match args.as_slice() {
        [w, work, o, out] if w == "--work" && o == "--out" => (work, out),
        _ => {
            eprintln!("usage: matrix_report --work DIR --out PREFIX");
            return ExitCode::from(2);
        }
    };
    let result = Matrix::load(Path::new(work)).and_then(|m| m.write(out));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matrix_report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The rows of a tab-separated file, each with at least `width` fields.
fn rows(path: &Path, width: usize) -> Result<Vec<Vec<String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<String> = line.split('\t').map(str::to_string).collect();
            if fields.len() < width {
                return Err(format!(
                    "{} line {}: {} fields, expected {width}",
                    path.display(),
                    i + 1,
                    fields.len()
                ));
            }
            Ok(fields)
        })
        .collect()
}

/// A number, or `None` for `NA` (or anything else that is not one).
fn num(field: &str) -> Option<f64> {
    field.trim().parse().ok().filter(|v: &f64| v.is_finite())
}

fn median(mut values: Vec<f64>) -> Option<f64> {
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

/// A whole number with digit groups, or "n/a".
fn whole(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 0.0 => format!("-{}", thousands((-v).round() as u64)),
        Some(v) => thousands(v.round() as u64),
        None => "n/a".into(),
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2}"))
}

/// Microseconds, shown in µs below 10 ms and in ms above.
fn latency(v: Option<f64>) -> String {
    match v {
        Some(us) if us >= 10_000.0 => format!("{:.0} ms", us / 1000.0),
        Some(us) if us >= 1_000.0 => format!("{:.1} ms", us / 1000.0),
        Some(us) => format!("{us:.0} µs"),
        None => "n/a".into(),
    }
}

impl Matrix {
    fn load(dir: &Path) -> Result<Matrix, String> {
        let meta = rows(&dir.join("meta.tsv"), 2)?
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        let servers = rows(&dir.join("servers.tsv"), 4)?
            .into_iter()
            .map(|r| {
                let bin = |s: &str| (s != "-").then(|| s.to_string());
                Server {
                    key: r[0].clone(),
                    label: r[1].clone(),
                    binaries: [("echo".into(), bin(&r[2])), ("http".into(), bin(&r[3]))].into(),
                }
            })
            .collect();
        let runs = rows(&dir.join("throughput.tsv"), 9)?
            .into_iter()
            .map(|r| Run {
                bench: r[0].clone(),
                conns: num(&r[1]).unwrap_or(0.0) as u64,
                round: num(&r[2]).unwrap_or(0.0) as u64,
                server: r[3].clone(),
                rate: num(&r[4]),
                errors: num(&r[5]).map(|e| e as u64),
                p50: num(&r[6]),
                p99: num(&r[7]),
                p999: num(&r[8]),
            })
            .collect();
        let rss = rows(&dir.join("rss.tsv"), 8)?
            .into_iter()
            .map(|r| {
                let key = (r[0].clone(), r[1].clone());
                (key, [2, 3, 4, 5, 6, 7].map(|i| num(&r[i])))
            })
            .collect();
        let instructions = rows(&dir.join("instructions.tsv"), 5)?
            .into_iter()
            .map(|r| ((r[0].clone(), r[1].clone()), [2, 3, 4].map(|i| num(&r[i]))))
            .collect();
        let cpu_stall = std::fs::read_to_string(dir.join("cpu_stall.txt")).unwrap_or_default();
        Ok(Matrix {
            meta,
            servers,
            runs,
            rss,
            instructions,
            cpu_stall,
        })
    }

    /// The loads measured, `(bench, conns)`, echo first, fewest connections first.
    fn loads(&self) -> Vec<(String, u64)> {
        let mut loads: Vec<(String, u64)> = Vec::new();
        for (bench, _, _) in BENCHES {
            let mut conns: Vec<u64> = self
                .runs
                .iter()
                .filter(|r| r.bench == bench)
                .map(|r| r.conns)
                .collect();
            conns.sort_unstable();
            conns.dedup();
            loads.extend(conns.into_iter().map(|c| (bench.to_string(), c)));
        }
        loads
    }

    fn rounds(&self) -> Vec<u64> {
        let mut rounds: Vec<u64> = self.runs.iter().map(|r| r.round).collect();
        rounds.sort_unstable();
        rounds.dedup();
        rounds
    }

    fn run(&self, bench: &str, conns: u64, round: u64, server: &str) -> Option<&Run> {
        self.runs.iter().find(|r| {
            r.bench == bench && r.conns == conns && r.round == round && r.server == server
        })
    }

    /// The median over the rounds of `field` of one server at one load.
    fn median_of(
        &self,
        bench: &str,
        conns: u64,
        server: &str,
        field: fn(&Run) -> Option<f64>,
    ) -> Option<f64> {
        median(
            self.rounds()
                .iter()
                .filter_map(|&r| field(self.run(bench, conns, r, server)?))
                .collect(),
        )
    }

    /// The median over the rounds of `server`'s rate divided by `base`'s in the same round.
    fn median_ratio(&self, bench: &str, conns: u64, server: &str, base: &str) -> Option<f64> {
        median(
            self.rounds()
                .iter()
                .filter_map(|&r| {
                    let a = self.run(bench, conns, r, server)?.rate?;
                    let b = self.run(bench, conns, r, base)?.rate?;
                    (b > 0.0).then(|| a / b)
                })
                .collect(),
        )
    }

    fn total_errors(&self, bench: &str, conns: u64, server: &str) -> Option<u64> {
        let errors: Vec<u64> = self
            .runs
            .iter()
            .filter(|r| r.bench == bench && r.conns == conns && r.server == server)
            .filter_map(|r| r.errors)
            .collect();
        (!errors.is_empty()).then(|| errors.iter().sum())
    }

    fn per_request(&self, bench: &str, server: &str) -> Option<f64> {
        let [ir, done, _] = self.instructions.get(&(bench.into(), server.into()))?;
        Some(ir.as_ref()? / done.filter(|&d| d > 0.0)?)
    }

    fn load_name(bench: &str, conns: u64) -> String {
        format!("{bench} × {}", thousands(conns))
    }

    /// `cell` for every server, or "not built" where its binary for `bench` is missing.
    fn server_cells(&self, bench: &str, cell: impl Fn(&Server) -> String) -> String {
        self.servers
            .iter()
            .map(|s| {
                if s.built(bench) {
                    format!(" {} |", cell(s))
                } else {
                    " not built |".into()
                }
            })
            .collect()
    }

    fn header(&self, first: &str) -> String {
        let mut out = format!("| {first} |");
        for s in &self.servers {
            let _ = write!(out, " {} |", s.label);
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(self.servers.len()));
        out
    }

    fn markdown(&self, stem: &str) -> String {
        let mut out = String::new();
        let w = &mut out;
        let date = self.meta_value("date");
        let _ = writeln!(w, "# Network matrix — {date}\n");
        let _ = writeln!(
            w,
            "Every server answers on one pinned core with the same request handling \
             (`examples/support/http.rs`) and byte-identical responses; echo servers return \
             every byte. Produced by `bash benches/matrix.sh` (see the method below).\n"
        );
        let _ = writeln!(w, "## Machine and method\n");
        for (key, value) in &self.meta {
            if key != "date" {
                let _ = writeln!(w, "- {key}: {value}");
            }
        }
        let _ = writeln!(w, "\n| server | echo binary | HTTP binary |\n|---|---|---|");
        for s in &self.servers {
            let bin = |b: &str| match s.binaries.get(b) {
                Some(Some(path)) => format!("`{path}`"),
                _ => "**not built**".into(),
            };
            let _ = writeln!(w, "| {} | {} | {} |", s.label, bin("echo"), bin("http"));
        }

        let _ = writeln!(w, "\n## Throughput (median of the rounds)\n");
        let _ = writeln!(
            w,
            "![throughput against connections]({stem}-throughput.svg)\n"
        );
        let _ = writeln!(w, "{}", self.header("load"));
        for (bench, conns) in self.loads() {
            let unit = BENCHES.iter().find(|b| b.0 == bench).map_or("", |b| b.2);
            let cells = self.server_cells(&bench, |s| {
                whole(self.median_of(&bench, conns, &s.key, |r| r.rate))
            });
            let _ = writeln!(w, "| {} ({unit}) |{cells}", Self::load_name(&bench, conns));
        }
        for (base, title) in [("tokio", "tokio"), ("raw", "the raw epoll loop")] {
            let _ = writeln!(
                w,
                "\n**Ratio to {title}** (median of the per-round ratios; above 1 is faster):\n"
            );
            let _ = writeln!(w, "{}", self.header("load"));
            for (bench, conns) in self.loads() {
                let cells = self.server_cells(&bench, |s| {
                    ratio(self.median_ratio(&bench, conns, &s.key, base))
                });
                let _ = writeln!(w, "| {} |{cells}", Self::load_name(&bench, conns));
            }
        }
        let _ = writeln!(
            w,
            "\n**Errors** (all rounds: connections not opened, reset or closed early, echoes that \
             differ; for wrk its socket errors and non-2xx answers):\n"
        );
        let _ = writeln!(w, "{}", self.header("load"));
        for (bench, conns) in self.loads() {
            let cells = self.server_cells(&bench, |s| {
                self.total_errors(&bench, conns, &s.key)
                    .map_or("n/a".into(), |e| e.to_string())
            });
            let _ = writeln!(w, "| {} |{cells}", Self::load_name(&bench, conns));
        }

        let _ = writeln!(
            w,
            "\n## Latency (median of the rounds: p50 / p99 / p99.9)\n\nEcho latency is one \
             message's round trip measured by `echo_load`; HTTP latency is wrk's (no p99.9). With \
             every connection busy, latency is mostly queueing: connections ÷ throughput.\n"
        );
        let _ = writeln!(w, "{}", self.header("load"));
        for (bench, conns) in self.loads() {
            let cells = self.server_cells(&bench, |s| {
                let q =
                    |f: fn(&Run) -> Option<f64>| latency(self.median_of(&bench, conns, &s.key, f));
                if bench == "echo" {
                    format!("{} / {} / {}", q(|r| r.p50), q(|r| r.p99), q(|r| r.p999))
                } else {
                    format!("{} / {}", q(|r| r.p50), q(|r| r.p99))
                }
            });
            let _ = writeln!(w, "| {} |{cells}", Self::load_name(&bench, conns));
        }

        self.rss_section(w, stem);
        self.instructions_section(w);

        let _ = writeln!(
            w,
            "\n## `cpu_stall`: a CPU-bound job on the loop thread, then on the blocking pool\n"
        );
        let _ = writeln!(
            w,
            "`cargo run --release --example cpu_stall` (not pinned):\n"
        );
        let _ = writeln!(w, "```text\n{}\n```", self.cpu_stall.trim_end());

        let _ = writeln!(w, "\n## Every round\n");
        let rounds = self.rounds();
        let _ = write!(w, "| load | server |");
        for r in &rounds {
            let _ = write!(w, " round {r} |");
        }
        let _ = writeln!(w, "\n|---|---|{}", "---:|".repeat(rounds.len()));
        for (bench, conns) in self.loads() {
            for s in self.servers.iter().filter(|s| s.built(&bench)) {
                let _ = write!(w, "| {} | {} |", Self::load_name(&bench, conns), s.label);
                for &r in &rounds {
                    let run = self.run(&bench, conns, r, &s.key);
                    let rate = whole(run.and_then(|run| run.rate));
                    match run.and_then(|run| run.errors) {
                        Some(e) if e > 0 => {
                            let _ = write!(w, " {rate} ({e} errors) |");
                        }
                        _ => {
                            let _ = write!(w, " {rate} |");
                        }
                    }
                }
                let _ = writeln!(w);
            }
        }
        out
    }

    fn meta_value(&self, key: &str) -> &str {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    fn rss_section(&self, w: &mut String, stem: &str) {
        let conns = self
            .rss
            .values()
            .find_map(|v| v[0])
            .map_or("n/a".into(), |c| whole(Some(c)));
        let _ = writeln!(
            w,
            "\n## Memory per idle connection ({conns} connections)\n\n`echo_load --idle`: the \
             server's `VmRSS` before the connections open, and after it has accepted them all and \
             its RSS has settled, difference ÷ connections. Kernel socket buffers are not in a \
             process's RSS; the task, stack and buffers each server keeps per connection are.\n"
        );
        let _ = writeln!(w, "![RSS per idle connection]({stem}-rss.svg)\n");
        let _ = writeln!(w, "{}", self.header("server (bytes per connection)"));
        for (bench, title, _) in BENCHES {
            let cells = self.server_cells(bench, |s| {
                let Some(v) = self.rss.get(&(bench.into(), s.key.clone())) else {
                    return "n/a".into();
                };
                let errors = v[2].filter(|&e| e > 0.0);
                let mut cell = format!(
                    "**{}** ({} → {} KiB)",
                    whole(v[5]),
                    whole(v[3]),
                    whole(v[4])
                );
                if let Some(e) = errors {
                    let _ = write!(cell, ", {} errors", whole(Some(e)));
                }
                cell
            });
            let _ = writeln!(w, "| {title} |{cells}");
        }
    }

    fn instructions_section(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "\n## User-space instructions per message / request (callgrind)\n\nInstructions (Ir) \
             the server process executed in user space during the measured load, divided by the \
             messages or requests completed in that time; counters zeroed after a warm-up. \
             Deterministic, unlike wall-clock throughput on a shared machine; kernel work \
             (syscalls, TCP) is not counted. {}.\n",
            self.meta_value("callgrind load")
        );
        let _ = writeln!(w, "{}", self.header("load"));
        for (bench, title, _) in BENCHES {
            let cells = self.server_cells(bench, |s| whole(self.per_request(bench, &s.key)));
            let _ = writeln!(w, "| {title} |{cells}");
            for base in ["tokio", "raw"] {
                let cells = self.server_cells(bench, |s| {
                    let base = self.per_request(bench, base);
                    ratio(
                        self.per_request(bench, &s.key)
                            .zip(base)
                            .map(|(a, b)| a / b),
                    )
                });
                let _ = writeln!(w, "| {title}: ÷ {base} |{cells}");
            }
        }
        let _ = writeln!(
            w,
            "\n| load | server | total Ir | completed | errors |\n|---|---|---:|---:|---:|"
        );
        for (bench, title, _) in BENCHES {
            for s in self.servers.iter().filter(|s| s.built(bench)) {
                if let Some([ir, done, errors]) =
                    self.instructions.get(&(bench.into(), s.key.clone()))
                {
                    let _ = writeln!(
                        w,
                        "| {title} | {} | {} | {} | {} |",
                        s.label,
                        whole(*ir),
                        whole(*done),
                        whole(*errors)
                    );
                }
            }
        }
    }

    /// Median throughput against connections: one colour per server, echo solid, HTTP dashed.
    fn throughput_svg(&self) -> String {
        let mut series = Vec::new();
        for (bench, _, _) in BENCHES {
            for (i, s) in self.servers.iter().enumerate() {
                let points: Vec<(f64, f64)> = self
                    .loads()
                    .into_iter()
                    .filter(|(b, _)| b == bench)
                    .filter_map(|(_, conns)| {
                        let rate = self.median_of(bench, conns, &s.key, |r| r.rate)?;
                        Some((conns as f64, rate))
                    })
                    .collect();
                if !points.is_empty() {
                    series.push(Series {
                        name: format!("{} ({bench})", s.label),
                        color: COLORS[i % COLORS.len()],
                        dashed: bench == "http",
                        points,
                    });
                }
            }
        }
        LineChart {
            title: "Throughput against connections (echo solid, HTTP dashed)".into(),
            x_label: "connections (log scale)".into(),
            y_label: "messages or requests per second".into(),
            y_log: false,
            series,
        }
        .svg()
    }

    /// RSS per idle connection: one cluster per server, a bar per bench.
    fn rss_svg(&self) -> String {
        BarChart {
            title: "Server memory per idle connection (bytes of RSS)".into(),
            y_label: "bytes per connection".into(),
            groups: self.servers.iter().map(|s| s.label.clone()).collect(),
            series: BENCHES
                .iter()
                .enumerate()
                .map(|(i, (bench, _, _))| (format!("{bench} server"), COLORS[i + 7]))
                .collect(),
            values: self
                .servers
                .iter()
                .map(|s| {
                    BENCHES
                        .iter()
                        .map(|(bench, _, _)| self.rss.get(&(bench.to_string(), s.key.clone()))?[5])
                        .collect()
                })
                .collect(),
        }
        .svg()
    }

    fn write(&self, out: &str) -> Result<(), String> {
        let stem = Path::new(out)
            .file_name()
            .and_then(|s| s.to_str())
            .ok_or(format!("--out `{out}`: no file name"))?;
        let files = [
            (format!("{out}.md"), self.markdown(stem)),
            (format!("{out}-throughput.svg"), self.throughput_svg()),
            (format!("{out}-rss.svg"), self.rss_svg()),
        ];
        for (path, text) in files {
            std::fs::write(&path, text).map_err(|e| format!("{path}: {e}"))?;
            eprintln!("[matrix] wrote {path}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn medians_ratios_and_missing_servers() {
        let dir = std::env::temp_dir().join(format!("matrix-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "meta.tsv", "date\t2026-11-27\nrounds\t3\n");
        write(
            &dir,
            "servers.tsv",
            "tokio\ttokio\tt_echo\tt_hello\nraw\traw\tr_echo\tr_hello\ncoro\tweft coro\t-\t-\n",
        );
        let mut runs = String::new();
        for (round, tokio, raw) in [(1, 100.0, 200.0), (2, 300.0, 300.0), (3, 90.0, 100.0)] {
            let _ = writeln!(runs, "echo\t100\t{round}\ttokio\t{tokio}\t0\t10\t20\t30");
            let _ = writeln!(runs, "echo\t100\t{round}\traw\t{raw}\t1\t10\t20\t30");
        }
        runs.push_str("http\t1000\t1\ttokio\tNA\tNA\tNA\tNA\tNA\n");
        write(&dir, "throughput.tsv", &runs);
        write(
            &dir,
            "rss.tsv",
            "echo\ttokio\t10000\t10000\t0\t2000\t50000\t4915\n",
        );
        write(
            &dir,
            "instructions.tsv",
            "echo\ttokio\t1000\t10\t0\necho\traw\t100\t10\t0\n",
        );
        let m = Matrix::load(&dir).unwrap();

        assert_eq!(m.loads(), [("echo".into(), 100), ("http".into(), 1000)]);
        assert_eq!(m.median_of("echo", 100, "tokio", |r| r.rate), Some(100.0));
        // Per-round ratios 0.5, 1.0, 0.9: the median is 0.9 (not 100 / 200).
        assert_eq!(m.median_ratio("echo", 100, "tokio", "raw"), Some(0.9));
        assert_eq!(m.total_errors("echo", 100, "raw"), Some(3));
        assert_eq!(m.median_of("http", 1000, "tokio", |r| r.rate), None);
        assert_eq!(m.per_request("echo", "tokio"), Some(100.0));

        let md = m.markdown("matrix-x");
        assert!(
            md.contains("| echo × 100 (messages/s) | 100 | 200 | not built |"),
            "{md}"
        );
        assert!(
            md.contains("| echo × 100 | 0.90 | 1.00 | not built |"),
            "{md}"
        );
        assert!(md.contains("**4,915** (2,000 → 50,000 KiB)"), "{md}");
        assert!(md.contains("| echo, 64-byte ping-pong: ÷ raw | 10.00 | 1.00 | not built |"));
        assert!(md.contains("![throughput against connections](matrix-x-throughput.svg)"));

        let svg = m.throughput_svg();
        assert_eq!(
            svg.matches("<polyline").count(),
            2,
            "one line per server with data"
        );
        m.write(dir.join("out").to_str().unwrap()).unwrap();
        assert!(dir.join("out-rss.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats() {
        assert_eq!(latency(Some(850.0)), "850 µs");
        assert_eq!(latency(Some(2_500.0)), "2.5 ms");
        assert_eq!(latency(Some(250_000.0)), "250 ms");
        assert_eq!(whole(Some(-12_345.4)), "-12,345");
        assert_eq!(num("NA"), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
