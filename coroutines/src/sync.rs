//! Channels and locks between coroutines, async tasks and threads: weft's [`mpsc`],
//! [`oneshot`], [`Mutex`], [`WaitGroup`] and [`Notify`] (the same types as `weft::sync`,
//! re-exported here), and [`Select`](crate::Select) to wait on several at once.
//!
//! One object serves both programming models. Async code `.await`s (`rx.recv().await`,
//! `mutex.lock().await`, `wg.wait().await`); coroutine code calls the `blocking_*` twin
//! (`rx.blocking_recv()`, `tx.blocking_send(v)`, `mutex.blocking_lock()`, `wg.blocking_wait()`,
//! `oneshot_rx.blocking_recv()`), which parks only the coroutine: the loop thread keeps running
//! everything else, and the waker that completes the future resumes the coroutine. On a plain
//! thread the same calls block the thread; on an event-loop thread outside a coroutine they
//! panic, because blocking there would stall the loop. Non-waiting calls (`try_recv`,
//! `try_send`, `UnboundedSender::send`, `oneshot::Sender::send`, `WaitGroup::done`,
//! `Notify::notify_one`) are the same everywhere.
//!
//! Why `blocking_recv` and not `recv` in a coroutine: `recv` is the async method on the same
//! type, and one type cannot have two methods of one name. The `blocking_` prefix also says
//! what the call does on a plain thread.
//!
//! # A coroutine and an async task on one channel, both ways
//!
//! ```
//! use weft_coroutines::sync::{mpsc, oneshot};
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let (requests, mut inbox) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(4);
//!     // the server is a coroutine: it receives and replies in blocking style
//!     let server = weft_coroutines::go(move || {
//!         while let Some((n, reply)) = inbox.blocking_recv() {
//!             let _ = reply.send(n * 10);
//!         }
//!         "requests ended"
//!     });
//!     // the client is async code: it sends and awaits the replies
//!     for n in 1..=3 {
//!         let (reply, answer) = oneshot::channel();
//!         requests.send((n, reply)).await.unwrap();
//!         assert_eq!(answer.await, Ok(n * 10));
//!     }
//!     drop(requests);
//!     assert_eq!(server.await.unwrap(), "requests ended");
//!
//!     // the other way round: a coroutine produces, async code consumes
//!     let (tx, mut rx) = mpsc::channel(1); // capacity 1: the coroutine parks while it is full
//!     weft_coroutines::go(move || {
//!         for word in ["park", "only", "the", "coroutine"] {
//!             tx.blocking_send(word).unwrap();
//!         }
//!     });
//!     let mut words = Vec::new();
//!     while let Some(word) = rx.recv().await {
//!         words.push(word);
//!     }
//!     assert_eq!(words.join(" "), "park only the coroutine");
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # A lock held across a wait, and a group to wait for
//!
//! [`Mutex`] is a task-level lock: a coroutine may hold its guard while it sleeps, reads a
//! socket or joins, and the others park (FIFO) instead of blocking the thread. A
//! `std::sync::Mutex` held across a wait would deadlock the loop thread instead.
//! [`WaitGroup`] is Go's: `add`, `done`, and a wait from coroutines, tasks or threads.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use weft_coroutines::sync::{Mutex, WaitGroup};
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let log = Arc::new(Mutex::new(Vec::new()));
//!     let wg = WaitGroup::new();
//!     for id in 0..3 {
//!         wg.add(1);
//!         let (log, wg) = (log.clone(), wg.clone());
//!         weft_coroutines::go(move || {
//!             let mut entries = log.blocking_lock();
//!             entries.push(format!("{id} in"));
//!             weft_coroutines::sleep(Duration::from_millis(2)); // still holding the guard
//!             entries.push(format!("{id} out"));
//!             drop(entries);
//!             wg.done();
//!         });
//!     }
//!     // a coroutine waits for the group, and so does this async block
//!     let waiter = {
//!         let wg = wg.clone();
//!         weft_coroutines::go(move || wg.blocking_wait())
//!     };
//!     wg.wait().await;
//!     waiter.await.unwrap();
//!     let log = log.lock().await;
//!     assert_eq!(log.len(), 6);
//!     for pair in log.chunks(2) {
//!         // never interleaved: each holder went in and out before the next came in
//!         assert_eq!(pair[0].replace("in", "out"), pair[1]);
//!     }
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

pub use weft_runtime::sync::*;
