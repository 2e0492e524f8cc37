//! The loop thread's run queue.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

use crate::task::Notified;

/// A FIFO of tasks woken on the loop thread, touched only by that thread.
///
/// Each method does one whole operation and hands out no reference into the queue, so no two
/// accesses can overlap even when a task's poll wakes other tasks (pushes) while the loop is
/// between a pop and the next one: that is what lets it skip `RefCell`'s bookkeeping on the
/// hottest path of the scheduler.
#[derive(Debug)]
pub(crate) struct LocalQueue {
    tasks: UnsafeCell<Ring>,
}

impl Default for LocalQueue {
    fn default() -> LocalQueue {
        LocalQueue::with_capacity(0)
    }
}

impl LocalQueue {
    pub(crate) fn with_capacity(capacity: usize) -> LocalQueue {
        LocalQueue {
            tasks: UnsafeCell::new(Ring::with_capacity(capacity)),
        }
    }

    #[inline]
    pub(crate) fn push(&self, task: Notified) {
        // SAFETY: single-threaded (`UnsafeCell` makes the queue `!Sync`) and no reference into
        // the queue outlives this call, so this is the only access.
        unsafe { (*self.tasks.get()).push(task) }
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<Notified> {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).pop() }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).len == 0 }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).len }
    }

    /// Appends every task of `tasks`.
    pub(crate) fn extend(&self, tasks: impl Iterator<Item = Notified>) {
        for task in tasks {
            self.push(task);
        }
    }

    /// Empties the queue, returning what was in it (dropped by the caller, outside any access).
    pub(crate) fn take_all(&self) -> Vec<Notified> {
        let mut all = Vec::with_capacity(self.len());
        while let Some(task) = self.pop() {
            all.push(task);
        }
        all
    }
}

/// A ring buffer whose capacity is a power of two, so positions wrap with a mask: a push or a
/// pop is a few instructions (`VecDeque` wraps with a compare and a subtraction).
struct Ring {
    /// `slots[(head + i) & mask]` for `i < len` hold tasks; the rest are uninitialised.
    slots: Box<[MaybeUninit<Notified>]>,
    mask: usize,
    head: usize,
    len: usize,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("len", &self.len).finish()
    }
}

impl Ring {
    fn with_capacity(capacity: usize) -> Ring {
        let capacity = capacity.max(2).next_power_of_two();
        Ring {
            slots: (0..capacity).map(|_| MaybeUninit::uninit()).collect(),
            mask: capacity - 1,
            head: 0,
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, task: Notified) {
        if self.len > self.mask {
            self.grow();
        }
        let at = (self.head + self.len) & self.mask;
        // SAFETY: `mask + 1` is the slice's length, so `at` is in bounds; the slot is free
        // because fewer than `mask + 1` slots are in use.
        unsafe { self.slots.get_unchecked_mut(at) }.write(task);
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<Notified> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: `head <= mask` is in bounds and, with `len > 0`, holds a task, which is moved
        // out here and its slot counted free below (never read twice).
        let task = unsafe { self.slots.get_unchecked(self.head).assume_init_read() };
        self.head = (self.head + 1) & self.mask;
        self.len -= 1;
        Some(task)
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let mut bigger = Ring::with_capacity(self.slots.len() * 2);
        while let Some(task) = self.pop() {
            bigger.push(task);
        }
        *self = bigger;
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Tasks spawned in batches between turns of the loop (so the ring has wrapped when it
    /// outgrows its initial 256 slots), each running twice with a yield in between: every task
    /// runs twice, and the second runs come in the order of the first (first-in first-out).
    #[test]
    fn tasks_run_in_wake_order_across_wrap_and_growth() {
        const BATCHES: usize = 7;
        const BATCH: usize = 150;
        let rt = crate::Runtime::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        rt.block_on(async {
            let mut joins = Vec::new();
            for batch in 0..BATCHES {
                for i in batch * BATCH..(batch + 1) * BATCH {
                    let log = log.clone();
                    joins.push(crate::spawn_local(async move {
                        log.borrow_mut().push((i, 1));
                        crate::yield_now().await;
                        log.borrow_mut().push((i, 2));
                    }));
                }
                crate::yield_now().await;
            }
            for join in joins {
                join.await.unwrap();
            }
        });
        let log = log.borrow();
        let runs = |n| {
            log.iter()
                .filter(|e| e.1 == n)
                .map(|e| e.0)
                .collect::<Vec<_>>()
        };
        let (first, second) = (runs(1), runs(2));
        assert_eq!(first.len(), BATCHES * BATCH);
        assert_eq!(first, second, "the second runs came out of order");
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..BATCHES * BATCH).collect::<Vec<_>>());
    }
}
