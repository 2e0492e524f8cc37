//! [`Notify`]: wake one waiting task, or all of them, with no data attached.
//!
//! # State (one lock)
//!
//! - `permit`: a `notify_one` that found nobody waiting. At most one is stored; the next
//!   `notified()` to be polled consumes it and completes at once.
//! - `waiters`: parked [`Notified`] futures, oldest first ([`WaitList`]). Each is marked, when
//!   woken, with how: [`Wake::One`] (it was chosen by `notify_one`) or [`Wake::All`].
//! - `calls`: how many times `notify_waiters` ran. It is written under the lock and read
//!   without it when a [`Notified`] is created, so that `notify_waiters` completes futures
//!   created before it even if they had not been polled yet.
//!
//! # Protocol
//!
//! 1. **`notified()`** snapshots `calls`.
//! 2. **First poll.** Under the lock: if `calls` moved since the snapshot, ready. Else if a
//!    permit is stored, consume it, ready. Else park (push a waiter), pending.
//! 3. **Later polls.** Under the lock: ready if the waiter was woken, else refresh its waker.
//! 4. **`notify_one`.** Under the lock, wake the oldest waiter (mark `One`); with none, store
//!    the permit. The waker runs after the lock is released.
//! 5. **`notify_waiters`.** Under the lock, bump `calls` and wake every parked waiter (mark
//!    `All`); the permit is left alone.
//! 6. **Drop.** A parked `Notified` leaves the queue. If it had been chosen by `notify_one` but
//!    had not completed, the notification is passed on (to the next waiter, or stored as the
//!    permit): dropping a future after `Pending` loses nothing.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_list::WaitList;
use crate::shim::{lock, AtomicUsize, Mutex, Ordering};

/// Wakes tasks waiting for an event that carries no data; the building block under
/// `WaitGroup` and `Sender::closed`.
///
/// [`notify_one`](Notify::notify_one) wakes the oldest waiter, or, when none waits, stores a
/// single permit that the next [`notified`](Notify::notified) future consumes (so a notification
/// sent just before the waiter parks is not lost). [`notify_waiters`](Notify::notify_waiters)
/// wakes everyone waiting now and stores nothing. The semantics follow tokio's `Notify`.
///
/// ```
/// use std::sync::Arc;
/// use weft_runtime::sync::Notify;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let notify = Arc::new(Notify::new());
///     let waiter = {
///         let notify = notify.clone();
///         weft_runtime::spawn(async move {
///             notify.notified().await;
///             "woken"
///         })
///     };
///     notify.notify_one(); // stored as a permit if the waiter has not parked yet
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Notify {
    state: Mutex<State>,
    calls: AtomicUsize,
}

struct State {
    permit: bool,
    waiters: WaitList<Wake>,
}

/// How a parked [`Notified`] was woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Chosen by `notify_one`: it owns that notification and passes it on if dropped.
    One,
    /// Woken by `notify_waiters`.
    All,
}

impl Notify {
    /// A `Notify` with no permit stored and nobody waiting.
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaitList::new(),
            }),
            calls: AtomicUsize::new(0),
        }
    }

    /// A future that completes on the next notification (see [`Notified`]).
    ///
    /// It takes part in [`notify_waiters`](Notify::notify_waiters) from the moment it is
    /// created, and consumes a stored permit when first polled.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            calls: self.calls.load(Ordering::SeqCst),
            key: None,
            done: false,
        }
    }

    /// Wakes the oldest waiting [`Notified`] (FIFO), or stores one permit when nobody waits.
    /// Permits do not add up: two calls with nobody waiting store one.
    pub fn notify_one(&self) {
        let mut state = lock(&self.state);
        let waker = state.waiters.wake_front(Wake::One);
        if waker.is_none() {
            state.permit = true;
        }
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every [`Notified`] that exists now (parked or created but not yet polled); stores
    /// no permit, so futures created afterwards wait for the next notification.
    pub fn notify_waiters(&self) {
        let mut state = lock(&self.state);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let wakers = state.waiters.wake_all(|| Wake::All);
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiting", &!state.waiters.is_empty())
            .finish()
    }
}

/// The future returned by [`Notify::notified`].
///
/// Cancel safety: dropping it after `Pending` loses nothing. If `notify_one` had already chosen
/// it, the notification goes to the next waiter (or becomes the stored permit). It is `Unpin`,
/// so a `select` can poll it by reference.
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `calls` when this future was created (step 1).
    calls: usize,
    /// The parked waiter's key, while parked.
    key: Option<usize>,
    /// Completed: later polls return `Ready` at once.
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let mut state = lock(&this.notify.state);
        match this.key {
            None => {
                if this.notify.calls.load(Ordering::SeqCst) != this.calls {
                    this.done = true;
                } else if state.permit {
                    state.permit = false;
                    this.done = true;
                } else {
                    this.key = Some(state.waiters.push_back(cx.waker()));
                }
            }
            Some(key) => {
                if state.waiters.poll(key, cx.waker()).is_some() {
                    this.key = None;
                    this.done = true;
                }
            }
        }
        if this.done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut state = lock(&self.notify.state);
        let mut waker = None;
        if state.waiters.remove(key) == Some(Wake::One) {
            // Chosen by `notify_one` but never completed: pass the notification on (step 6).
            waker = state.waiters.wake_front(Wake::One);
            if waker.is_none() {
                state.permit = true;
            }
        }
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("parked", &self.key.is_some())
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::pin::pin;

    fn poll(fut: Pin<&mut Notified<'_>>, waker: &Waker) -> Poll<()> {
        fut.poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn one_permit_is_stored_and_consumed_once() {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one();
        assert!(poll(pin!(notify.notified()), Waker::noop()).is_ready());
        assert!(
            poll(pin!(notify.notified()), Waker::noop()).is_pending(),
            "permits added up"
        );
    }

    #[test]
    fn notify_waiters_completes_futures_created_before_it_and_stores_nothing() {
        let notify = Notify::new();
        let mut early = pin!(notify.notified());
        notify.notify_waiters();
        assert!(poll(early.as_mut(), Waker::noop()).is_ready());
        assert!(poll(pin!(notify.notified()), Waker::noop()).is_pending());
    }

    #[test]
    fn a_dropped_chosen_waiter_passes_its_notification_on() {
        let notify = Notify::new();
        let mut first = Box::pin(notify.notified());
        let mut second = pin!(notify.notified());
        assert!(poll(first.as_mut(), Waker::noop()).is_pending());
        assert!(poll(second.as_mut(), Waker::noop()).is_pending());
        notify.notify_one();
        drop(first);
        assert!(poll(second.as_mut(), Waker::noop()).is_ready());
        assert!(
            poll(pin!(notify.notified()), Waker::noop()).is_pending(),
            "a permit was made as well"
        );
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_util::{block_on, poll_once, TestWaker};
    use loom::sync::Arc;

    /// `notify_one` racing a waiter that creates, polls and parks: the waiter either finds the
    /// permit or is woken; a lost notification deadlocks the model.
    #[test]
    fn loom_notify_one_racing_notified_is_never_lost() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let notifier = {
                let notify = notify.clone();
                loom::thread::spawn(move || notify.notify_one())
            };
            block_on(notify.notified());
            notifier.join().unwrap();
        });
    }

    /// A waiter chosen by `notify_one` is dropped (cancelled) while a second one waits: the
    /// notification must reach the second one or be stored.
    #[test]
    fn loom_a_cancelled_waiter_passes_the_notification_on() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let waker = TestWaker::new();
            let mut first = Box::pin(notify.notified());
            assert!(poll_once(first.as_mut(), &waker).is_pending());
            let notifier = {
                let notify = notify.clone();
                loom::thread::spawn(move || notify.notify_one())
            };
            let second = {
                let notify = notify.clone();
                loom::thread::spawn(move || block_on(notify.notified()))
            };
            drop(first);
            notifier.join().unwrap();
            second.join().unwrap();
        });
    }
}
