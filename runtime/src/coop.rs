//! Cooperative budget: a task that always finds its sockets ready must still yield.
//!
//! Each task poll starts with [`BUDGET`] units. Every weft I/O or timer operation spends one
//! before it starts (a socket read or write: once its socket is ready, so waiting for readiness
//! is free); when none are left, the operation wakes its task and returns `Pending`, so the task
//! goes to the back of the run queue and the others (and the reactor) get a turn.
//!
//! The budget is one thread-local counter. The loop thread resets it before every poll and
//! leaves it unconstrained (so large that it never runs out) between polls and outside any
//! runtime. Units spent by operations that then return `Pending` are not refunded: a poll can
//! only meet a handful of those before it returns, and a fresh budget comes with the next poll.
//! That keeps the hot path to one load, one compare and one store.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may start per poll before it is made to yield.
pub(crate) const BUDGET: u32 = 128;
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    static REMAINING: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Gives the poll that is about to run a fresh budget.
#[inline]
pub(crate) fn reset() {
    REMAINING.with(|r| r.set(BUDGET));
}

/// Lifts the budget: the thread is no longer polling a task.
#[inline]
pub(crate) fn unconstrain() {
    REMAINING.with(|r| r.set(UNCONSTRAINED));
}

/// Spends one unit, or wakes the task and returns `Pending` when the budget is spent.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| {
        let left = r.get();
        if left == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        r.set(left - 1);
        Poll::Ready(())
    })
}

/// Lifts the budget when dropped, also on unwind: a loop thread leaving `block_on` must not
/// leave a spent budget behind for code that runs outside the runtime.
#[derive(Debug)]
pub(crate) struct UnconstrainOnDrop;

impl Drop for UnconstrainOnDrop {
    fn drop(&mut self) {
        unconstrain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_spent_budget_forces_a_yield_until_the_next_poll() {
        let mut cx = Context::from_waker(Waker::noop());
        reset();
        for _ in 0..BUDGET {
            assert!(poll_proceed(&mut cx).is_ready(), "budget ran out early");
        }
        assert!(poll_proceed(&mut cx).is_pending());
        reset();
        assert!(poll_proceed(&mut cx).is_ready());
        unconstrain();
        for _ in 0..BUDGET * 4 {
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }
}
