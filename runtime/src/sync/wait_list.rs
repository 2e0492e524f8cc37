//! The FIFO queue of parked futures shared by the bounded `mpsc` senders, [`Mutex`] and
//! [`Notify`]: a doubly linked list threaded through a `slab`, always used under its owner's
//! lock.
//!
//! # Protocol
//!
//! 1. **Park.** A future that has to wait calls [`WaitList::push_back`] with its waker and keeps
//!    the returned key. From then on the entry is *its*: nobody else frees it.
//! 2. **Wake.** The owner of the primitive takes the front waiter with [`WaitList::wake_front`]
//!    (or all of them with [`WaitList::wake_all`]): the entry leaves the queue but stays in the
//!    slab, carrying a *mark* (what the waiter was given: a slot, the lock, a notification), and
//!    the waker is handed back to be woken after the lock is released.
//! 3. **Observe.** On its next poll the future calls [`WaitList::poll`]: once woken, that frees
//!    its entry and returns the mark; while still queued, it refreshes the stored waker,
//!    cloning only when `will_wake` says the task changed.
//! 4. **Cancel.** A future dropped while parked calls [`WaitList::remove`]; when the mark
//!    says it had already been given something, it passes that on (to the next waiter, or back
//!    to the primitive), so dropping a future never loses a slot, the lock or a notification.
//!
//! Keys are never stale: an entry is freed only by the future that owns the key. The slab
//! reuses freed entries, so a warmed-up list parks and wakes without allocating.
//!
//! [`Mutex`]: super::Mutex
//! [`Notify`]: super::Notify

use std::task::Waker;

use slab::Slab;

/// No neighbour.
const NIL: usize = usize::MAX;

/// Parked futures in arrival order; `M` is what a woken one is given.
#[derive(Debug)]
pub(crate) struct WaitList<M> {
    entries: Slab<Entry<M>>,
    /// Oldest queued entry, or `NIL`.
    head: usize,
    /// Newest queued entry, or `NIL`.
    tail: usize,
}

#[derive(Debug)]
struct Entry<M> {
    waker: Option<Waker>,
    /// `None` while queued; set when the entry is taken off the queue (step 2).
    mark: Option<M>,
    prev: usize,
    next: usize,
}

impl<M> WaitList<M> {
    pub(crate) const fn new() -> WaitList<M> {
        WaitList {
            entries: Slab::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// `true` when no future is queued (entries woken but not yet removed do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Step 1: queues a waiter at the back; returns its key.
    pub(crate) fn push_back(&mut self, waker: &Waker) -> usize {
        let key = self.entries.insert(Entry {
            waker: Some(waker.clone()),
            mark: None,
            prev: self.tail,
            next: NIL,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.entries[tail].next = key,
        }
        self.tail = key;
        key
    }

    /// Step 3: if entry `key` was woken, frees it and returns its mark. Otherwise keeps it
    /// queued with `waker` (replacing the stored one unless that wakes the same task) and
    /// returns `None`.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> Option<M> {
        let entry = &mut self.entries[key];
        if entry.mark.is_some() {
            return self.entries.remove(key).mark;
        }
        match &mut entry.waker {
            Some(stored) if stored.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        None
    }

    /// Step 2: takes the oldest queued entry off the queue, marks it with `mark` and returns its
    /// waker. `None` when the queue is empty.
    pub(crate) fn wake_front(&mut self, mark: M) -> Option<Waker> {
        let key = self.head;
        if key == NIL {
            return None;
        }
        self.unlink(key);
        let entry = &mut self.entries[key];
        entry.mark = Some(mark);
        // A queued entry always holds a waker; `take` leaves `None` behind once it is woken.
        entry.waker.take()
    }

    /// Step 2 for everyone: takes every queued entry off the queue with mark `mark()`, and
    /// returns their wakers, oldest first.
    pub(crate) fn wake_all(&mut self, mut mark: impl FnMut() -> M) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some(waker) = self.wake_front(mark()) {
            wakers.push(waker);
        }
        wakers
    }

    /// Step 4: frees entry `key` (unlinking it if still queued) and returns its mark:
    /// `None` if it was still queued, what it was given otherwise.
    pub(crate) fn remove(&mut self, key: usize) -> Option<M> {
        if self.entries[key].mark.is_none() {
            self.unlink(key);
        }
        self.entries.remove(key).mark
    }

    /// Takes queued entry `key` out of the queue (it stays in the slab).
    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let entry = &self.entries[key];
            (entry.prev, entry.next)
        };
        match prev {
            NIL => self.head = next,
            prev => self.entries[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.entries[next].prev = prev,
        }
        let entry = &mut self.entries[key];
        entry.prev = NIL;
        entry.next = NIL;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wakes_in_arrival_order_and_skips_removed_waiters() {
        let mut list = WaitList::new();
        let keys: Vec<usize> = (0..4).map(|_| list.push_back(Waker::noop())).collect();
        assert_eq!(list.remove(keys[1]), None, "a queued waiter has no mark");
        assert!(list.wake_front(10).is_some());
        assert!(list.wake_front(11).is_some());
        assert_eq!(list.remove(keys[0]), Some(10));
        assert_eq!(list.remove(keys[2]), Some(11));
        assert!(!list.is_empty());
        assert_eq!(list.wake_all(|| 12).len(), 1);
        assert!(list.is_empty());
        assert!(list.wake_front(13).is_none());
        assert_eq!(list.remove(keys[3]), Some(12));
        assert!(list.entries.is_empty(), "every entry was freed");
    }

    #[test]
    fn removing_the_tail_keeps_the_queue_linked() {
        let mut list = WaitList::new();
        let a = list.push_back(Waker::noop());
        let b = list.push_back(Waker::noop());
        list.remove(b);
        let c = list.push_back(Waker::noop());
        assert_eq!(list.poll(c, Waker::noop()), None, "still queued");
        list.wake_front('a');
        list.wake_front('c');
        assert_eq!(list.poll(c, Waker::noop()), Some('c'));
        assert_eq!(list.remove(a), Some('a'));
        assert!(list.is_empty());
        assert!(list.entries.is_empty(), "every entry was freed");
    }
}
