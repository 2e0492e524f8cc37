//! [`JoinHandle`]: a coroutine's result, for coroutines, threads and async code alike.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use weft_runtime::JoinError;

/// An owned permission to wait for a coroutine's result.
///
/// - [`join`](JoinHandle::join) waits from synchronous code: in a coroutine it parks only the
///   coroutine; on a plain thread it blocks the thread.
/// - In async code, `.await` it: it is a `Future`.
///
/// A coroutine that panicked gives `Err(JoinError)` whose
/// [`is_panic`](JoinError::is_panic) is true; other coroutines are unaffected. **Dropping the
/// handle detaches the coroutine**; [`abort`](JoinHandle::abort) cancels it instead.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let child = weft_coroutines::go(|| 21);
///     let parent = weft_coroutines::go(move || child.join().unwrap() * 2); // a coroutine joins
///     assert_eq!(parent.await.unwrap(), 42); // async code awaits
///
///     let failing = weft_coroutines::go(|| panic!("boom"));
///     assert!(failing.await.unwrap_err().is_panic());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<T> {
    inner: weft_runtime::JoinHandle<T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: weft_runtime::JoinHandle<T>) -> JoinHandle<T> {
        JoinHandle { inner }
    }

    /// Waits for the coroutine and returns its result.
    ///
    /// # Errors
    /// The coroutine panicked, or was aborted (or its runtime shut down) first.
    ///
    /// # Panics
    /// On an event-loop thread outside a coroutine (async code): that would stall the loop;
    /// `.await` the handle there.
    pub fn join(self) -> Result<T, JoinError> {
        crate::block_on(self.inner)
    }

    /// Cancels the coroutine: if it is parked, its stack is unwound (its destructors run) at
    /// the loop's next scheduling point; joining then gives a cancelled [`JoinError`].
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// `true` once the coroutine has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The coroutine's task id, unique within its runtime (the overflow report names it).
    pub fn id(&self) -> u64 {
        self.inner.id()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
