//! Blocking-looking waits: [`sleep`], [`yield_now`], [`blocking`] and [`block_on`].
//!
//! Each is the runtime's own future under [`block_on`], so coroutines share the loop's timers,
//! blocking pool and cooperative budget with async tasks. In a coroutine they park only the
//! coroutine; on a thread without a runtime they block the thread; on an event-loop thread
//! outside a coroutine (async code) they panic, since blocking there would stall the loop.

use std::future::Future;
use std::panic::resume_unwind;
use std::time::Duration;

use crate::coroutine::{in_coroutine, park_on, place, Place};

/// Runs `future` to completion from synchronous code.
///
/// - In a coroutine it parks only the coroutine: the loop thread goes on running other tasks
///   and coroutines, and resumes this one when the future's waker fires.
/// - On a plain thread (not an event-loop thread) it blocks the thread.
///
/// This is [`weft_runtime::task::block_on`], with the coroutine case taken here directly (the
/// future is polled in place, without the runtime's per-thread seam and its dynamic call).
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (tx, rx) = weft_runtime::sync::oneshot::channel();
///     let waiter = weft_coroutines::go(move || weft_coroutines::block_on(rx).unwrap());
///     tx.send(7).unwrap();
///     assert_eq!(waiter.await.unwrap(), 7);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// On an event-loop thread outside a coroutine (inside `Runtime::block_on` or an async task):
/// blocking there would stall the loop that has to complete the future. Await it instead.
#[inline]
pub fn block_on<F: Future>(future: F) -> F::Output {
    if in_coroutine() {
        // SAFETY: `in_coroutine` says this runs on a coroutine's stack.
        return unsafe { park_on(future) };
    }
    weft_runtime::task::block_on(future)
}

/// Parks the coroutine for `duration` (on a plain thread: `std::thread::sleep`).
///
/// While the thread is panicking (a destructor during unwinding) a coroutine cannot park, so
/// `sleep` returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let napper = weft_coroutines::go(|| {
///         let start = Instant::now();
///         weft_coroutines::sleep(Duration::from_millis(5));
///         start.elapsed()
///     });
///     assert!(napper.await.unwrap() >= Duration::from_millis(5));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// On an event-loop thread outside a coroutine.
pub fn sleep(duration: Duration) {
    match place() {
        Place::Coroutine if std::thread::panicking() => {}
        Place::Coroutine | Place::Loop => block_on(weft_runtime::time::sleep(duration)),
        Place::Plain => std::thread::sleep(duration),
    }
}

/// Lets the other ready tasks and coroutines of the loop run, then continues (on a plain
/// thread: `std::thread::yield_now`). Returns at once while the thread is panicking.
///
/// # Panics
/// On an event-loop thread outside a coroutine.
pub fn yield_now() {
    match place() {
        Place::Coroutine if std::thread::panicking() => {}
        Place::Coroutine | Place::Loop => block_on(weft_runtime::yield_now()),
        Place::Plain => std::thread::yield_now(),
    }
}

/// Runs `f` on the runtime's blocking pool while the coroutine parks, and returns its result;
/// a panic in `f` continues in the caller. Use it for CPU-heavy work and blocking APIs
/// (`std::fs`, DNS, libraries), which would otherwise stall every coroutine of the loop.
///
/// On a plain thread, and in a coroutine whose thread is panicking, `f` runs right here.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let sum = weft_coroutines::go(|| weft_coroutines::blocking(|| (1..=1000u64).sum::<u64>()));
///     assert_eq!(sum.await.unwrap(), 500_500);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// On an event-loop thread outside a coroutine; or when the runtime is shutting down and
/// cancels the job.
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match place() {
        Place::Coroutine if std::thread::panicking() => f(),
        Place::Coroutine => match block_on(weft_runtime::spawn_blocking(f)) {
            Ok(value) => value,
            Err(e) => match e.try_into_panic() {
                Ok(payload) => resume_unwind(payload),
                Err(e) => panic!("weft::coroutines::blocking: {e}"),
            },
        },
        Place::Loop => panic!(
            "weft::coroutines::blocking called on an event-loop thread outside a coroutine: it \
             would stall the loop; use weft::spawn_blocking(f).await in async code"
        ),
        Place::Plain => f(),
    }
}
