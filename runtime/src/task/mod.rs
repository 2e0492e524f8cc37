//! Tasks: spawning with a name ([`Builder`]), joining ([`JoinHandle`]), yielding, and waiting
//! for a future from synchronous code ([`block_on`]).
//!
//! Inside: one heap allocation per spawned future, shared by the run queue, the owned list, the
//! `JoinHandle` and any wakers, and freed when the last of them lets go. `state.rs` says who owns
//! which part; `raw.rs` gives the run protocol.

mod block_on;
mod builder;
mod join;
mod pinned;
mod raw;
mod state;
mod thread_parker;
mod yield_now;

use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;

pub(crate) use block_on::park_thread_until;
pub use block_on::{block_on, set_coroutine_wait, CoroutineWait};
pub use builder::Builder;
pub use join::{JoinError, JoinHandle};
pub(crate) use pinned::Pinned;
pub use thread_parker::ThreadParker;
pub use yield_now::yield_now;

use raw::Cell;
pub(crate) use raw::{wake_in_place, Header};

/// Who a task is, for diagnostics (the stall detector names it): where it was spawned and an
/// optional name.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskMeta {
    pub(crate) location: Option<&'static Location<'static>>,
    pub(crate) name: Option<Box<str>>,
}

impl TaskMeta {
    /// Meta for a task spawned at the caller's location.
    #[track_caller]
    pub(crate) fn here(name: Option<Box<str>>) -> TaskMeta {
        TaskMeta {
            location: Some(Location::caller()),
            name,
        }
    }
}

impl std::fmt::Display for TaskMeta {
    /// `"name" spawned at file:line:col`, leaving out what is unknown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name:?}")?;
            if self.location.is_some() {
                f.write_str(" ")?;
            }
        }
        if let Some(location) = self.location {
            write!(f, "spawned at {location}")?;
        }
        Ok(())
    }
}

/// What a scheduler provides to its tasks.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queue a woken task.
    fn schedule(&self, task: Notified);
    /// The task completed: remove it from the owned list and return the list's reference.
    fn release(&self, task: &Task) -> Option<Task>;

    /// A non-zero number naming this scheduler instance, recorded in each task it spawns, for
    /// schedulers that queue their own tasks straight from a reactor turn
    /// ([`wake_in_place`]). 0 (the default) opts out.
    #[inline]
    fn owner(&self) -> usize {
        0
    }

    /// A poll of `task` is about to start; what this returns is handed to `poll_finished`.
    /// The hook pair is where a scheduler times polls (the stall detector).
    #[inline]
    fn poll_started(&self, _task: &Header) -> u64 {
        0
    }

    /// The poll that `poll_started` announced returned (or panicked).
    #[inline]
    fn poll_finished(&self, _task: &Header, _started: u64) {}
}

/// One counted reference to a task.
#[derive(Debug)]
pub(crate) struct Task(NonNull<Header>);

// SAFETY: a `Task` only touches the thread-safe header (atomic state, mutex) from whatever thread
// holds it. The future inside is polled or dropped only through `Notified::run` or `shutdown`,
// by one thread at a time (the `RUNNING` bit): a `Send` future on any worker (or the thread
// dropping the runtime), a pinned `!Send` one only on its owner thread, which the `Schedule`
// implementations guarantee.
unsafe impl Send for Task {}
// SAFETY: as above: shared access only reads the header.
unsafe impl Sync for Task {}

/// A task sitting in a run queue: the reference the queue owns while `SCHEDULED` is set.
#[derive(Debug)]
pub(crate) struct Notified(pub(crate) Task);

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("id", &self.id).finish()
    }
}

impl Task {
    fn from_raw(ptr: NonNull<Header>) -> Task {
        Task(ptr)
    }

    fn header(&self) -> &Header {
        // SAFETY: this reference keeps the header alive.
        unsafe { self.0.as_ref() }
    }

    /// Where this task sits in its scheduler's owned list. Call with that list locked.
    pub(crate) fn owned_key(&self) -> usize {
        // SAFETY: written and read only under the owned list's lock.
        self.header().owned_key.with(|key| unsafe { *key })
    }

    /// Records the task's slot in its owned list. Call with that list locked.
    pub(crate) fn set_owned_key(&self, key: usize) {
        // SAFETY: written and read only under the owned list's lock.
        self.header()
            .owned_key
            .with_mut(|slot| unsafe { *slot = key })
    }

    /// `true` when both name the same task.
    pub(crate) fn is(&self, other: &Task) -> bool {
        self.0 == other.0
    }

    /// Runtime shutdown: drops the future (unless another thread is polling it), completes the
    /// task with a cancellation error, and gives up this (owned-list) reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: we give our reference to `shutdown`; the scheduler calls this on its own
        // thread after removing the task from its owned list.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: this is one counted reference, given up exactly once.
        unsafe { raw::release_ref(self.0) }
    }
}

impl Notified {
    /// Gives up the queue reference as a pointer (for lock-free queues).
    pub(crate) fn into_raw(self) -> *mut () {
        let ptr = (self.0).0;
        std::mem::forget(self);
        ptr.as_ptr().cast()
    }

    /// Takes back a reference given up by [`into_raw`](Notified::into_raw).
    ///
    /// # Safety
    /// `ptr` came from `into_raw`, and is taken back exactly once.
    pub(crate) unsafe fn from_raw(ptr: *mut ()) -> Notified {
        // SAFETY: `into_raw` produced a non-null header pointer (contract above).
        Notified(Task(unsafe { NonNull::new_unchecked(ptr.cast()) }))
    }

    /// Polls the task once (or drops its future if aborted).
    pub(crate) fn run(self) {
        let ptr = (self.0).0;
        std::mem::forget(self);
        // SAFETY: the queue's reference goes to `run`; schedulers call this on their own thread.
        unsafe { (ptr.as_ref().vtable.run)(ptr) }
    }
}

/// Creates a task: the owned-list reference, the queue entry, and the join handle. `meta`
/// names it in diagnostics (`TaskMeta::default()` when there is nothing to say).
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: u64,
    meta: TaskMeta,
) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let ptr = Cell::<F, S>::allocate(future, scheduler, id, meta);
    (
        Task::from_raw(ptr),
        Notified(Task::from_raw(ptr)),
        JoinHandle::from_raw(ptr),
    )
}

/// What the loom models of tasks and shutdown share: a scheduler with the real owned list and a
/// locked FIFO run queue that any model thread drains (so two threads may both run the task,
/// as two workers would), and a future whose polls, drops and output drops are counted.
///
/// Every task holds a clone of the scheduler's `loom::sync::Arc`, so a task that is never freed
/// makes loom report a leaked `Arc`, and [`Sched::assert_all_freed`] says so first. Two threads
/// touching the future or output at once (a concurrent poll, an output read while it is
/// written) fail in the stage's `shim::UnsafeCell`, which loom checks.
#[cfg(all(test, loom))]
pub(crate) mod loom_harness {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use loom::sync::Arc;

    use super::{new_task, JoinHandle, Notified, Schedule, Task, TaskMeta};
    use crate::scheduler::OwnedTasks;
    use crate::shim::{lock, wait, AtomicUsize, Condvar, Mutex, Ordering};

    #[derive(Debug, Default)]
    pub(crate) struct Shared {
        queue: Mutex<VecDeque<Notified>>,
        pub(crate) owned: OwnedTasks,
        /// std's atomic, not loom's: ids only name tasks in assertions and never steer a model.
        next_id: std::sync::atomic::AtomicU64,
    }

    /// The test scheduler.
    #[derive(Debug, Clone)]
    pub(crate) struct Sched(pub(crate) Arc<Shared>);

    impl Schedule for Sched {
        fn schedule(&self, task: Notified) {
            lock(&self.0.queue).push_back(task);
        }

        fn release(&self, task: &Task) -> Option<Task> {
            self.0.owned.remove(task)
        }
    }

    impl Sched {
        pub(crate) fn new() -> Sched {
            Sched(Arc::new(Shared::default()))
        }

        /// Creates, binds and queues a task, as a runtime's `spawn` does.
        pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
        where
            F: Future + 'static,
            F::Output: 'static,
        {
            let id = self
                .0
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (task, notified, join) = new_task(future, self.clone(), id, TaskMeta::default());
            if let Some(notified) = self.0.owned.bind(task, notified) {
                self.schedule(notified);
            }
            join
        }

        /// Takes the oldest queue entry, as a worker does before running it.
        pub(crate) fn take_queued(&self) -> Option<Notified> {
            lock(&self.0.queue).pop_front()
        }

        /// Runs queued tasks until the queue is empty; returns how many entries ran.
        pub(crate) fn run_queued(&self) -> usize {
            std::iter::from_fn(|| self.take_queued())
                .map(Notified::run)
                .count()
        }

        /// A runtime's shutdown: cancel every owned task, then drop the queued entries.
        pub(crate) fn shutdown(&self) {
            self.0.owned.shutdown();
            let queued = std::mem::take(&mut *lock(&self.0.queue));
            drop(queued);
        }

        /// Call once every handle, waker and other thread is gone: nothing is queued or owned,
        /// and no task still holds the scheduler, i.e. every task was freed.
        #[track_caller]
        pub(crate) fn assert_all_freed(self) {
            assert_eq!(lock(&self.0.queue).len(), 0, "a task is still queued");
            assert_eq!(self.0.owned.len(), 0, "a task is still owned");
            assert_eq!(Arc::strong_count(&self.0), 1, "a task was never freed");
        }
    }

    /// Drives `future` to completion on this model thread, parking on a loom condvar between
    /// polls; a wake that never comes leaves it parked, which loom reports as a deadlock.
    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        #[derive(Default)]
        struct Signal {
            woken: Mutex<bool>,
            cv: Condvar,
        }
        impl std::task::Wake for Signal {
            fn wake(self: std::sync::Arc<Self>) {
                *lock(&self.woken) = true;
                self.cv.notify_one();
            }
        }
        let signal = std::sync::Arc::new(Signal::default());
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            let mut woken = lock(&signal.woken);
            while !*woken {
                woken = wait(&signal.cv, woken);
            }
            *woken = false;
        }
    }

    /// Polls, future drops and output drops of one task.
    #[derive(Debug, Default)]
    pub(crate) struct Counts {
        polls: AtomicUsize,
        futures_dropped: AtomicUsize,
        outputs_dropped: AtomicUsize,
    }

    /// The id of a queued task.
    pub(crate) fn id_of(task: &Notified) -> u64 {
        task.0.header().id()
    }

    impl Counts {
        pub(crate) fn new() -> Arc<Counts> {
            Arc::new(Counts::default())
        }

        pub(crate) fn polls(&self) -> usize {
            self.polls.load(Ordering::SeqCst)
        }

        pub(crate) fn futures_dropped(&self) -> usize {
            self.futures_dropped.load(Ordering::SeqCst)
        }

        pub(crate) fn outputs_dropped(&self) -> usize {
            self.outputs_dropped.load(Ordering::SeqCst)
        }
    }

    /// A one-shot event with a waker slot, guarded by one lock so a waiter either sees it open
    /// or leaves a waker that the opener takes.
    #[derive(Debug, Default)]
    pub(crate) struct Gate(Mutex<(bool, Option<Waker>)>);

    impl Gate {
        pub(crate) fn new(open: bool) -> Arc<Gate> {
            Arc::new(Gate(Mutex::new((open, None))))
        }

        /// Opens the gate; returns the waker left by the last poll, for the caller to wake.
        pub(crate) fn open(&self) -> Option<Waker> {
            let mut state = lock(&self.0);
            state.0 = true;
            state.1.take()
        }

        /// Takes the waker left by the last poll, if any.
        pub(crate) fn take_waker(&self) -> Option<Waker> {
            lock(&self.0).1.take()
        }
    }

    /// A task's future: each poll leaves a clone of its waker in the gate, and completes once
    /// the gate is open.
    #[derive(Debug)]
    pub(crate) struct WaitGate {
        gate: Arc<Gate>,
        counts: Arc<Counts>,
    }

    impl WaitGate {
        pub(crate) fn new(gate: &Arc<Gate>, counts: &Arc<Counts>) -> WaitGate {
            WaitGate {
                gate: gate.clone(),
                counts: counts.clone(),
            }
        }
    }

    /// The task's output; counts its drop.
    #[derive(Debug)]
    pub(crate) struct Output(Arc<Counts>);

    impl Future for WaitGate {
        type Output = Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
            let counts = &self.counts;
            counts.polls.fetch_add(1, Ordering::SeqCst);
            let open = {
                let mut state = lock(&self.gate.0);
                state.1 = Some(cx.waker().clone());
                state.0
            };
            if open {
                Poll::Ready(Output(counts.clone()))
            } else {
                Poll::Pending
            }
        }
    }

    impl Drop for WaitGate {
        fn drop(&mut self) {
            self.counts.futures_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Drop for Output {
        fn drop(&mut self) {
            self.0.outputs_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}
