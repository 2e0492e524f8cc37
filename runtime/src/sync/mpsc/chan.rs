//! The channel both flavours share: a queue, slot accounting and the waiting senders, under
//! one lock. The protocol is in the module docs of `mpsc`.

use std::collections::VecDeque;
use std::fmt;
use std::task::{ready, Context, Poll, Waker};

use super::error::{SendError, TryRecvError, TrySendError};
use crate::coop;
use crate::shim::{lock, Mutex};
use crate::sync::wait_list::WaitList;
use crate::sync::Notify;

/// The shared part of a channel; senders and the receiver hold it in an `Arc`.
pub(super) struct Chan<T> {
    state: Mutex<State<T>>,
    /// Slots in all: the bound, or `usize::MAX` for the unbounded flavour.
    capacity: usize,
    /// Signalled once when the receiver closes, for `Sender::closed`.
    rx_closed: Notify,
}

struct State<T> {
    /// Sent values, oldest first. Each one holds a slot.
    queue: VecDeque<T>,
    /// Slots neither holding a value nor reserved by a permit or a woken waiter. Invariant:
    /// `free + queue.len() + permits out + slots granted to waiters == capacity`.
    free: usize,
    /// Live senders (bounded and unbounded handles alike).
    senders: usize,
    /// The receiver's waker, while it waits for a value.
    rx_waker: Option<Waker>,
    /// `close` was called or the receiver was dropped: no new slot is handed out.
    closed: bool,
    /// The receiver is gone: values that still arrive (through permits) are dropped.
    rx_dropped: bool,
    /// Senders waiting for a slot, FIFO.
    waiters: WaitList<Grant>,
}

/// What a waiting sender was woken with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// A slot, handed over by whoever freed it (the sender owns it now).
    Slot,
    /// Nothing: the receiver closed.
    Closed,
}

impl<T> State<T> {
    /// Step 4: a slot came back. The oldest waiting sender gets it, if any (its waker is
    /// returned); otherwise it is free again.
    fn free_slot(&mut self) -> Option<Waker> {
        let waker = self.waiters.wake_front(Grant::Slot);
        if waker.is_none() {
            self.free += 1;
        }
        waker
    }

    /// No permit is out and no waiter holds a slot: after a close, nothing more can arrive.
    fn idle(&self, capacity: usize) -> bool {
        self.free + self.queue.len() == capacity
    }

    /// Step 1: takes a free slot, unless the channel is closed or earlier senders wait (they
    /// are served first).
    fn take_slot(&mut self) -> Result<(), TrySendError<()>> {
        if self.closed {
            Err(TrySendError::Closed(()))
        } else if self.free > 0 && self.waiters.is_empty() {
            self.free -= 1;
            Ok(())
        } else {
            Err(TrySendError::Full(()))
        }
    }
}

impl<T> Chan<T> {
    /// A channel of `capacity` slots (`usize::MAX`: unbounded) with one sender.
    pub(super) fn new(capacity: usize) -> Chan<T> {
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity.min(32)),
                free: capacity,
                senders: 1,
                rx_waker: None,
                closed: false,
                rx_dropped: false,
                waiters: WaitList::new(),
            }),
            capacity,
            rx_closed: Notify::new(),
        }
    }

    /// Steps 1 and 2 in one: takes a slot and queues `value`, without waiting.
    pub(super) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = lock(&self.state);
        if let Err(e) = state.take_slot() {
            return Err(match e {
                TrySendError::Full(()) => TrySendError::Full(value),
                TrySendError::Closed(()) => TrySendError::Closed(value),
            });
        }
        state.queue.push_back(value);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Step 1, waiting: polls for a slot. `key` is the caller's place in the queue of waiting
    /// senders (`None` before the first poll and after completion).
    pub(super) fn poll_reserve(
        &self,
        key: &mut Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<()>>> {
        ready!(coop::poll_proceed(cx));
        let mut state = lock(&self.state);
        let grant = match *key {
            None => match state.take_slot() {
                Ok(()) => Grant::Slot,
                Err(TrySendError::Closed(())) => Grant::Closed,
                Err(TrySendError::Full(())) => {
                    *key = Some(state.waiters.push_back(cx.waker()));
                    return Poll::Pending;
                }
            },
            Some(k) => match state.waiters.poll(k, cx.waker()) {
                None => return Poll::Pending,
                Some(grant) => {
                    *key = None;
                    grant
                }
            },
        };
        match grant {
            Grant::Slot => Poll::Ready(Ok(())),
            Grant::Closed => Poll::Ready(Err(SendError(()))),
        }
    }

    /// Step 5: a waiting sender gave up (its future was dropped). A slot it had been granted
    /// goes to the next waiter or back to the pool.
    pub(super) fn cancel_reserve(&self, key: usize) {
        let mut state = lock(&self.state);
        if state.waiters.remove(key) == Some(Grant::Slot) {
            let waker = self.release_locked(&mut state);
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Step 2: queues `value` in a slot the caller holds (a permit). After the receiver is
    /// gone, the value is dropped instead (outside the lock) and the slot given back.
    pub(super) fn send_reserved(&self, value: T) {
        let mut state = lock(&self.state);
        if state.rx_dropped {
            let waker = self.release_locked(&mut state);
            drop(state);
            drop(value);
            if let Some(waker) = waker {
                waker.wake();
            }
            return;
        }
        state.queue.push_back(value);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Step 5: a permit was dropped unused; its slot comes back.
    pub(super) fn release(&self) {
        let mut state = lock(&self.state);
        let waker = self.release_locked(&mut state);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A slot held by a sender comes back. Returns the waker to wake after unlocking: the next
    /// waiting sender's, or, when that was the last slot out after a close, the receiver's (it
    /// may now report the end).
    fn release_locked(&self, state: &mut State<T>) -> Option<Waker> {
        let waker = state.free_slot();
        if waker.is_none() && state.closed && state.idle(self.capacity) {
            return state.rx_waker.take();
        }
        waker
    }

    /// Step 3: takes the oldest value, `Ready(None)` once nothing more can come, or parks the
    /// receiver.
    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        ready!(coop::poll_proceed(cx));
        let mut state = lock(&self.state);
        let (received, waker) = self.recv_locked(&mut state);
        let poll = match received {
            Ok(value) => Poll::Ready(Some(value)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                match &mut state.rx_waker {
                    Some(stored) if stored.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        poll
    }

    /// Step 3 without waiting.
    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.state);
        let (received, waker) = self.recv_locked(&mut state);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        received
    }

    /// Pops a value and hands its slot on; returns the waker of the sender that got the slot,
    /// to wake once the lock is released.
    fn recv_locked(&self, state: &mut State<T>) -> (Result<T, TryRecvError>, Option<Waker>) {
        match state.queue.pop_front() {
            Some(value) => (Ok(value), state.free_slot()),
            None if state.senders == 0 || (state.closed && state.idle(self.capacity)) => {
                (Err(TryRecvError::Disconnected), None)
            }
            None => (Err(TryRecvError::Empty), None),
        }
    }

    /// Step 6: no new slot is handed out; waiting senders fail; buffered values (and those
    /// coming through outstanding permits) can still be received.
    pub(super) fn close(&self) {
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        state.closed = true;
        let wakers = state.waiters.wake_all(|| Grant::Closed);
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
        self.rx_closed.notify_waiters();
    }

    /// Step 7: the receiver is dropped: close, and drop every buffered value (outside the
    /// lock, since a value's destructor may use this channel).
    pub(super) fn drop_rx(&self) {
        self.close();
        let mut state = lock(&self.state);
        state.rx_dropped = true;
        let values = std::mem::take(&mut state.queue);
        state.free += values.len();
        let waker = state.rx_waker.take();
        drop(state);
        drop((values, waker));
    }

    /// `true` once the receiver closed or was dropped.
    pub(super) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Waits until the receiver closes or is dropped. Cancel safe.
    pub(super) async fn closed(&self) {
        loop {
            // Made before the check, so a close between the check and the await still
            // completes it (`notify_waiters` reaches futures created before it).
            let notified = self.rx_closed.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// A sender handle was cloned.
    pub(super) fn add_sender(&self) {
        lock(&self.state).senders += 1;
    }

    /// Step 8: a sender handle was dropped; the last one wakes the receiver to see the end.
    pub(super) fn drop_sender(&self) {
        let mut state = lock(&self.state);
        state.senders -= 1;
        let waker = if state.senders == 0 {
            state.rx_waker.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        let mut d = f.debug_struct("Chan");
        d.field("buffered", &state.queue.len());
        if self.capacity != usize::MAX {
            d.field("capacity", &self.capacity)
                .field("free", &state.free);
        }
        d.field("senders", &state.senders)
            .field("closed", &state.closed)
            .finish()
    }
}
