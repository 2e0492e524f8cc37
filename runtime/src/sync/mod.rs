//! Channels and synchronisation for tasks and coroutines: [`oneshot`], [`mpsc`], [`Notify`],
//! an async [`Mutex`] and a [`WaitGroup`].
//!
//! Every primitive is `Send` and `Sync` where its contents allow, and correct when its wakers
//! run on any thread. Async code awaits; synchronous code (a coroutine, a plain thread) uses the
//! `blocking_*` methods, which go through [`task::block_on`](crate::task::block_on): they park a
//! coroutine, block a plain thread, and panic on an event-loop thread outside a coroutine.
//!
//! For a `select` driven by hand, every wait is a poll method or an `Unpin` future whose
//! documentation states its cancel safety: dropping it after `Pending` loses nothing unless
//! said otherwise (`mpsc::Sender::send` drops its value; `reserve` is the cancel-safe way).
//!
//! ```
//! use weft_runtime::sync::{mpsc, oneshot};
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     // a worker that answers requests over a reply channel
//!     let (requests, mut inbox) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(16);
//!     weft_runtime::spawn(async move {
//!         while let Some((n, reply)) = inbox.recv().await {
//!             let _ = reply.send(n * 2);
//!         }
//!     });
//!     let (reply, answer) = oneshot::channel();
//!     requests.send((21, reply)).await.unwrap();
//!     assert_eq!(answer.await, Ok(42));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

#[cfg(all(test, loom))]
pub(crate) mod loom_util;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod wait_group;
mod wait_list;

pub use mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use wait_group::WaitGroup;

/// Send/Sync facts: every handle may move to, and be shared with, other threads (wakers run
/// anywhere, and the multi-thread scheduler moves tasks), given contents that allow it.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<oneshot::Sender<Vec<u8>>>();
    send_sync::<oneshot::Receiver<Vec<u8>>>();
    send_sync::<mpsc::Sender<Vec<u8>>>();
    send_sync::<mpsc::UnboundedSender<Vec<u8>>>();
    send_sync::<mpsc::Receiver<Vec<u8>>>();
    send_sync::<mpsc::Reserve<'static, Vec<u8>>>();
    send_sync::<mpsc::Permit<'static, Vec<u8>>>();
    send_sync::<Notify>();
    send_sync::<Notified<'static>>();
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<Lock<'static, Vec<u8>>>();
    send_sync::<MutexGuard<'static, Vec<u8>>>();
    send_sync::<WaitGroup>();
};
