//! The resume guard: a coroutine's stack runs on one resume at a time.
//!
//! # The hand-off this crate relies on
//!
//! A coroutine parks by returning `Pending` from its task's poll after the future it waits on
//! stored the task's waker; the wake is the task's wake. So the race between "the coroutine
//! suspends" and "the waker fires" is the task's, and weft-runtime's state word settles it:
//!
//! 1. The scheduler sets `RUNNING` and polls: the poll resumes the stack ([`ParkState::enter`]).
//! 2. Inside, the coroutine polls the future it waits on; the future keeps the task's waker.
//!    If it is not ready, the coroutine suspends: the stack stops, the poll returns `Pending`
//!    ([`ParkState::leave`]).
//! 3. A wake while `RUNNING` (from this thread or another: the reactor, the blocking pool, a
//!    plain thread) only sets `NOTIFIED`; it never resumes anything itself.
//! 4. Leaving the poll clears `RUNNING`; if `NOTIFIED` was set, the task goes back on the run
//!    queue, so the wake that raced the suspend is not lost: the next poll resumes the stack,
//!    which polls the future again and finds it ready.
//! 5. Only the scheduler of the thread that owns the coroutine polls it, and never twice at
//!    once, so a wake can never resume a stack that is running.
//!
//! The event itself must reach the poll through synchronisation the poll acquires (a lock, as
//! weft's join-waker slot and blocking-pool queue use, or an atomic read-modify-write): a wake
//! that finds the task already queued writes nothing to the task word, so an event published
//! with a plain store could be read stale by that queued poll. (The first version of the model
//! below used a plain flag, and loom found exactly that.)
//!
//! `ParkState` is the coroutine's own check of step 5: resuming a stack that is already running
//! aborts instead of corrupting it. It needs no atomic: a coroutine's task is `!Send` and is
//! polled only by the loop thread that owns it, so `enter` and `leave` always run on that one
//! thread (a plain `Cell`). The only atomics of the hand-off are the task word's. The loom
//! model below runs this guard together with a faithful copy of the task word's transitions
//! (steps 1–4) against a waker on another thread.
//!
//! The check is a debug-build invariant check (kept under loom too): in a release build
//! `ParkState` is empty and `enter` always succeeds, as the task word's `RUNNING` bit is what
//! guarantees step 5, just as it guarantees every future's exclusive `poll`. (A release-build
//! poll after the coroutine returned still cannot corrupt anything: corosensei's `resume`
//! panics on a finished coroutine before switching.)

#[cfg(any(debug_assertions, loom))]
use std::cell::Cell;

/// Whether the coroutine's stack is running (resumed and not yet suspended or returned); kept
/// in debug builds and under loom (see the module docs).
#[derive(Debug)]
pub(crate) struct ParkState {
    /// Set by `enter` when a poll resumes the stack, cleared by `leave` when the stack
    /// suspends, returns or unwinds out of the resume.
    #[cfg(any(debug_assertions, loom))]
    running: Cell<bool>,
}

impl ParkState {
    pub(crate) fn new() -> ParkState {
        ParkState {
            #[cfg(any(debug_assertions, loom))]
            running: Cell::new(false),
        }
    }

    /// Claims the stack for one resume; `false` if it is already running (a bug upstream: the
    /// caller must not resume).
    #[cfg(any(debug_assertions, loom))]
    #[inline]
    pub(crate) fn enter(&self) -> bool {
        !self.running.replace(true)
    }

    /// A release build does not check (see the module docs).
    #[cfg(not(any(debug_assertions, loom)))]
    #[inline]
    pub(crate) fn enter(&self) -> bool {
        true
    }

    /// The stack stopped running (suspended, returned or unwound).
    #[cfg(any(debug_assertions, loom))]
    #[inline]
    pub(crate) fn leave(&self) {
        self.running.set(false);
    }

    /// A release build does not check (see the module docs).
    #[cfg(not(any(debug_assertions, loom)))]
    #[inline]
    pub(crate) fn leave(&self) {}
}

#[cfg(all(test, loom))]
mod tests {
    use super::ParkState;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    // The task word's bits, as weft-runtime's `task/state.rs` uses them.
    const RUNNING: usize = 1;
    const NOTIFIED: usize = 2;
    const SCHEDULED: usize = 4;

    /// A task that runs a coroutine waiting on `ready`: what the loop thread and the wakers
    /// share. The coroutine's `ParkState` is not in here: only the loop thread touches it.
    struct Model {
        word: AtomicUsize,
        /// The event the coroutine waits for, published under a lock as weft's hand-offs do
        /// (the join-waker slot, the blocking pool's queue): a completion, a message.
        ready: Mutex<bool>,
        /// The coroutine saw the event and returned.
        finished: AtomicBool,
    }

    impl Model {
        /// A wake (the reactor firing): `true` when the caller must queue the task.
        fn wake(&self) -> bool {
            let mut cur = self.word.load(Ordering::Acquire);
            loop {
                let (next, submit) = if cur & RUNNING != 0 {
                    (cur | NOTIFIED, false)
                } else if cur & SCHEDULED != 0 {
                    return false;
                } else {
                    (cur | SCHEDULED, true)
                };
                match self
                    .word
                    .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return submit,
                    Err(actual) => cur = actual,
                }
            }
        }

        /// One poll by the owning thread's scheduler; `true` when it must run again.
        fn run(&self, park: &ParkState) -> bool {
            let prev = self.word.fetch_xor(RUNNING | SCHEDULED, Ordering::AcqRel);
            assert_eq!(
                prev & (RUNNING | SCHEDULED),
                SCHEDULED,
                "polled while not queued"
            );
            assert!(park.enter(), "a wake resumed a running stack");
            // The coroutine polls its future (registering the waker), then suspends or returns.
            let done = *self.ready.lock().unwrap();
            if done {
                self.finished.store(true, Ordering::Release);
            }
            park.leave();
            if done {
                return false;
            }
            // Pending: clear RUNNING; a NOTIFIED that came meanwhile queues the task again.
            let mut cur = self.word.load(Ordering::Acquire);
            loop {
                let (next, again) = if cur & NOTIFIED != 0 {
                    ((cur & !(RUNNING | NOTIFIED)) | SCHEDULED, true)
                } else {
                    (cur & !RUNNING, false)
                };
                match self
                    .word
                    .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return again,
                    Err(actual) => cur = actual,
                }
            }
        }
    }

    #[test]
    fn loom_a_wake_racing_the_suspend_is_never_lost() {
        loom::model(|| {
            let model = Arc::new(Model {
                word: AtomicUsize::new(SCHEDULED),
                ready: Mutex::new(false),
                finished: AtomicBool::new(false),
            });
            // The reactor on another thread: the event happens, then the wake.
            let waker = {
                let model = model.clone();
                thread::spawn(move || {
                    *model.ready.lock().unwrap() = true;
                    model.wake()
                })
            };
            // The loop thread: poll while the task is queued.
            let park = ParkState::new();
            let mut queued = true;
            while queued {
                queued = model.run(&park);
            }
            // The waker's queue entry, if it made one, runs on the loop thread too.
            if waker.join().unwrap() {
                while model.run(&park) {}
            }
            assert!(
                model.finished.load(Ordering::Acquire),
                "the wake was lost: word {:#x}",
                model.word.load(Ordering::SeqCst)
            );
        });
    }

    #[test]
    fn loom_two_wakers_never_resume_a_running_stack() {
        loom::model(|| {
            let model = Arc::new(Model {
                word: AtomicUsize::new(SCHEDULED),
                ready: Mutex::new(false),
                finished: AtomicBool::new(false),
            });
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let model = model.clone();
                    thread::spawn(move || {
                        *model.ready.lock().unwrap() = true;
                        model.wake()
                    })
                })
                .collect();
            let park = ParkState::new();
            while model.run(&park) {}
            for waker in wakers {
                if waker.join().unwrap() {
                    while model.run(&park) {}
                }
            }
            assert!(
                model.finished.load(Ordering::Acquire),
                "the wake was lost: word {:#x}",
                model.word.load(Ordering::SeqCst)
            );
        });
    }
}
