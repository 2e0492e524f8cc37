//! Demultiplexer benchmark: the cost of one event when N connections are idle and one is busy,
//! for every way of waiting for I/O in `examples/io_models/` and for weft's reactor.
//!
//! The setup, for each N:
//!
//! - N idle TCP connections over loopback. Their far ends live in a helper process (this binary
//!   run as `demux_bench --hold PORT N`), so the process under test holds N + a few descriptors
//!   and N = 10,000 fits a 20,000-descriptor limit. Idle means idle: nothing is ever sent on
//!   them, they only sit in the interest set.
//! - One active TCP connection with *both* ends in this process, both in the interest set. One
//!   byte bounces between the ends: each time the demultiplexer reports an end readable, the
//!   loop reads the byte and writes it back on that end, which makes the other end readable.
//!   Exactly one descriptor is ready at any time.
//!
//! An *event* is one wait-read-write round: wait until the demultiplexer reports the ready end,
//! `read` one byte, `write` one byte. The cost per event is the wall-clock time of many events
//! (about `--secs` seconds of them) divided by their number; each point is the median of
//! `--reps` repetitions. The fixed part (the TCP loopback `write`, the `read`) is the same for
//! every model, so the differences are what each demultiplexer adds, and how that grows with N.
//!
//! Models: `select` (only while every descriptor is below `FD_SETSIZE` = 1024), `poll`, epoll
//! level- and edge-triggered, SIGIO plus a `poll` scan, real-time signals (`F_SETSIG` +
//! `sigtimedwait`), one blocking thread per connection (N idle threads blocked in `read`, the
//! active ends served by two threads: an event is one thread wake-up), and weft's runtime on
//! each backend (N idle `weft::net::TcpStream`s registered with the reactor, the two ends
//! driven by two tasks with `read().await` / `write_all().await`), and weft's coroutines
//! (`weft-coro`: the same on the epoll backend, with `weft::coroutines::net::TcpStream`s and two
//! coroutines calling `std::io` `read` / `write_all`).
//!
//! Output: a table on stdout; with `--write`, `demux-DATE.md` and `demux-DATE.svg` (log-log
//! chart) in `--out-dir` (default `benches/results`).

// The example servers' plumbing: the signal helpers are shared with them.
#[path = "../../../../examples/io_models/common.rs"]
mod common;
mod models;
mod report;

use std::io::{self, BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::raw::c_int;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use models::Model;

const USAGE: &str = "usage: demux_bench [--ns 10,100,1000,10000] [--secs S] [--reps R] \
                     [--models select,poll,...] [--cpu K] [--write] [--out-dir DIR]";

struct Options {
    ns: Vec<usize>,
    secs: f64,
    reps: usize,
    models: Vec<Model>,
    /// The CPU everything runs on (default: the one the process starts on).
    cpu: Option<usize>,
    write: bool,
    out_dir: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        ns: vec![10, 100, 1_000, 10_000],
        secs: 0.5,
        reps: 3,
        models: Model::ALL.to_vec(),
        cpu: None,
        write: false,
        out_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/results").to_string(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "--write" {
            options.write = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err("cost per event of select, poll, epoll, signals and weft".into());
        }
        let value = argv.next().ok_or(format!("`{flag}` needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} `{value}`: {e}");
        match flag.as_str() {
            "--ns" => {
                options.ns = value
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?
            }
            "--secs" => options.secs = value.parse().map_err(|e| bad(&e))?,
            "--reps" => options.reps = value.parse().map_err(|e| bad(&e))?,
            "--models" => {
                options.models = value
                    .split(',')
                    .map(|name| Model::from_name(name.trim()).ok_or(bad(&"unknown model")))
                    .collect::<Result<_, _>>()?
            }
            "--cpu" => options.cpu = Some(value.parse().map_err(|e| bad(&e))?),
            "--out-dir" => options.out_dir = value,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.reps == 0 || !(options.secs > 0.0 && options.secs.is_finite()) {
        return Err("--reps and --secs must be positive".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--hold") {
        return hold(&args[2..]);
    }
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demux_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One measured repetition.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub events: u64,
    pub elapsed: Duration,
}

impl Sample {
    pub fn ns_per_event(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.events.max(1) as f64
    }
}

/// All samples of one model at one N; empty with a reason when it was not measured.
pub struct Point {
    pub model: Model,
    pub n: usize,
    pub samples: Vec<Sample>,
    pub skipped: Option<String>,
}

fn run(options: &Options) -> io::Result<()> {
    let limit = weft_benches::raise_fd_limit()?;
    // One CPU for everything (threads and helpers inherit the mask): the event loops are single
    // threads anyway, and the thread-per-connection model then measures a same-core switch per
    // event rather than wherever the scheduler happens to place its two threads (a cross-core
    // wake-up costs several times more, and varies from run to run).
    let cpu = pin(options.cpu)?;
    eprintln!("[demux] pinned to CPU {cpu}");
    // Signals the signal-driven models take synchronously: blocked in every thread from the
    // start (threads inherit the mask), so they only ever leave the queue via sigtimedwait.
    models::block_signals();
    let budget = Duration::from_secs_f64(options.secs);
    let mut points = Vec::new();
    for &n in &options.ns {
        if n + 64 > limit as usize {
            eprintln!(
                "[demux] N = {n}: needs {} descriptors, the limit is {limit}; skipped",
                n + 64
            );
            continue;
        }
        let wanted = |m: Model| options.models.contains(&m);
        let mut at_n: Vec<Point> = Vec::new();
        let point = |model: Model, at_n: &mut Vec<Point>| -> usize {
            if let Some(i) = at_n.iter().position(|p| p.model == model) {
                return i;
            }
            at_n.push(Point {
                model,
                n,
                samples: Vec::new(),
                skipped: None,
            });
            at_n.len() - 1
        };

        // The readiness models share one set of idle connections; repetitions interleave the
        // models, so a slow moment of the machine does not land on one model only.
        let raw: Vec<Model> = Model::RAW.iter().copied().filter(|&m| wanted(m)).collect();
        let blocking = wanted(Model::Blocking);
        if !raw.is_empty() || blocking {
            let set = IdleSet::new(n)?;
            for rep in 0..options.reps {
                for &model in &raw {
                    let i = point(model, &mut at_n);
                    let (a, b) = set.active_pair()?;
                    let fds: Vec<RawFd> = set.idle.iter().map(|s| s.as_raw_fd()).collect();
                    match models::run_raw(model, &fds, a.as_raw_fd(), b.as_raw_fd(), budget)? {
                        Ok(sample) => {
                            log(model, n, rep, &sample);
                            at_n[i].samples.push(sample);
                        }
                        Err(reason) => at_n[i].skipped = Some(reason),
                    }
                }
            }
            if blocking {
                // Last on this set: stopping N blocked threads means shutting their sockets.
                let i = point(Model::Blocking, &mut at_n);
                for (rep, sample) in models::run_blocking(&set, options.reps, budget)?
                    .into_iter()
                    .enumerate()
                {
                    log(Model::Blocking, n, rep, &sample);
                    at_n[i].samples.push(sample);
                }
            }
        }
        for model in [Model::WeftEpoll, Model::WeftPoll, Model::WeftCoro] {
            if wanted(model) {
                // weft takes the idle sockets over (and closes them): a fresh set each.
                let set = IdleSet::new(n)?;
                let i = point(model, &mut at_n);
                let samples = match model {
                    Model::WeftCoro => models::run_weft_coro(set, options.reps, budget)?,
                    _ => models::run_weft(model, set, options.reps, budget)?,
                };
                for (rep, sample) in samples.into_iter().enumerate() {
                    log(model, n, rep, &sample);
                    at_n[i].samples.push(sample);
                }
            }
        }
        points.extend(at_n);
    }
    let report = report::Report::new(points, options.secs, options.reps, cpu);
    println!("{}", report.table());
    if options.write {
        std::fs::create_dir_all(&options.out_dir)?;
        let stem = format!("{}/demux-{}", options.out_dir, report::today());
        std::fs::write(
            format!("{stem}.md"),
            report.markdown(&format!("demux-{}.svg", report::today())),
        )?;
        std::fs::write(format!("{stem}.svg"), report.svg())?;
        eprintln!("[demux] wrote {stem}.md and {stem}.svg");
    }
    Ok(())
}

fn log(model: Model, n: usize, rep: usize, sample: &Sample) {
    eprintln!(
        "[demux] N = {n:>6} {:<12} rep {rep}: {:>10.2} µs/event ({} events)",
        model.name(),
        sample.ns_per_event() / 1000.0,
        sample.events
    );
}

/// Pins the process to `cpu`, or to the CPU it runs on now; returns the CPU.
fn pin(cpu: Option<usize>) -> io::Result<usize> {
    // SAFETY: plain syscall without arguments.
    let cpu = cpu.unwrap_or_else(|| unsafe { libc::sched_getcpu() }.max(0) as usize);
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes inside it (it checks the
    // bound), and sched_setaffinity reads `size_of` bytes of it.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if ret < 0 {
        return Err(io::Error::other(format!(
            "cannot pin to CPU {cpu}: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(cpu)
}

/// Raises the soft descriptor limit to the hard one; returns the new soft limit.
/// N idle loopback connections: our ends in `idle`, the far ends held by a helper process.
pub struct IdleSet {
    listener: TcpListener,
    pub idle: Vec<TcpStream>,
    helper: Child,
}

impl IdleSet {
    fn new(n: usize) -> io::Result<IdleSet> {
        let started = Instant::now();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        // SAFETY: listen() on a listening socket we own only resizes its accept queue.
        unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let mut helper = Command::new(std::env::current_exe()?)
            .args(["--hold", &port.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut idle = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(60);
        while idle.len() < n {
            match listener.accept() {
                Ok((stream, _)) => idle.push(prepare(stream)?),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline || helper.try_wait()?.is_some() {
                        let _ = helper.kill();
                        return Err(io::Error::other(format!(
                            "helper made {} of {n} connections",
                            idle.len()
                        )));
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(e),
            }
        }
        let mut line = String::new();
        BufReader::new(helper.stdout.as_mut().expect("piped")).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(io::Error::other(format!("helper said `{}`", line.trim())));
        }
        eprintln!(
            "[demux] N = {n}: {n} idle connections in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        Ok(IdleSet {
            listener,
            idle,
            helper,
        })
    }

    /// A fresh active connection, both ends here: (client end, server end), non-blocking.
    pub fn active_pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        let a = TcpStream::connect(self.listener.local_addr()?)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.listener.accept() {
                Ok((b, _)) => return Ok((prepare(a)?, prepare(b)?)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for IdleSet {
    fn drop(&mut self) {
        self.idle.clear(); // RST (linger 0): no TIME_WAIT left behind on either side.
        drop(self.helper.stdin.take()); // EOF on its stdin: the helper exits.
        let _ = self.helper.wait();
    }
}

/// Non-blocking, `TCP_NODELAY`, and `SO_LINGER` 0 so that closing resets the connection
/// instead of leaving thousands of sockets in TIME_WAIT between runs.
fn prepare(stream: TcpStream) -> io::Result<TcpStream> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let len = size_of::<libc::linger>() as libc::socklen_t;
    let fd: c_int = stream.as_raw_fd();
    // SAFETY: `linger` outlives the call and `len` is its size.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

/// Helper mode: `--hold PORT N` connects N times to 127.0.0.1:PORT, says `ready`, and holds
/// the connections until its stdin closes.
fn hold(args: &[String]) -> ExitCode {
    let parsed = match args {
        [port, n] => port.parse::<u16>().ok().zip(n.parse::<usize>().ok()),
        _ => None,
    };
    let Some((port, n)) = parsed else {
        eprintln!("usage: demux_bench --hold PORT N");
        return ExitCode::from(2);
    };
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => held.push(stream),
            Err(e) => {
                eprintln!("demux_bench --hold: connect: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("ready");
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    drop(held);
    ExitCode::SUCCESS
}
