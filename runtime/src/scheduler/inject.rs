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

/// Model check of the inject queue's close (`RUSTFLAGS="--cfg loom" cargo test -p
/// weft-runtime --release --lib loom`), with real task entries from `task::loom_harness`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::task::loom_harness::{id_of, Counts, Gate, Sched, WaitGate};
    use loom::sync::Arc;
    use loom::thread;

    /// One entry, then a batch of two (a spill), are pushed on one thread while another pops
    /// one and closes the queue: every entry whose push returned `true` comes out exactly once
    /// (popped, or handed back by `close`), every entry whose push returned `false` never
    /// does, no push succeeds after a failed one, and the closed queue reads empty.
    #[test]
    fn loom_inject_push_races_pop_and_close() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(true), Counts::new());
            let joins: Vec<_> = (0..3)
                .map(|_| sched.spawn(WaitGate::new(&gate, &counts)))
                .collect();
            let entries: Vec<Notified> = std::iter::from_fn(|| sched.take_queued()).collect();
            let ids: Vec<u64> = entries.iter().map(id_of).collect();
            let inject = Arc::new(Inject::default());
            let pusher = {
                let inject = inject.clone();
                thread::spawn(move || {
                    let mut entries = entries.into_iter();
                    let single = inject.push(entries.next());
                    let batch = inject.push(entries);
                    (single, batch)
                })
            };
            let popped = inject.pop_batch(1);
            let closed = inject.close();
            let (single, batch) = pusher.join().unwrap();
            assert!(single || !batch, "a push succeeded after close");
            let mut out: Vec<u64> = popped.iter().chain(&closed).map(id_of).collect();
            out.sort_unstable();
            let mut queued = Vec::new();
            if single {
                queued.push(ids[0]);
            }
            if batch {
                queued.extend(&ids[1..]);
            }
            assert_eq!(
                out, queued,
                "entries lost, duplicated, or queued after a refusal"
            );
            assert!(inject.is_empty() && inject.pop_batch(1).is_empty());
            // A worker runs what it popped; the rest is cancelled by shutdown.
            let ran = popped.len();
            popped.into_iter().for_each(Notified::run);
            drop(closed);
            sched.shutdown();
            assert_eq!(counts.polls(), ran);
            assert_eq!(counts.futures_dropped(), 3);
            drop((joins, gate));
            sched.assert_all_freed();
        });
    }
}
