//! Why an event loop needs a blocking pool, measured.
//!
//! One program runs a TCP ping server on a weft loop and a client on its own OS thread that
//! pings every millisecond and records round-trip times. Meanwhile two jobs of ~150 ms of
//! hashing run over and over (longer than the stall detector's 100 ms default threshold):
//!
//! - **inline**: the jobs run inside tasks on the loop thread. Every ping that arrives during a
//!   job waits for it to finish, and the stall detector names the task that held the loop.
//! - **pool**: the tasks hand the same jobs to `spawn_blocking` and await them; the loop stays
//!   free and pings are answered at once.
//!
//! ```text
//! cargo run --release --example cpu_stall             # both modes, 3 s each
//! cargo run --release --example cpu_stall -- --mode pool --seconds 5
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use weft::net::{TcpListener, TcpStream};

/// How long one CPU job hashes.
const JOB: Duration = Duration::from_millis(150);
/// Concurrent CPU jobs.
const JOBS: usize = 2;
/// Pause between two jobs of one worker.
const BETWEEN_JOBS: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Inline,
    Pool,
}

fn main() -> std::process::ExitCode {
    match run_all() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cpu_stall: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_all() -> std::io::Result<()> {
    let (modes, seconds) = parse_args();
    let rounds = calibrate();
    println!(
        "one job = {rounds} hashing rounds (~{} ms)",
        JOB.as_millis()
    );
    for mode in modes {
        let rt = weft::Runtime::new()?;
        let rtts = rt.block_on(run(mode, rounds, Duration::from_secs(seconds)))?;
        let stalls = rt.metrics().stalls;
        report(mode, &rtts, stalls);
    }
    Ok(())
}

/// Serves pings, runs the jobs, and returns the client's round-trip times.
async fn run(mode: Mode, rounds: u64, length: Duration) -> std::io::Result<Vec<Duration>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    weft::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            weft::spawn(pong(stream));
        }
    });
    for worker in 0..JOBS {
        let name = format!("cpu-job-{worker}");
        weft::task::Builder::new().name(name).spawn(async move {
            loop {
                match mode {
                    Mode::Inline => {
                        std::hint::black_box(hash(rounds));
                    }
                    Mode::Pool => {
                        let _ = weft::spawn_blocking(move || hash(rounds)).await;
                    }
                }
                weft::time::sleep(BETWEEN_JOBS).await;
            }
        });
    }
    let client = std::thread::spawn(move || ping(addr, length));
    // Wait for the client without blocking the loop: poll its completion on a timer.
    while !client.is_finished() {
        weft::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .join()
        .map_err(|_| std::io::Error::other("the ping client panicked"))?
}

/// Echoes 8-byte pings.
async fn pong(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut ping = [0u8; 8];
    while stream.read_exact(&mut ping).await.is_ok() {
        if stream.write_all(&ping).await.is_err() {
            return;
        }
    }
}

/// Pings once a millisecond for `length`, with plain blocking std sockets on its own thread.
fn ping(addr: SocketAddr, length: Duration) -> std::io::Result<Vec<Duration>> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut rtts = Vec::new();
    let end = Instant::now() + length;
    let mut seq = 0u64;
    while Instant::now() < end {
        seq += 1;
        let sent = Instant::now();
        stream.write_all(&seq.to_le_bytes())?;
        let mut back = [0u8; 8];
        stream.read_exact(&mut back)?;
        rtts.push(sent.elapsed());
        if u64::from_le_bytes(back) != seq {
            return Err(std::io::Error::other("ping came back mangled"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(rtts)
}

/// CPU work that cannot be optimised away: `rounds` steps of a 64-bit mixing function.
fn hash(rounds: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for i in 0..rounds {
        h ^= i;
        h = h.wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
    }
    h
}

/// How many rounds of `hash` take about `JOB` on this machine.
fn calibrate() -> u64 {
    let probe = 2_000_000;
    let start = Instant::now();
    std::hint::black_box(hash(probe));
    let per_round = start.elapsed().as_secs_f64() / probe as f64;
    (JOB.as_secs_f64() / per_round.max(1e-12)) as u64
}

fn report(mode: Mode, rtts: &[Duration], stalls: u64) {
    let mut sorted = rtts.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    if sorted.is_empty() {
        println!("{mode:?}: no pings completed");
        return;
    }
    println!(
        "{:<6} pings {:>5}   p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   stalls reported {}",
        format!("{mode:?}").to_lowercase(),
        sorted.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        sorted[sorted.len() - 1].as_secs_f64() * 1e3,
        stalls
    );
}

/// The longest run `--seconds` takes (a day).
const MAX_SECONDS: u64 = 86_400;

fn parse_args() -> (Vec<Mode>, u64) {
    let mut modes = vec![Mode::Inline, Mode::Pool];
    let mut seconds = 3;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--mode" => {
                modes = match value.as_str() {
                    "inline" => vec![Mode::Inline],
                    "pool" => vec![Mode::Pool],
                    "both" => vec![Mode::Inline, Mode::Pool],
                    _ => usage(&format!("--mode `{value}`: expected inline, pool or both")),
                }
            }
            "--seconds" => match value.parse() {
                Ok(n) if (1..=MAX_SECONDS).contains(&n) => seconds = n,
                _ => usage(&format!(
                    "--seconds `{value}`: expected a whole number from 1 to {MAX_SECONDS}"
                )),
            },
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    (modes, seconds)
}

fn usage(message: &str) -> ! {
    eprintln!("{message}\nusage: cpu_stall [--mode inline|pool|both] [--seconds N]");
    std::process::exit(2);
}
