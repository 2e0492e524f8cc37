//! A channel for a single value: the reply slot of a request.
//!
//! One allocation per channel (the shared `Inner`); sending, receiving and closing are a few
//! atomic operations on one state word, with no lock.
//!
//! # State word: who owns which field
//!
//! - `RX_TASK_SET`: `rx_waker` holds the receiver's waker and the sender may read it (to wake).
//!   While clear, the receiver owns `rx_waker` and may overwrite it. Set and cleared only by the
//!   receiver.
//! - `VALUE_SENT`: the sender is done; set once, by `send` (with the value in `value`) or by
//!   dropping the sender (with `value` empty). Before it, the sender owns `value`; after it, the
//!   receiver does.
//! - `CLOSED`: the receiver closed or was dropped; set once, by the receiver. A send that finds
//!   it gets its value back.
//! - `TX_TASK_SET`: like `RX_TASK_SET`, for the sender's waker in `tx_waker` (a sender waiting
//!   in `closed()`); set and cleared only by the sender, read by the receiver when it closes.
//!
//! # Protocol
//!
//! 1. **Send.** The sender writes `value`, then sets `VALUE_SENT` with a CAS that fails if
//!    `CLOSED` is set (the value is taken back and returned). If `RX_TASK_SET` was set, it wakes
//!    the receiver's waker in place (no clone, no take).
//! 2. **Poll.** The receiver loads the word: `VALUE_SENT` means take `value` (empty: the sender
//!    was dropped); `CLOSED` means it closed itself. Otherwise it parks: if a waker is set and
//!    `will_wake` the current task, nothing to do. Else it clears `RX_TASK_SET` (if that finds
//!    `VALUE_SENT`, the sender may be reading the old waker, so leave it and take the value),
//!    stores the new waker and sets `RX_TASK_SET` again, rechecking `VALUE_SENT` (a send that
//!    ran in between saw no waker and woke nobody).
//! 3. **Close / drop the receiver.** Set `CLOSED`; wake the sender's `closed()` waker if
//!    `TX_TASK_SET`. On drop, a value already sent is taken and dropped there.
//! 4. **`closed()`** on the sender mirrors step 2 with `TX_TASK_SET`/`tx_waker`, waiting for
//!    `CLOSED`.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use crate::coop;
use crate::shim::{Arc, AtomicUsize, Ordering, UnsafeCell};

/// The receiver's waker is in `rx_waker`. See the module docs.
const RX_TASK_SET: usize = 0b0001;
/// The sender is done (`value` holds what it sent, or nothing if it was dropped).
const VALUE_SENT: usize = 0b0010;
/// The receiver closed or was dropped.
const CLOSED: usize = 0b0100;
/// The sender's `closed()` waker is in `tx_waker`.
const TX_TASK_SET: usize = 0b1000;

/// Makes a channel for one value.
///
/// ```
/// use weft_runtime::sync::oneshot;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     weft_runtime::spawn(async move {
///         let _ = tx.send(6 * 7);
///     });
///     assert_eq!(rx.await, Ok(42));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: UnsafeCell::new(None),
        tx_waker: UnsafeCell::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

/// Sends the value; made by [`channel`].
pub struct Sender<T> {
    /// `None` only once `send` has taken it.
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the value: a future that resolves to `Ok(value)`, or `Err(RecvError)` if the sender
/// was dropped without sending (or the receiver closed before anything was sent).
///
/// Cancel safety: it is `Unpin` and may be polled by reference (a `select`); dropping the
/// `&mut` future after `Pending` loses nothing, the value stays in the channel. Once it has
/// returned the value, further polls return `Err(RecvError)`.
///
/// ```
/// use weft_runtime::sync::oneshot::{self, error::TryRecvError};
///
/// let (tx, mut rx) = oneshot::channel::<&str>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// tx.send("done").unwrap();
/// assert_eq!(rx.try_recv(), Ok("done"));
/// ```
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    rx_waker: UnsafeCell<Option<Waker>>,
    tx_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cells are shared between one sender and one receiver, which may live on
// different threads; the state word hands each cell to exactly one side at a time (module
// docs), with acquire/release ordering, so `Inner` behaves like a `Mutex<Option<T>>` plus two
// wakers: it moves a `T` between threads (hence `T: Send`) and never hands out `&T` to two
// threads at once (so `T: Sync` is not needed). Wakers are `Send + Sync`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: see `Send` above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Errors of the oneshot channel.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending (or the receiver closed first).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError;

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("oneshot channel closed: the sender was dropped without sending")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing sent yet; the sender is still alive.
        Empty,
        /// Nothing will come: the sender was dropped without sending, the receiver closed, or
        /// the value was already received.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TryRecvError::Empty => "oneshot channel empty: nothing sent yet",
                TryRecvError::Closed => "oneshot channel closed: no value will come",
            })
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

impl<T> Inner<T> {
    /// Step 1: sets `VALUE_SENT` unless `CLOSED`, then wakes the receiver if it waits. Returns
    /// `false` (changing nothing) when the receiver had closed.
    fn complete(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & CLOSED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | VALUE_SENT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state & RX_TASK_SET != 0 {
            self.rx_waker.with(|waker| {
                // SAFETY: `RX_TASK_SET` was set when `VALUE_SENT` was: the receiver wrote the
                // waker before setting the flag (acquired by our CAS) and, now that `VALUE_SENT`
                // is set, never writes it again (step 2). Concurrent access is reads only.
                if let Some(waker) = unsafe { &*waker } {
                    waker.wake_by_ref();
                }
            });
        }
        true
    }

    /// Takes the value out of the cell.
    ///
    /// # Safety
    /// The caller owns `value`: it is the sender before `VALUE_SENT` is set, or the receiver
    /// after it has observed `VALUE_SENT`.
    unsafe fn take_value(&self) -> Option<T> {
        // SAFETY: the caller owns the cell (above), so no other access runs concurrently.
        self.value.with_mut(|value| unsafe { (*value).take() })
    }

    /// Step 2 / step 4: registers `waker` in `cell`, guarded by `flag`, unless `done` is set.
    /// Returns the state word that shows `done` if it became set, or `None` once parked.
    ///
    /// # Safety
    /// Only the side that owns `flag` calls this (the receiver for `RX_TASK_SET`, the sender
    /// for `TX_TASK_SET`), never two calls at once, and `cell` is the field `flag` guards.
    unsafe fn park(
        &self,
        cell: &UnsafeCell<Option<Waker>>,
        flag: usize,
        done: usize,
        waker: &Waker,
    ) -> Option<usize> {
        let mut state = self.state.load(Ordering::Acquire);
        if state & done != 0 {
            return Some(state);
        }
        if state & flag != 0 {
            // SAFETY: with `flag` set, the other side only reads the cell; so do we.
            let same = cell.with(|stored| unsafe { &*stored }.as_ref().map(|w| w.will_wake(waker)));
            if same == Some(true) {
                return None;
            }
            state = self.state.fetch_and(!flag, Ordering::AcqRel);
            if state & done != 0 {
                // The other side may be reading the old waker: leave it in place.
                return Some(state);
            }
        }
        // SAFETY: `flag` is clear and `done` was not set when we cleared it, so the other side
        // will not read the cell until we set `flag` again; we are its only user.
        cell.with_mut(|stored| unsafe { *stored = Some(waker.clone()) });
        state = self.state.fetch_or(flag, Ordering::AcqRel);
        (state & done != 0).then_some(state)
    }
}

impl<T> Sender<T> {
    /// Sends `value`, completing the receiver. Never waits.
    ///
    /// # Errors
    /// The receiver was dropped or closed: the value comes back as `Err(value)`.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else {
            return Err(value);
        };
        // SAFETY: `VALUE_SENT` is set only by this sender, which `send` consumes, so it is clear
        // and the sender owns `value`.
        inner.value.with_mut(|slot| unsafe { *slot = Some(value) });
        if inner.complete() {
            return Ok(());
        }
        // SAFETY: `complete` failed, so `VALUE_SENT` is still clear: the cell is still ours.
        match unsafe { inner.take_value() } {
            Some(value) => Err(value),
            None => unreachable!("the value written above is still in the cell"),
        }
    }

    /// `true` once the receiver was dropped or closed: a `send` would fail.
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.state.load(Ordering::Acquire) & CLOSED != 0)
    }

    /// Polls for the receiver being dropped or closed; `Ready` once it is. Keeps only the
    /// latest waker.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        // SAFETY: the sender alone uses `TX_TASK_SET`/`tx_waker`, and `&mut self` makes this the
        // only call.
        match unsafe { inner.park(&inner.tx_waker, TX_TASK_SET, CLOSED, cx.waker()) } {
            Some(_) => Poll::Ready(()),
            None => Poll::Pending,
        }
    }

    /// Waits until the receiver is dropped or closed (for example to stop computing a reply
    /// nobody wants). Cancel safe.
    ///
    /// ```
    /// use weft_runtime::sync::oneshot;
    ///
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let (mut tx, rx) = oneshot::channel::<u32>();
    ///     weft_runtime::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // Done without a value: the receiver gets `RecvError`.
            inner.complete();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] while the sender may still send; [`TryRecvError::Closed`] when
    /// no value will come (or it was already received).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let state = self.inner.state.load(Ordering::Acquire);
        if state & VALUE_SENT != 0 {
            // SAFETY: `VALUE_SENT` observed with acquire: the receiver owns the cell.
            unsafe { self.inner.take_value() }.ok_or(TryRecvError::Closed)
        } else if state & CLOSED != 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel: a later `send` fails and gives its value back. A value sent before
    /// is still received.
    pub fn close(&mut self) {
        let state = self.inner.state.fetch_or(CLOSED, Ordering::AcqRel);
        if state & TX_TASK_SET != 0 && state & VALUE_SENT == 0 {
            self.inner.tx_waker.with(|waker| {
                // SAFETY: `TX_TASK_SET` was set: the sender wrote the waker before setting it
                // (acquired by our RMW) and only reads it until it sees `CLOSED`.
                if let Some(waker) = unsafe { &*waker } {
                    waker.wake_by_ref();
                }
            });
        }
    }

    /// Waits for the value from synchronous code, with [`task::block_on`]: inside a coroutine
    /// it parks the coroutine; on a plain thread it blocks the thread.
    ///
    /// # Errors
    /// [`RecvError`] when the sender was dropped without sending.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (where `.await` is the way).
    ///
    /// ```
    /// use weft_runtime::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel();
    /// std::thread::spawn(move || tx.send("from a thread").unwrap());
    /// assert_eq!(rx.blocking_recv(), Ok("from a thread"));
    /// ```
    ///
    /// [`task::block_on`]: crate::task::block_on
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        crate::task::block_on(self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        ready!(coop::poll_proceed(cx));
        let inner = &self.inner;
        // SAFETY: the receiver alone uses `RX_TASK_SET`/`rx_waker`, and `Pin<&mut Self>` makes
        // this the only call.
        match unsafe {
            inner.park(
                &inner.rx_waker,
                RX_TASK_SET,
                VALUE_SENT | CLOSED,
                cx.waker(),
            )
        } {
            None => Poll::Pending,
            Some(state) if state & VALUE_SENT != 0 => {
                // SAFETY: `VALUE_SENT` observed with acquire: the receiver owns the cell.
                Poll::Ready(unsafe { inner.take_value() }.ok_or(RecvError))
            }
            Some(_) => Poll::Ready(Err(RecvError)),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        if self.inner.state.load(Ordering::Acquire) & VALUE_SENT != 0 {
            // SAFETY: `VALUE_SENT` observed with acquire: the receiver owns the cell. A value
            // sent before the close is dropped here, with the receiver.
            drop(unsafe { self.inner.take_value() });
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.load(Ordering::Acquire);
        f.debug_struct("oneshot::Receiver")
            .field("sent", &(state & VALUE_SENT != 0))
            .field("closed", &(state & CLOSED != 0))
            .finish()
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`).
/// Values are `loom::sync::Arc`s, so loom reports one that is leaked, and the strong count
/// shows one dropped twice or kept alive.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_util::{block_on, poll_once, TestWaker};
    use loom::sync::Arc as LoomArc;

    /// A send racing a poll and the receiver's drop: the value ends up received, handed back to
    /// the sender, or dropped with the receiver — exactly one of them.
    #[test]
    fn loom_send_vs_receiver_drop_vs_poll_loses_nothing() {
        loom::model(|| {
            let value = LoomArc::new(());
            let (tx, mut rx) = channel();
            let sender = {
                let value = value.clone();
                loom::thread::spawn(move || tx.send(value).is_ok())
            };
            let waker = TestWaker::new();
            let received = match poll_once(Pin::new(&mut rx), &waker) {
                Poll::Ready(Ok(v)) => Some(v),
                Poll::Ready(Err(RecvError)) => panic!("the sender sends"),
                Poll::Pending => None,
            };
            drop(rx);
            let sent = sender.join().unwrap();
            assert!(
                sent || received.is_none(),
                "received a value the sender got back"
            );
            drop(received);
            assert_eq!(LoomArc::strong_count(&value), 1, "the value leaked");
        });
    }

    /// A parked receiver is woken by the send (a lost wake-up deadlocks the model).
    #[test]
    fn loom_a_send_wakes_the_parked_receiver() {
        loom::model(|| {
            let (tx, rx) = channel();
            let sender = loom::thread::spawn(move || tx.send(7).unwrap());
            assert_eq!(block_on(rx), Ok(7));
            sender.join().unwrap();
        });
    }

    /// The receiver changes its waker while the value is being sent: the new waker is woken
    /// (or the second poll finds the value).
    #[test]
    fn loom_a_new_waker_racing_a_send_is_woken() {
        loom::model(|| {
            let (tx, mut rx) = channel();
            let (first, second) = (TestWaker::new(), TestWaker::new());
            assert!(poll_once(Pin::new(&mut rx), &first).is_pending());
            let sender = loom::thread::spawn(move || tx.send(7).unwrap());
            let ready = poll_once(Pin::new(&mut rx), &second).is_ready();
            sender.join().unwrap();
            assert!(ready || second.take_woken(), "the receiver was left asleep");
        });
    }

    /// Dropping the sender without sending wakes the receiver with an error; dropping the
    /// receiver wakes a sender waiting in `closed()`.
    #[test]
    fn loom_dropping_either_side_wakes_the_other() {
        loom::model(|| {
            let (tx, rx) = channel::<u8>();
            let dropper = loom::thread::spawn(move || drop(tx));
            assert_eq!(block_on(rx), Err(RecvError));
            dropper.join().unwrap();
        });
        loom::model(|| {
            let (mut tx, rx) = channel::<u8>();
            let dropper = loom::thread::spawn(move || drop(rx));
            block_on(tx.closed());
            assert!(tx.is_closed());
            dropper.join().unwrap();
        });
    }
}
