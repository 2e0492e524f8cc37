//! Helpers for the loom models of this module: a waker that records wake-ups in a loom
//! atomic, and a single hand poll. Waits that must end use `loom::future::block_on`, so a
//! lost wake-up shows up as a deadlock of the model.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicBool, Ordering};

/// A waker whose wake-ups can be checked.
pub(crate) struct TestWaker {
    flag: Arc<Flag>,
    waker: Waker,
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TestWaker {
    pub(crate) fn new() -> TestWaker {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        TestWaker {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }

    /// Whether the waker was woken since the last call (and forgets it).
    pub(crate) fn take_woken(&self) -> bool {
        self.flag.0.swap(false, Ordering::SeqCst)
    }
}

/// Polls `fut` once with `waker`.
pub(crate) fn poll_once<F: Future + ?Sized>(
    fut: Pin<&mut F>,
    waker: &TestWaker,
) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(&waker.waker))
}
