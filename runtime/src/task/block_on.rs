//! Waiting for a future from synchronous code, whichever front end runs it.
//!
//! # The seam
//!
//! The runtime does not know about coroutines; the coroutine crate tells it, per thread, how the
//! coroutine running there waits. A thread that runs coroutines holds a [`CoroutineWait`]
//! function ([`set_coroutine_wait`]); [`block_on`] hands it a poll closure, and, when a
//! coroutine is running, the coroutine crate polls that closure with its task's `Context` each
//! time the coroutine resumes, suspending the stack in between. Otherwise (no seam, or it says
//! no coroutine runs) `block_on` parks the OS thread, except on an event-loop thread, where
//! parking would freeze every task and socket of the loop.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use super::ThreadParker;
use crate::context;

/// How the coroutine running on this thread waits: it polls `poll` with its task's context,
/// suspending between polls, until `poll` returns `Ready`, and returns `true`; or it returns
/// `false` at once, without polling, when no coroutine is running on this thread.
pub type CoroutineWait = fn(poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<()>) -> bool;

thread_local! {
    static COROUTINE_WAIT: Cell<Option<CoroutineWait>> = const { Cell::new(None) };
}

/// Installs (or with `None`, removes) this thread's coroutine wait and returns the previous one.
///
/// For `weft-coroutines`: it installs its wait on each thread that runs coroutines. Other code
/// has no reason to call it.
#[doc(hidden)]
pub fn set_coroutine_wait(wait: Option<CoroutineWait>) -> Option<CoroutineWait> {
    COROUTINE_WAIT.with(|slot| slot.replace(wait))
}

/// Runs `future` to completion from synchronous code.
///
/// - Inside a coroutine it parks only the coroutine: the loop thread goes on running other
///   tasks and coroutines, and resumes this one when the future's waker fires.
/// - On a plain thread (not an event-loop thread) it blocks the thread.
///
/// ```
/// let rt = weft_runtime::Runtime::new()?;
/// let job = rt.spawn(async { 6 * 7 });
/// // the loop runs on this thread; another thread waits for the task
/// let waiter = std::thread::spawn(move || weft_runtime::task::block_on(job).unwrap());
/// rt.block_on(async {
///     while !waiter.is_finished() {
///         weft_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
///     }
/// });
/// assert_eq!(waiter.join().unwrap(), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// On an event-loop thread outside a coroutine (inside `Runtime::block_on` or an async task):
/// blocking there would stall the loop that has to complete the future. Await it instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    if let Some(wait) = COROUTINE_WAIT.with(Cell::get) {
        let mut output = None;
        let waited = wait(&mut |cx| match future.as_mut().poll(cx) {
            Poll::Ready(value) => {
                output = Some(value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        });
        if waited {
            return output.expect("a coroutine wait returns only once its poll is ready");
        }
    }
    if context::on_loop_thread() {
        panic!(
            "weft: block_on called on an event-loop thread outside a coroutine: it would stall \
             the loop; .await the future instead (or run this code in a coroutine)"
        );
    }
    park_thread_until(future)
}

/// Polls `future` on this thread, parking the thread between polls.
pub(crate) fn park_thread_until<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let parker = ThreadParker::new();
    let waker = parker.waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        parker.park(None);
    }
}
