//! A coroutine as a weft task: [`CoroutineFuture::poll`] resumes the coroutine's stack, and
//! the stack suspends whenever the code on it waits.
//!
//! # Waiting
//!
//! While a poll resumes a stack, this thread's [`CURRENT`] points at the coroutine's
//! [`Current`] (which holds the poll's `Context`). Every thread that runs coroutines holds
//! [`wait`] in weft-runtime's coroutine-wait seam (installed with its first coroutine; outside
//! a coroutine `wait` declines). `weft_runtime::task::block_on(fut)` called on the stack then
//! runs `wait`, which polls `fut` with that `Context` and, while it is pending, suspends the stack: the task's
//! poll returns `Pending` with the future's waker pointing at the task. When the waker fires,
//! the scheduler polls the task again, the stack resumes inside `wait`, and `wait` polls again
//! with the new poll's `Context`. Nothing read from a thread-local or from a `Context` is kept
//! across a suspend: `wait` reads both afresh after every resume.
//!
//! # Unwinding
//!
//! A panic on the stack ends the coroutine; corosensei carries it out of `resume`, where the
//! task machinery turns it into the `JoinHandle`'s `JoinError`. A coroutine dropped while
//! parked (abort, runtime shutdown) is unwound on this thread: its destructors run from the
//! point where it parked. A coroutine never parks while its thread is panicking: I/O that is
//! not ready returns an error, `sleep` and `yield_now` return at once, and any other wait that is not ready on its
//! first poll aborts the process with a message (it could neither park nor finish).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use corosensei::{Coroutine, CoroutineResult, Yielder};
use weft_runtime::task::set_coroutine_wait;

use crate::overflow;
use crate::park::ParkState;
use crate::stack::Stack;

/// What the thread knows about the coroutine it is running; [`CURRENT`] points here during a
/// resume.
#[derive(Debug)]
pub(crate) struct Current {
    /// The `Context` of the poll that is resuming the stack (null before the first one, stale
    /// between polls: it is read only through [`CURRENT`], which points here only while a poll
    /// that set it runs).
    cx: Cell<*mut Context<'static>>,
    /// The stack's yielder, set by the coroutine's first instruction.
    yielder: Cell<*const Yielder<(), ()>>,
    /// Socket operations this resume may still start before the coroutine must yield (the
    /// coroutine's own cooperative budget, see [`Current::spend`]).
    budget: Cell<u32>,
    /// The task id, stored by the spawner right after spawning (0 until then: a coroutine
    /// placed on another worker may start first).
    pub(crate) id: Arc<AtomicU64>,
    pub(crate) name: Option<Box<str>>,
    /// The guard page, `start..end`, for the overflow handler.
    pub(crate) guard: (usize, usize),
    pub(crate) stack_size: usize,
}

thread_local! {
    /// The coroutine this thread is running, or null.
    pub(crate) static CURRENT: Cell<*const Current> = const { Cell::new(ptr::null()) };
}

/// Socket operations a coroutine may start per resume before it is made to yield: the
/// runtime's per-poll budget for async tasks, kept here without a thread-local lookup.
const BUDGET: u32 = 128;

impl Current {
    /// Spends one unit of this resume's budget, or, when none is left, wakes the task and
    /// returns `Pending`: the coroutine then suspends and goes to the back of the run queue,
    /// so one that always finds its sockets ready cannot starve the loop.
    #[inline]
    fn spend(&self, cx: &Context<'_>) -> Poll<()> {
        let left = self.budget.get();
        if left == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.budget.set(left - 1);
        Poll::Ready(())
    }
}

/// Spends one unit of the running coroutine's budget (see [`Current::spend`]); outside a
/// coroutine it is always ready.
#[inline]
pub(crate) fn spend_budget(cx: &Context<'_>) -> Poll<()> {
    let current = current();
    if current.is_null() {
        return Poll::Ready(());
    }
    // SAFETY: CURRENT is non-null only while `Running` keeps the `Current` alive, and only
    // code on that coroutine's stack runs on this thread meanwhile.
    unsafe { &*current }.spend(cx)
}

/// The running coroutine's [`Current`], or null outside a coroutine (one thread-local read).
#[inline]
pub(crate) fn current() -> *const Current {
    CURRENT.with(Cell::get)
}

/// Where the calling code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// On a coroutine's stack: waits park the coroutine.
    Coroutine,
    /// On an event-loop thread outside any coroutine (async code): waits would stall the loop.
    Loop,
    /// On a thread without a runtime: waits block the thread.
    Plain,
}

/// Where the calling code runs (one thread-local read when on a coroutine).
#[inline]
pub(crate) fn place() -> Place {
    if in_coroutine() {
        Place::Coroutine
    } else if weft_runtime::Handle::try_current().is_ok() {
        Place::Loop
    } else {
        Place::Plain
    }
}

/// `true` when called on a coroutine's stack.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     assert!(!weft_coroutines::in_coroutine());
///     let inside = weft_coroutines::spawn(weft_coroutines::in_coroutine);
///     assert!(inside.await.unwrap());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[inline]
pub fn in_coroutine() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// The error waits return instead of parking while the thread is panicking.
pub(crate) fn refuse_while_panicking() -> io::Error {
    io::Error::other(
        "weft coroutines: a coroutine cannot park while its thread is panicking (a blocking \
         call in a destructor during unwinding)",
    )
}

/// The task that runs one coroutine.
pub(crate) struct CoroutineFuture<T> {
    /// Taken only by `drop`, which unwinds it if it is parked and gives its stack back to the
    /// pool. A poll after the coroutine returned finds it done, and corosensei's `resume`
    /// panics instead of switching (the task machinery never polls a finished task).
    body: ManuallyDrop<Coroutine<(), (), T, Stack>>,
    current: Rc<Current>,
    park: ParkState,
}

impl<T: 'static> CoroutineFuture<T> {
    /// A coroutine that will run `f` on `stack` when first polled; `id` is its task's id (set by
    /// the spawner once the task exists). Called on the loop thread that will run it (by the
    /// pinned task's first poll), which it prepares for the overflow report.
    pub(crate) fn new<F>(stack: Stack, name: Option<Box<str>>, id: Arc<AtomicU64>, f: F) -> Self
    where
        F: FnOnce() -> T + 'static,
    {
        // Best effort: without them an overflow is still stopped by the guard page, only
        // without the message.
        let _ = overflow::prepare_thread();
        // Once per thread would do; a thread-local store is cheaper than checking.
        set_coroutine_wait(Some(wait));
        let current = Rc::new(Current {
            cx: Cell::new(ptr::null_mut()),
            yielder: Cell::new(ptr::null()),
            budget: Cell::new(BUDGET),
            id,
            name,
            guard: stack.guard(),
            stack_size: stack.usable(),
        });
        let body = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            let me = CURRENT.with(Cell::get);
            // SAFETY: the first resume runs under `Running`, which set CURRENT to this
            // coroutine's `Current`, kept alive by the future that is resuming us.
            unsafe { (*me).yielder.set(yielder) };
            f()
        });
        CoroutineFuture {
            body: ManuallyDrop::new(body),
            current,
            park: ParkState::new(),
        }
    }
}

impl<T> Future for CoroutineFuture<T> {
    type Output = T;

    // Always inlined into the task's run (through the pinned task's poll): the resume clobbers
    // every callee-saved register, which the run function saves already.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let running = Running::enter(&this.park, &this.current, cx);
        let result = this.body.resume(());
        drop(running);
        match result {
            CoroutineResult::Yield(()) => Poll::Pending,
            // The stack goes back to the pool when the task drops this future, right after.
            CoroutineResult::Return(value) => Poll::Ready(value),
        }
    }
}

impl<T> Drop for CoroutineFuture<T> {
    fn drop(&mut self) {
        // SAFETY: `body` is taken only here, and `drop` runs once.
        let mut body = unsafe { ManuallyDrop::take(&mut self.body) };
        if body.started() && !body.done() {
            // Parked: unwind the stack here, with the coroutine current so that waits in its
            // destructors find it (and refuse to park: the thread is unwinding).
            let mut cx = Context::from_waker(Waker::noop());
            let running = Running::enter(&self.park, &self.current, &mut cx);
            body.force_unwind();
            drop(running);
        } else {
            // Returned, finished by a panic, or never started (its closure is dropped here).
            body.force_unwind();
        }
        body.into_stack().recycle();
    }
}

/// The stack is running: `CURRENT` points at the coroutine (whose context is set) until
/// dropped (also when the coroutine's panic unwinds out of `resume`).
struct Running<'a> {
    park: &'a ParkState,
    previous: *const Current,
}

impl<'a> Running<'a> {
    #[inline]
    fn enter(park: &'a ParkState, current: &'a Current, cx: &mut Context<'_>) -> Running<'a> {
        if !park.enter() {
            // The task machinery polls a task on one thread at a time; getting here means a
            // broken scheduler, and resuming would corrupt the stack. (A debug-build check:
            // see `park`.)
            eprintln!("weft: a coroutine was resumed while its stack was running; aborting");
            std::process::abort();
        }
        current
            .cx
            .set((cx as *mut Context<'_>).cast::<Context<'static>>());
        current.budget.set(BUDGET);
        Running {
            park,
            previous: CURRENT.with(|c| c.replace(current)),
        }
    }
}

impl Drop for Running<'_> {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
        self.park.leave();
    }
}

/// The coroutine-wait seam that weft-runtime's `block_on` calls on every thread that runs
/// coroutines: it parks the running coroutine, or declines (`false`) outside one.
fn wait(poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<()>) -> bool {
    if !in_coroutine() {
        return false;
    }
    // SAFETY: `in_coroutine` says this runs on a resumed coroutine's stack.
    unsafe { park_on(std::future::poll_fn(poll)) };
    true
}

/// Runs `fut` to completion on the running coroutine's stack: polls it with the current poll's
/// context and suspends the stack while it is pending.
///
/// The runtime's `block_on` reaches it through [`wait`]; the crate's sockets use [`park_io`].
///
/// # Safety
/// The caller runs on a coroutine's stack (`in_coroutine()` is true).
#[inline]
pub(crate) unsafe fn park_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    // SAFETY: on a coroutine's stack (the caller's contract), so CURRENT is set.
    unsafe {
        park_until(
            current(),
            |_, cx| {
                // Any future may park this coroutine inside its own `poll` (a sync wait in a
                // poll), which resumes in a later task poll: the context it was given must
                // outlive this one's scheduler frame, so it is built here, on this stack, with
                // a waker of its own.
                let waker = cx.waker().clone();
                fut.as_mut().poll(&mut Context::from_waker(&waker))
            },
            |cur| cannot_park(cur),
        )
    }
}

/// Runs the socket operation `op` to completion on the running coroutine's stack: spends one
/// unit of the coroutine's budget, then polls `op` with the current poll's context, suspending
/// the stack while it is pending.
///
/// This is [`park_on`] for the crate's sockets, with the operation as a closure (no future
/// state) and the [`Current`] the caller already looked up for the first attempt. The budget
/// is spent once per operation, not again on the poll after each resume. An operation that is
/// ready completes even while the thread is panicking (it does not park); one that would park
/// then returns [`refuse_while_panicking`]'s error instead.
///
/// # Safety
/// `current` is this thread's [`CURRENT`] and not null: the caller runs on a coroutine's stack.
#[inline]
pub(crate) unsafe fn park_io<T>(
    current: *const Current,
    mut op: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
) -> io::Result<T> {
    // SAFETY: the caller's contract.
    let left = unsafe { &*current }.budget.get();
    let current = if left == 0 {
        // SAFETY: the caller's contract.
        unsafe { out_of_budget(current) }?
    } else {
        // SAFETY: the caller's contract.
        unsafe { &*current }.budget.set(left - 1);
        current
    };
    // SAFETY: `current` is this thread's CURRENT (read afresh if `out_of_budget` suspended).
    unsafe { park_until(current, |_, cx| op(cx), |_| Err(refuse_while_panicking())) }
}

/// This resume's budget is spent: yields (the task goes to the back of the run queue), spends
/// one unit of the next resume's budget, and returns this thread's [`CURRENT`] after the resume.
///
/// # Safety
/// As [`park_io`].
#[cold]
#[inline(never)]
unsafe fn out_of_budget(current: *const Current) -> io::Result<*const Current> {
    // SAFETY: the caller's contract.
    unsafe {
        park_until(
            current,
            |cur, cx| cur.spend(cx).map(|()| Ok(ptr::from_ref(cur))),
            |_| Err(refuse_while_panicking()),
        )
    }
}

/// The parking loop: polls `poll` with the running coroutine's [`Current`] and the current
/// poll's context until it is ready, suspending the stack in between. That context lives in
/// the resuming poll's scheduler frame, so `poll` must not park the coroutine itself (the
/// crate's socket operations don't; [`park_on`] gives other futures a context of their own). A wait that is not ready
/// while the thread is panicking cannot park: it ends with `refuse` instead (an error, or
/// [`cannot_park`]). This is the only place a coroutine checks for a panicking thread, so a
/// wait that is ready at once costs no check.
///
/// # Safety
/// `current` is this thread's [`CURRENT`] and not null: the caller runs on a coroutine's stack.
#[inline]
unsafe fn park_until<R>(
    mut current: *const Current,
    mut poll: impl FnMut(&Current, &mut Context<'_>) -> Poll<R>,
    refuse: impl FnOnce(&Current) -> R,
) -> R {
    loop {
        // SAFETY: the caller's contract for the first pass; after a suspend `current` is read
        // afresh below. `Running` set CURRENT to a `Current` that the resuming future keeps
        // alive, and its `cx` to the live `Context` of this very poll (a no-op one while the
        // coroutine is being dropped).
        let cur = unsafe { &*current };
        // SAFETY: as above; the context is used only until this stack suspends.
        let cx = unsafe { &mut *cur.cx.get() };
        if let Poll::Ready(output) = poll(cur, cx) {
            return output;
        }
        if std::thread::panicking() {
            return refuse(cur);
        }
        // SAFETY: set by the coroutine's first instruction; the yielder lives at the base of
        // this very stack, which is running.
        unsafe { &*cur.yielder.get() }.suspend(());
        // Read afresh after every resume: nothing thread-local is cached across a suspend.
        current = CURRENT.with(Cell::get);
    }
}

#[cold]
fn cannot_park(current: &Current) -> ! {
    eprintln!(
        "weft: coroutine {} (id {}) waited on something not ready while its thread was \
         panicking; a coroutine cannot park while unwinding, and the wait cannot return \
         without a result; aborting",
        current
            .name
            .as_deref()
            .map_or("(unnamed)".into(), |n| format!("{n:?}")),
        current.id.load(Ordering::Relaxed)
    );
    std::process::abort();
}
