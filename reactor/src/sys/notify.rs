//! Cross-thread wake-up: an `eventfd` in the selector's set.
//!
//! OS notes: an eventfd is a 64-bit counter; `write` adds, `read` returns and zeroes it. The
//! counter saturates at `u64::MAX - 1`, after which `write` would block (or fail with `EAGAIN`
//! when non-blocking), so writers coalesce through an atomic flag and the driver drains with one
//! `read` per wake-up: the counter never gets near overflow.
//!
//! # Under loom
//!
//! The decision of who writes the eventfd (the `pending` flag) is plain logic and is
//! model-checked; the eventfd itself is not. Under `--cfg loom` the descriptor is still created
//! and registered (so reactors and hubs build as usual), but a wake-up's write and the driver's
//! read go to a model of the counter ("readable or not", a loom mutex and condvar) instead, and
//! `Notifier::model_wait` stands in for a selector wait that this eventfd would end.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::syscall;
#[cfg(loom)]
use crate::sync::{lock, Condvar, Mutex};
use crate::sync::{AtomicBool, Ordering};

/// Wakes a thread blocked in the selector.
#[derive(Debug)]
pub struct Notifier {
    fd: OwnedFd,
    /// `true` from the first `wake` until the driver drains the eventfd.
    pending: AtomicBool,
    /// Under loom: the eventfd is readable (written since the last read or reported edge).
    #[cfg(loom)]
    readable: Mutex<bool>,
    #[cfg(loom)]
    readable_cv: Condvar,
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
            #[cfg(loom)]
            readable: Mutex::new(false),
            #[cfg(loom)]
            readable_cv: Condvar::new(),
        })
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes the selector's current or next wait return. Many calls before the driver drains
    /// cost one syscall.
    pub fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.write_one();
        }
    }

    /// Adds one to the counter, making the eventfd readable.
    #[cfg(not(loom))]
    fn write_one(&self) {
        let one: u64 = 1;
        // EAGAIN (counter saturated) still leaves the eventfd readable, which is all a wake
        // needs.
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
        let _ = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Empties the counter; the eventfd is no longer readable.
    #[cfg(not(loom))]
    fn read_all(&self) {
        let mut value: u64 = 0;
        // EAGAIN (already empty) is harmless.
        // SAFETY: reads 8 bytes into a live u64 from an eventfd we own.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Under loom: the write makes the modelled counter readable and ends a blocked
    /// [`model_wait`](Notifier::model_wait).
    #[cfg(loom)]
    fn write_one(&self) {
        *lock(&self.readable) = true;
        self.readable_cv.notify_all();
    }

    /// Under loom: the read empties the modelled counter.
    #[cfg(loom)]
    fn read_all(&self) {
        *lock(&self.readable) = false;
    }

    /// Under loom only: a selector wait that only this eventfd can end. Returns whether the
    /// eventfd was readable; with `block`, first waits until it is (a lost wake-up then shows
    /// as loom's deadlock). Reporting it takes it, as an edge-triggered selector does; a
    /// level-triggered driver [`drain`s](Notifier::drain) right after anyway. Time does not
    /// pass in a model, so no timeout ends the wait.
    #[cfg(loom)]
    pub fn model_wait(&self, block: bool) -> bool {
        let mut readable = lock(&self.readable);
        while block && !*readable {
            readable = self
                .readable_cv
                .wait(readable)
                .unwrap_or_else(|e| e.into_inner());
        }
        std::mem::replace(&mut *readable, false)
    }

    /// Called by the driver when the eventfd was reported readable: empties the counter first,
    /// then re-enables `wake`. The other order loses wake-ups for good: a `wake` between the
    /// re-enable and the read would have its write consumed by that read and leave `pending`
    /// set, so every later `wake` would skip its write. In this order a `wake` that lands before
    /// the re-enable skips its write, which is fine: the driver is awake (it is draining) and
    /// looks at its queues after the turn; the swap makes the waker's work visible to it.
    pub(crate) fn drain(&self) {
        self.read_all();
        self.pending.swap(false, Ordering::AcqRel);
    }

    /// `drain` for an eventfd its selector watches edge-triggered: every write is a new edge
    /// whatever the counter holds, so the counter need not be read (it cannot overflow: one
    /// write per wait, 2^64 - 2 of them). Re-enables `wake`.
    pub(crate) fn clear_pending(&self) {
        self.pending.swap(false, Ordering::AcqRel);
    }
}

/// Model checks of the wake-up protocol (`RUSTFLAGS="--cfg loom" cargo test -p weft-reactor
/// --release --lib loom`), with the eventfd modelled (module docs).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{Arc, AtomicUsize};

    /// The current-thread loop's cross-thread wake-up (weft-runtime's `current_thread.rs`):
    /// other threads push a task into the inject queue, then [`wake`](Notifier::wake); the loop
    /// takes what is queued, blocks in its selector only when it found nothing (else polls it
    /// without blocking), and [`drain`s](Notifier::drain) the eventfd whenever it is reported.
    /// One thread pushes twice, so a wake can land inside a drain (between the read and the
    /// re-enable whose order `drain` explains): a lost wake-up leaves the loop blocked with a
    /// task queued, which loom reports as a deadlock.
    #[test]
    fn loom_a_task_pushed_from_another_thread_always_wakes_the_loop() {
        loom::model(|| {
            let notifier = Arc::new(Notifier::new().unwrap());
            let inject = Arc::new(AtomicUsize::new(0));
            let pushers: Vec<_> = [1, 2]
                .into_iter()
                .map(|pushes| {
                    let (notifier, inject) = (notifier.clone(), inject.clone());
                    loom::thread::spawn(move || {
                        for _ in 0..pushes {
                            // `Inject::push` (its lock releases), then `Handle::wake`
                            inject.fetch_add(1, Ordering::Release);
                            notifier.wake();
                        }
                    })
                })
                .collect();
            let mut ran = 0;
            while ran < 3 {
                let taken = inject.swap(0, Ordering::Acquire);
                ran += taken;
                // the turn: blocking when idle, a poll otherwise; a reported eventfd is drained
                if notifier.model_wait(taken == 0) {
                    notifier.drain();
                }
            }
            pushers.into_iter().for_each(|p| p.join().unwrap());
        });
    }
}
