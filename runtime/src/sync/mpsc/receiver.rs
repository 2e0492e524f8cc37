//! The receiving half, the same type for both flavours.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::chan::Chan;
use super::error::TryRecvError;
use crate::shim::Arc;

/// Receives values from a [`channel`](super::channel) or an
/// [`unbounded_channel`](super::unbounded_channel). Also a `futures_core::Stream`.
///
/// ```
/// use weft_runtime::sync::mpsc::{self, error::TryRecvError};
///
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// tx.send("a").unwrap();
/// rx.close(); // no more sends, but "a" is still delivered
/// assert!(tx.send("b").is_err());
/// assert_eq!(rx.try_recv(), Ok("a"));
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Receiver<T> {
        Receiver { chan }
    }

    /// Receives the next value; `None` once the buffer is empty and nothing more can come
    /// (every sender dropped, or the channel closed with no permit outstanding).
    ///
    /// Cancel safe: if the future is dropped before it completes, no value was taken.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value: `Ready(Some(v))`, `Ready(None)` at the end (as [`recv`]), or
    /// `Pending` with `cx`'s waker stored (only the latest poll's waker is kept). Nothing is
    /// taken on `Pending`, so a `select` may stop polling at any time.
    ///
    /// [`recv`]: Receiver::recv
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }

    /// Takes the next value if one is buffered, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is buffered but more may come;
    /// [`TryRecvError::Disconnected`] when nothing more can come.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Receives from synchronous code, with [`task::block_on`]: inside a coroutine it parks
    /// the coroutine; on a plain thread it blocks the thread.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (where `.await` is the way).
    ///
    /// ```
    /// use weft_runtime::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.blocking_send(i).unwrap();
    ///     }
    /// });
    /// assert_eq!(rx.blocking_recv(), Some(0));
    /// assert_eq!(rx.blocking_recv(), Some(1));
    /// assert_eq!(rx.blocking_recv(), Some(2));
    /// assert_eq!(rx.blocking_recv(), None);
    /// ```
    ///
    /// [`task::block_on`]: crate::task::block_on
    pub fn blocking_recv(&mut self) -> Option<T> {
        crate::task::block_on(self.recv())
    }

    /// Closes the channel: sends and reservations fail from now on (senders waiting for a slot
    /// are woken with an error), while values already buffered, and those sent through permits
    /// already held, can still be received.
    pub fn close(&mut self) {
        self.chan.close();
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_rx();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("mpsc::Receiver").field(&self.chan).finish()
    }
}
