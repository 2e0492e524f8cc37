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

/// Model checks of shutdown against spawns and completions (`RUSTFLAGS="--cfg loom" cargo test
/// -p weft-runtime --release --lib loom`), with real tasks from `task::loom_harness`.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::super::inject::Inject;
    use crate::task::loom_harness::{block_on, Counts, Gate, Sched, WaitGate};
    use crate::task::{new_task, TaskMeta};

    /// A spawn from a thread outside the runtime (bind, then push to the inject queue) races
    /// shutdown (close the owned list, then the inject queue): bound before the list closed,
    /// shutdown cancels the task; bound after, `bind` cancels it at once. Either way it ends
    /// cancelled, its future dropped exactly once and never polled, and nothing stays alive.
    #[test]
    fn loom_owned_spawn_races_shutdown() {
        loom::model(|| {
            let sched = Sched::new();
            let inject = Arc::new(Inject::default());
            let (gate, counts) = (Gate::new(true), Counts::new());
            let spawner = {
                let (sched, inject) = (sched.clone(), inject.clone());
                let future = WaitGate::new(&gate, &counts);
                thread::spawn(move || {
                    let (task, notified, join) =
                        new_task(future, sched.clone(), 1, TaskMeta::default());
                    if let Some(notified) = sched.0.owned.bind(task, notified) {
                        inject.push([notified]);
                    }
                    join
                })
            };
            sched.0.owned.shutdown();
            drop(inject.close());
            let join = spawner.join().unwrap();
            assert!(join.is_finished(), "a task outlived shutdown");
            assert!(block_on(join).unwrap_err().is_cancelled());
            assert_eq!(inject.len(), 0);
            assert_eq!(counts.polls(), 0);
            assert_eq!(counts.futures_dropped(), 1);
            drop(gate);
            sched.assert_all_freed();
        });
    }

    /// A worker runs a task to completion (and removes it from the list) while shutdown drains
    /// the list: either shutdown cancels it first and the worker's entry only lets go, or the
    /// worker polls it and shutdown leaves it alone. The future is dropped exactly once and
    /// the list ends empty.
    #[test]
    fn loom_owned_completion_races_shutdown() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(true), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let entry = sched.take_queued().expect("spawn queued the task");
            let worker = thread::spawn(move || entry.run());
            sched.shutdown();
            worker.join().unwrap();
            let completed = match block_on(join) {
                Ok(output) => {
                    drop(output);
                    true
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    false
                }
            };
            assert_eq!(counts.polls(), usize::from(completed));
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), usize::from(completed));
            drop(gate);
            sched.assert_all_freed();
        });
    }
}
