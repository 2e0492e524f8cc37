use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use weft_reactor::TimerEntry;

use crate::context;
use crate::coop;

/// Waits until `duration` has passed.
///
/// Deadlines are kept to the nanosecond: the reactor's timing wheel files them in millisecond
/// slots but wakes the loop at the exact earliest deadline (via `epoll_pwait2` where the
/// kernel has it), so a 300 µs sleep takes about 300 µs, never less.
///
/// ```
/// use std::time::{Duration, Instant};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let start = Instant::now();
///     weft_runtime::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a runtime.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(super::deadline_after(Instant::now(), duration))
}

/// Waits until `deadline`.
///
/// # Panics
/// Outside a runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    let reactor = match context::reactor() {
        Ok(reactor) => reactor,
        Err(e) => panic!("weft::time::sleep: {e}"),
    };
    Sleep {
        entry: TimerEntry::new(&reactor, deadline),
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
#[derive(Debug)]
pub struct Sleep {
    entry: TimerEntry,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.entry.deadline()
    }

    /// `true` once it has completed.
    pub fn is_elapsed(&self) -> bool {
        self.entry.is_elapsed()
    }

    /// Moves the deadline (an elapsed sleep waits again).
    pub fn reset(&mut self, deadline: Instant) {
        self.entry.reset(deadline);
    }

    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        ready!(coop::poll_proceed(cx));
        self.entry.poll_elapsed(cx)
    }

    /// [`poll_elapsed`](Sleep::poll_elapsed) without spending budget, for [`timeout`](super::timeout):
    /// its deadline must be checked even after the future it bounds spent the whole budget.
    pub(crate) fn poll_elapsed_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.entry.poll_elapsed(cx)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_elapsed(cx)
    }
}
