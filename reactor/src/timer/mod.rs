//! Timers on the reactor's wheel.

pub(crate) mod wheel;

use std::task::{Context, Poll};
use std::time::Instant;

use crate::reactor::Handle;
use crate::sync::{lock, Ordering};

/// One timer: registers with the wheel at its first poll, leaves it when dropped.
#[derive(Debug)]
pub struct TimerEntry {
    handle: Handle,
    deadline: Instant,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unregistered,
    Registered(usize),
    Elapsed,
}

impl TimerEntry {
    /// A timer for `deadline` on `handle`'s wheel.
    pub fn new(handle: &Handle, deadline: Instant) -> TimerEntry {
        TimerEntry {
            handle: handle.clone(),
            deadline,
            state: State::Unregistered,
        }
    }

    /// When it fires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `true` once [`poll_elapsed`](TimerEntry::poll_elapsed) returned ready.
    pub fn is_elapsed(&self) -> bool {
        self.state == State::Elapsed
    }

    /// Moves the deadline; an elapsed timer becomes pending again.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let inner = &*self.handle.inner;
        match self.state {
            State::Registered(key) => {
                let ns = inner.ns_of(deadline);
                let mut wheel = lock(&inner.timers);
                wheel.reset(key, ns);
                inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
                inner.wake_if_parked_past(ns);
            }
            State::Elapsed | State::Unregistered => self.state = State::Unregistered,
        }
    }

    /// Ready once the deadline has passed, or once the reactor is gone (dropping it fires
    /// every timer, including one first polled afterwards).
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &*self.handle.inner;
        match self.state {
            State::Elapsed => Poll::Ready(()),
            State::Unregistered => {
                let ns = inner.ns_of(self.deadline);
                if ns <= inner.now_ns() {
                    self.state = State::Elapsed;
                    return Poll::Ready(());
                }
                let mut wheel = lock(&inner.timers);
                if wheel.is_closed() {
                    // The reactor is gone and fired every timer; nothing would fire this one.
                    self.state = State::Elapsed;
                    return Poll::Ready(());
                }
                let key = wheel.insert(ns, cx.waker().clone());
                inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
                inner.wake_if_parked_past(ns);
                self.state = State::Registered(key);
                Poll::Pending
            }
            State::Registered(key) => {
                let mut wheel = lock(&inner.timers);
                if !wheel.poll(key, cx.waker()) {
                    return Poll::Pending;
                }
                let waker = wheel.remove(key);
                inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
                drop(wheel);
                drop(waker);
                self.state = State::Elapsed;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for TimerEntry {
    fn drop(&mut self) {
        if let State::Registered(key) = self.state {
            let inner = &*self.handle.inner;
            let mut wheel = lock(&inner.timers);
            let waker = wheel.remove(key);
            inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
            drop(wheel);
            drop(waker);
        }
    }
}
