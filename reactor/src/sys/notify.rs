//! Cross-thread wake-up: an `eventfd` in the selector's set.
//!
//! OS notes: an eventfd is a 64-bit counter; `write` adds, `read` returns and zeroes it. The
//! counter saturates at `u64::MAX - 1`, after which `write` would block (or fail with `EAGAIN`
//! when non-blocking), so writers coalesce through an atomic flag and the driver drains with one
//! `read` per wake-up: the counter never gets near overflow.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::syscall;

/// Wakes a thread blocked in the selector.
#[derive(Debug)]
pub struct Notifier {
    fd: OwnedFd,
    /// `true` from the first `wake` until the driver drains the eventfd.
    pending: AtomicBool,
}

impl Notifier {
    pub(crate) fn new() -> io::Result<Notifier> {
        // SAFETY: no pointers: flags only.
        let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: `eventfd` just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Notifier {
            fd,
            pending: AtomicBool::new(false),
        })
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes the selector's current or next wait return. Many calls before the driver drains
    /// cost one syscall.
    pub fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. EAGAIN (counter
            // saturated) still leaves the eventfd readable, which is all a wake needs.
            let _ = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    /// Called by the driver when the eventfd was reported readable: empties the counter first,
    /// then re-enables `wake`. The other order loses wake-ups for good: a `wake` between the
    /// re-enable and the read would have its write consumed by that read and leave `pending`
    /// set, so every later `wake` would skip its write. In this order a `wake` that lands before
    /// the re-enable skips its write, which is fine: the driver is awake (it is draining) and
    /// looks at its queues after the turn; the swap makes the waker's work visible to it.
    pub(crate) fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from an eventfd we own; EAGAIN (already empty)
        // is harmless.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        self.pending.swap(false, Ordering::AcqRel);
    }

    /// `drain` for an eventfd its selector watches edge-triggered: every write is a new edge
    /// whatever the counter holds, so the counter need not be read (it cannot overflow: one
    /// write per wait, 2^64 - 2 of them). Re-enables `wake`.
    pub(crate) fn clear_pending(&self) {
        self.pending.swap(false, Ordering::AcqRel);
    }
}
