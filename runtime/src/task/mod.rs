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
mod yield_now;

use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;

pub(crate) use block_on::park_thread_until;
pub use block_on::{block_on, set_coroutine_wait, CoroutineWait};
pub use builder::Builder;
pub use join::{JoinError, JoinHandle};
pub(crate) use pinned::Pinned;
pub use yield_now::yield_now;

use raw::Cell;
pub(crate) use raw::Header;

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
// holds it; the future inside is only polled or dropped by its scheduler's own thread, which
// `Schedule` implementations guarantee, and only through `Notified::run` or `shutdown`.
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
        unsafe { *self.header().owned_key.get() }
    }

    /// Records the task's slot in its owned list. Call with that list locked.
    pub(crate) fn set_owned_key(&self, key: usize) {
        // SAFETY: written and read only under the owned list's lock.
        unsafe { *self.header().owned_key.get() = key }
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
