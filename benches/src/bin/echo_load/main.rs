//! Ping-pong load generator for echo servers: a single thread on an edge-triggered epoll loop.
//!
//! Each of `--conns` connections sends a `--size`-byte message, waits for the complete echo,
//! checks it byte for byte, and sends the next. Message bytes derive from the connection's index
//! and a per-connection counter, so a lost, duplicated or reordered byte is caught. Connections
//! are opened before the clock starts, `--connect-batch` at a time so the server's listen backlog
//! never overflows (see `connect.rs`); a connection that cannot be opened counts as an error.
//! Messages that complete during `--warmup` are not counted; the rest go into the rate and a
//! latency histogram. At the end one line is printed:
//!
//! `messages=<n> errors=<e> seconds=<s> msgs_per_sec=<x> p50_us=<..> p99_us=<..> p999_us=<..>
//! conns=<c> connect_errors=<k>`
//!
//! `errors` counts every failed connection: not opened, reset, closed by the server, or an echo
//! that differs from the message. The exit status is nonzero when there were errors or no message
//! completed.
//!
//! With `--idle --server-pid PID` it measures the server's memory per idle connection instead
//! (see `idle.rs`). The descriptor limit is raised to its hard limit first: 10,000 connections
//! need more than the usual 1,024.

mod connect;
mod histogram;
mod idle;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::raw::c_int;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use connect::{connect_all, Epoll};
use histogram::Histogram;

const USAGE: &str = "usage: echo_load [--addr HOST:PORT] [--conns N] [--size BYTES] \
                     [--duration SECS] [--warmup SECS] [--connect-batch N] \
                     [--idle --server-pid PID]";

struct Options {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    duration: Duration,
    warmup: Duration,
    /// Connections opened at a time.
    batch: usize,
    /// Idle mode: the pid of the server whose memory is measured.
    idle_pid: Option<u32>,
}

fn parse_options() -> Result<Options, String> {
    let mut addr = "127.0.0.1:7000".to_string();
    let (mut conns, mut size, mut batch) = (100usize, 64usize, 100usize);
    let (mut duration, mut warmup) = (10.0f64, 1.0f64);
    let (mut idle, mut server_pid) = (false, None::<u32>);
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "-h" | "--help" => return Err("ping-pong load generator for echo servers".into()),
            "--idle" => {
                idle = true;
                continue;
            }
            _ => {}
        }
        let value = argv.next().ok_or(format!("`{flag}` needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} `{value}`: {e}");
        match flag.as_str() {
            "--addr" => addr = value.clone(),
            "--conns" => conns = value.parse().map_err(|e| bad(&e))?,
            "--size" => size = value.parse().map_err(|e| bad(&e))?,
            "--duration" => duration = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => warmup = value.parse().map_err(|e| bad(&e))?,
            "--connect-batch" => batch = value.parse().map_err(|e| bad(&e))?,
            "--server-pid" => server_pid = Some(value.parse().map_err(|e| bad(&e))?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if conns == 0 || size == 0 || batch == 0 {
        return Err("--conns, --size and --connect-batch must be positive".into());
    }
    if !(duration > 0.0 && duration.is_finite() && warmup >= 0.0 && warmup.is_finite()) {
        return Err("--duration must be positive and --warmup not negative".into());
    }
    let idle_pid = match (idle, server_pid) {
        (true, None) => return Err("--idle needs --server-pid PID".into()),
        (false, Some(_)) => return Err("--server-pid goes with --idle".into()),
        (_, pid) => pid,
    };
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr `{addr}`: {e}"))?
        .next()
        .ok_or(format!("--addr `{addr}` resolves to nothing"))?;
    Ok(Options {
        addr,
        conns,
        size,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        batch,
        idle_pid,
    })
}

/// One client connection and its message in flight.
struct Conn {
    stream: TcpStream,
    /// Index of this connection, mixed into every message.
    id: u64,
    /// Number of the message in flight.
    counter: u64,
    /// The message in flight, which is also the echo expected back.
    message: Vec<u8>,
    /// Where the echo is assembled.
    echo: Vec<u8>,
    sent: usize,
    received: usize,
    /// When the message in flight was first written.
    started: Instant,
}

impl Conn {
    /// Fills `message` with the bytes of message `counter`.
    fn compose(&mut self) {
        let mut x = self.id << 40 ^ self.counter;
        // splitmix64 finaliser: neighbouring messages get unrelated bytes.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        for (i, byte) in self.message.iter_mut().enumerate() {
            *byte = (x >> ((i & 7) * 8)) as u8 ^ (i >> 3) as u8;
        }
        self.sent = 0;
        self.received = 0;
    }
}

/// Why a connection was dropped.
enum Failure {
    Io(io::Error),
    Closed,
    Mismatch,
}

/// Running totals of the measured period.
struct Totals {
    messages: u64,
    errors: u64,
    latency: Histogram,
}

/// Writes what is left of the message, then reads what has arrived of its echo; every complete,
/// verified echo starts the next message. Stops when the socket would block.
///
/// `from_event` says epoll reported the connection ready. Straight after a message has been
/// written in full by this call, reading is skipped: its echo cannot have arrived before the
/// write, and the previous echo was consumed exactly, so the echo's arrival raises a fresh edge.
/// That saves one `EAGAIN` read per message.
fn drive(
    conn: &mut Conn,
    from_event: bool,
    measure_from: Instant,
    totals: &mut Totals,
) -> Result<(), Failure> {
    let size = conn.message.len();
    let mut may_read = from_event;
    loop {
        while conn.sent < size {
            match (&conn.stream).write(&conn.message[conn.sent..]) {
                Ok(0) => return Err(Failure::Closed),
                Ok(n) => conn.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Io(e)),
            }
        }
        if !may_read {
            return Ok(());
        }
        while conn.received < size {
            // Never read past this message: extra bytes would be a server bug, caught when they
            // fail to match the next message.
            match (&conn.stream).read(&mut conn.echo[conn.received..]) {
                Ok(0) => return Err(Failure::Closed),
                Ok(n) => conn.received += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Io(e)),
            }
        }
        if conn.echo != conn.message {
            return Err(Failure::Mismatch);
        }
        let now = Instant::now();
        if now >= measure_from {
            totals.messages += 1;
            totals
                .latency
                .record(now.duration_since(conn.started).as_nanos() as u64);
        }
        conn.counter += 1;
        conn.compose();
        conn.started = now;
        may_read = false;
    }
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("echo_load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Descriptors needed besides the connections (stdio, epoll, /proc reads).
const SPARE_FDS: u64 = 16;

fn run(options: &Options) -> io::Result<ExitCode> {
    let limit = weft_benches::raise_fd_limit()?;
    if options.conns as u64 + SPARE_FDS > limit {
        return Err(io::Error::other(format!(
            "--conns {} needs {} descriptors; the hard limit (ulimit -Hn) is {limit}",
            options.conns,
            options.conns as u64 + SPARE_FDS
        )));
    }
    let epoll = Epoll::new()?;
    if let Some(pid) = options.idle_pid {
        return idle::run(&epoll, options.addr, options.conns, options.batch, pid);
    }
    let connected = connect_all(&epoll, options.addr, options.conns, options.batch)?;
    let mut totals = Totals {
        messages: 0,
        errors: connected.errors,
        latency: Histogram::new(),
    };
    let mut conns: Vec<Option<Conn>> = connected
        .streams
        .into_iter()
        .enumerate()
        .map(|(id, stream)| {
            Some(Conn {
                stream: stream?,
                id: id as u64,
                counter: 0,
                message: vec![0; options.size],
                echo: vec![0; options.size],
                sent: 0,
                received: 0,
                started: Instant::now(),
            })
        })
        .collect();

    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let mut live = 0;
    for slot in conns.iter_mut() {
        if let Some(conn) = slot {
            conn.compose();
            conn.started = start;
            if let Err(failure) = drive(conn, false, measure_from, &mut totals) {
                report(&failure, &mut totals);
                *slot = None;
                continue;
            }
            live += 1;
        }
    }

    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; options.conns.max(1)];
    let mut now = Instant::now();
    while live > 0 && now < end {
        let left = end - now;
        let timeout = left.as_millis().clamp(1, c_int::MAX as u128) as c_int;
        for event in epoll.wait(&mut events, timeout)? {
            let token = event.u64 as usize;
            let Some(conn) = conns[token].as_mut() else {
                continue;
            };
            if let Err(failure) = drive(conn, true, measure_from, &mut totals) {
                report(&failure, &mut totals);
                conns[token] = None; // Dropping the stream closes it and leaves the epoll set.
                live -= 1;
            }
        }
        now = Instant::now();
    }

    let seconds = if now > measure_from {
        (now.min(end) - measure_from).as_secs_f64()
    } else {
        0.0
    };
    let rate = if seconds > 0.0 {
        totals.messages as f64 / seconds
    } else {
        0.0
    };
    println!(
        "messages={} errors={} seconds={:.3} msgs_per_sec={:.0} p50_us={:.1} p99_us={:.1} \
         p999_us={:.1} conns={} connect_errors={}",
        totals.messages,
        totals.errors,
        seconds,
        rate,
        totals.latency.quantile_us(0.50),
        totals.latency.quantile_us(0.99),
        totals.latency.quantile_us(0.999),
        options.conns,
        connected.errors,
    );
    Ok(if totals.errors > 0 || totals.messages == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Failures written to stderr one by one; past that only the count in the summary tells.
const REPORTED: u64 = 5;

fn report(failure: &Failure, totals: &mut Totals) {
    totals.errors += 1;
    if totals.errors > REPORTED {
        return;
    }
    match failure {
        Failure::Io(e) => eprintln!("connection error: {e}"),
        Failure::Closed => eprintln!("connection closed by the server"),
        Failure::Mismatch => eprintln!("echo does not match the message sent"),
    }
}
