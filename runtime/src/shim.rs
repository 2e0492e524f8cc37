//! The one concurrency vocabulary (`crate::shim`): std normally, loom under `--cfg loom`, so task states, queues
//! and wake-ups can be model-checked with the same code.
//!
//! `Arc` stays std's under loom: the scheduler has `self: &Arc<Self>` methods, which loom's `Arc`
//! cannot be the receiver of. Models that want loom's leak checks use `loom::sync::Arc` directly.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning: the runtime never panics while holding its own locks, and
/// user code (wakers, destructors) runs only after they are released.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

// Parking a thread until another unparks it (`task::ThreadParker`): std's, or loom's.
#[cfg(loom)]
pub(crate) use loom::thread::{current as current_thread, park as park_thread, Thread};
#[cfg(not(loom))]
pub(crate) use std::thread::{
    current as current_thread, park as park_thread, park_timeout as park_thread_timeout, Thread,
};

/// Under loom, which does not model time, a timed park returns at once: a spurious wake-up,
/// which every caller allows.
#[cfg(loom)]
pub(crate) fn park_thread_timeout(_timeout: std::time::Duration) {
    loom::thread::yield_now();
}

/// Starts a detached thread named `name` that runs `f`: an OS thread normally, a loom thread
/// (unnamed, never refused) under loom, so code that starts threads can be modelled.
#[cfg(not(loom))]
pub(crate) fn spawn_thread(name: String, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name(name).spawn(f).map(drop)
}

/// Starts a detached loom thread that runs `f` (see the std variant).
#[cfg(loom)]
pub(crate) fn spawn_thread(
    _name: String,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    loom::thread::spawn(f);
    Ok(())
}

/// Waits on `condvar`, ignoring poisoning (see [`lock`]).
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(|e| e.into_inner())
}

/// Waits on `condvar` for at most `timeout`, ignoring poisoning (see [`lock`]). Not under loom,
/// which does not model time: code that times out models the timeout itself.
#[cfg(not(loom))]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(e) => e.into_inner().0,
    }
}

/// `UnsafeCell` with loom's closure API (`with`, `with_mut`), so code written against it is
/// checked by loom for unsynchronised access and compiles to a plain cell otherwise.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `UnsafeCell` with loom's closure API (`with`, `with_mut`); see the loom variant.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// The contents, consuming the cell.
    #[inline]
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }
}
