//! The unbounded flavour: [`unbounded_channel`] and [`UnboundedSender`].

use std::fmt;

use super::chan::Chan;
use super::error::{SendError, TrySendError};
use super::Receiver;
use crate::shim::Arc;

/// Makes a channel whose senders never wait: the buffer grows as needed (so a receiver that
/// falls behind costs memory; prefer [`channel`](super::channel) where back-pressure matters).
///
/// ```
/// use weft_runtime::sync::mpsc;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..1000 {
///         tx.send(i).unwrap(); // never waits
///     }
///     drop(tx);
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await {
///         sum += i;
///     }
///     assert_eq!(sum, 499_500);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(usize::MAX));
    (UnboundedSender { chan: chan.clone() }, Receiver::new(chan))
}

/// Sends values into an unbounded channel; cloning makes another sender of the same channel.
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Queues `value`. Never waits, so it is usable from any code, sync or async.
    ///
    /// # Errors
    /// The receiver was dropped or closed; the value comes back in the error.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        // With `usize::MAX` slots, `Full` cannot happen before memory runs out.
        self.chan
            .try_send(value)
            .map_err(|e| SendError(TrySendError::into_inner(e)))
    }

    /// `true` once the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Waits until the receiver is dropped or closed. Cancel safe.
    pub async fn closed(&self) {
        self.chan.closed().await
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("mpsc::UnboundedSender")
            .field(&self.chan)
            .finish()
    }
}
