//! The task allocation: one `Box` holding the header, the scheduler handle and the future (later
//! its output), reached through a type-erased vtable.
//!
//! # Run protocol
//!
//! 1. A queue entry (`Notified`) runs: `RUNNING` is set and `SCHEDULED` cleared in one step. A
//!    task that is already `COMPLETE` (shut down while queued) only releases the reference.
//! 2. The future is polled inside `catch_unwind` with a waker that borrows the queue's reference
//!    (no reference-count traffic per poll).
//! 3. `Pending`: `RUNNING` is cleared. If a wake arrived meanwhile (`NOTIFIED`), the task is
//!    pushed again with the same reference; otherwise the reference is released.
//! 4. `Ready` or a panic: the output (or `JoinError`) is stored, then `COMPLETE` is set. If the
//!    `JoinHandle` is gone, the runner drops the output itself; otherwise it wakes the handle's
//!    waker. The task leaves the owned list and releases the queue's reference.
//!
//! Destructors of futures and outputs run under an abort-on-unwind guard where a panic would
//! leave the state word inconsistent.

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::state::{IdleAction, RunAction, State, WakeAction, JOIN_INTEREST};
use super::{JoinError, Notified, Schedule, Task, TaskMeta};
use crate::shim::{lock, Mutex, UnsafeCell};

/// The type-erased operations of one `Cell<F, S>`.
pub(crate) struct Vtable {
    pub(super) run: unsafe fn(NonNull<Header>),
    pub(super) schedule: unsafe fn(NonNull<Header>),
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Poll<Result<T, JoinError>>`.
    pub(super) read_output: unsafe fn(NonNull<Header>, *mut ()),
    pub(super) drop_output: unsafe fn(NonNull<Header>),
    pub(super) shutdown: unsafe fn(NonNull<Header>),
}

/// The part of every task that does not depend on its future's type.
#[repr(C)]
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    /// The `JoinHandle`'s waker; see `JoinHandle::poll` for the protocol.
    pub(super) join_waker: Mutex<Option<Waker>>,
    pub(super) id: u64,
    /// `Schedule::owner` of the task's scheduler (0: none), for [`wake_in_place`].
    owner: usize,
    /// Where it was spawned and what it is called, for diagnostics.
    pub(super) meta: TaskMeta,
    /// The task's slot in its scheduler's owned list, written under that list's lock.
    pub(super) owned_key: UnsafeCell<usize>,
}

impl Header {
    /// The task's id, unique within its runtime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Where and as what it was spawned.
    pub(crate) fn meta(&self) -> &TaskMeta {
        &self.meta
    }
}

pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
pub(super) struct Cell<F: Future, S> {
    pub(super) header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

impl<F, S> Cell<F, S>
where
    F: Future + 'static,
    S: Schedule,
{
    const VTABLE: Vtable = Vtable {
        run: Self::run,
        schedule: Self::schedule,
        dealloc: Self::dealloc,
        read_output: Self::read_output,
        drop_output: Self::drop_output,
        shutdown: Self::shutdown,
    };

    pub(super) fn allocate(future: F, scheduler: S, id: u64, meta: TaskMeta) -> NonNull<Header> {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: &Self::VTABLE,
                join_waker: Mutex::new(None),
                id,
                owner: scheduler.owner(),
                meta,
                owned_key: UnsafeCell::new(usize::MAX),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
        });
        NonNull::from(Box::leak(cell)).cast()
    }

    /// # Safety
    /// `ptr` points to a live `Cell<F, S>` (the caller holds a reference).
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
        // SAFETY: `Cell` is `repr(C)` with the header first, so the header pointer is the cell
        // pointer; the caller's reference keeps it alive.
        unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
    }

    /// Polls the task once. Only the common path (a poll that returns `Pending`, then parks)
    /// is inline here; every other outcome is a call, so this frame stays small: it runs once
    /// per wake-up.
    ///
    /// # Safety
    /// The caller owns the queue reference for `ptr` and runs on the task's scheduler thread.
    unsafe fn run(ptr: NonNull<Header>) {
        // SAFETY: the queue reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        let action = cell.header.state.transition_to_running();
        if action != RunAction::Poll {
            // SAFETY: the caller's contract, passed on.
            return unsafe { Self::run_declined(ptr, action) };
        }
        let waker = ManuallyDrop::new(
            // SAFETY: the waker borrows the queue reference, which outlives this poll; it is
            // never dropped (ManuallyDrop), so the count is untouched.
            unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)) },
        );
        let mut cx = Context::from_waker(&waker);
        let poll = cell.scheduler.poll_started(&cell.header);
        let polled = cell.stage.with_mut(|stage| {
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `RUNNING` gives this thread exclusive access to the stage; the future
                // is never moved out of its heap cell while `Running`, so pinning holds.
                let Stage::Running(future) = (unsafe { &mut *stage }) else {
                    unreachable!("a running task always holds its future")
                };
                // SAFETY: see above; the cell is heap-allocated and not moved until dealloc.
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            }))
        });
        cell.scheduler.poll_finished(&cell.header, poll);
        match polled {
            Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
                IdleAction::Parked => {}
                // Woken during the poll: the queue reference becomes the new queue entry.
                // SAFETY: the queue reference is still ours.
                IdleAction::Reschedule => unsafe { Self::schedule(ptr) },
                // SAFETY: the state word says no reference is left.
                IdleAction::Dealloc => unsafe { Self::dealloc(ptr) },
            },
            // SAFETY: `RUNNING` and the queue reference are still ours.
            Ok(Poll::Ready(output)) => unsafe { Self::finish(ptr, Ok(output)) },
            // SAFETY: as above.
            Err(payload) => unsafe { Self::finish(ptr, Err(payload)) },
        }
    }

    /// A queue entry that must not be polled: the task was aborted (`Cancel`) or has already
    /// completed (`Skip`).
    ///
    /// # Safety
    /// As [`Cell::run`], after `transition_to_running` returned `action`.
    #[cold]
    #[inline(never)]
    unsafe fn run_declined(ptr: NonNull<Header>, action: RunAction) {
        if action == RunAction::Skip {
            // SAFETY: we own the queue reference and give it up here.
            unsafe { release_ref(ptr) };
            return;
        }
        // SAFETY: the queue reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        // SAFETY: `RUNNING` is ours, so the stage is ours.
        unsafe { cell.cancel_future() };
        // SAFETY: as above; the queue reference is handed to `complete`.
        unsafe { Self::complete(ptr, true) };
    }

    /// The future returned `Ready` or panicked: store the result and complete the task.
    ///
    /// # Safety
    /// The caller holds `RUNNING` and the queue reference for `ptr`.
    #[cold]
    #[inline(never)]
    unsafe fn finish(ptr: NonNull<Header>, polled: std::thread::Result<F::Output>) {
        // SAFETY: the queue reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        let result = match polled {
            Ok(output) => {
                // The finished future is dropped before the output is stored; a destructor
                // that panics turns the task's result into that panic, as in tokio.
                // SAFETY: `RUNNING` is still ours.
                match unsafe { cell.drop_future() } {
                    Ok(()) => Ok(output),
                    Err(payload) => {
                        let _ = catch_unwind(AssertUnwindSafe(move || drop(output)));
                        Err(JoinError::panic(cell.header.id, payload))
                    }
                }
            }
            // SAFETY: `RUNNING` is still ours; the future panicked and is dropped here.
            Err(payload) => Err(unsafe { cell.drop_after_panic(payload) }),
        };
        // SAFETY: `RUNNING` is still ours.
        unsafe { cell.set_stage(Stage::Finished(result)) };
        // SAFETY: as above; the queue reference is handed to `complete`.
        unsafe { Self::complete(ptr, true) };
    }

    /// # Safety
    /// The caller holds `RUNNING`.
    unsafe fn set_stage(&self, stage: Stage<F>) {
        // SAFETY: `RUNNING` gives exclusive access; the old stage is dropped in place under the
        // abort guard.
        self.stage
            .with_mut(|slot| abort_on_unwind(|| unsafe { *slot = stage }));
    }

    /// Drops the future for `abort()` or shutdown and records the cancellation.
    ///
    /// # Safety
    /// The caller holds `RUNNING`.
    unsafe fn cancel_future(&self) {
        // SAFETY: the caller holds `RUNNING`.
        let error = match unsafe { self.drop_future() } {
            Ok(()) => JoinError::cancelled(self.header.id),
            Err(payload) => JoinError::panic(self.header.id, payload),
        };
        // SAFETY: still exclusive.
        unsafe { self.set_stage(Stage::Finished(Err(error))) };
    }

    /// # Safety
    /// The caller holds `RUNNING`.
    unsafe fn drop_after_panic(&self, payload: Box<dyn Any + Send>) -> JoinError {
        // A destructor that panics too is swallowed: the first panic is the one to report.
        // SAFETY: the caller holds `RUNNING`.
        if let Err(second) = unsafe { self.drop_future() } {
            forget_payload(second);
        }
        JoinError::panic(self.header.id, payload)
    }

    /// Drops whatever the stage holds (the future), catching a destructor's panic.
    ///
    /// # Safety
    /// The caller holds `RUNNING`.
    unsafe fn drop_future(&self) -> std::thread::Result<()> {
        self.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` gives exclusive access to the stage.
            catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }))
        })
    }

    /// Publishes the stored output and gives up the caller's references.
    ///
    /// # Safety
    /// The caller holds `RUNNING` and owns one reference (the queue's, or the owned list's when
    /// shutting down), which this consumes. `release` says whether to leave the owned list.
    unsafe fn complete(ptr: NonNull<Header>, release: bool) {
        // SAFETY: the caller's reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        let prev = cell.header.state.transition_to_complete();
        // Off the owned list before the `JoinHandle` hears: a joiner that then reads the
        // metrics must not still count the task alive. The caller's reference keeps the cell.
        if release {
            let this = ManuallyDrop::new(Task::from_raw(ptr));
            drop(cell.scheduler.release(&this));
        }
        if prev & JOIN_INTEREST == 0 {
            // Nobody will read the output: drop it here, on the runtime's thread.
            // SAFETY: COMPLETE without JOIN_INTEREST leaves the stage to us.
            unsafe { Self::drop_output(ptr) };
        } else {
            let waker = lock(&cell.header.join_waker).take();
            if let Some(waker) = waker {
                // A user waker (a foreign executor's) may panic: that must not unwind through
                // the scheduler and kill its thread.
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                    forget_payload(payload);
                }
            }
        }
        // SAFETY: the caller's reference is ours to give up.
        unsafe { release_ref(ptr) };
    }

    /// Kept out of line, as every path of [`Cell::run`] but the one where the task parks: the
    /// poll loop's common case stays short.
    ///
    /// # Safety
    /// The caller owns a reference it hands to the scheduler's queue.
    #[inline(never)]
    unsafe fn schedule(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        cell.scheduler.schedule(Notified(Task::from_raw(ptr)));
    }

    /// Kept out of line, as [`schedule`](Cell::schedule).
    ///
    /// # Safety
    /// No reference to the task remains.
    #[inline(never)]
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the cell was created by `Box::leak` in `allocate` and nobody else can reach
        // it any more.
        abort_on_unwind(|| drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) }));
    }

    /// # Safety
    /// `dst` points to a `Poll<Result<F::Output, JoinError>>`; the task is `COMPLETE` and the
    /// caller is its `JoinHandle`.
    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: the join handle's reference keeps the cell alive; COMPLETE + JOIN_INTEREST
        // give the handle the stage.
        let cell = unsafe { Self::from_header(ptr) };
        // SAFETY: see above.
        let taken = cell
            .stage
            .with_mut(|stage| std::mem::replace(unsafe { &mut *stage }, Stage::Consumed));
        match taken {
            Stage::Finished(result) => {
                let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
                // SAFETY: the caller passes a valid, initialised slot of exactly this type.
                unsafe { *dst = Poll::Ready(result) };
            }
            _ => panic!("JoinHandle polled again after it returned the task's output"),
        }
    }

    /// # Safety
    /// The task is `COMPLETE` and the caller has the right to the stage (see `complete` and
    /// `JoinHandle::drop`).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        cell.stage.with_mut(|stage| {
            // SAFETY: the caller has the stage; an output destructor that panics is swallowed so
            // the runtime keeps going.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }));
        });
    }

    /// Runtime shutdown: drop the future unless it is running elsewhere.
    ///
    /// # Safety
    /// The caller owns the owned-list reference (removed from the list), on the runtime thread.
    unsafe fn shutdown(ptr: NonNull<Header>) {
        // SAFETY: the list reference keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        if cell.header.state.transition_to_shutdown() {
            // SAFETY: `transition_to_shutdown` gave us RUNNING.
            unsafe { cell.cancel_future() };
            // SAFETY: RUNNING is ours; the list reference is handed over.
            unsafe { Self::complete(ptr, false) };
        } else {
            // SAFETY: the list reference is ours to give up.
            unsafe { release_ref(ptr) };
        }
    }
}

/// Drops one reference, freeing the task if it was the last.
///
/// # Safety
/// The caller owns a reference to the live task at `ptr`.
pub(super) unsafe fn release_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive until this decrement.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// Lets go of a panic payload nobody will see without running its destructor, which could
/// panic in turn (a payload is any type). The box leaks; this is only on panic paths.
fn forget_payload(payload: Box<dyn Any + Send>) {
    std::mem::forget(payload);
}

/// Runs `f`, aborting the process if a panic escapes it: used where an unwind would leave the
/// task's state inconsistent. A panic already in flight when `f` starts (the runtime being
/// dropped during an unwind) is not affected: only a new one escaping `f` aborts.
fn abort_on_unwind<R>(f: impl FnOnce() -> R) -> R {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            eprintln!("weft: a panic escaped a task destructor; aborting");
            std::process::abort();
        }
    }
    let bomb = Bomb;
    let result = f();
    std::mem::forget(bomb);
    result
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live task header (the waker being cloned owns a reference).
    let header = unsafe { &*(data as *const Header) };
    header.state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: the waker owned a reference, so `data` is a live, non-null header.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    let header = unsafe { ptr.as_ref() };
    match header.state.wake_by_val() {
        WakeAction::None => {}
        // SAFETY: the waker's reference moves into the run queue.
        WakeAction::Submit => unsafe { (header.vtable.schedule)(ptr) },
        // SAFETY: that was the last reference.
        WakeAction::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker owns a reference, so `data` is a live, non-null header.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    let header = unsafe { ptr.as_ref() };
    if header.state.wake_by_ref() == WakeAction::Submit {
        // SAFETY: `wake_by_ref` made a new reference for the queue.
        unsafe { (header.vtable.schedule)(ptr) };
    }
}

/// What [`wake_in_place`] did.
#[derive(Debug)]
pub(crate) enum InPlace {
    /// The waker is not one of `owner`'s tasks (or its task has completed): nothing was done.
    Declined,
    /// Woken; it was already queued or running, so there is nothing to queue.
    Woken,
    /// Woken; push this queue entry onto `owner`'s run queue.
    Queue(Notified),
}

impl InPlace {
    /// A scheduler hook's answer (`WakeHook::wake_in_place`): pushes a `Queue` entry with
    /// `push`; `true` unless the waker was declined.
    #[inline]
    pub(crate) fn queue_with(self, push: impl FnOnce(Notified)) -> bool {
        match self {
            InPlace::Queue(notified) => {
                push(notified);
                true
            }
            InPlace::Woken => true,
            InPlace::Declined => false,
        }
    }
}

/// Wakes `waker` by reference if it is a task of the scheduler whose [`Schedule::owner`] is
/// `owner` (non-zero), handing the queue entry back instead of calling the scheduler: the
/// scheduler's own reactor turn uses this to queue its tasks with no virtual call and no
/// thread-local lookup. Anything else (a foreign waker, another scheduler's task, a completed
/// task whose waker should be dropped) is `Declined` and untouched.
#[inline]
pub(crate) fn wake_in_place(waker: &Waker, owner: usize) -> InPlace {
    if !std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
        return InPlace::Declined;
    }
    // SAFETY: a waker with this vtable was made by `waker_clone` or `run`; its data is a live
    // task header, kept alive by the reference that `waker` owns (or borrows) while we hold it.
    let header = unsafe { &*(waker.data() as *const Header) };
    if header.owner != owner {
        return InPlace::Declined;
    }
    match header.state.wake_by_ref() {
        WakeAction::Submit => {
            // SAFETY: as above, the pointer is a live, non-null header.
            let ptr = unsafe { NonNull::new_unchecked(waker.data() as *mut Header) };
            // `wake_by_ref` made a new reference for the queue.
            InPlace::Queue(Notified(Task::from_raw(ptr)))
        }
        _ if header.state.is_complete() => InPlace::Declined,
        _ => InPlace::Woken,
    }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker owned a reference to this live header and gives it up.
    unsafe { release_ref(NonNull::new_unchecked(data as *mut Header)) };
}

/// Model checks of the run protocol and the wakers (`RUSTFLAGS="--cfg loom" cargo test -p
/// weft-runtime --release --lib loom`): real tasks on the test scheduler of
/// `task::loom_harness`, whose queue any model thread drains as a worker would.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::task::Waker;

    use loom::thread;

    use crate::task::loom_harness::{block_on, Counts, Gate, Sched, WaitGate};

    /// A wake (by `wake_with`) from another worker races the poll that left the waker: the
    /// task is polled again and completes (the wake is never lost), never by two threads at
    /// once.
    fn wake_races_poll(wake_with: fn(Waker)) {
        loom::model(move || {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(false), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let other = {
                let (sched, gate) = (sched.clone(), gate.clone());
                thread::spawn(move || {
                    if let Some(waker) = gate.open() {
                        wake_with(waker);
                    }
                    sched.run_queued();
                })
            };
            sched.run_queued();
            other.join().unwrap();
            sched.run_queued();
            assert!(join.is_finished(), "the wake was lost");
            assert!(counts.polls() <= 2, "polled {} times", counts.polls());
            drop(block_on(join).expect("the task completed"));
            drop(gate);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), 1);
            sched.assert_all_freed();
        });
    }

    #[test]
    fn loom_task_wake_races_poll() {
        wake_races_poll(Waker::wake);
    }

    #[test]
    fn loom_task_wake_by_ref_races_poll() {
        wake_races_poll(|waker| waker.wake_by_ref());
    }

    /// `abort()` (and a worker) on one thread races a poll, then a wake by reference, on
    /// another: the future is dropped exactly once, and the handle gets the output or a
    /// cancellation.
    #[test]
    fn loom_task_abort_races_wake_and_poll() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(false), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let aborter = {
                let sched = sched.clone();
                thread::spawn(move || {
                    join.abort();
                    sched.run_queued();
                    join
                })
            };
            sched.run_queued();
            if let Some(waker) = gate.open() {
                waker.wake_by_ref();
            }
            sched.run_queued();
            let join = aborter.join().unwrap();
            sched.run_queued();
            assert!(join.is_finished(), "the abort or the wake was lost");
            let completed = match block_on(join) {
                Ok(output) => {
                    drop(output);
                    true
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    false
                }
            };
            drop(gate);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), usize::from(completed));
            sched.assert_all_freed();
        });
    }

    /// `abort()` (and a worker) on one thread races the poll of a task that nothing else will
    /// ever wake: the abort alone must bring it back to be cancelled, so it is never lost.
    #[test]
    fn loom_task_abort_races_poll_of_a_never_ready_task() {
        loom::model(|| {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(false), Counts::new());
            let join = sched.spawn(WaitGate::new(&gate, &counts));
            let aborter = {
                let sched = sched.clone();
                thread::spawn(move || {
                    join.abort();
                    sched.run_queued();
                    join
                })
            };
            sched.run_queued();
            let join = aborter.join().unwrap();
            sched.run_queued();
            assert!(join.is_finished(), "the abort was lost");
            assert!(block_on(join).unwrap_err().is_cancelled());
            drop(gate);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), 0);
            sched.assert_all_freed();
        });
    }

    /// A detached task completes while another thread lets go of the waker its poll left,
    /// by `drop` or by `wake`: whichever reference goes last frees the task, exactly once.
    fn last_waker_races_completion(let_go: fn(Waker)) {
        loom::model(move || {
            let sched = Sched::new();
            let (gate, counts) = (Gate::new(true), Counts::new());
            drop(sched.spawn(WaitGate::new(&gate, &counts)));
            let other = {
                let gate = gate.clone();
                thread::spawn(move || {
                    if let Some(waker) = gate.take_waker() {
                        let_go(waker);
                    }
                })
            };
            sched.run_queued();
            other.join().unwrap();
            drop(gate);
            assert_eq!(counts.polls(), 1);
            assert_eq!(counts.futures_dropped(), 1);
            assert_eq!(counts.outputs_dropped(), 1);
            sched.assert_all_freed();
        });
    }

    #[test]
    fn loom_task_last_waker_dropped_racing_completion() {
        last_waker_races_completion(drop);
    }

    #[test]
    fn loom_task_last_waker_woken_racing_completion() {
        last_waker_races_completion(Waker::wake);
    }
}
