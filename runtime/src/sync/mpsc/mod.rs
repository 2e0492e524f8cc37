//! Multi-producer, single-consumer channels: [`channel`] (bounded: senders wait for a free
//! slot) and [`unbounded_channel`] (sending never waits).
//!
//! Nothing is lost: every value sent successfully is either received or, if the receiver is
//! dropped first, dropped with it. Senders waiting on a full channel are served in arrival
//! order (FIFO): a freed slot is handed to the oldest waiting sender, and newcomers cannot take
//! it first.
//!
//! ```
//! use weft_runtime::sync::mpsc;
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let (tx, mut rx) = mpsc::channel(4);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         weft_runtime::spawn(async move {
//!             tx.send(id).await.unwrap();
//!         });
//!     }
//!     drop(tx); // `recv` returns `None` once every sender is gone and the buffer is empty
//!     let mut got = Vec::new();
//!     while let Some(id) = rx.recv().await {
//!         got.push(id);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # State (one lock per channel, `chan.rs`)
//!
//! - `queue`: sent values, oldest first; each holds one of the `capacity` slots.
//! - `free`: slots nobody holds. A slot is *held* by a queued value, by a [`Permit`], or by a
//!   waiting sender that was handed one and has not run yet; `free + held == capacity`. The
//!   unbounded flavour is the same channel with `usize::MAX` slots.
//! - `waiters`: senders waiting for a slot, FIFO, each marked when woken with what it got: a
//!   slot, or the news that the channel closed.
//! - `senders`: live sender handles; `rx_waker`: the receiver's waker while it waits.
//! - `closed`: the receiver closed or was dropped; `rx_dropped`: it was dropped.
//!
//! # Protocol
//!
//! 1. **Take a slot.** Closed: fail. A free slot and *nobody waiting*: take it. Otherwise
//!    `try_send` fails with `Full` and `reserve`/`send` join the back of `waiters`.
//! 2. **Queue the value** in the slot held, take `rx_waker` and wake it after unlocking.
//! 3. **Receive.** Pop the oldest value and free its slot (step 4). With the queue empty,
//!    `recv` ends (`None`) when no sender is left, or when the channel is closed and no slot is
//!    held outside the queue (no permit can still deliver a value). Otherwise the receiver
//!    stores its waker (cloned only if `will_wake` says it changed) and parks.
//! 4. **Free a slot.** If a sender waits, the slot goes straight to the oldest one (marked
//!    `Slot`, woken): this hand-off is what makes waiting senders FIFO. Else `free += 1`.
//! 5. **Give a slot back.** A permit dropped unused, or a waiting sender dropped after being
//!    handed a slot, frees it as in step 4; after a close, the last slot to come back wakes the
//!    receiver so `recv` can end.
//! 6. **Close** (`Receiver::close` or drop): set `closed`, wake every waiting sender with
//!    `Closed`, notify `Sender::closed` waiters. Buffered values and outstanding permits still
//!    deliver.
//! 7. **Drop the receiver:** close, set `rx_dropped`, and drop the buffered values outside the
//!    lock. A permit used afterwards drops its value at once.
//! 8. **Drop the last sender:** wake the receiver so it sees the end.
//!
//! Wakers always run after the lock is released.

mod bounded;
mod chan;
pub mod error;
mod receiver;
mod unbounded;

pub use bounded::{channel, Permit, Reserve, Sender};
pub use receiver::Receiver;
pub use unbounded::{unbounded_channel, UnboundedSender};
