//! [`WaitGroup`]: wait for a number of jobs to finish (Go's `sync.WaitGroup`).
//!
//! # Protocol
//!
//! 1. `add(n)` raises the counter; `done()` lowers it by one.
//! 2. The `done()` that brings it to zero calls `notify_waiters` on the group's [`Notify`],
//!    after the decrement.
//! 3. `wait()` makes a `Notified` future *first*, then reads the counter: zero means done.
//!    Otherwise it awaits the future. A `done()` that reached zero after the read notifies
//!    after it, which completes the future even if it has not been polled yet (`Notify`
//!    counts `notify_waiters` calls); one that reached zero before was seen by the read.
//!    Woken, it reads the counter again (an `add` may have raised it meanwhile).

use std::fmt;

use super::Notify;
use crate::shim::{Arc, AtomicUsize, Ordering};

/// Waits for a set of jobs (tasks, coroutines, threads) to finish.
///
/// It is a cheap handle to a shared counter: clone it into each job. [`add`](WaitGroup::add)
/// counts jobs in, [`done`](WaitGroup::done) counts one out, and [`wait`](WaitGroup::wait) /
/// [`blocking_wait`](WaitGroup::blocking_wait) return once the counter is zero. Like Go's, a
/// group may be reused once a wait has returned.
///
/// Calling `done()` more often than jobs were added is a bug in the caller. It cannot make the
/// counter negative: the extra call is ignored (the counter stays at zero) and, in debug builds
/// only, it panics to point at the bug (a `debug_assert`).
///
/// ```
/// use weft_runtime::sync::WaitGroup;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let wg = WaitGroup::new();
///     for _ in 0..3 {
///         wg.add(1);
///         let wg = wg.clone();
///         weft_runtime::spawn(async move {
///             weft_runtime::yield_now().await;
///             wg.done();
///         });
///     }
///     wg.wait().await;
///     assert_eq!(wg.count(), 0);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    count: AtomicUsize,
    zero: Notify,
}

impl WaitGroup {
    /// A group with a counter of zero.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` jobs to the counter.
    ///
    /// # Panics
    /// If the counter would overflow `usize` (a bug, not a load).
    pub fn add(&self, n: usize) {
        let prev = self.inner.count.fetch_add(n, Ordering::SeqCst);
        if prev.checked_add(n).is_none() {
            self.inner.count.fetch_sub(n, Ordering::SeqCst);
            panic!("weft::sync::WaitGroup::add: the counter would overflow ({prev} + {n})");
        }
    }

    /// Counts one job out; the one that brings the counter to zero wakes every waiter.
    ///
    /// On a counter already at zero it does nothing (release builds) or panics (debug builds):
    /// see the type's docs.
    pub fn done(&self) {
        let prev = self
            .inner
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match prev {
            Ok(1) => self.inner.zero.notify_waiters(),
            Ok(_) => {}
            Err(_) => debug_assert!(
                false,
                "weft::sync::WaitGroup::done called more times than jobs were added"
            ),
        }
    }

    /// Jobs not yet done.
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// Waits until the counter is zero (at once if it is). Cancel safe.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.zero.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Waits from synchronous code, with [`task::block_on`]: inside a coroutine it parks the
    /// coroutine; on a plain thread it blocks the thread.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (where `.await` is the way).
    ///
    /// ```
    /// use weft_runtime::sync::WaitGroup;
    ///
    /// let wg = WaitGroup::new();
    /// wg.add(4);
    /// for _ in 0..4 {
    ///     let wg = wg.clone();
    ///     std::thread::spawn(move || wg.done());
    /// }
    /// wg.blocking_wait();
    /// assert_eq!(wg.count(), 0);
    /// ```
    ///
    /// [`task::block_on`]: crate::task::block_on
    pub fn blocking_wait(&self) {
        crate::task::block_on(self.wait())
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_util::block_on;

    /// Two jobs finish on other threads while the waiter checks and parks: the waiter always
    /// returns (a missed zero deadlocks the model) and sees the counter at zero.
    #[test]
    fn loom_wait_group_done_racing_wait() {
        loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(2);
            let jobs: Vec<_> = (0..2)
                .map(|_| {
                    let wg = wg.clone();
                    loom::thread::spawn(move || wg.done())
                })
                .collect();
            block_on(wg.wait());
            assert_eq!(wg.count(), 0);
            jobs.into_iter().for_each(|j| j.join().unwrap());
        });
    }
}
