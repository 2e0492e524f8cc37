//! [`Mutex`]: an async, fair (FIFO) lock for data shared between tasks and coroutines.
//!
//! # State: who owns which field
//!
//! - `state` (atomic word):
//!   - `LOCKED`: someone holds the lock (a guard, or a waiter the lock was handed to and that
//!     has not run yet). Set by whoever takes a free lock; cleared only by an unlock that finds
//!     nobody waiting.
//!   - `WAITERS`: the wait queue is not empty. Set and cleared only under the `waiters` lock,
//!     and only together with `LOCKED` (`WAITERS` without `LOCKED` never happens).
//! - `waiters` (a small std lock around a [`WaitList`]): lockers waiting, oldest first. A waiter
//!   woken by an unlock owns the lock from that moment.
//! - `value`: accessed only by the holder of the lock.
//!
//! # Protocol
//!
//! 1. **Fast lock.** CAS `state` from `0` to `LOCKED` (acquire). With no waiters possible when
//!    `state` is 0, taking it cannot overtake anyone.
//! 2. **Slow lock.** Take `waiters`; retry the CAS from 0 (the holder may have left), else set
//!    `WAITERS` (CAS, so an unlock racing us either sees the flag or leaves the lock free for
//!    our retry) and queue. Pending.
//! 3. **Fast unlock.** CAS `state` from `LOCKED` to `0` (release). It fails only when
//!    `WAITERS` is set.
//! 4. **Hand-off.** Take `waiters`; give the lock to the oldest waiter (mark it, wake it after
//!    releasing `waiters`), leaving `LOCKED` set so nobody can take it in between: that is the
//!    fairness. If that emptied the queue, clear `WAITERS`. If the queue was already empty (its
//!    last waiter was cancelled meanwhile), store `0`.
//! 5. **Woken waiter.** On its next poll it finds its mark (under `waiters`) and holds the lock.
//!    The hand-off went through `waiters`, which orders the previous holder's writes first.
//! 6. **Cancel.** A waiting `Lock` future that is dropped leaves the queue (clearing `WAITERS`
//!    if it was the last). If the lock had already been handed to it, it unlocks as in step 4,
//!    so the next waiter gets it: dropping a pending `lock()` loses nothing.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use super::wait_list::WaitList;
use crate::coop;
use crate::shim::{self, lock, AtomicUsize, Ordering, UnsafeCell};

/// Someone holds the lock.
const LOCKED: usize = 0b01;
/// Lockers are queued (only ever set together with `LOCKED`).
const WAITERS: usize = 0b10;

/// An async mutual-exclusion lock: [`lock`](Mutex::lock) waits without blocking the thread,
/// and waiters get the lock in arrival order (an unlock hands it straight to the oldest
/// waiter).
///
/// It is a task-level lock, not a thread lock: a task or coroutine may hold the guard across an
/// `.await` or a suspension, and release it on another thread. For short critical sections with
/// no waits inside, `std::sync::Mutex` is cheaper.
///
/// ```
/// use std::sync::Arc;
/// use weft_runtime::sync::Mutex;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let total = Arc::new(Mutex::new(0));
///     let mut tasks = Vec::new();
///     for i in 1..=10 {
///         let total = total.clone();
///         tasks.push(weft_runtime::spawn(async move {
///             let mut guard = total.lock().await;
///             weft_runtime::yield_now().await; // holding it across an await is fine
///             *guard += i;
///         }));
///     }
///     for task in tasks {
///         task.await.unwrap();
///     }
///     assert_eq!(*total.lock().await, 55);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Mutex<T> {
    state: AtomicUsize,
    waiters: shim::Mutex<WaitList<()>>,
    value: UnsafeCell<T>,
}

// SAFETY: the mutex owns a `T`, so it may move to another thread when `T` may.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: sharing the mutex lets any thread get `&mut T` while holding the lock (one at a time,
// guaranteed by the protocol), which is moving access to `T` between threads: `T: Send` is
// needed and enough, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// `try_lock` found the lock held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(0),
            waiters: shim::Mutex::new(WaitList::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, waiting (FIFO) while someone else holds the lock.
    ///
    /// # Cancel safety
    /// Cancel safe: the [`Lock`] future is `Unpin`; dropping it after `Pending` leaves the
    /// queue, and if the lock had just been handed to it, passes it on to the next waiter.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            key: None,
        }
    }

    /// Takes the lock if it is free now.
    ///
    /// # Errors
    /// [`TryLockError`] when it is held (or waiters are queued, which implies it is held).
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        if self.try_acquire() {
            Ok(self.guard())
        } else {
            Err(TryLockError(()))
        }
    }

    /// Locks from synchronous code, with [`task::block_on`]: inside a coroutine it parks the
    /// coroutine while it waits; on a plain thread it blocks the thread.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (where `.await` is the way).
    ///
    /// ```
    /// use weft_runtime::sync::Mutex;
    ///
    /// let names = Mutex::new(Vec::new());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| names.blocking_lock().push("thread"));
    /// });
    /// names.blocking_lock().push("main");
    /// assert_eq!(names.into_inner(), ["thread", "main"]);
    /// ```
    ///
    /// [`task::block_on`]: crate::task::block_on
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        crate::task::block_on(self.lock())
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other access to `value`.
        self.value.with_mut(|value| unsafe { &mut *value })
    }

    /// Step 1.
    fn try_acquire(&self) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _value: PhantomData,
        }
    }

    /// Steps 3 and 4.
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        let mut waiters = lock(&self.waiters);
        let waker = self.hand_off(&mut waiters);
        drop(waiters);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Step 4, under `waiters`: gives the held lock to the oldest waiter (returning its waker)
    /// or frees it.
    fn hand_off(&self, waiters: &mut WaitList<()>) -> Option<Waker> {
        let waker = waiters.wake_front(());
        if waiters.is_empty() {
            let state = if waker.is_some() { LOCKED } else { 0 };
            self.state.store(state, Ordering::Release);
        }
        waker
    }
}

/// The future returned by [`Mutex::lock`]. Cancel safe (see there).
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    /// Our place in the queue, while waiting.
    key: Option<usize>,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        ready!(coop::poll_proceed(cx));
        let this = &mut *self;
        let mutex = this.mutex;
        match this.key {
            None => {
                if mutex.try_acquire() {
                    return Poll::Ready(mutex.guard());
                }
                let mut waiters = lock(&mutex.waiters);
                let mut state = mutex.state.load(Ordering::Relaxed);
                loop {
                    let (new, acquired) = if state == 0 {
                        (LOCKED, true)
                    } else {
                        (state | WAITERS, false)
                    };
                    match mutex.state.compare_exchange_weak(
                        state,
                        new,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) if acquired => return Poll::Ready(mutex.guard()),
                        Ok(_) => break,
                        Err(actual) => state = actual,
                    }
                }
                this.key = Some(waiters.push_back(cx.waker()));
                Poll::Pending
            }
            Some(key) => {
                let mut waiters = lock(&mutex.waiters);
                match waiters.poll(key, cx.waker()) {
                    None => Poll::Pending,
                    // The lock was handed to us (step 5).
                    Some(()) => {
                        this.key = None;
                        Poll::Ready(mutex.guard())
                    }
                }
            }
        }
    }
}

impl<T> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mutex = self.mutex;
        let mut waiters = lock(&mutex.waiters);
        let waker = match waiters.remove(key) {
            // The lock was handed to us: pass it on (step 6).
            Some(()) => mutex.hand_off(&mut waiters),
            None => {
                if waiters.is_empty() {
                    mutex.state.fetch_and(!WAITERS, Ordering::Relaxed);
                }
                None
            }
        };
        drop(waiters);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

/// Access to the value of a locked [`Mutex`]; dropping it unlocks (handing the lock to the
/// oldest waiter, if any).
///
/// It is `Send` when `T` is (a task holding it may move), but `Sync` only when `T` is, since a
/// shared guard hands out `&T`:
///
/// ```compile_fail
/// fn shared<T: Sync>(_: &T) {}
/// let mutex = weft_runtime::sync::Mutex::new(std::cell::Cell::new(1));
/// shared(&mutex.try_lock().unwrap()); // `Cell` is not `Sync`
/// ```
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    /// Makes the guard `Send` when `T: Send` and `Sync` only when `T: Sync` (the guard hands
    /// out `&T` to whoever shares it).
    _value: PhantomData<&'a mut T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other access to `value` exists while it
        // lives; the reference is tied to the guard's borrow.
        self.mutex.value.with(|value| unsafe { &*value })
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference from the guard.
        self.mutex.value.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("value", &&*guard),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

/// Model checks (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::loom_util::{block_on, poll_once, TestWaker};
    use std::sync::Arc;

    /// Three lockers, two on other threads: every increment lands (mutual exclusion) and
    /// every waiter gets the lock (a lost hand-off deadlocks the model).
    #[test]
    fn loom_mutex_hand_off_reaches_every_waiter() {
        loom::model(|| {
            let mutex = Arc::new(Mutex::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let mutex = mutex.clone();
                    loom::thread::spawn(move || {
                        let mut guard = block_on(mutex.lock());
                        let seen = *guard;
                        loom::thread::yield_now();
                        *guard = seen + 1;
                    })
                })
                .collect();
            *block_on(mutex.lock()) += 1;
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(*mutex.try_lock().unwrap(), 3);
        });
    }

    /// A queued `lock()` future is dropped while the holder unlocks and another waiter waits:
    /// the lock, if handed to the dropped future, passes on; it is free at the end.
    #[test]
    fn loom_mutex_a_cancelled_waiter_passes_the_lock_on() {
        loom::model(|| {
            let mutex = Arc::new(Mutex::new(()));
            let guard = mutex.try_lock().unwrap();
            let other = {
                let mutex = mutex.clone();
                loom::thread::spawn(move || drop(block_on(mutex.lock())))
            };
            let waker = TestWaker::new();
            let mut lock = mutex.lock();
            let polled = poll_once(Pin::new(&mut lock), &waker);
            assert!(polled.is_pending());
            drop(guard);
            drop(lock);
            other.join().unwrap();
            assert!(mutex.try_lock().is_ok(), "the lock was lost");
        });
    }
}
