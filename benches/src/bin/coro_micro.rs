//! Coroutine micro benchmarks: weft's coroutines against `may`'s, one operation at a time, each
//! runtime on one thread.
//!
//! - spawn + join: a coroutine spawns an empty coroutine and joins it (parks until it ran).
//! - park → wake → resume: a coroutine yields: its stack suspends, its wake queues it, the
//!   scheduler resumes it (`coroutines::yield_now` / `may::coroutine::yield_now`).
//! - channel round trip: a coroutine sends a number to an echo coroutine over an unbounded
//!   mpsc channel and blocks until it comes back over another (`weft::sync::mpsc` with
//!   `blocking_recv` / `may::sync::mpsc`): two parks, two wakes and two resumes.
//!
//! ```text
//! taskset -c 0 cargo run --release -p weft-benches --bin coro_micro
//! ```
//!
//! Each cell is the median of 25 batches of about 20 ms, after a 150 ms warm-up.

use std::time::{Duration, Instant};

const WARMUP: Duration = Duration::from_millis(150);
const BATCH_TARGET: Duration = Duration::from_millis(20);
const REPEATS: usize = 25;

/// Median ns per call of `op` (run on the calling coroutine).
fn measure(mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut warm: u64 = 0;
    while start.elapsed() < WARMUP {
        op();
        warm += 1;
    }
    let per_op = start.elapsed().as_secs_f64() / warm as f64;
    let batch = ((BATCH_TARGET.as_secs_f64() / per_op) as u64).max(1);
    let mut samples: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            t.elapsed().as_secs_f64() * 1e9 / batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[REPEATS / 2]
}

/// One runtime's results, ns per operation.
struct Rows {
    spawn_join: f64,
    yield_now: f64,
    channel: f64,
}

fn weft_rows() -> Rows {
    let rt = weft::Runtime::builder()
        .stall_detector(false)
        .build()
        .expect("weft runtime");
    rt.block_on(async {
        weft::go(|| {
            let spawn_join = measure(|| weft::go(|| ()).join().unwrap());
            let yield_now = measure(weft::coroutines::yield_now);
            let (to_echo, mut echo_rx) = weft::sync::mpsc::unbounded_channel::<u64>();
            let (echo_tx, mut back) = weft::sync::mpsc::unbounded_channel::<u64>();
            let echo = weft::go(move || {
                while let Some(v) = echo_rx.blocking_recv() {
                    if echo_tx.send(v).is_err() {
                        break;
                    }
                }
            });
            let channel = measure(|| {
                to_echo.send(1).unwrap();
                back.blocking_recv().unwrap();
            });
            drop(to_echo);
            echo.join().unwrap();
            Rows {
                spawn_join,
                yield_now,
                channel,
            }
        })
        .await
        .unwrap()
    })
}

/// `may::coroutine::spawn`, whose contract this file keeps: the closures touch no thread-local
/// storage and never block the worker thread. Every closure passed here only computes, yields,
/// joins coroutines or waits on may's own channels, which park the coroutine, not the thread.
fn may_go<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> may::coroutine::JoinHandle<T> {
    // SAFETY: the closures keep may's contract (see above).
    unsafe { may::coroutine::spawn(f) }
}

fn may_rows() -> Rows {
    may::config().set_workers(1);
    may_go(|| {
        let spawn_join = measure(|| may_go(|| ()).join().unwrap());
        let yield_now = measure(may::coroutine::yield_now);
        let (to_echo, echo_rx) = may::sync::mpsc::channel::<u64>();
        let (echo_tx, back) = may::sync::mpsc::channel::<u64>();
        let echo = may_go(move || {
            while let Ok(v) = echo_rx.recv() {
                if echo_tx.send(v).is_err() {
                    break;
                }
            }
        });
        let channel = measure(|| {
            to_echo.send(1).unwrap();
            back.recv().unwrap();
        });
        drop(to_echo);
        echo.join().unwrap();
        Rows {
            spawn_join,
            yield_now,
            channel,
        }
    })
    .join()
    .unwrap()
}

fn main() {
    let weft = weft_rows();
    let may = may_rows();
    println!("| operation | weft ns/op | may ns/op | weft/may |");
    println!("|---|---:|---:|---:|");
    for (name, w, m) in [
        ("coroutine spawn + join", weft.spawn_join, may.spawn_join),
        (
            "park → wake → resume (yield_now)",
            weft.yield_now,
            may.yield_now,
        ),
        (
            "channel round trip (two coroutines, mpsc each way)",
            weft.channel,
            may.channel,
        ),
    ] {
        println!("| {name} | {w:.1} | {m:.1} | {:.2}x |", w / m);
    }
}
