//! Parking a plain OS thread until a waker fires: what [`block_on`](super::block_on) does off
//! the loop, and what `weft-coroutines`' `Select::wait` does on a plain thread.
//!
//! The protocol: a wake sets `woken` (release), then unparks the thread; the parker takes
//! `woken` (acquire) before each park and returns once it was set. A wake that lands
//! before the park is remembered in `woken` (and in the thread's unpark token), so it is never
//! lost; a spurious return from `park` only loops. The loom model below checks it.

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

use crate::shim::{current_thread, park_thread, park_thread_timeout, AtomicBool, Ordering, Thread};

/// Parks the current thread until its [`waker`](ThreadParker::waker) fires.
///
/// For `weft-coroutines`, which parks plain threads the same way; other code uses
/// [`block_on`](super::block_on).
#[doc(hidden)]
#[derive(Debug)]
pub struct ThreadParker(Arc<Unpark>);

#[derive(Debug)]
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl ThreadParker {
    /// A parker for the calling thread.
    #[allow(clippy::new_without_default)] // it captures the calling thread: not a neutral value
    pub fn new() -> ThreadParker {
        ThreadParker(Arc::new(Unpark {
            thread: current_thread(),
            woken: AtomicBool::new(false),
        }))
    }

    /// A waker that ends the current or next [`park`](ThreadParker::park).
    pub fn waker(&self) -> Waker {
        Waker::from(self.0.clone())
    }

    /// Parks until the waker fired (since the last park returned) or `deadline` passes.
    pub fn park(&self, deadline: Option<Instant>) {
        // Takes the flag with a compare-exchange rather than a swap: the same on a flag, and
        // loom 0.7 lets a swap read a stale value (tokio-rs/loom#254), which the model below
        // then reports as a deadlock.
        while self
            .0
            .woken
            .compare_exchange(true, false, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            match deadline {
                None => park_thread(),
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => park_thread_timeout(left),
                    _ => return,
                },
            }
        }
    }
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wake_before_the_park_is_remembered() {
        let parker = ThreadParker::new();
        parker.waker().wake();
        let start = Instant::now();
        parker.park(None);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_deadline_ends_the_park_without_a_wake() {
        let parker = ThreadParker::new();
        let start = Instant::now();
        parker.park(Some(start + Duration::from_millis(20)));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(20),
            "returned early: {took:?}"
        );
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_park() {
        let parker = ThreadParker::new();
        let waker = parker.waker();
        let start = Instant::now();
        let waking = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            waker.wake();
        });
        parker.park(Some(start + Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(30));
        waking.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;

    /// Another thread finishes some work and wakes the parked thread (by value, so the last
    /// reference may go on that thread): the parker always sees the work, whether the wake
    /// lands before its look at the flag, between that look and the park, or during the park.
    /// A lost wake-up would leave it parked for ever, which loom reports as a deadlock; waking
    /// before setting the flag does that.
    ///
    /// Two wakes in a row would be the next model, but loom 0.7 can order a read-modify-write
    /// wrongly against a store (tokio-rs/loom#254) and then reports a deadlock that std's
    /// park token rules out, with every access `SeqCst` too.
    #[test]
    fn loom_a_thread_parker_never_loses_a_wake() {
        loom::model(|| {
            let parker = ThreadParker::new();
            let waker = parker.waker();
            let done = Arc::new(AtomicBool::new(false));
            let worker = {
                let done = done.clone();
                loom::thread::spawn(move || {
                    done.store(true, Ordering::Relaxed);
                    waker.wake();
                })
            };
            while !done.load(Ordering::Relaxed) {
                parker.park(None);
            }
            worker.join().unwrap();
        });
    }
}
