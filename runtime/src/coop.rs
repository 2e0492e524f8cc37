//! Cooperative budget: a task that always finds its sockets ready must still yield.
//!
//! Each task poll starts with [`BUDGET`] units. Every weft I/O or timer operation that completes
//! spends one; when none are left, the operation wakes its task and returns `Pending`, so the
//! task goes to the back of the run queue and the others (and the reactor) get a turn. An
//! operation that returns `Pending` on its own refunds its unit. Code outside a runtime task runs
//! unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may complete per poll before it is made to yield.
pub(crate) const BUDGET: u16 = 128;
const UNCONSTRAINED: u16 = u16::MAX;

thread_local! {
    static REMAINING: Cell<u16> = const { Cell::new(UNCONSTRAINED) };
}

/// Runs `f` (one task poll) with a fresh budget.
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u16);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REMAINING.with(|r| r.replace(BUDGET)));
    f()
}

/// Spends one unit, or wakes the task and returns `Pending` when the budget is spent. Call
/// [`Spent::made_progress`] when the operation completes; otherwise the unit is refunded.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<Spent> {
    REMAINING.with(|r| match r.get() {
        UNCONSTRAINED => Poll::Ready(Spent { refund: false }),
        0 => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        n => {
            r.set(n - 1);
            Poll::Ready(Spent { refund: true })
        }
    })
}

/// One spent unit of budget; refunded on drop unless the operation made progress.
#[derive(Debug)]
pub(crate) struct Spent {
    refund: bool,
}

impl Spent {
    /// The operation completed: keep the unit spent.
    #[inline]
    pub(crate) fn made_progress(mut self) {
        self.refund = false;
    }
}

impl Drop for Spent {
    #[inline]
    fn drop(&mut self) {
        if self.refund {
            REMAINING.with(|r| r.set(r.get().saturating_add(1).min(BUDGET)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_spent_budget_forces_a_yield_and_pending_refunds() {
        let mut cx = Context::from_waker(Waker::noop());
        with_budget(|| {
            for _ in 0..BUDGET {
                match poll_proceed(&mut cx) {
                    Poll::Ready(spent) => spent.made_progress(),
                    Poll::Pending => panic!("budget ran out early"),
                }
            }
            assert!(poll_proceed(&mut cx).is_pending());
        });
        with_budget(|| {
            for _ in 0..BUDGET * 2 {
                let Poll::Ready(spent) = poll_proceed(&mut cx) else {
                    panic!("a refunded unit was lost")
                };
                drop(spent); // the operation returned Pending
            }
        });
        // Outside a task: unconstrained.
        for _ in 0..BUDGET * 2 {
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }
}
