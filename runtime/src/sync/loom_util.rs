//! Helpers for the loom models of this module: a waker that records wake-ups, a single hand
//! poll, and a `block_on` that parks the loom thread until woken, so that a lost wake-up shows
//! up as a deadlock of the model.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::{Condvar, Mutex};

/// A waker whose wake-ups can be checked or waited for.
pub(crate) struct TestWaker {
    flag: Arc<Flag>,
    waker: Waker,
}

struct Flag {
    woken: Mutex<bool>,
    condvar: Condvar,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.condvar.notify_one();
    }
}

impl TestWaker {
    pub(crate) fn new() -> TestWaker {
        let flag = Arc::new(Flag {
            woken: Mutex::new(false),
            condvar: Condvar::new(),
        });
        TestWaker {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }

    /// Whether the waker was woken since the last call (and forgets it).
    pub(crate) fn take_woken(&self) -> bool {
        std::mem::take(&mut *self.flag.woken.lock().unwrap())
    }

    /// Parks until the waker is woken (and forgets it).
    fn wait(&self) {
        let mut woken = self.flag.woken.lock().unwrap();
        while !*woken {
            woken = self.flag.condvar.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// Polls `fut` once with `waker`.
pub(crate) fn poll_once<F: Future + ?Sized>(
    fut: Pin<&mut F>,
    waker: &TestWaker,
) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(&waker.waker))
}

/// Drives `fut` to completion, parking between polls until its waker is woken.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = TestWaker::new();
    loop {
        if let Poll::Ready(output) = poll_once(fut.as_mut(), &waker) {
            return output;
        }
        waker.wait();
    }
}
