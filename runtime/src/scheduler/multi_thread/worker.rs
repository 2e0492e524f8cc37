//! One worker thread: its loop, where it finds work, how it sleeps, and how it exits.
//!
//! # The loop
//!
//! 1. Run up to `event_interval` tasks, each with a fresh cooperative budget. A task comes from
//!    (every 61st pick) the inject queue first, then alternately the private pinned queue and
//!    the stealable ring, then the inject queue. The pinned inbox (wakes of pinned tasks from
//!    other threads) is moved into the pinned queue whenever that queue runs dry and every
//!    31st pick.
//! 2. If it ran a full batch, turn its reactor without blocking (I/O keeps being polled while
//!    tasks keep waking each other) and go to 1.
//! 3. Otherwise (the queues ran dry) search: steal half of a sibling's ring (random start), or take a batch from the
//!    inject queue (see `idle.rs` for who may search).
//! 4. Nothing anywhere: park (step 3 of `idle.rs`): check the inbox, the inject queue and, as
//!    the last searcher, the siblings' rings once more; then sleep until an event, a timer, or
//!    a wake-up: on the hub for every reactor, on its parker, or in its own reactor (see
//!    `sleep.rs`). (A worker stuck in one long poll is helped by the runtime's watchdog thread,
//!    see `mod.rs`.)

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::task::Waker;
use std::time::Duration;

use weft_reactor::{Handle as ReactorHandle, WakeHook};

use super::queue::{RunQueue, CAPACITY};
use super::sleep::Mode;
use super::{HubState, Remote, Shared};
use crate::context::{self, Scheduler};
use crate::coop;
use crate::scheduler::inject::Inject;
use crate::scheduler::local_queue::LocalQueue;
use crate::shim::{Arc, Ordering};
use crate::task::{self, Header, JoinHandle, Notified, TaskMeta};

/// Picks between which the inject queue goes first (fairness for other threads' spawns).
const INJECT_INTERVAL: u32 = 61;
/// Picks between two looks at the pinned inbox while the pinned queue has work.
const INBOX_INTERVAL: u32 = 31;

/// The worker thread's own state, reachable through `context` while it runs.
#[derive(Debug)]
pub(crate) struct Worker {
    shared: Arc<Shared>,
    index: usize,
    /// `shared.workers[index]`, looked up once: the hot paths reach it several times per task.
    remote: NonNull<Remote>,
    /// Pinned tasks ready to run: never stolen.
    pinned: LocalQueue,
    tick: Cell<u32>,
    rng: Cell<u32>,
    searching: Cell<bool>,
    /// Set while this worker turns its reactor: wakes then queue tasks without notifying
    /// siblings one by one; `turn` notifies once afterwards if the batch leaves a surplus.
    turning: Cell<bool>,
    /// The hub's answer, reused across waits.
    hub_ready: RefCell<Vec<usize>>,
}

/// The worker thread's body.
pub(super) fn run(shared: Arc<Shared>, index: usize) {
    // Counts the worker out even if a bug unwinds its thread, so the runtime's drop reports and
    // returns instead of waiting for it for ever.
    let _exit = ExitGuard(shared.clone(), index);
    let worker = Worker {
        remote: NonNull::from(&shared.workers[index]),
        shared: shared.clone(),
        index,
        pinned: LocalQueue::with_capacity(256),
        tick: Cell::new(0),
        rng: Cell::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
        searching: Cell::new(false),
        turning: Cell::new(false),
        hub_ready: RefCell::new(Vec::new()),
    };
    {
        let _entered = context::enter(Scheduler::Worker(&worker), false)
            .expect("a new worker thread is in no runtime");
        worker.run_loop();
        worker.shutdown();
    }
}

/// Calls [`Shared::worker_exited`] when the worker's thread leaves [`run`], by return or unwind.
struct ExitGuard(Arc<Shared>, usize);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.worker_exited(self.1);
    }
}

impl Worker {
    /// `true` when this worker belongs to the runtime of `shared`.
    #[inline]
    pub(crate) fn belongs_to(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }

    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    #[inline]
    pub(super) fn remote(&self) -> &Remote {
        // SAFETY: `remote` points into `shared.workers`, a boxed slice that is never resized
        // and lives as long as `shared`, which this worker holds.
        unsafe { self.remote.as_ref() }
    }

    /// The runtime this worker belongs to.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// This worker's reactor: I/O created here registers with it.
    pub(crate) fn reactor(&self) -> &ReactorHandle {
        &self.remote().reactor
    }

    /// Spawns a task that stays on this worker (`spawn_local`).
    pub(crate) fn spawn_local<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: std::future::Future + 'static,
        F::Output: 'static,
    {
        self.shared.spawn_on_worker(self.index, future, meta)
    }

    /// Queues a stealable task woken or spawned on this thread; wakes a sleeping sibling when
    /// there is more here than this worker runs next.
    #[inline]
    pub(super) fn push_local(&self, task: Notified) {
        let remote = self.remote();
        remote.run_queue.push_or_overflow(task, |batch| {
            self.shared.inject.push(batch);
        });
        if !self.turning.get() && remote.run_queue.len() > 1 {
            self.shared.notify_parked();
        }
    }

    /// The hook this worker's reactor turns (its own reactor's, or a sibling's it helps) wake
    /// with.
    fn wakes(&self) -> WorkerWakes<'_> {
        WorkerWakes {
            run_queue: &self.remote().run_queue,
            inject: &self.shared.inject,
            owner: Arc::as_ptr(&self.shared) as usize,
        }
    }

    /// Queues a pinned task of this worker.
    #[inline]
    pub(super) fn push_pinned(&self, task: Notified) {
        self.pinned.push(task);
        self.count_pinned();
    }

    /// Mirrors the private pinned queue's length for `RuntimeMetrics::queue_depth`.
    #[inline]
    fn count_pinned(&self) {
        self.remote()
            .pinned_ready
            .store(self.pinned.len(), Ordering::Relaxed);
    }

    /// The stall detector's end-of-poll check for a task polled here.
    #[inline]
    pub(super) fn poll_finished(&self, task: &Header, started: u64) {
        if let Some(ran) = self.remote().stall.poll_finished(started) {
            self.report_stall(task, ran);
        }
    }

    /// Out of line, so the per-poll check stays a store, a load and a compare.
    #[cold]
    #[inline(never)]
    fn report_stall(&self, task: &Header, ran: Duration) {
        let what = format!(
            "task {} {} on worker {}",
            task.id(),
            task.meta(),
            self.index
        );
        self.remote().stall.report(what.trim_end(), ran);
    }

    fn run_loop(&self) {
        let shared = &*self.shared;
        let _unconstrain = coop::UnconstrainOnDrop;
        while !shared.closing.load(Ordering::Acquire) {
            let mut ran = 0;
            while ran < shared.event_interval {
                let Some(task) = self.next_task() else { break };
                self.run_task(task);
                ran += 1;
            }
            coop::unconstrain();
            if ran == shared.event_interval {
                // more may be queued: poll I/O without blocking (ours, and that of siblings
                // asleep with nobody watching for them), then go on
                self.turn(Some(Duration::ZERO));
                self.collecting(|| shared.poll_orphaned_reactors(&mut self.wakes()));
                self.notify_if_surplus();
                continue;
            }
            // the queues ran dry: steal, or sleep in the reactor (which also polls I/O)
            match self.search() {
                Some(task) => self.run_task(task),
                None => self.park(),
            }
        }
    }

    #[inline]
    fn run_task(&self, task: Notified) {
        if self.searching.get() {
            self.stop_searching();
        }
        coop::reset();
        task.run();
    }

    /// Step 1 of the loop: the next task of this worker's own queues.
    fn next_task(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let remote = self.remote();
        if tick % INJECT_INTERVAL == 0 {
            if let Some(task) = self.take_from_inject() {
                return Some(task);
            }
        }
        if (tick % INBOX_INTERVAL == 0 || self.pinned.is_empty()) && !remote.inbox.is_empty() {
            self.pinned
                .extend(remote.inbox.pop_batch(usize::MAX).into_iter());
        }
        let task = if tick & 1 == 0 {
            self.pinned.pop().or_else(|| remote.run_queue.pop())
        } else {
            remote.run_queue.pop().or_else(|| self.pinned.pop())
        };
        self.count_pinned();
        task.or_else(|| self.take_from_inject())
    }

    /// Takes a fair share of the inject queue: one to run now, the rest into the ring.
    fn take_from_inject(&self) -> Option<Notified> {
        let shared = &*self.shared;
        if shared.inject.is_empty() {
            return None;
        }
        let share = (shared.inject.len() / shared.workers() + 1).min(CAPACITY / 2);
        let mut batch = shared.inject.pop_batch(share).into_iter();
        let first = batch.next()?;
        let run_queue = &self.remote().run_queue;
        for task in batch {
            run_queue.push_or_overflow(task, |spill| {
                shared.inject.push(spill);
            });
        }
        Some(first)
    }

    /// Step 3: steal from a sibling or the inject queue.
    fn search(&self) -> Option<Notified> {
        let shared = &*self.shared;
        if !self.searching.get() {
            if !shared.idle.try_start_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let n = shared.workers();
        let start = self.next_random() as usize % n;
        let own = &self.remote().run_queue;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            if let Some(task) = shared.workers[victim].run_queue.steal_into(own) {
                return Some(task);
            }
        }
        self.take_from_inject()
    }

    fn stop_searching(&self) {
        self.searching.set(false);
        if self.shared.idle.stop_searching() {
            // the last searcher found work: another should look for more
            self.shared.notify_parked();
        }
    }

    /// Step 4: sleep until there is something to do (`sleep.rs`).
    fn park(&self) {
        let shared = &*self.shared;
        let remote = self.remote();
        let mode = self.sleep_mode();
        remote.sleep.set_mode(mode);
        let was_searching = self.searching.replace(false);
        let last_searcher = shared.idle.park(self.index, was_searching);
        remote.sleep.set_parked();
        if !shared.closing.load(Ordering::SeqCst) && !self.work_visible(last_searcher) {
            match (mode, &shared.hub) {
                (Mode::Hub, Some(hub)) => self.sleep_on_hub(hub),
                (Mode::Parker, Some(hub)) => self.sleep_on_parker(hub),
                _ => self.turn(None),
            }
        }
        remote.sleep.set_mode(Mode::Awake);
        if mode == Mode::Hub {
            if let Some(hub) = &shared.hub {
                hub.release();
            }
        }
        remote.sleep.clear_parked();
        self.searching.set(shared.idle.unpark(self.index));
        // Only now, off the sleepers list: a notification sent while this worker was still
        // listed could pick this worker itself, and the wake-up would be spent on nobody (a
        // write that ends the next sleeper's wait on the hub for nothing).
        self.notify_if_surplus();
    }

    /// How to sleep: on the hub if nobody does; else on the parker, unless a timer is pending
    /// here (then in the reactor, which watches it).
    fn sleep_mode(&self) -> Mode {
        Mode::choose(self.shared.hub.as_ref(), || {
            self.remote().reactor.has_timers()
        })
    }

    /// Waits on the hub, turning whichever reactors report, until this worker has work or is
    /// woken.
    fn sleep_on_hub(&self, hub: &HubState) {
        let shared = &*self.shared;
        let remote = self.remote();
        let mut ready = self.hub_ready.borrow_mut();
        loop {
            let timeout = remote.reactor.park_elsewhere();
            let waited = hub.hub.wait(timeout, &mut ready);
            remote.reactor.unpark_elsewhere();
            let woken = match waited {
                Ok(woken) => woken,
                Err(e) => panic!(
                    "weft: worker {}'s wait on the reactor hub failed: {e}",
                    self.index
                ),
            };
            // our own reactor: its events, its wake-up eventfd (a timer added elsewhere), or its
            // timers (a timeout); a wake through the hub alone leaves it be
            if (ready.is_empty() && !woken) || ready.contains(&self.index) {
                self.turn(Some(Duration::ZERO));
            }
            self.collecting(|| {
                let mut wakes = self.wakes();
                for &index in ready.iter().filter(|&&i| i != self.index) {
                    shared.help_turn(index, &mut wakes);
                }
            });
            if remote.sleep.take_notified()
                || shared.closing.load(Ordering::SeqCst)
                || self.has_own_work()
            {
                return;
            }
        }
    }

    /// Sleeps on the parker until woken; the hub's sleeper watches this worker's reactor.
    fn sleep_on_parker(&self, hub: &HubState) {
        let remote = self.remote();
        if hub.enter_parker_sleep(&remote.reactor, &remote.sleep) {
            remote.sleep.parker.park();
        }
        hub.leave_parker_sleep(&remote.reactor, &remote.sleep);
    }

    /// Tasks this worker would run next.
    fn has_own_work(&self) -> bool {
        let remote = self.remote();
        !remote.run_queue.is_empty() || !self.pinned.is_empty() || !remote.inbox.is_empty()
    }

    /// The last check before blocking.
    fn work_visible(&self, last_searcher: bool) -> bool {
        let shared = &*self.shared;
        !self.remote().inbox.is_empty()
            || !self.pinned.is_empty()
            || !shared.inject.is_empty()
            || (last_searcher && shared.workers.iter().any(|w| !w.run_queue.is_empty()))
    }

    /// Turns this worker's reactor: a blocking turn waits for the watchdog if it is helping;
    /// a non-blocking one is skipped then (the watchdog is doing it). The caller notifies a
    /// sibling afterwards if the turn left a surplus ([`Worker::notify_if_surplus`]).
    fn turn(&self, timeout: Option<Duration>) {
        let wait = timeout != Some(Duration::ZERO);
        let turned = self.collecting(|| self.remote().turn(timeout, wait, &mut self.wakes()));
        if let Err(e) = turned {
            panic!("weft: worker {}'s reactor failed: {e}", self.index);
        }
    }

    /// Runs `f`, which wakes a batch of tasks (a reactor turn) into this worker's queue
    /// without notifying a sibling per task: the caller notifies once for the whole batch.
    fn collecting<R>(&self, f: impl FnOnce() -> R) -> R {
        self.turning.set(true);
        let result = f();
        self.turning.set(false);
        result
    }

    /// Wakes a sleeping sibling if this worker's queue holds more than the task it runs next.
    fn notify_if_surplus(&self) {
        if self.remote().run_queue.len() > 1 {
            self.shared.notify_parked();
        }
    }

    fn next_random(&self) -> u32 {
        // xorshift32
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }

    /// Cancels this worker's pinned tasks (their futures are dropped here, on their thread) and
    /// drops its queues.
    fn shutdown(&self) {
        let remote = self.remote();
        if self.searching.replace(false) {
            self.shared.idle.stop_searching();
        }
        remote.owned_pinned.shutdown();
        drop(remote.inbox.close());
        drop(self.pinned.take_all());
        self.count_pinned();
        drop(remote.run_queue.drain());
    }
}

/// A worker's reactor-turn hook: a `Send` task of this runtime whose socket became ready goes
/// straight onto this worker's ring, woken by reference (its waker stays stored in the socket
/// for the next wait), as `push_local` would queue it during a turn, without the virtual call,
/// the thread-local lookup, and the waker's take, wake and later re-clone. Runs with the
/// reactor's locks held: it touches only the task's state word, the ring and (on overflow)
/// the inject queue's lock, which no reactor holds. Pinned tasks and foreign wakers are
/// declined and woken by value after the turn.
pub(super) struct WorkerWakes<'a> {
    run_queue: &'a RunQueue<Notified>,
    inject: &'a Inject,
    /// `Schedule::owner` of this runtime's `Send` tasks.
    owner: usize,
}

impl WakeHook for WorkerWakes<'_> {
    #[inline]
    fn wake_in_place(&mut self, waker: &Waker) -> bool {
        let inject = self.inject;
        task::wake_in_place(waker, self.owner).queue_with(|notified| {
            self.run_queue.push_or_overflow(notified, |batch| {
                inject.push(batch);
            })
        })
    }
}
