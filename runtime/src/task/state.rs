//! The task state word: flags and the reference count in one `AtomicUsize`, so every transition
//! that also moves a reference is a single atomic operation.
//!
//! Who owns what:
//! - the **run queue** owns one reference while `SCHEDULED` is set (a `Notified`);
//! - the **owned-tasks list** owns one reference until the task completes or the runtime shuts
//!   down, which is what guarantees a live future is always dropped by its runtime (the one
//!   exception: a task whose worker `Runtime::shutdown_timeout` left behind inside a poll keeps
//!   its future until its last reference goes);
//! - the **`JoinHandle`** owns one reference while `JOIN_INTEREST` is set;
//! - every **`Waker`** owns one reference.
//!
//! The future (or output) is touched only by whoever set `RUNNING`, or, once `COMPLETE` is set,
//! by the `JoinHandle` (to take or drop the output) or by the runner if `JOIN_INTEREST` was
//! already gone.

use crate::shim::{AtomicUsize, Ordering};

/// A `Notified` reference for this task sits in a run queue. Set by a wake of an idle task;
/// cleared when the queue entry starts running.
pub(crate) const SCHEDULED: usize = 1 << 0;
/// A thread is polling the future (or dropping it). Set when a queue entry starts running (or by
/// shutdown); cleared when the poll returns.
pub(crate) const RUNNING: usize = 1 << 1;
/// The future is gone; the output (or error) waits for the `JoinHandle`. Never cleared.
pub(crate) const COMPLETE: usize = 1 << 2;
/// Woken while `RUNNING`: the runner re-queues the task instead of parking it.
pub(crate) const NOTIFIED: usize = 1 << 3;
/// `abort()` was called: the next run drops the future instead of polling it. Never cleared.
pub(crate) const CANCELLED: usize = 1 << 4;
/// The `JoinHandle` is alive and wants the output. Cleared when it is dropped.
pub(crate) const JOIN_INTEREST: usize = 1 << 5;
/// One reference; the count lives above the flags.
pub(crate) const REF_ONE: usize = 1 << 6;
const FLAGS: usize = REF_ONE - 1;

/// The state word.
#[derive(Debug)]
pub(crate) struct State(AtomicUsize);

/// What the caller must do after a wake.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WakeAction {
    /// Nothing (already queued, running, or finished).
    None,
    /// Push the task to its scheduler: the caller's reference now belongs to the queue.
    Submit,
    /// That was the last reference: free the task.
    Dealloc,
}

/// What the runner must do after a `Pending` poll.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdleAction {
    /// Parked; the queue's reference was released.
    Parked,
    /// Parked and that was the last reference.
    Dealloc,
    /// Woken during the poll: push it again (the queue's reference is reused).
    Reschedule,
}

/// Whether a queue entry may run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RunAction {
    /// Poll the future.
    Poll,
    /// Drop the future: the task was aborted.
    Cancel,
    /// The task already completed (shut down while queued): just release the reference.
    Skip,
}

impl State {
    /// A new task: queued, with a `JoinHandle`, referenced by queue, list and handle.
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(SCHEDULED | JOIN_INTEREST | (3 * REF_ONE)))
    }

    pub(crate) fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (next, result) = f(cur);
            let Some(next) = next else { return result };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return result,
                Err(actual) => cur = actual,
            }
        }
    }

    pub(crate) fn transition_to_running(&self) -> RunAction {
        self.update(|cur| {
            debug_assert!(cur & SCHEDULED != 0, "running a task that is not queued");
            if cur & COMPLETE != 0 || cur & RUNNING != 0 {
                return (Some(cur & !SCHEDULED), RunAction::Skip);
            }
            let next = (cur & !SCHEDULED) | RUNNING;
            let action = if cur & CANCELLED != 0 {
                RunAction::Cancel
            } else {
                RunAction::Poll
            };
            (Some(next), action)
        })
    }

    pub(crate) fn transition_to_idle(&self) -> IdleAction {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0);
            if cur & NOTIFIED != 0 {
                let next = (cur & !(RUNNING | NOTIFIED)) | SCHEDULED;
                return (Some(next), IdleAction::Reschedule);
            }
            let next = (cur & !RUNNING) - REF_ONE;
            let action = if next & !FLAGS == 0 {
                IdleAction::Dealloc
            } else {
                IdleAction::Parked
            };
            (Some(next), action)
        })
    }

    /// `COMPLETE` is set (it never clears, so a stale `false` is the only race).
    pub(crate) fn is_complete(&self) -> bool {
        self.0.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Sets `COMPLETE`, clears `RUNNING`; returns the previous word.
    pub(crate) fn transition_to_complete(&self) -> usize {
        self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel)
    }

    /// A wake that consumes the caller's reference.
    pub(crate) fn wake_by_val(&self) -> WakeAction {
        self.update(|cur| {
            if cur & RUNNING != 0 {
                (Some((cur | NOTIFIED) - REF_ONE), WakeAction::None)
            } else if cur & (COMPLETE | SCHEDULED) != 0 {
                let next = cur - REF_ONE;
                let action = if next & !FLAGS == 0 {
                    WakeAction::Dealloc
                } else {
                    WakeAction::None
                };
                (Some(next), action)
            } else {
                (Some(cur | SCHEDULED), WakeAction::Submit)
            }
        })
    }

    /// A wake that keeps the caller's reference (a new one is made for the queue).
    pub(crate) fn wake_by_ref(&self) -> WakeAction {
        self.update(|cur| {
            if cur & RUNNING != 0 {
                if cur & NOTIFIED != 0 {
                    return (None, WakeAction::None);
                }
                (Some(cur | NOTIFIED), WakeAction::None)
            } else if cur & (COMPLETE | SCHEDULED) != 0 {
                (None, WakeAction::None)
            } else {
                (Some((cur | SCHEDULED) + REF_ONE), WakeAction::Submit)
            }
        })
    }

    /// `abort()`: mark cancelled and make sure the task runs once more to drop its future.
    pub(crate) fn transition_to_cancelled(&self) -> WakeAction {
        self.update(|cur| {
            if cur & (COMPLETE | CANCELLED) != 0 {
                (None, WakeAction::None)
            } else if cur & RUNNING != 0 {
                (Some(cur | CANCELLED | NOTIFIED), WakeAction::None)
            } else if cur & SCHEDULED != 0 {
                (Some(cur | CANCELLED), WakeAction::None)
            } else {
                (
                    Some((cur | CANCELLED | SCHEDULED) + REF_ONE),
                    WakeAction::Submit,
                )
            }
        })
    }

    /// Runtime shutdown: take the right to drop the future, unless someone is polling it or it
    /// is already gone.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|cur| {
            if cur & (RUNNING | COMPLETE) != 0 {
                (None, false)
            } else {
                (Some(cur | RUNNING | CANCELLED), true)
            }
        })
    }

    /// Clears `JOIN_INTEREST`; returns the previous word.
    pub(crate) fn drop_join_interest(&self) -> usize {
        self.0.fetch_and(!JOIN_INTEREST, Ordering::AcqRel)
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops a reference; `true` when it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.0.fetch_sub(REF_ONE, Ordering::AcqRel);
        debug_assert!(prev >= REF_ONE, "task reference count underflow");
        prev & !FLAGS == REF_ONE
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_wake_during_a_poll_reschedules_instead_of_parking() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), RunAction::Poll);
        s.ref_inc(); // a waker
        assert_eq!(s.wake_by_val(), WakeAction::None);
        assert_eq!(s.transition_to_idle(), IdleAction::Reschedule);
        assert_eq!(s.transition_to_running(), RunAction::Poll);
        assert_eq!(s.transition_to_idle(), IdleAction::Parked);
    }

    #[test]
    fn abort_of_an_idle_task_queues_it_for_cancellation() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), RunAction::Poll);
        assert_eq!(s.transition_to_idle(), IdleAction::Parked);
        assert_eq!(s.transition_to_cancelled(), WakeAction::Submit);
        assert_eq!(s.transition_to_cancelled(), WakeAction::None);
        assert_eq!(s.transition_to_running(), RunAction::Cancel);
    }

    #[test]
    fn the_last_reference_deallocates() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), RunAction::Poll);
        s.transition_to_complete();
        s.drop_join_interest();
        assert!(!s.ref_dec()); // join handle
        assert!(!s.ref_dec()); // owned list
        assert!(s.ref_dec()); // the queue's
    }
}
