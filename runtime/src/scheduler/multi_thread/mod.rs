//! The multi-thread scheduler: one event loop per worker thread, with work stealing.
//!
//! # The design, and why
//!
//! Two designs are known. tokio shares **one reactor** among its workers: whichever worker runs
//! out of work parks on it and dispatches every socket's events, so most wake-ups cross threads
//! and the reactor's lock is shared. nginx, Netty and monoio give **each worker its own
//! reactor**: a socket registers with the worker that created it, its events are dispatched by
//! that worker's own `epoll_wait`, and its task is woken into that worker's queue, with no
//! cross-thread traffic on the hot path. With one `SO_REUSEPORT` listener per worker (see
//! `examples/support/listen.rs`), a connection lives its whole life on one core.
//!
//! weft takes the second design and adds what the pure form lacks:
//!
//! - **Work stealing.** `Send` tasks sit in a per-worker ring ([`queue`]); a worker that runs out
//!   steals half of a sibling's ring, or takes from the inject queue where other threads'
//!   spawns land. A stolen task whose socket belongs to another worker's reactor still gets its
//!   events: that reactor's dispatch wakes it into the dispatching worker's queue.
//! - **No stuck reactor (tokio #4730).** Each worker's reactor driver sits behind a lock that it
//!   takes only while turning it. The runtime's watchdog thread (the stall detector's) looks at
//!   every worker each [`TICK_WITH_HELP`](super::stall::TICK_WITH_HELP); a worker that is inside
//!   the same poll as at the last look and has not turned its reactor since is stuck, so the
//!   watchdog turns that reactor for it: tasks whose I/O became ready or whose timers expired
//!   go to the inject queue and a parked worker runs them. Its queued `Send` tasks are stolen
//!   the usual way; only its pinned tasks wait for it.
//! - **Pinned tasks.** `spawn_local` and `spawn_pinned` tasks (and coroutines, whose stacks
//!   cannot move) belong to one worker: they live in its private queue, are never stolen, and
//!   a wake from another thread goes to that worker's inbox and wakes its reactor if it sleeps.
//!
//! - **One sleeper watches every reactor.** Per-worker reactors alone make every parked worker
//!   wake for its own sockets, even while a sibling is awake anyway; on a machine with fewer
//!   free cores than workers those wake-ups preempt the load. Sleeping workers therefore share
//!   a hub (an epoll set over the workers' epoll sets): the first to park waits on it and turns
//!   whichever reactor reports, the rest sleep until woken for work ([`sleep`]). Busy, each
//!   worker still turns only its own reactor; asleep, they cost one thread's wake-ups.
//!
//! Measured (`bash benches/multi_thread.sh`, README): at 2 workers on the 2-core machine the
//! hub took echo from 0.85x to 1.03x tokio's throughput (p99 1.7 ms vs 4.3 ms) and HTTP to
//! 1.03x; on a 16-CPU machine weft is 1.09x / 1.05x at 2 workers and within 2-6% of tokio at
//! 8 and 16.
//!
//! What tokio's design would change was measured too, at 2 workers over 15 rounds of echo each:
//! every socket in one reactor gave 0.996x the per-worker layout's throughput, and a sleeper
//! waiting in that one reactor directly (no socket event through a nested epoll set, 30% fewer
//! `epoll_wait` calls) 0.998x. Neither is worth giving up a reactor per worker for; whether one
//! shared set wins at 8-16 workers is for a run on such a machine to say.
//!
//! # Shutdown (dropping the runtime)
//!
//! 1. `closing` is set and every worker's reactor is woken.
//! 2. Each worker finishes the poll it is in, cancels its pinned tasks (dropping their futures
//!    on their own thread), drops its queues, and exits.
//! 3. The dropping thread waits for the workers (forever by default, printing who it waits for
//!    each second; at most `shutdown_timeout` when asked), then cancels the `Send` tasks, drops
//!    the reactors (failing pending I/O with an error and firing timers), and stops the
//!    blocking pool.

mod idle;
mod queue;
mod sleep;
mod worker;

use std::future::Future;
use std::io;
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use weft_reactor::{with_context, Backend, Hub, Reactor, WakeHook};

use self::idle::Idle;
use self::queue::{Pointer, RunQueue};
use self::sleep::{HubState, Mode, Sleep, TurnGate};
pub(crate) use self::worker::Worker;
use super::inject::Inject;
use super::stall::{StallMonitor, Watchdog};
use super::OwnedTasks;
use crate::blocking;
use crate::context;
use crate::shim::{fence, lock, Arc, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};
use crate::task::{new_task, Header, JoinHandle, Notified, Pinned, Schedule, Task, TaskMeta};

/// How a multi-thread runtime is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) backend: Backend,
    pub(crate) event_interval: usize,
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) blocking: blocking::Config,
}

/// State shared by the workers, the runtime's handles and every task.
#[derive(Debug)]
pub(crate) struct Shared {
    workers: Box<[Remote]>,
    inject: Inject,
    idle: Idle,
    owned: OwnedTasks,
    next_id: AtomicU64,
    /// Round-robin placement of pinned tasks spawned from outside the workers.
    next_placement: AtomicUsize,
    closing: AtomicBool,
    /// Watches every reactor for the workers that sleep (`sleep.rs`); epoll, 2+ workers only.
    hub: Option<HubState>,
    event_interval: usize,
    exited: Mutex<usize>,
    exited_cv: Condvar,
    /// Set when a shutdown stopped waiting for the workers: each that exits later drops its own
    /// reactor, failing the I/O still waiting on it and firing its timers.
    gave_up: AtomicBool,
    /// Polls of `block_on` futures, for `RuntimeMetrics::polls`.
    block_on_polls: AtomicU64,
    pub(crate) blocking: blocking::Spawner,
}

/// The part of a worker that other threads reach.
#[derive(Debug)]
struct Remote {
    run_queue: RunQueue<Notified>,
    /// Pinned tasks woken or spawned from other threads.
    inbox: Inject,
    /// This worker's pinned tasks, cancelled by the worker itself at shutdown.
    owned_pinned: OwnedTasks,
    reactor: weft_reactor::Handle,
    /// The driver, locked only while someone turns it (the worker, or a sibling helping it).
    driver: Mutex<Option<Reactor>>,
    /// Whether and how it sleeps, and its parker.
    sleep: Sleep,
    /// Hand-off of events a helper could not dispatch because the driver was busy.
    gate: TurnGate,
    /// Reactor turns so far: the watchdog turns the reactor for a worker that has neither turned
    /// it nor left its poll since the watchdog's last tick (`Shared::help_stuck_workers`).
    turns: AtomicU64,
    /// Set by the watchdog while the worker is inside one poll across two of its ticks, so new
    /// pinned tasks go elsewhere (`Shared::place_pinned`); cleared at its first tick after.
    stuck: AtomicBool,
    /// Ready pinned tasks in the worker's private queue, mirrored for `queue_depth`.
    pinned_ready: AtomicUsize,
    /// The worker's thread has left its loop (or never started).
    exited: AtomicBool,
    stall: Arc<StallMonitor>,
}

/// The threads and the shared state: owned by the `Runtime`.
#[derive(Debug)]
pub(crate) struct MultiThread {
    pub(crate) shared: Arc<Shared>,
    threads: Vec<ThreadHandle<()>>,
    watchdog: Option<Watchdog>,
}

impl Remote {
    /// Drops the reactor (once): pending I/O on it fails and its timers fire.
    fn drop_driver(&self) {
        let driver = lock(&self.driver).take();
        drop(driver);
    }

    /// Turns this worker's reactor (by the worker itself, or by a thread helping it) and counts
    /// the turn. With `wait` false, gives up at once if someone else holds the driver. Returns
    /// the wakers woken, or `None` when it did not turn (driver busy, or gone at shutdown).
    fn turn(
        &self,
        timeout: Option<Duration>,
        wait: bool,
        hook: &mut impl WakeHook,
    ) -> io::Result<Option<usize>> {
        let Some(mut woke) = self.turn_once(timeout, wait, hook)? else {
            return Ok(None);
        };
        while self.gate.unlocked() {
            match self.turn_once(Some(Duration::ZERO), false, hook)? {
                Some(more) => woke += more,
                // whoever holds it now looks at the gate when it lets go
                None => break,
            }
        }
        Ok(Some(woke))
    }

    /// Turns this reactor for a thread other than its owner, which learnt from the hub that
    /// it has events: if the driver is busy, hands the events to its holder (`sleep.rs`).
    fn help_turn(&self, hook: &mut impl WakeHook) -> io::Result<Option<usize>> {
        if let Some(woke) = self.turn(Some(Duration::ZERO), false, hook)? {
            return Ok(Some(woke));
        }
        self.gate.raise();
        self.turn(Some(Duration::ZERO), false, hook)
    }

    fn turn_once(
        &self,
        timeout: Option<Duration>,
        wait: bool,
        hook: &mut impl WakeHook,
    ) -> io::Result<Option<usize>> {
        let mut driver = if wait {
            lock(&self.driver)
        } else {
            match self.driver.try_lock() {
                Ok(driver) => driver,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
            }
        };
        let Some(reactor) = driver.as_mut() else {
            return Ok(None);
        };
        self.gate.locked();
        let woke = reactor.turn_with(timeout, hook)?;
        let turns = self.turns.load(Ordering::Relaxed);
        self.turns.store(turns.wrapping_add(1), Ordering::Relaxed);
        Ok(Some(woke))
    }
}

impl Pointer for Notified {
    fn into_ptr(self) -> *mut () {
        self.into_raw()
    }

    unsafe fn from_ptr(ptr: *mut ()) -> Notified {
        // SAFETY: `ptr` came from `into_raw` and is taken back once (contract of `from_ptr`).
        unsafe { Notified::from_raw(ptr) }
    }
}

impl MultiThread {
    /// Starts `config.workers` worker threads, each with its own reactor.
    pub(crate) fn new(config: Config) -> io::Result<MultiThread> {
        let workers = config.workers.max(1);
        if workers > idle::MAX_WORKERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{workers} worker threads asked for; a weft runtime has at most {}",
                    idle::MAX_WORKERS
                ),
            ));
        }
        let mut remotes = Vec::with_capacity(workers);
        for index in 0..workers {
            let reactor = Reactor::new(config.backend)?;
            remotes.push(Remote {
                run_queue: RunQueue::new(),
                inbox: Inject::default(),
                owned_pinned: OwnedTasks::default(),
                reactor: reactor.handle(),
                driver: Mutex::new(Some(reactor)),
                sleep: Sleep::new(),
                gate: TurnGate::default(),
                turns: AtomicU64::new(0),
                stuck: AtomicBool::new(false),
                pinned_ready: AtomicUsize::new(0),
                exited: AtomicBool::new(false),
                stall: Arc::new(StallMonitor::new(
                    config.stall_threshold.unwrap_or(Duration::MAX),
                    format!("worker {index} (thread weft-worker-{index})"),
                    "the tasks pinned to its worker (its other tasks and its I/O move to \
                     other workers)",
                )),
            });
        }
        let hub = if workers > 1 && config.backend == Backend::Epoll {
            let hub = Hub::new()?;
            for (index, remote) in remotes.iter().enumerate() {
                hub.add(&remote.reactor, index)?;
            }
            Some(HubState::new(hub))
        } else {
            None
        };
        let shared = Arc::new(Shared {
            workers: remotes.into_boxed_slice(),
            inject: Inject::default(),
            idle: Idle::new(workers),
            owned: OwnedTasks::default(),
            next_id: AtomicU64::new(1),
            next_placement: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            hub,
            event_interval: config.event_interval.max(1),
            exited: Mutex::new(0),
            exited_cv: Condvar::new(),
            gave_up: AtomicBool::new(false),
            block_on_polls: AtomicU64::new(0),
            blocking: blocking::Spawner::new(config.blocking),
        });
        // always started: besides the stall reports (when on) it helps stuck workers
        let helped = shared.clone();
        let mut looks = vec![(0, 0); workers];
        let watchdog = Watchdog::start(
            shared.workers.iter().map(|r| r.stall.clone()).collect(),
            Some(Box::new(move || helped.help_stuck_workers(&mut looks))),
        )?;
        let mut runtime = MultiThread {
            shared: shared.clone(),
            threads: Vec::with_capacity(workers),
            watchdog: Some(watchdog),
        };
        for index in 0..workers {
            let worker_shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("weft-worker-{index}"))
                .spawn(move || worker::run(worker_shared, index));
            match spawned {
                Ok(thread) => runtime.threads.push(thread),
                Err(e) => {
                    // The workers that never started count as exited, so the shutdown waits
                    // for (and joins) only those that did.
                    (index..workers).for_each(|never| shared.worker_exited(never));
                    runtime.shutdown(None);
                    return Err(with_context(
                        e,
                        format_args!("spawning weft worker thread {index}"),
                    ));
                }
            }
        }
        Ok(runtime)
    }

    /// Runs `future` on the calling thread (which runs no other task) while the workers run
    /// everything spawned.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _entered = match context::enter(context::Scheduler::BlockOn(&self.shared), false) {
            Ok(entered) => entered,
            Err(e) => panic!("{e}"),
        };
        let mut future = std::pin::pin!(future);
        let polls = &self.shared.block_on_polls;
        crate::task::park_thread_until(std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            future.as_mut().poll(cx)
        }))
    }

    /// Stops the workers and frees everything (see the module docs). With `timeout`, gives up
    /// waiting for workers stuck in a poll after that long and returns `false`; each of those
    /// drops its own reactor when it exits.
    pub(crate) fn shutdown(&mut self, timeout: Option<Duration>) -> bool {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::SeqCst);
        for index in 0..shared.workers() {
            shared.wake_worker(index);
        }
        let all_exited = shared.wait_for_workers(timeout);
        if all_exited {
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        } else {
            // pairs with the fence in `mark_exited`
            shared.gave_up.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
        // Destructors run here may spawn (a cleanup task): they find the runtime closing and get
        // a cancelled handle, as on a worker, instead of "no runtime" panics.
        let _entered = context::enter(context::Scheduler::BlockOn(shared), true);
        // Send tasks: their futures are dropped here; queued entries go with the queues.
        shared.owned.shutdown();
        drop(shared.inject.close());
        for remote in shared.workers.iter() {
            if remote.exited.load(Ordering::SeqCst) {
                drop(remote.run_queue.drain());
                remote.drop_driver();
            }
        }
        drop(self.watchdog.take());
        all_exited
    }
}

impl Shared {
    /// The reactor that I/O created on a `block_on` thread registers with.
    pub(crate) fn block_on_reactor(&self) -> &weft_reactor::Handle {
        &self.workers[0].reactor
    }

    /// Worker count.
    pub(crate) fn workers(&self) -> usize {
        self.workers.len()
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Spawns a `Send` task: onto this worker's queue when called on a worker, else the inject
    /// queue.
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, handle) = new_task(future, self.clone(), self.next_id(), meta);
        if let Some(notified) = self.owned.bind(task, notified) {
            self.schedule(notified);
        }
        handle
    }

    /// Spawns a task that runs only on worker `owner`. The future must be created on that
    /// worker's thread unless it is `Send` (callers guarantee it: `spawn_local` is called on
    /// the owner, `spawn_pinned` builds the future there).
    pub(crate) fn spawn_on_worker<F>(
        self: &Arc<Self>,
        owner: usize,
        future: F,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let scheduler = PinnedTo {
            shared: self.clone(),
            owner,
        };
        let (task, notified, handle) = new_task(future, scheduler.clone(), self.next_id(), meta);
        if let Some(notified) = self.workers[owner].owned_pinned.bind(task, notified) {
            scheduler.schedule(notified);
        }
        handle
    }

    /// Where a new pinned task goes. From a worker of this runtime (`near`): that worker, so a
    /// connection accepted there stays there, unless the next worker in round-robin order has
    /// clearly fewer pinned tasks (a single acceptor still spreads its connections). From
    /// elsewhere: the less loaded of two workers picked round-robin. Either way, a worker the
    /// watchdog saw stuck inside one poll is passed over for the next one that is not.
    pub(crate) fn place_pinned(&self, near: Option<usize>) -> usize {
        let n = self.workers.len();
        let next = self.next_placement.fetch_add(1, Ordering::Relaxed) % n;
        let load = |w: usize| self.workers[w].owned_pinned.len();
        let chosen = match near {
            Some(local) => {
                let other = if next == local { (next + 1) % n } else { next };
                let (mine, theirs) = (load(local), load(other));
                if theirs + theirs / 4 + 2 < mine {
                    other
                } else {
                    local
                }
            }
            None => {
                let other = (next + 1) % n;
                if load(other) < load(next) {
                    other
                } else {
                    next
                }
            }
        };
        // A pinned task can run only on its worker: never pick one stuck in a long poll while
        // another is free (a coroutine spinning on the CPU would hold the new one back).
        let stuck = |w: usize| self.workers[w].stuck.load(Ordering::Relaxed);
        if !stuck(chosen) {
            return chosen;
        }
        (1..n)
            .map(|i| (chosen + i) % n)
            .find(|&w| !stuck(w))
            .unwrap_or(chosen)
    }

    /// Spawns a pinned task whose future `make` builds on the worker it is placed on.
    pub(crate) fn spawn_pinned<M, F>(
        self: &Arc<Self>,
        worker: Option<usize>,
        make: M,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let owner = worker.unwrap_or_else(|| {
            let near = context::with_worker(|w| match w {
                Some(w) if w.belongs_to(self) => Some(w.index()),
                _ => None,
            });
            self.place_pinned(near)
        });
        self.spawn_on_worker(owner, Pinned::Make(Some(make)), meta)
    }

    /// Runs `f` on the blocking pool.
    pub(crate) fn spawn_blocking<F, R>(&self, f: F, meta: TaskMeta) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.blocking.spawn(f, self.next_id(), meta)
    }

    /// Tasks alive on this runtime.
    pub(crate) fn alive_tasks(&self) -> usize {
        self.owned.len()
            + self
                .workers
                .iter()
                .map(|w| w.owned_pinned.len())
                .sum::<usize>()
    }

    /// Ready tasks waiting for a worker (a snapshot).
    pub(crate) fn queue_depth(&self) -> usize {
        self.inject.len()
            + self
                .workers
                .iter()
                .map(|w| w.run_queue.len() + w.inbox.len() + w.pinned_ready.load(Ordering::Relaxed))
                .sum::<usize>()
    }

    /// Polls so far, over all workers.
    pub(crate) fn polls(&self) -> u64 {
        self.block_on_polls.load(Ordering::Relaxed)
            + self.workers.iter().map(|w| w.stall.polls()).sum::<u64>()
    }

    /// Stalls so far (count, longest), over all workers.
    pub(crate) fn stalls(&self) -> (u64, Duration) {
        self.workers
            .iter()
            .fold((0, Duration::ZERO), |(n, longest), w| {
                let stats = w.stall.stats();
                (n + stats.stalls, longest.max(stats.longest))
            })
    }

    /// Wakes worker `index` for work, however it sleeps: on the hub through the hub's own
    /// wake-up, in its reactor through the reactor's, on its parker directly.
    fn wake_worker(&self, index: usize) {
        let remote = &self.workers[index];
        let wake_reactor = || remote.reactor.wake();
        let wake_hub = || match &self.hub {
            Some(hub) => hub.hub.wake(),
            // (`Mode::Hub` is only taken with a hub)
            None => wake_reactor(),
        };
        remote.sleep.wake(wake_hub, wake_reactor);
    }

    /// Wakes a parked worker to steal new work, if the sleep protocol says one should wake.
    fn notify_parked(&self) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.wake_worker(worker);
        }
    }

    /// Turns reactor `index` for its owner (see `Remote::help_turn`). An owner sleeping on its
    /// parker that now has a timer pending is woken to watch it itself.
    fn help_turn(&self, index: usize, hook: &mut impl WakeHook) {
        let remote = &self.workers[index];
        // an error here is the owner's to report when it turns its reactor again
        let _ = remote.help_turn(hook);
        if remote.sleep.mode() == Mode::Parker && remote.reactor.has_timers() {
            self.wake_worker(index);
        }
    }

    /// Polls the hub without blocking when workers sleep on their parkers and nobody sleeps
    /// on the hub for them: a busy worker between batches, and the watchdog each tick.
    fn poll_orphaned_reactors(&self, hook: &mut impl WakeHook) {
        let Some(hub) = &self.hub else { return };
        let mut ready = Vec::new();
        hub.poll_orphans(&mut ready);
        ready
            .into_iter()
            .for_each(|index| self.help_turn(index, hook));
    }

    fn push_inject(&self, task: Notified) {
        if self.inject.push([task]) {
            self.notify_parked();
        }
    }

    /// The watchdog's help (module docs): a worker that has been inside the same poll since
    /// the last tick, without turning its reactor, gets its reactor turned here. Tasks that
    /// become ready go to the inject queue, and a parked worker is woken for them. `looks` holds
    /// each worker's (poll sequence, turns) at the previous tick.
    fn help_stuck_workers(&self, looks: &mut [(u64, u64)]) {
        if self.closing.load(Ordering::Acquire) {
            return;
        }
        self.poll_orphaned_reactors(&mut ());
        for (remote, look) in self.workers.iter().zip(looks.iter_mut()) {
            let now = (remote.stall.seq(), remote.turns.load(Ordering::Relaxed));
            let stuck = now.0 & 1 == 1 && now == *look;
            *look = now;
            remote.stuck.store(stuck, Ordering::Relaxed);
            if !stuck {
                continue;
            }
            // an error here is the worker's to report when it turns its reactor again
            if let Ok(Some(_)) = remote.turn(Some(Duration::ZERO), false, &mut ()) {
                look.1 = now.1.wrapping_add(1);
            }
        }
    }

    /// Worker `index` finished its shutdown (or never started). After a shutdown that gave up
    /// waiting, it drops its reactor itself ([`mark_exited`]).
    fn worker_exited(&self, index: usize) {
        let remote = &self.workers[index];
        if mark_exited(&remote.exited, &self.gave_up) {
            remote.drop_driver();
        }
        *lock(&self.exited) += 1;
        self.exited_cv.notify_all();
    }

    /// Waits until every worker exited, or `timeout` passed (`false`). Without a timeout, names
    /// the wait on stderr each second so a stuck task is never a silent hang.
    fn wait_for_workers(&self, timeout: Option<Duration>) -> bool {
        let start = Instant::now();
        let mut exited = lock(&self.exited);
        let mut next_report = Duration::from_secs(1);
        while *exited < self.workers.len() {
            let waited = start.elapsed();
            if timeout.is_some_and(|t| waited >= t) {
                eprintln!(
                    "weft: shutdown: {} of {} workers had not exited after {} ms (each is \
                     finishing a poll); leaving them behind",
                    self.workers.len() - *exited,
                    self.workers.len(),
                    waited.as_millis()
                );
                return false;
            }
            if timeout.is_none() && waited >= next_report {
                eprintln!(
                    "weft: shutdown: waiting {} s for {} worker(s) still inside a task's poll \
                     (a poll that never returns blocks the drop; use shutdown_timeout)",
                    waited.as_secs(),
                    self.workers.len() - *exited
                );
                next_report += Duration::from_secs(1);
            }
            let step = timeout.map_or(next_report, |t| t.min(next_report));
            let (guard, _) = self
                .exited_cv
                .wait_timeout(exited, step.saturating_sub(waited))
                .unwrap_or_else(|e| e.into_inner());
            exited = guard;
        }
        true
    }
}

/// The worker's half of step 3 of the shutdown (module docs) when the shutdown gives up
/// waiting: marks the worker `exited` and returns whether the shutdown had `gave_up` already,
/// in which case the worker drops its own reactor. The shutdown stores `gave_up`, then drops
/// the reactors of the workers it sees `exited`. Each side stores its flag, then a `SeqCst`
/// fence, then loads the other's, so the worker or the shutdown (or both: the driver is taken
/// once) sees the other's flag and no reactor is left behind; the loom model below checks it.
/// (`SeqCst` stores and loads alone would do in the C++ model, but loom checks such a pairing
/// only through fences: it treats `SeqCst` accesses as acquire/release.)
fn mark_exited(exited: &AtomicBool, gave_up: &AtomicBool) -> bool {
    exited.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    gave_up.load(Ordering::SeqCst)
}

impl Schedule for Arc<Shared> {
    #[inline]
    fn schedule(&self, task: Notified) {
        context::with_worker(|worker| match worker {
            Some(worker) if worker.belongs_to(self) => worker.push_local(task),
            _ => self.push_inject(task),
        })
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }

    /// `Send` tasks of this runtime: a worker's reactor turn queues them in place
    /// (`worker::WorkerWakes`). Pinned tasks opt out and go through `PinnedTo::schedule`.
    #[inline]
    fn owner(&self) -> usize {
        Arc::as_ptr(self) as usize
    }

    #[inline]
    fn poll_started(&self, task: &Header) -> u64 {
        context::with_worker(|worker| match worker {
            Some(worker) => worker.remote().stall.poll_started(task.meta().location),
            None => 0,
        })
    }

    #[inline]
    fn poll_finished(&self, task: &Header, started: u64) {
        context::with_worker(|worker| {
            if let Some(worker) = worker {
                worker.poll_finished(task, started);
            }
        })
    }
}

/// The scheduler of a task pinned to one worker.
#[derive(Debug, Clone)]
pub(crate) struct PinnedTo {
    shared: Arc<Shared>,
    owner: usize,
}

impl Schedule for PinnedTo {
    #[inline]
    fn schedule(&self, task: Notified) {
        context::with_worker(|worker| match worker {
            Some(worker) if worker.belongs_to(&self.shared) && worker.index() == self.owner => {
                worker.push_pinned(task)
            }
            _ => {
                let owner = &self.shared.workers[self.owner];
                // pairs with `Sleep::set_parked` in `Worker::park`: either it sees the task, or
                // we see it parked
                if owner.inbox.push([task]) && owner.sleep.parked_after_push() {
                    self.shared.wake_worker(self.owner);
                }
            }
        })
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.shared.workers[self.owner].owned_pinned.remove(task)
    }

    #[inline]
    fn poll_started(&self, task: &Header) -> u64 {
        self.shared.workers[self.owner]
            .stall
            .poll_started(task.meta().location)
    }

    #[inline]
    fn poll_finished(&self, task: &Header, started: u64) {
        let monitor = &self.shared.workers[self.owner].stall;
        if let Some(ran) = monitor.poll_finished(started) {
            let what = format!("task {} {}", task.id(), task.meta());
            monitor.report(what.trim_end(), ran);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// A shutdown gives up waiting (`MultiThread::shutdown`'s steps) just as the worker exits
    /// (`Shared::worker_exited`'s): its reactor is dropped, by one or the other. A reactor left
    /// behind would leave its pending I/O and timers waiting for ever.
    #[test]
    fn loom_a_worker_exiting_as_the_shutdown_gives_up_has_its_reactor_dropped() {
        loom::model(|| {
            let exited = Arc::new(AtomicBool::new(false));
            let gave_up = Arc::new(AtomicBool::new(false));
            let driver = Arc::new(Mutex::new(Some(())));
            let worker = {
                let (exited, gave_up, driver) = (exited.clone(), gave_up.clone(), driver.clone());
                thread::spawn(move || {
                    if mark_exited(&exited, &gave_up) {
                        lock(&driver).take();
                    }
                })
            };
            gave_up.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if exited.load(Ordering::SeqCst) {
                lock(&driver).take();
            }
            worker.join().unwrap();
            assert!(lock(&driver).is_none(), "nobody dropped the reactor");
        });
    }
}
