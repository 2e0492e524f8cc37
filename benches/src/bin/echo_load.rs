//! Ping-pong load generator for echo servers: a single thread on an edge-triggered epoll loop.
//!
//! Each of `--conns` connections sends a `--size`-byte message, waits for the complete echo,
//! checks it byte for byte, and sends the next. Message bytes derive from the connection's index
//! and a per-connection counter, so a lost, duplicated or reordered byte is caught. Messages that
//! complete during `--warmup` are not counted. At the end one line is printed:
//!
//! `messages=<n> errors=<e> seconds=<s> msgs_per_sec=<x> p50_us=<..> p99_us=<..>`
//!
//! The exit status is nonzero when there were errors or no message completed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::raw::c_int;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: echo_load [--addr HOST:PORT] [--conns N] [--size BYTES] \
                     [--duration SECS] [--warmup SECS]";

struct Options {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    duration: Duration,
    warmup: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut addr = "127.0.0.1:7000".to_string();
    let (mut conns, mut size) = (100usize, 64usize);
    let (mut duration, mut warmup) = (10.0f64, 1.0f64);
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err("ping-pong load generator for echo servers".into());
        }
        let value = argv.next().ok_or(format!("`{flag}` needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} `{value}`: {e}");
        match flag.as_str() {
            "--addr" => addr = value.clone(),
            "--conns" => conns = value.parse().map_err(|e| bad(&e))?,
            "--size" => size = value.parse().map_err(|e| bad(&e))?,
            "--duration" => duration = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => warmup = value.parse().map_err(|e| bad(&e))?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if conns == 0 || size == 0 {
        return Err("--conns and --size must be positive".into());
    }
    if !(duration > 0.0 && duration.is_finite() && warmup >= 0.0 && warmup.is_finite()) {
        return Err("--duration must be positive and --warmup not negative".into());
    }
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

/// Log-linear latency histogram in nanoseconds: exact below 32 ns, then 16 buckets per power of
/// two, so a bucket's midpoint is within about 3% of any value in it.
struct Histogram {
    counts: Vec<u64>,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; (64 * SUB) as usize],
        }
    }

    fn index(v: u64) -> usize {
        let msb = 63 - (v | 1).leading_zeros();
        if msb < SUB_BITS {
            return v as usize;
        }
        let shift = msb - (SUB_BITS - 1);
        (u64::from(shift) * (SUB / 2) + (v >> shift)) as usize
    }

    /// Midpoint of bucket `index`, in nanoseconds.
    fn value(index: usize) -> f64 {
        let index = index as u64;
        if index < SUB {
            return index as f64;
        }
        let shift = index / (SUB / 2) - 1;
        let low = (index - shift * (SUB / 2)) << shift;
        low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
    }

    fn record(&mut self, nanos: u64) {
        self.counts[Self::index(nanos)] += 1;
    }

    /// The `q`-quantile (0..=1) in microseconds, or 0 when empty.
    fn quantile_us(&self, q: f64) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(index) / 1000.0;
            }
        }
        0.0
    }
}

struct Epoll {
    fd: c_int,
}

impl Epoll {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall with a constant argument.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll { fd })
    }

    fn add(&self, fd: c_int, token: u64) -> io::Result<()> {
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.fd, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` and returns the ready prefix of `events`.
    fn wait<'a>(
        &self,
        events: &'a mut [libc::epoll_event],
        timeout_ms: c_int,
    ) -> io::Result<&'a [libc::epoll_event]> {
        // SAFETY: `events` is writable for `events.len()` entries.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                events.as_mut_ptr(),
                events.len() as c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted {
                Ok(&[])
            } else {
                Err(err)
            };
        }
        Ok(&events[..n as usize])
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: `self.fd` is an epoll descriptor this value owns.
        unsafe { libc::close(self.fd) };
    }
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

fn run(options: &Options) -> io::Result<ExitCode> {
    let epoll = Epoll::new()?;
    let mut totals = Totals {
        messages: 0,
        errors: 0,
        latency: Histogram::new(),
    };
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(options.conns);
    for id in 0..options.conns {
        match connect(options.addr) {
            Ok(stream) => {
                epoll.add(stream.as_raw_fd(), id as u64)?;
                conns.push(Some(Conn {
                    stream,
                    id: id as u64,
                    counter: 0,
                    message: vec![0; options.size],
                    echo: vec![0; options.size],
                    sent: 0,
                    received: 0,
                    started: Instant::now(),
                }));
            }
            Err(e) => {
                eprintln!("connect {}: {e}", options.addr);
                totals.errors += 1;
                conns.push(None);
            }
        }
    }

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
        "messages={} errors={} seconds={:.3} msgs_per_sec={:.0} p50_us={:.1} p99_us={:.1}",
        totals.messages,
        totals.errors,
        seconds,
        rate,
        totals.latency.quantile_us(0.50),
        totals.latency.quantile_us(0.99),
    );
    Ok(if totals.errors > 0 || totals.messages == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

fn report(failure: &Failure, totals: &mut Totals) {
    totals.errors += 1;
    match failure {
        Failure::Io(e) => eprintln!("connection error: {e}"),
        Failure::Closed => eprintln!("connection closed by the server"),
        Failure::Mismatch => eprintln!("echo does not match the message sent"),
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for v in (1..1_000_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let index = Histogram::index(v);
            assert!(
                index == last || index == last + 1 || v > 1_000_000,
                "gap at {v}"
            );
            last = index;
            let mid = Histogram::value(index);
            assert!(
                (mid - v as f64).abs() <= v as f64 / 32.0 + 0.5,
                "{v} -> {mid}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert!((h.quantile_us(0.5) - 500.0).abs() < 16.0);
        assert!((h.quantile_us(0.99) - 990.0).abs() < 31.0);
        assert_eq!(Histogram::new().quantile_us(0.5), 0.0);
    }
}
