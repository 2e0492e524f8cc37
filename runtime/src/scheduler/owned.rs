//! The list of every live task of a runtime, so shutdown can reach (and drop) them all.

use slab::Slab;

use crate::shim::{lock, Mutex};
use crate::task::{Notified, Task};

/// Live tasks, closed for good at shutdown.
#[derive(Debug, Default)]
pub(crate) struct OwnedTasks {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: Slab<Task>,
    closed: bool,
}

impl OwnedTasks {
    /// Adds a new task. After shutdown it is cancelled at once and `None` is returned.
    pub(crate) fn bind(&self, task: Task, notified: Notified) -> Option<Notified> {
        let mut inner = lock(&self.inner);
        if inner.closed {
            drop(inner);
            task.shutdown();
            drop(notified);
            return None;
        }
        let entry = inner.tasks.vacant_key();
        task.set_owned_key(entry);
        inner.tasks.insert(task);
        Some(notified)
    }

    /// Removes a completed task, returning the list's reference.
    pub(crate) fn remove(&self, task: &Task) -> Option<Task> {
        let mut inner = lock(&self.inner);
        let key = task.owned_key();
        match inner.tasks.get(key) {
            Some(listed) if listed.is(task) => Some(inner.tasks.remove(key)),
            _ => None,
        }
    }

    /// Closes the list and cancels every task in it.
    pub(crate) fn shutdown(&self) {
        let tasks: Vec<Task> = {
            let mut inner = lock(&self.inner);
            inner.closed = true;
            inner.tasks.drain().collect()
        };
        for task in tasks {
            task.shutdown();
        }
    }

    /// Live tasks.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).tasks.len()
    }
}
