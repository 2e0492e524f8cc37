//! The one concurrency vocabulary: std's primitives normally, loom's under `--cfg loom`, so the
//! logic built on them (readiness, timers, wake-ups) can be model-checked.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning: every critical section in the reactor leaves its data
/// consistent before anything that can panic (wakers are woken after the lock is released).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A lock for critical sections of a few instructions (storing or taking a waker), taken on
/// every I/O event. It spins instead of parking, and skips std's poisoning bookkeeping: both cost
/// more than the critical sections it guards. Under loom it is loom's `Mutex`, so models see
/// every interleaving.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct SpinLock<T> {
    locked: std::sync::atomic::AtomicBool,
    value: std::cell::UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time.
#[cfg(not(loom))]
unsafe impl<T: Send> Sync for SpinLock<T> {}

#[cfg(not(loom))]
impl<T> SpinLock<T> {
    /// Acquires the lock: a compare-and-swap, spinning (then yielding) while another thread
    /// holds it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        use std::sync::atomic::Ordering;
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    /// Acquires the lock if it is free (one compare-and-swap), without waiting.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        use std::sync::atomic::Ordering;
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinGuard { lock: self })
    }

    /// Another thread holds the lock: spin, then yield, until it is ours.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        use std::sync::atomic::Ordering;
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // The holder was preempted: let it run.
                std::thread::yield_now();
            }
        }
    }
}

/// Access to a [`SpinLock`]'s value; releases it when dropped.
#[cfg(not(loom))]
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

#[cfg(not(loom))]
impl<T> std::ops::Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> std::ops::DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock
            .locked
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Under loom the spin lock's guard is the mutex's.
#[cfg(loom)]
pub(crate) type SpinGuard<'a, T> = MutexGuard<'a, T>;

/// Under loom the spin lock is a plain (model-checked) mutex.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct SpinLock<T>(Mutex<T>);

#[cfg(loom)]
impl<T> SpinLock<T> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        lock(&self.0)
    }

    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock().ok()
    }
}
