//! Every libc call of the crate, behind small safe functions.
//!
//! The contract the rest of the crate relies on:
//!
//! - [`memory`]: map an anonymous read-write region, put a guard page at its low end (with
//!   `MADV_GUARD_INSTALL` where the kernel has it, else `mprotect(PROT_NONE)`), unmap it.
//! - [`signal`]: one process-wide `SIGSEGV`/`SIGBUS` handler, run on an alternate signal stack,
//!   that asks the crate whether a fault address is a coroutine's guard page and otherwise
//!   behaves as the handler it replaced; an async-signal-safe write to stderr and abort.
//!
//! Every call goes through [`syscall!`], which turns `-1` into `io::Error::last_os_error()`.

/// Calls a libc function that reports failure as `-1`, turning that into an `io::Error`.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        // SAFETY: every call site passes arguments that satisfy the named libc function's
        // contract; the call sites say how in their own SAFETY comments.
        #[allow(unused_unsafe, clippy::undocumented_unsafe_blocks)]
        let res = unsafe { libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub(crate) mod memory;
pub(crate) mod signal;
