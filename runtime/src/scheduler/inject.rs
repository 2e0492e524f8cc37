//! The inject queue: tasks spawned or woken from threads that are not one of the runtime's own
//! loop threads, or spilled from a full worker queue. A mutex-protected FIFO whose length is
//! mirrored in an atomic, so loop threads check it without locking.

use std::collections::VecDeque;

use crate::shim::{lock, AtomicUsize, Mutex, Ordering};
use crate::task::Notified;

#[derive(Debug, Default)]
pub(crate) struct Inject {
    inner: Mutex<Inner>,
    len: AtomicUsize,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Notified>,
    closed: bool,
}

impl Inject {
    /// Queues `tasks`; after [`close`](Inject::close) they are dropped instead. Returns whether
    /// they were queued.
    pub(crate) fn push(&self, tasks: impl IntoIterator<Item = Notified>) -> bool {
        let mut inner = lock(&self.inner);
        if inner.closed {
            drop(inner);
            drop(tasks.into_iter().collect::<Vec<_>>());
            return false;
        }
        inner.queue.extend(tasks);
        self.len.store(inner.queue.len(), Ordering::Release);
        true
    }

    /// Takes up to `max` tasks from the front.
    pub(crate) fn pop_batch(&self, max: usize) -> Vec<Notified> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut inner = lock(&self.inner);
        let n = max.min(inner.queue.len());
        let batch: Vec<Notified> = inner.queue.drain(..n).collect();
        self.len.store(inner.queue.len(), Ordering::Release);
        batch
    }

    /// Tasks queued now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses further pushes and returns what is queued (for the caller to drop outside the
    /// lock: dropping a task can run arbitrary destructors).
    pub(crate) fn close(&self) -> VecDeque<Notified> {
        let mut inner = lock(&self.inner);
        inner.closed = true;
        self.len.store(0, Ordering::Release);
        std::mem::take(&mut inner.queue)
    }
}
