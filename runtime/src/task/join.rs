use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Mutex as StdMutex;
use std::task::{Context, Poll};

use super::raw::{release_ref, Header};
use super::state::{COMPLETE, JOIN_INTEREST};
use crate::shim::lock;

/// An owned permission to await a spawned task's output.
///
/// It is a `Future` that resolves to `Ok(output)`, or to a [`JoinError`] when the task panicked
/// or was aborted.
///
/// **Dropping a `JoinHandle` detaches the task**: it keeps running to completion and its output
/// is dropped. Call [`abort`](JoinHandle::abort) to cancel it instead.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let handle = weft_runtime::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
///
///     let forever = weft_runtime::spawn(std::future::pending::<()>());
///     forever.abort();
///     assert!(forever.await.unwrap_err().is_cancelled());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves `T` out of the task (or drops it) on whichever thread holds the
// handle, so it may cross threads exactly when `T: Send`; everything else it touches is the
// thread-safe header.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the atomic state or calls `abort`, which is thread-safe.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(super) fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the header alive.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task: its future is dropped at its next scheduling point (at once if it is
    /// idle), and awaiting this handle gives a cancelled [`JoinError`]. No effect on a finished
    /// task.
    pub fn abort(&self) {
        let header = self.header();
        if header.state.transition_to_cancelled() == super::state::WakeAction::Submit {
            // SAFETY: the transition made a new reference for the run queue.
            unsafe { (header.vtable.schedule)(self.raw) };
        }
    }

    /// `true` once the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().state.load() & COMPLETE != 0
    }

    /// The task's id, unique within its runtime.
    pub fn id(&self) -> u64 {
        self.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// Protocol: the runner stores the output, sets `COMPLETE`, *then* locks `join_waker` and
    /// wakes what it finds. Here `COMPLETE` is checked again with `join_waker` locked before the
    /// waker is stored, so either the runner finds the waker or this poll sees `COMPLETE`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header();
        if header.state.load() & COMPLETE == 0 {
            let mut slot = lock(&header.join_waker);
            if header.state.load() & COMPLETE == 0 {
                match &*slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
        }
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: the task is COMPLETE and this handle (JOIN_INTEREST) owns the output; `out`
        // has exactly the type the task's vtable writes.
        unsafe { (header.vtable.read_output)(self.raw, (&mut out as *mut Poll<_>).cast()) };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.header();
        let prev = header.state.drop_join_interest();
        debug_assert!(prev & JOIN_INTEREST != 0);
        if prev & COMPLETE != 0 {
            // SAFETY: COMPLETE was set while we still held JOIN_INTEREST, so the runner left
            // the output to us.
            unsafe { (header.vtable.drop_output)(self.raw) };
        }
        // Nobody will be woken for this handle any more: let go of its waker now, not when
        // the (possibly long-lived) task is freed.
        let waker = lock(&header.join_waker).take();
        drop(waker);
        // SAFETY: the handle's reference, given up once.
        unsafe { release_ref(self.raw) };
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

/// Why a task produced no output: it panicked, or it was cancelled (by
/// [`JoinHandle::abort`] or runtime shutdown).
pub struct JoinError {
    id: u64,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(StdMutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(super) fn cancelled(id: u64) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(super) fn panic(id: u64, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(StdMutex::new(payload)),
        }
    }

    /// The task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The id of the task that failed.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The panic payload, to re-raise with [`std::panic::resume_unwind`].
    ///
    /// # Errors
    /// Gives the error back when the task was cancelled rather than panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let payload = p.lock().unwrap_or_else(|e| e.into_inner());
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(m) => write!(f, "task {} panicked with message {m:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => write!(
                f,
                "JoinError::Panic({}, {:?})",
                self.id,
                self.panic_message()
            ),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

/// Model checks of the `JoinHandle` side (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime
/// --release --lib loom`), on the test scheduler of `task::loom_harness`.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::thread;

    use crate::task::loom_harness::{block_on, Counts, Gate, Sched, WaitGate};

    /// The handle is dropped on one thread while the task completes on another: the output
    /// is dropped exactly once (by the runner or by the handle), and the task is freed.
    #[test]
    fn loom_join_handle_dropped_racing_completion() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(true), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let dropper = thread::spawn(move || drop(join));
            sched.run_queued();
            dropper.join().unwrap();
            drop(gate);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), 1);
            sched.assert_all_freed();
        });
    }

    /// The handle is awaited on one thread while the task completes on another: the join
    /// waker is never lost (a lost one leaves the awaiting thread parked forever, which loom
    /// reports as a deadlock).
    #[test]
    fn loom_join_handle_awaited_racing_completion() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(true), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let joiner = thread::spawn(move || block_on(join).is_ok());
            sched.run_queued();
            assert!(joiner.join().unwrap(), "the task completed");
            drop(gate);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), 1);
            sched.assert_all_freed();
        });
    }
}
