//! Process-wide signal handlers that record and wake, nothing more.
//!
//! # How a signal reaches a task
//!
//! 1. [`register`] installs one handler per signal number, once per process. The handler sets
//!    that signal's *pending* flag, then writes to a process-wide `eventfd`.
//! 2. Each receiver watches the eventfd through its own duplicate ([`subscribe`]) registered
//!    with its own reactor, so every runtime that listens hears the edge.
//! 3. A receiver that sees the descriptor readable [`drain`]s it *first* and only then takes
//!    the pending flags ([`take_pending`]), so a signal landing in between raises a new edge
//!    instead of being lost. Whoever takes a flag passes the news to every receiver of that
//!    signal (the runtime's broadcast): the eventfd is shared, so the first reader empties it
//!    for all.
//!
//! # OS notes
//!
//! - A handler can run on any thread between any two instructions, so it may only call
//!   async-signal-safe functions (`signal-safety(7)`): no locks, no allocation, no `io::Error`.
//!   Ours does an atomic store and one `write(2)`, and restores `errno`, which `write` may
//!   change under the code it interrupted.
//! - Standard signals are not queued: several deliveries before the handler runs are one
//!   delivery. So weft keeps a flag, not a count, and reports bursts coalesced.
//! - A disposition belongs to the process, and weft never puts the old one back: once a signal
//!   is registered, its default action (SIGINT, SIGTERM: terminate) is gone for the life of the
//!   process, and a handler installed earlier by someone else is replaced.
//! - `SA_RESTART` makes most blocking calls interrupted by the handler (a pool thread in
//!   `read(2)`) resume instead of failing with `EINTR`. Not all calls are restartable
//!   (`signal(7)`), so callers still retry on `EINTR`.
//! - SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS, SIGILL and SIGFPE report faults,
//!   and a handler that merely returns would re-run the faulting instruction forever. All six
//!   are refused.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

use super::syscall;

/// One more than the highest signal number on Linux.
pub const NSIG: usize = 65;

/// Interrupt from the terminal (Ctrl-C).
pub const SIGINT: i32 = libc::SIGINT;
/// Termination request (the default of `kill`).
pub const SIGTERM: i32 = libc::SIGTERM;
/// The controlling terminal hung up; daemons use it to reload configuration.
pub const SIGHUP: i32 = libc::SIGHUP;
/// Quit from the terminal (Ctrl-\).
pub const SIGQUIT: i32 = libc::SIGQUIT;
/// User-defined signal 1.
pub const SIGUSR1: i32 = libc::SIGUSR1;
/// User-defined signal 2.
pub const SIGUSR2: i32 = libc::SIGUSR2;
/// A child process stopped or exited.
pub const SIGCHLD: i32 = libc::SIGCHLD;
/// A write to a pipe or socket with no reader.
pub const SIGPIPE: i32 = libc::SIGPIPE;
/// A timer set with `alarm(2)` expired.
pub const SIGALRM: i32 = libc::SIGALRM;
/// The terminal window changed size.
pub const SIGWINCH: i32 = libc::SIGWINCH;
/// I/O is possible on a descriptor set up for signal-driven I/O.
pub const SIGIO: i32 = libc::SIGIO;

/// Signals that cannot or must not be handled (see the module docs).
const FORBIDDEN: [i32; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// Set by the handler, taken by [`take_pending`].
static PENDING: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// The process-wide eventfd the handler writes to; -1 until the first [`register`]. Never
/// closed, so the handler can never write to a recycled descriptor number.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Which signals have the handler installed; also serializes creating the eventfd.
static INSTALLED: Mutex<[bool; NSIG]> = Mutex::new([false; NSIG]);

/// The lowest real-time signal number available to applications.
pub fn sigrtmin() -> i32 {
    libc::SIGRTMIN()
}

/// The highest real-time signal number.
pub fn sigrtmax() -> i32 {
    libc::SIGRTMAX()
}

/// Installs weft's handler for `signum` (once per process; later calls are free).
///
/// # Errors
/// `InvalidInput` for a number out of range or one of the refused signals; the error of
/// `eventfd` or `sigaction` otherwise.
pub fn register(signum: i32) -> io::Result<()> {
    let index = index_of(signum)?;
    if FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} cannot be handled (SIGKILL and SIGSTOP cannot be caught; a \
                 handler for a fault signal would loop)"
            ),
        ));
    }
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if installed[index] {
        return Ok(());
    }
    // The eventfd must exist before the handler can run.
    wake_fd()?;
    // SAFETY: an all-zero `sigaction` is a valid value (no handler, no flags, empty mask),
    // and every field that matters is set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // A one-argument handler: no SA_SIGINFO. See the module docs for SA_RESTART.
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid `sigset_t` inside `action`, on this stack.
    syscall!(sigemptyset(&mut action.sa_mask))?;
    // SAFETY: `action` is fully initialised (handler, flags, mask) and lives for the call; a
    // null old-action pointer is allowed.
    syscall!(sigaction(signum, &action, std::ptr::null_mut()))?;
    installed[index] = true;
    Ok(())
}

/// A new descriptor that turns readable when a registered signal arrives: a close-on-exec
/// duplicate of the process-wide eventfd, for one reactor registration.
///
/// # Errors
/// Creating the eventfd or duplicating it failed (out of descriptors).
pub fn subscribe() -> io::Result<OwnedFd> {
    let fd = {
        let _installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        wake_fd()?
    };
    // SAFETY: `fd` is the open wake-up eventfd (kept open for the process's life); no pointers.
    let dup = syscall!(fcntl(fd, libc::F_DUPFD_CLOEXEC, 0))?;
    // SAFETY: `fcntl` just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Empties the eventfd behind `fd` (a descriptor from [`subscribe`]). Call it when `fd` was
/// reported readable, *before* [`take_pending`].
pub fn drain(fd: BorrowedFd<'_>) {
    let mut value: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd; EAGAIN (another
    // subscriber emptied it first) is expected and harmless.
    let _ = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut value as *mut u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}

/// Whether `signum` arrived since the last [`take_pending`], without clearing the flag.
pub fn is_pending(signum: i32) -> bool {
    index_of(signum).is_ok_and(|index| PENDING[index].load(Ordering::SeqCst))
}

/// Whether `signum` arrived since the last call (which whoever gets `true` must pass on to
/// every receiver); clears the flag.
pub fn take_pending(signum: i32) -> bool {
    match index_of(signum) {
        Ok(index) => PENDING[index].swap(false, Ordering::SeqCst),
        Err(_) => false,
    }
}

/// Sends `signum` to the calling thread (`raise(3)`); with weft's handler installed, this is
/// how tests and examples deliver a signal.
///
/// # Errors
/// An invalid signal number.
pub fn raise(signum: i32) -> io::Result<()> {
    // `raise` returns a nonzero value (not always -1) on failure.
    // SAFETY: `raise` takes any integer and reports an invalid one as an error.
    if unsafe { libc::raise(signum) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn index_of(signum: i32) -> io::Result<usize> {
    match usize::try_from(signum) {
        Ok(index) if index > 0 && index < NSIG => Ok(index),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signum} is not a signal number (1..{NSIG})"),
        )),
    }
}

/// The process-wide eventfd, created on first use. Call with `INSTALLED` locked.
fn wake_fd() -> io::Result<RawFd> {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        return Ok(fd);
    }
    // SAFETY: no pointers: flags only.
    let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
    // SAFETY: `eventfd` just returned this descriptor; nothing else owns it. It is leaked on
    // purpose (see `WAKE_FD`).
    let fd = unsafe { OwnedFd::from_raw_fd(fd) }.into_raw_fd();
    WAKE_FD.store(fd, Ordering::SeqCst);
    Ok(fd)
}

/// The signal handler: async-signal-safe by construction (atomics and `write(2)` only).
extern "C" fn handler(signum: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    if let Ok(index) = usize::try_from(signum) {
        if let Some(flag) = PENDING.get(index) {
            flag.store(true, Ordering::SeqCst);
        }
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the eventfd, which is never closed. A full
        // counter (EAGAIN) still leaves it readable, which is all a wake-up needs.
        let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), std::mem::size_of::<u64>()) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_and_out_of_range_signals_are_errors() {
        for signum in [libc::SIGKILL, libc::SIGSEGV, 0, -1, NSIG as i32] {
            let err = register(signum).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{signum}: {err}");
        }
    }
}
