//! Which runtime, if any, is running on this thread, and in which role.

use std::cell::Cell;
use std::io;

use crate::scheduler::current_thread::Core;
use crate::scheduler::multi_thread::{self, Worker};
use crate::shim::Arc;

/// This thread's role in a runtime.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scheduler<'a> {
    /// The loop thread of a current-thread runtime.
    CurrentThread(&'a Core),
    /// A worker thread of a multi-thread runtime.
    Worker(&'a Worker),
    /// A thread inside a multi-thread runtime's `block_on`: it can spawn and create I/O, but
    /// runs no tasks.
    BlockOn(&'a Arc<multi_thread::Shared>),
}

#[derive(Clone, Copy)]
enum Slot {
    None,
    CurrentThread(*const Core),
    Worker(*const Worker),
    BlockOn(*const Arc<multi_thread::Shared>),
}

thread_local! {
    static CURRENT: Cell<Slot> = const { Cell::new(Slot::None) };
}

/// Runs `f` with this thread's role, if any.
#[inline]
pub(crate) fn with_scheduler<R>(f: impl FnOnce(Option<Scheduler<'_>>) -> R) -> R {
    CURRENT.with(|c| {
        // SAFETY: `CURRENT` holds a pointer only inside `Entered`'s lifetime, during which the
        // pointee (a core, a worker, a runtime's shared state) is borrowed by the code that
        // entered and can neither move nor be dropped.
        let scheduler = unsafe {
            match c.get() {
                Slot::None => None,
                Slot::CurrentThread(p) => Some(Scheduler::CurrentThread(&*p)),
                Slot::Worker(p) => Some(Scheduler::Worker(&*p)),
                Slot::BlockOn(p) => Some(Scheduler::BlockOn(&*p)),
            }
        };
        f(scheduler)
    })
}

/// Runs `f` with the current-thread core driving this thread, if any.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    with_scheduler(|s| match s {
        Some(Scheduler::CurrentThread(core)) => f(Some(core)),
        _ => f(None),
    })
}

/// Runs `f` with the multi-thread worker running on this thread, if any.
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    with_scheduler(|s| match s {
        Some(Scheduler::Worker(worker)) => f(Some(worker)),
        _ => f(None),
    })
}

/// `true` on a thread that runs tasks (a loop thread): blocking it would stall them.
pub(crate) fn on_loop_thread() -> bool {
    with_scheduler(|s| matches!(s, Some(Scheduler::CurrentThread(_) | Scheduler::Worker(_))))
}

/// Marks this thread's role until dropped, restoring what was there before.
pub(crate) struct Entered {
    previous: Slot,
}

/// Enters `scheduler`.
///
/// # Errors
/// This thread is already inside a runtime (when `nested_ok` is false).
pub(crate) fn enter(scheduler: Scheduler<'_>, nested_ok: bool) -> io::Result<Entered> {
    CURRENT.with(|c| {
        let previous = c.get();
        if !matches!(previous, Slot::None) && !nested_ok {
            return Err(io::Error::other(
                "cannot block_on a weft runtime from inside a runtime: \
                 the inner call would stall the outer loop (spawn the future instead)",
            ));
        }
        c.set(match scheduler {
            Scheduler::CurrentThread(core) => Slot::CurrentThread(core),
            Scheduler::Worker(worker) => Slot::Worker(worker),
            Scheduler::BlockOn(shared) => Slot::BlockOn(shared),
        });
        Ok(Entered { previous })
    })
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// The reactor that I/O created on this thread registers with.
pub(crate) fn reactor() -> io::Result<weft_reactor::Handle> {
    with_scheduler(|s| match s {
        Some(Scheduler::CurrentThread(core)) => Ok(core.shared.reactor.clone()),
        Some(Scheduler::Worker(worker)) => Ok(worker.reactor().clone()),
        Some(Scheduler::BlockOn(shared)) => Ok(shared.block_on_reactor().clone()),
        None => Err(outside_runtime()),
    })
}

pub(crate) fn outside_runtime() -> io::Error {
    io::Error::other(
        "no weft runtime on this thread: create weft sockets and timers inside Runtime::block_on \
         or a spawned task",
    )
}
