//! The loop thread's run queue.

use std::cell::UnsafeCell;
use std::collections::VecDeque;

use crate::task::Notified;

/// A FIFO of tasks woken on the loop thread, touched only by that thread.
///
/// Each method does one whole operation and hands out no reference into the queue, so no two
/// accesses can overlap even when a task's poll wakes other tasks (pushes) while the loop is
/// between a pop and the next one: that is what lets it skip `RefCell`'s bookkeeping on the
/// hottest path of the scheduler.
#[derive(Debug, Default)]
pub(crate) struct LocalQueue {
    tasks: UnsafeCell<VecDeque<Notified>>,
}

impl LocalQueue {
    pub(crate) fn with_capacity(capacity: usize) -> LocalQueue {
        LocalQueue {
            tasks: UnsafeCell::new(VecDeque::with_capacity(capacity)),
        }
    }

    #[inline]
    pub(crate) fn push(&self, task: Notified) {
        // SAFETY: single-threaded (`UnsafeCell` makes the queue `!Sync`) and no reference into
        // the queue outlives this call, so this is the only access.
        unsafe { (*self.tasks.get()).push_back(task) }
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<Notified> {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).pop_front() }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).is_empty() }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: as in `push`.
        unsafe { (*self.tasks.get()).len() }
    }

    /// Appends every task of `tasks`.
    pub(crate) fn extend(&self, tasks: impl Iterator<Item = Notified>) {
        for task in tasks {
            self.push(task);
        }
    }

    /// Empties the queue, returning what was in it (dropped by the caller, outside any access).
    pub(crate) fn take_all(&self) -> VecDeque<Notified> {
        // SAFETY: as in `push`; the queue is swapped out, not borrowed.
        unsafe { std::mem::take(&mut *self.tasks.get()) }
    }
}
