//! Which workers sleep, and who wakes one when work appears.
//!
//! One atomic word counts *unparked* workers and, among them, *searching* ones (looking for
//! work to steal); a mutex-protected list names the parked ones.
//!
//! # Protocol
//!
//! 1. **A producer** that made stealable work available (a push to a worker queue with surplus,
//!    or to the inject queue) calls [`Idle::worker_to_notify`]: after a `SeqCst` fence it reads
//!    the word. If some worker is searching, that worker will find the work; if nobody is
//!    parked, a running worker will. Otherwise it takes a parked worker off the list, counts it
//!    unparked *and searching* (so concurrent producers do not wake a second one for the same
//!    work), and the caller wakes that worker's reactor.
//! 2. **A worker out of work** becomes a searcher ([`Idle::try_start_searching`]) unless half
//!    the workers already search (a thundering herd steals nothing). A searcher that finds work
//!    stops searching; if it was the last searcher, it notifies another worker, so a burst keeps
//!    spreading.
//! 3. **A worker that found nothing** parks: [`Idle::park`] puts it on the list and decrements
//!    the counts (`SeqCst`). Then it checks every queue once more before it blocks. Together with
//!    the producer's fence-then-read in step 1, either the producer sees the worker parked and
//!    wakes it, or the worker's last check sees the work: a wake-up is never lost.
//! 4. **A parked worker woke** (a notification, its own I/O, a timer): [`Idle::unpark`] removes
//!    it from the list if it is still there (it woke by itself, not searching). If a producer
//!    already took it off the list, the producer counted it as searching.

use crate::shim::{fence, lock, AtomicUsize, Mutex, Ordering};

const SEARCHING_MASK: usize = 0xFFFF;
const UNPARKED_ONE: usize = 1 << 16;

#[derive(Debug)]
pub(crate) struct Idle {
    /// `unparked << 16 | searching`.
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

/// The most workers the state word can count.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK - 1;

impl Idle {
    /// Every one of `workers` (at most [`MAX_WORKERS`]) starts unparked, none searching.
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(workers <= MAX_WORKERS, "at most {MAX_WORKERS} workers");
        Idle {
            state: AtomicUsize::new(workers * UNPARKED_ONE),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    fn should_notify(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        searching(state) == 0 && unparked(state) < self.workers
    }

    /// Step 1: the parked worker to wake for new work, if one should be woken.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(Ordering::SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(UNPARKED_ONE + 1, Ordering::SeqCst);
        Some(worker)
    }

    /// Step 2: becomes a searcher, unless too many already are.
    pub(crate) fn try_start_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching(state) >= self.workers {
            return false;
        }
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Step 2: stops searching; `true` when this was the last searcher.
    pub(crate) fn stop_searching(&self) -> bool {
        let previous = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(searching(previous) > 0);
        searching(previous) == 1
    }

    /// Step 3: parks `worker`; `true` when it was the last searcher (the caller must then look
    /// at every queue before blocking). Always follow with a check of the queues.
    pub(crate) fn park(&self, worker: usize, was_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let previous = self
            .state
            .fetch_sub(UNPARKED_ONE + usize::from(was_searching), Ordering::SeqCst);
        sleepers.push(worker);
        drop(sleepers);
        fence(Ordering::SeqCst);
        was_searching && searching(previous) == 1
    }

    /// Step 4: `worker` is awake. Returns `true` when a producer woke it (it counts as
    /// searching), `false` when it woke by itself.
    pub(crate) fn unpark(&self, worker: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == worker) {
            Some(at) => {
                sleepers.swap_remove(at);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }

    /// Workers parked now (a snapshot).
    #[cfg(all(test, loom))]
    pub(crate) fn parked(&self) -> usize {
        self.workers - unparked(self.state.load(Ordering::SeqCst))
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::shim::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// A producer publishes work while the only worker parks: either the worker sees the work
    /// in its last check, or the producer picks it to be woken. Never neither.
    #[test]
    fn loom_idle_park_never_misses_work() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let work = Arc::new(AtomicBool::new(false));
            let producer = {
                let (idle, work) = (idle.clone(), work.clone());
                thread::spawn(move || {
                    work.store(true, Ordering::Release);
                    idle.worker_to_notify()
                })
            };
            // the worker found nothing and parks, searching
            assert!(idle.try_start_searching());
            let last = idle.park(0, true);
            assert!(last);
            let saw_work = work.load(Ordering::Acquire);
            let notified = producer.join().unwrap();
            assert!(saw_work || notified == Some(0), "the wake-up was lost");
            if notified.is_some() {
                assert!(idle.unpark(0), "the producer took the worker off the list");
            }
        });
    }

    /// Two producers race to wake the single parked worker of two: it is woken once, and the
    /// counts come back to "everyone unparked" after it stops searching.
    #[test]
    fn loom_idle_one_wake_per_burst() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(2));
            idle.park(1, false);
            let producers: Vec<_> = (0..2)
                .map(|_| {
                    let idle = idle.clone();
                    thread::spawn(move || idle.worker_to_notify())
                })
                .collect();
            let woken: Vec<usize> = producers
                .into_iter()
                .filter_map(|p| p.join().unwrap())
                .collect();
            assert_eq!(woken, vec![1]);
            assert!(idle.unpark(1));
            assert!(idle.stop_searching());
            assert_eq!(idle.parked(), 0);
        });
    }
}
