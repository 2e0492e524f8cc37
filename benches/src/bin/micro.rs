//! Micro benchmarks: weft against tokio's current-thread runtime, one operation at a time.
//!
//! Each operation runs on both runtimes in the same process. The harness warms up, sizes a
//! batch to about [`BATCH_TARGET`], times [`REPEATS`] batches and reports the median ns per
//! operation.
//!
//! ```text
//! taskset -c 0 cargo run --release -p weft-benches --bin micro -- --write
//! ```
//!
//! `--write` also saves the table to `benches/results/micro-<date>.md`.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the warm-up runs the operation before timing it.
const WARMUP: Duration = Duration::from_millis(150);
/// How long one timed batch should take.
const BATCH_TARGET: Duration = Duration::from_millis(20);
/// How many timed batches give the median.
const REPEATS: usize = 25;

/// The timer row yields once every this many operations: a sleep that never completes never
/// hands the task back, and both runtimes give a task a cooperative budget of 128 timer or I/O
/// operations per poll, after which `Sleep::poll` returns `Pending` without touching the timer.
const YIELD_EVERY: u32 = 64;

const COMMAND: &str = "taskset -c 0 cargo run --release -p weft-benches --bin micro -- --write";

/// Round trips between two tasks through channels: the same code for both runtimes, which
/// differ only in the channel module (`weft::sync` or `tokio::sync`) and `spawn`.
macro_rules! ping_pong {
    ($sync:path, $spawn:path) => {{
        use $sync as sync;

        /// One ping: where to answer, and where the next ping will come from.
        struct Ping {
            pong: sync::oneshot::Sender<()>,
            next: sync::oneshot::Receiver<Ping>,
        }

        /// oneshot: each round trip makes two fresh channels (ping and pong), as a
        /// request/reply protocol does; the first carries the receiver of the next ping.
        async fn oneshot() -> f64 {
            let (first_tx, mut first_rx) = sync::oneshot::channel::<Ping>();
            let echo = $spawn(async move {
                while let Ok(Ping { pong, next }) = first_rx.await {
                    let _ = pong.send(());
                    first_rx = next;
                }
            });
            let next_ping = Rc::new(Cell::new(Some(first_tx)));
            let ns = measure(|| {
                let next_ping = next_ping.clone();
                async move {
                    let (pong_tx, pong_rx) = sync::oneshot::channel();
                    let (next_tx, next_rx) = sync::oneshot::channel();
                    let ping = next_ping.take().expect("one round trip at a time");
                    let sent = ping.send(Ping {
                        pong: pong_tx,
                        next: next_rx,
                    });
                    assert!(sent.is_ok(), "the echo task is alive");
                    next_ping.set(Some(next_tx));
                    pong_rx.await.unwrap();
                }
            })
            .await;
            drop(next_ping); // the echo task's receiver fails, and it ends
            echo.await.unwrap();
            ns
        }

        /// mpsc: a bounded channel of capacity 1 each way; one round trip is a send and a
        /// receive on each side.
        async fn mpsc() -> f64 {
            let (ping_tx, mut ping_rx) = sync::mpsc::channel::<u64>(1);
            let (pong_tx, pong_rx) = sync::mpsc::channel::<u64>(1);
            let echo = $spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v + 1).await.unwrap();
                }
            });
            let pong_rx = Rc::new(Cell::new(Some(pong_rx)));
            let ns = measure(|| {
                let (ping_tx, pong_rx) = (&ping_tx, pong_rx.clone());
                async move {
                    let mut rx = pong_rx.take().expect("one round trip at a time");
                    ping_tx.send(1).await.unwrap();
                    assert_eq!(rx.recv().await, Some(2));
                    pong_rx.set(Some(rx));
                }
            })
            .await;
            drop(ping_tx);
            echo.await.unwrap();
            ns
        }

        (oneshot().await, mpsc().await)
    }};
}

/// One row of the table: the median ns/op on each runtime.
struct Row {
    name: &'static str,
    weft: f64,
    tokio: f64,
}

/// Runs `op` for a warm-up, then [`REPEATS`] batches; returns the median ns per call.
async fn measure<F, Fut>(mut op: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    let mut warm: u64 = 0;
    while start.elapsed() < WARMUP {
        op().await;
        warm += 1;
    }
    let per_op = start.elapsed().as_secs_f64() / warm as f64;
    let batch = ((BATCH_TARGET.as_secs_f64() / per_op) as u64).max(1);

    let mut samples = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let t = Instant::now();
        for _ in 0..batch {
            op().await;
        }
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A one-shot flag a task awaits and another thread sets.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn notify(&self) {
        self.set.store(true, Ordering::Release);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.swap(false, Ordering::Acquire) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            // Checked again: the notifier may have run between the swap and the store.
            if self.set.swap(false, Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// A std thread that sets `signal` once per message it receives; it ends when the sender drops.
fn notifier(signal: Arc<Signal>) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        while rx.recv().is_ok() {
            signal.notify();
        }
    });
    (tx, thread)
}

/// The cross-thread round trip: ask the std thread to signal, and park until it has.
async fn cross_thread_wake() -> f64 {
    let signal = Arc::new(Signal::default());
    let (tx, thread) = notifier(signal.clone());
    let ns = measure(|| {
        tx.send(()).unwrap();
        signal.wait()
    })
    .await;
    drop(tx);
    thread.join().unwrap();
    ns
}

fn weft_suite() -> [f64; 7] {
    let rt = weft::Runtime::new().expect("weft runtime");
    rt.block_on(async {
        let spawn = measure(|| async {
            weft::spawn(async {}).await.unwrap();
        })
        .await;
        let yield_ = measure(weft::yield_now).await;
        let mut polls = 0u32;
        let timer = measure(|| {
            polls += 1;
            let yield_first = polls.is_multiple_of(YIELD_EVERY);
            async move {
                if yield_first {
                    weft::yield_now().await;
                }
                let mut sleep = pin!(weft::time::sleep(Duration::from_secs(1)));
                poll_fn(|cx| {
                    let _ = sleep.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
            }
        })
        .await;
        let blocking = measure(|| async {
            weft::spawn_blocking(|| {}).await.unwrap();
        })
        .await;
        let wake = cross_thread_wake().await;
        let (oneshot, mpsc) = ping_pong!(weft::sync, weft::spawn);
        [spawn, yield_, timer, blocking, wake, oneshot, mpsc]
    })
}

fn tokio_suite() -> [f64; 7] {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let spawn = measure(|| async {
            tokio::spawn(async {}).await.unwrap();
        })
        .await;
        let yield_ = measure(tokio::task::yield_now).await;
        let mut polls = 0u32;
        let timer = measure(|| {
            polls += 1;
            let yield_first = polls.is_multiple_of(YIELD_EVERY);
            async move {
                if yield_first {
                    tokio::task::yield_now().await;
                }
                let mut sleep = pin!(tokio::time::sleep(Duration::from_secs(1)));
                poll_fn(|cx| {
                    let _ = sleep.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
            }
        })
        .await;
        let blocking = measure(|| async {
            tokio::task::spawn_blocking(|| {}).await.unwrap();
        })
        .await;
        let wake = cross_thread_wake().await;
        let (oneshot, mpsc) = ping_pong!(tokio::sync, tokio::spawn);
        [spawn, yield_, timer, blocking, wake, oneshot, mpsc]
    })
}

const NAMES: [&str; 7] = [
    "spawn + join",
    "yield_now",
    "timer insert + cancel (sleep 1 s, poll once, drop)",
    "spawn_blocking + join",
    "wake from another thread (round trip)",
    "oneshot ping-pong (round trip: two channels made, two sends, two receives)",
    "mpsc ping-pong (round trip, bounded capacity 1 each way)",
];

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| operation | weft ns/op | tokio ns/op | weft/tokio |\n");
    out.push_str("|---|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.2}x |\n",
            row.name,
            row.weft,
            row.tokio,
            row.weft / row.tokio
        ));
    }
    out
}

/// Runs `program args` and returns its trimmed stdout, or `?` if it could not run.
fn shell(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

/// Today's UTC date as `YYYY-MM-DD` (days-to-civil, proleptic Gregorian).
fn utc_date() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn report(table: &str, date: &str, elapsed: Duration) -> String {
    let argv: Vec<String> = std::env::args().collect();
    format!(
        "# Micro benchmarks — {date}\n\n\
         weft (`Runtime::new()`, defaults: epoll backend, stall detector on) against tokio's \
         current-thread runtime (`enable_all`), both in one process, \
         one operation at a time (`benches/src/bin/micro.rs`). Each cell is the median of \
         {REPEATS} batches, each sized to about {batch} ms after a {warm} ms warm-up.\n\n\
         ## Machine\n\n\
         - CPUs (`nproc`): {nproc} (available to this process: {avail})\n\
         - CPU model: {cpu}\n\
         - kernel (`uname -r`): {kernel}\n\
         - compiler: {rustc}\n\
         - commit: {commit} (working tree may differ)\n\n\
         ## Command\n\n\
         ```\n{COMMAND}\n```\n\n\
         (argv: `{argv}`; the whole run took {secs:.1} s)\n\n\
         ## Results\n\n{table}\n\
         Notes: the timer row pins a 1 s `sleep`, polls it once (registering the timer) and \
         drops it (cancelling); every {YIELD_EVERY}th operation first yields, so the cooperative \
         budget (128 per poll on both runtimes) never runs out and every poll reaches the timer. The wake row is a round trip: the task sends a message over a \
         std channel to a std thread, which sets a flag and wakes the task's stored waker; with \
         `taskset -c 0` both threads share one CPU. spawn_blocking runs a no-op closure on each \
         runtime's blocking pool. The ping-pong rows run the same code on `weft::sync` and \
         `tokio::sync`: a spawned echo task answers the measuring task; a oneshot round trip \
         makes the two channels it uses (the ping carries the receiver of the next ping), an \
         mpsc round trip sends and receives once on each of two capacity-1 channels.\n",
        batch = BATCH_TARGET.as_millis(),
        warm = WARMUP.as_millis(),
        nproc = shell("nproc", &["--all"]),
        avail = std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu = cpu_model(),
        kernel = shell("uname", &["-r"]),
        rustc = shell("rustc", &["--version"]),
        commit = shell("git", &["rev-parse", "--short", "HEAD"]),
        argv = argv.join(" "),
        secs = elapsed.as_secs_f64(),
    )
}

fn main() {
    let write = std::env::args().skip(1).any(|a| a == "--write");
    let start = Instant::now();
    let weft = weft_suite();
    let tokio = tokio_suite();
    let elapsed = start.elapsed();
    let rows: Vec<Row> = NAMES
        .iter()
        .enumerate()
        .map(|(i, &name)| Row {
            name,
            weft: weft[i],
            tokio: tokio[i],
        })
        .collect();
    let table = table(&rows);
    print!("{table}");
    if write {
        let date = utc_date();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
        let path = dir.join(format!("micro-{date}.md"));
        std::fs::create_dir_all(&dir).expect("create benches/results");
        std::fs::write(&path, report(&table, &date, elapsed)).expect("write results");
        eprintln!("wrote {}", path.display());
    }
}
