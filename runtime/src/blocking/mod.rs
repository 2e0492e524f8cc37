//! The blocking pool: threads for work that would stall the event loop.
//!
//! A loop thread runs every task of its runtime, so a task that blocks (a file read that misses
//! the page cache, a DNS lookup through libc, a CPU-heavy parse, a library with a blocking API)
//! stops every other task and all I/O until it returns. [`spawn_blocking`] runs such work on a
//! pool thread instead and hands back a [`JoinHandle`] to await.
//!
//! - Threads are started on demand, one per job that finds no idle thread, up to a cap
//!   ([`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads), default 512);
//!   beyond it, jobs queue. They are named `weft-blocking-N`.
//! - A thread idle for the keep-alive
//!   ([`Builder::thread_keep_alive`](crate::Builder::thread_keep_alive), default 10 s) exits.
//! - Dropping the runtime cancels jobs that have not started, waits for running ones up to
//!   [`Builder::blocking_shutdown_timeout`](crate::Builder::blocking_shutdown_timeout)
//!   (default 10 s), then names the ones still running on stderr and returns without them.
//!
//! `handoff.rs` holds the protocol between submitters and threads (model-checked with loom);
//! `pool.rs` turns it into a task scheduler.

mod handoff;
mod pool;

use std::io;
use std::time::Duration;

pub(crate) use pool::Spawner;

use crate::runtime::Handle;
use crate::task::{JoinError, JoinHandle};

/// How a runtime's blocking pool is set up (see [`crate::Builder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Config {
    /// Default cap on pool threads.
    pub(crate) const MAX_THREADS: usize = 512;
    /// Default idle time after which a pool thread exits.
    pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);
    /// Default wait for running jobs when the runtime is dropped.
    pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_threads: Config::MAX_THREADS,
            keep_alive: Config::KEEP_ALIVE,
            shutdown_timeout: Config::SHUTDOWN_TIMEOUT,
        }
    }
}

/// Runs `f` on the current runtime's blocking pool, so it cannot stall the event loop; the
/// returned [`JoinHandle`] resolves to its result.
///
/// Use it for anything that blocks or burns CPU for more than a few hundred microseconds:
/// `std::fs`, libraries with blocking APIs, hashing, compression. A panic in `f` comes back as
/// a [`JoinError`](crate::JoinError); [`abort`](JoinHandle::abort) cancels the job if no thread
/// has started it yet (a running closure cannot be interrupted).
///
/// Each call is one hand-off to a pool thread and one wake-up of the loop when it is done, so
/// batch: one closure that does ten `std::fs` calls beats ten `spawn_blocking` calls.
///
/// Pool threads are not runtime threads: inside `f`, [`crate::spawn`] and weft's sockets and
/// timers are unavailable. To reach the runtime from there, move a [`Handle`] into `f`.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let sum = weft_runtime::spawn_blocking(|| (1..=1_000_000u64).sum::<u64>());
///     assert_eq!(sum.await.unwrap(), 500_000_500_000);
///
///     // Reaching back into the runtime from the pool:
///     let handle = weft_runtime::Handle::current();
///     let nested = weft_runtime::spawn_blocking(move || handle.spawn(async { "from the loop" }));
///     assert_eq!(nested.await.unwrap().await.unwrap(), "from the loop");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a runtime (use [`Handle::spawn_blocking`] from other threads), or when no pool
/// thread is running and the OS refuses to start one.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f),
        Err(e) => panic!("weft::spawn_blocking: {e}"),
    }
}

/// Runs the blocking operation `f` on the current runtime's pool and waits for its result
/// (see [`join_io`]; `what` names the caller in errors).
pub(crate) async fn run_io<F, T>(what: &str, f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    join_io(what, Handle::try_current()?.spawn_blocking(f).await)?
}

/// A pool job's outcome for an I/O caller: a panic travels on to the awaiting task; a
/// cancellation (the runtime shut down before the job ran) becomes an error naming `what`.
pub(crate) fn join_io<T>(what: &str, result: Result<T, JoinError>) -> io::Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => Err(io::Error::other(format!(
                "{what}: the runtime shut down before the operation ran ({e})"
            ))),
        },
    }
}
