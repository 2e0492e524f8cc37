//! Which runtime, if any, is running on this thread.

use std::cell::Cell;
use std::io;
use std::ptr;

use crate::scheduler::current_thread::Core;

thread_local! {
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with the core of the runtime driving this thread, if any.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    CURRENT.with(|c| {
        let p = c.get();
        // SAFETY: `CURRENT` is non-null only inside `Entered`'s lifetime, during which the
        // runtime that owns the core is borrowed and cannot be moved or dropped.
        f(unsafe { p.as_ref() })
    })
}

/// Marks `core` as this thread's runtime until dropped, restoring what was there before.
pub(crate) struct Entered {
    previous: *const Core,
}

/// Enters `core`.
///
/// # Errors
/// This thread is already inside a runtime's `block_on` (when `nested_ok` is false).
pub(crate) fn enter(core: &Core, nested_ok: bool) -> io::Result<Entered> {
    CURRENT.with(|c| {
        let previous = c.get();
        if !previous.is_null() && !nested_ok {
            return Err(io::Error::other(
                "cannot block_on a weft runtime from inside a runtime: \
                 the inner call would stall the outer loop (spawn the future instead)",
            ));
        }
        c.set(core);
        Ok(Entered { previous })
    })
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// The reactor of the runtime driving this thread.
pub(crate) fn reactor() -> io::Result<weft_reactor::Handle> {
    with_core(|core| match core {
        Some(core) => Ok(core.shared.reactor.clone()),
        None => Err(outside_runtime()),
    })
}

pub(crate) fn outside_runtime() -> io::Error {
    io::Error::other(
        "no weft runtime on this thread: create weft sockets and timers inside Runtime::block_on \
         or a spawned task",
    )
}
