//! The bounded flavour: [`channel`], [`Sender`], [`Reserve`] and [`Permit`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::chan::Chan;
use super::error::{SendError, TrySendError};
use super::Receiver;
use crate::coop;
use crate::shim::Arc;

/// Makes a channel that buffers up to `capacity` values; senders wait (FIFO) while it is full.
///
/// # Panics
/// When `capacity` is 0: a bounded channel needs at least one slot (a rendezvous channel is not
/// offered; use capacity 1, or a [`oneshot`](crate::sync::oneshot) per hand-off).
///
/// ```
/// use weft_runtime::sync::mpsc;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     tx.send(1).await.unwrap();
///     assert!(tx.try_send(2).is_err(), "full");
///     assert_eq!(rx.recv().await, Some(1));
///     tx.try_send(2).unwrap();
///     assert_eq!(rx.recv().await, Some(2));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "weft::sync::mpsc::channel: capacity must be at least 1 (got 0)"
    );
    assert!(
        capacity < usize::MAX,
        "weft::sync::mpsc::channel: capacity usize::MAX is reserved; use unbounded_channel"
    );
    let chan = Arc::new(Chan::new(capacity));
    (
        Sender {
            chan: chan.clone(),
            capacity,
        },
        Receiver::new(chan),
    )
}

/// Sends values into a bounded channel; cloning makes another sender of the same channel.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    capacity: usize,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for a free slot while the channel is full.
    ///
    /// # Errors
    /// The receiver was dropped or closed; the value comes back in the error.
    ///
    /// # Cancel safety
    /// Not cancel safe for the value: if the future is dropped while waiting for a slot, the
    /// value (held by the future) is dropped with it and was not sent, and the sender's place
    /// in the queue is given up (a slot handed to it passes on to the next sender). To keep the
    /// value, `select` on [`reserve`](Sender::reserve) and send through the permit.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        poll_fn(coop::poll_proceed).await;
        let value = match self.chan.try_send(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(value)) => return Err(SendError(value)),
            Err(TrySendError::Full(value)) => value,
        };
        match self.reserve().await {
            Ok(permit) => {
                permit.send(value);
                Ok(())
            }
            Err(SendError(())) => Err(SendError(value)),
        }
    }

    /// Sends `value` if a slot is free now (and no earlier sender is waiting for one).
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Waits for a free slot and holds it as a [`Permit`], so a later send cannot fail or wait.
    ///
    /// # Errors
    /// The receiver was dropped or closed.
    ///
    /// # Cancel safety
    /// Cancel safe: the [`Reserve`] future is `Unpin`; dropping it after `Pending` gives up its
    /// place in the queue, and a slot that had just been handed to it passes on to the next
    /// waiting sender (or back to the channel). Nothing is lost.
    ///
    /// ```
    /// use weft_runtime::sync::mpsc;
    ///
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     let permit = tx.reserve().await.unwrap();
    ///     assert!(tx.try_send("other").is_err(), "the only slot is reserved");
    ///     permit.send("reserved");
    ///     assert_eq!(rx.recv().await, Some("reserved"));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve {
            chan: &self.chan,
            key: None,
        }
    }

    /// Sends from synchronous code, with [`task::block_on`]: inside a coroutine it parks the
    /// coroutine while the channel is full; on a plain thread it blocks the thread.
    ///
    /// # Errors
    /// The receiver was dropped or closed; the value comes back in the error.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (where `.await` is the way).
    ///
    /// [`task::block_on`]: crate::task::block_on
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::task::block_on(self.send(value))
    }

    /// `true` once the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Waits until the receiver is dropped or closed. Cancel safe.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// The channel's capacity, as given to [`channel`].
    pub fn max_capacity(&self) -> usize {
        self.capacity
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("mpsc::Sender").field(&self.chan).finish()
    }
}

/// The future returned by [`Sender::reserve`]: resolves to a [`Permit`] once a slot is free
/// and every earlier waiting sender has been served. Cancel safe (see [`Sender::reserve`]).
#[must_use = "futures do nothing unless polled"]
pub struct Reserve<'a, T> {
    chan: &'a Chan<T>,
    /// Our place in the queue of waiting senders, while waiting.
    key: Option<usize>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.chan
            .poll_reserve(&mut this.key, cx)
            .map_ok(|()| Permit { chan: this.chan })
    }
}

impl<T> Drop for Reserve<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.chan.cancel_reserve(key);
        }
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Reserve")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

/// One reserved slot of a bounded channel: [`send`](Permit::send) cannot fail or wait.
/// Dropping the permit unused gives the slot back.
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` in the reserved slot. If the receiver has been dropped meanwhile, the
    /// value is dropped (as it would have been with the receiver's buffer); after a mere
    /// `close`, it is still delivered.
    pub fn send(self, value: T) {
        let chan = self.chan;
        // The slot now belongs to the value: `Drop` must not give it back as well.
        std::mem::forget(self);
        chan.send_reserved(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("mpsc::Permit").field(&self.chan).finish()
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`).
/// Waits use the models' `block_on`, so a lost wake-up deadlocks the model.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_util::{block_on, poll_once, TestWaker};
    use crate::sync::mpsc::error::TryRecvError;

    /// Two senders on a channel of capacity 1: both values arrive, then the end.
    #[test]
    fn loom_two_senders_capacity_one_deliver_both_then_end() {
        loom::model(|| {
            let (tx1, mut rx) = channel(1);
            let tx2 = tx1.clone();
            let a = loom::thread::spawn(move || block_on(tx1.send(1)).unwrap());
            let b = loom::thread::spawn(move || block_on(tx2.send(2)).unwrap());
            let x = block_on(rx.recv()).unwrap();
            let y = block_on(rx.recv()).unwrap();
            assert_eq!(x + y, 3, "got {x} and {y}");
            assert_eq!(block_on(rx.recv()), None);
            a.join().unwrap();
            b.join().unwrap();
        });
    }

    /// Two senders, capacity 1, and the receiver closes after one value, when the other
    /// sender may hold the freed slot without having sent yet: `recv` must wait for that
    /// value rather than report the end; every value is received or returned, exactly once.
    #[test]
    fn loom_close_with_two_senders_capacity_one_loses_nothing() {
        loom::model(|| {
            let (tx1, mut rx) = channel(1);
            let tx2 = tx1.clone();
            let a = loom::thread::spawn(move || block_on(tx1.send(1)).err().map(|e| e.0));
            let b = loom::thread::spawn(move || block_on(tx2.send(2)).err().map(|e| e.0));
            let mut seen = vec![block_on(rx.recv()).unwrap()];
            rx.close();
            while let Some(v) = block_on(rx.recv()) {
                seen.push(v);
            }
            seen.extend(a.join().unwrap());
            seen.extend(b.join().unwrap());
            seen.sort();
            assert_eq!(seen, [1, 2], "a value was lost or duplicated");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        });
    }

    /// A sender waits behind a held permit when the receiver closes: the close must wake it
    /// with its value back (nothing else would), and the permit still delivers afterwards.
    #[test]
    fn loom_close_wakes_a_sender_blocked_behind_a_permit() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            let holder = tx.clone();
            let permit = block_on(holder.reserve()).unwrap();
            let sender = loom::thread::spawn(move || block_on(tx.send(2)).err().map(|e| e.0));
            rx.close();
            assert_eq!(sender.join().unwrap(), Some(2));
            permit.send(1);
            assert_eq!(block_on(rx.recv()), Some(1));
            assert_eq!(
                block_on(rx.recv()),
                None,
                "closed, drained and no permit out"
            );
        });
    }

    /// A sender blocked on a full channel is woken when the receiver takes a value.
    #[test]
    fn loom_a_full_channel_wakes_the_blocked_sender() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            tx.try_send(1).unwrap();
            let sender = loom::thread::spawn(move || block_on(tx.send(2)).unwrap());
            assert_eq!(block_on(rx.recv()), Some(1));
            assert_eq!(block_on(rx.recv()), Some(2));
            sender.join().unwrap();
        });
    }

    /// A waiting `reserve` is dropped while the receiver hands it the freed slot: the slot
    /// must come back, not vanish with the future.
    #[test]
    fn loom_a_cancelled_reserve_gives_its_slot_back() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            tx.try_send(1).unwrap();
            let waker = TestWaker::new();
            let mut reserve = tx.reserve();
            assert!(poll_once(Pin::new(&mut reserve), &waker).is_pending());
            let receiver = loom::thread::spawn(move || {
                assert_eq!(rx.try_recv(), Ok(1));
                rx
            });
            drop(reserve);
            let _rx = receiver.join().unwrap();
            assert!(tx.try_send(2).is_ok(), "the slot was lost");
        });
    }
}
