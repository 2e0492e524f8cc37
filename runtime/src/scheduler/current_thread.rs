//! The current-thread scheduler: one loop thread runs every task and drives the reactor
//! (the Node.js / Redis model).
//!
//! # The loop (`Runtime::block_on`)
//!
//! 1. If the main future was woken, poll it; return when it is ready.
//! 2. Move tasks spawned or woken from other threads (the inject queue) to the local queue.
//! 3. Run up to `event_interval` tasks from the local queue, each with a fresh cooperative
//!    budget. Wakes from this thread push straight onto the local queue (no atomics, no
//!    syscalls).
//! 4. Turn the reactor: without blocking if anything is runnable, else until the next timer, an
//!    I/O event or a wake-up from another thread (eventfd). Bounding step 3 is what keeps I/O
//!    polled while tasks keep waking each other.
//!
//! # Wake-ups from other threads
//!
//! They lock the inject queue, push, and then wake the reactor's eventfd (coalesced). The loop
//! checks the queue after every turn, so a push that lands while it blocks is never missed.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use weft_reactor::{Reactor, WakeHook};

use super::inject::Inject;
use super::local_queue::LocalQueue;
use super::stall::{StallMonitor, Watchdog};
use super::OwnedTasks;
use crate::blocking;
use crate::context;
use crate::coop;
use crate::shim::{Arc, AtomicBool, AtomicU64, Ordering};
use crate::task::{self, new_task, Header, JoinHandle, Notified, Schedule, Task, TaskMeta};

/// State shared with other threads and with every task of the runtime.
#[derive(Debug)]
pub(crate) struct Shared {
    inject: Inject,
    owned: OwnedTasks,
    pub(crate) reactor: weft_reactor::Handle,
    next_id: AtomicU64,
    pub(crate) stall: Arc<StallMonitor>,
    /// The blocking pool (`crate::blocking`).
    pub(crate) blocking: blocking::Spawner,
}

/// The loop thread's half: the local run queue and the reactor driver.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    local: LocalQueue,
    driver: RefCell<Option<Reactor>>,
    event_interval: usize,
    watchdog: RefCell<Option<Watchdog>>,
}

/// How a current-thread core is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub(crate) event_interval: usize,
    /// `None` turns the stall detector off.
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) blocking: blocking::Config,
}

impl Core {
    pub(crate) fn new(reactor: Reactor, config: Config) -> std::io::Result<Core> {
        let stall = Arc::new(StallMonitor::new(
            config.stall_threshold.unwrap_or(Duration::MAX),
            "the current-thread runtime's thread",
            "every other task and all I/O on its thread",
        ));
        let watchdog = match config.stall_threshold {
            Some(_) => Some(Watchdog::start(vec![stall.clone()], None)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            inject: Inject::default(),
            owned: OwnedTasks::default(),
            reactor: reactor.handle(),
            next_id: AtomicU64::new(1),
            stall,
            blocking: blocking::Spawner::new(config.blocking),
        });
        Ok(Core {
            shared,
            local: LocalQueue::with_capacity(256),
            driver: RefCell::new(Some(reactor)),
            event_interval: config.event_interval.max(1),
            watchdog: RefCell::new(watchdog),
        })
    }

    /// Tasks waiting to run on the loop thread (call on that thread).
    pub(crate) fn queue_depth(&self) -> usize {
        self.local.len() + self.shared.inject.len()
    }

    /// Drives the loop until `future` completes.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _entered = match context::enter(context::Scheduler::CurrentThread(self), false) {
            Ok(entered) => entered,
            Err(e) => panic!("{e}"),
        };
        let mut driver_slot = self.driver.borrow_mut();
        let driver = driver_slot
            .as_mut()
            .expect("the reactor is only taken at shutdown");
        let main = std::sync::Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let _unconstrain = coop::UnconstrainOnDrop;
        loop {
            if main.woken.swap(false, Ordering::AcqRel) {
                coop::reset();
                let started = self.shared.stall.poll_started(None);
                let polled = future.as_mut().poll(&mut cx);
                if let Some(ran) = self.shared.stall.poll_finished(started) {
                    self.shared
                        .stall
                        .report("the future passed to block_on", ran);
                }
                coop::unconstrain();
                if let Poll::Ready(out) = polled {
                    return out;
                }
            }
            self.drain_inject();
            for _ in 0..self.event_interval {
                let next = self.local.pop();
                match next {
                    Some(task) => {
                        coop::reset();
                        task.run();
                    }
                    None => break,
                }
            }
            coop::unconstrain();
            let idle = self.local.is_empty()
                && !main.woken.load(Ordering::Acquire)
                && self.shared.inject.is_empty();
            let timeout = if idle { None } else { Some(Duration::ZERO) };
            let mut hook = LocalWakes {
                core: self,
                owner: self.shared.owner(),
            };
            if let Err(e) = driver.turn_with(timeout, &mut hook) {
                panic!("weft: the reactor failed: {e}");
            }
        }
    }

    fn drain_inject(&self) {
        self.local
            .extend(self.shared.inject.pop_batch(usize::MAX).into_iter());
    }

    /// Shutdown, in order: cancel every task (dropping its future here, on the loop thread),
    /// drop queued entries, then drop the reactor, which fails pending I/O and fires timers so
    /// nothing waits forever on a loop that is gone.
    pub(crate) fn shutdown(&self) {
        let _entered = context::enter(context::Scheduler::CurrentThread(self), true);
        self.shared.owned.shutdown();
        drop(self.shared.inject.close());
        drop(self.local.take_all());
        let driver = self.driver.borrow_mut().take();
        drop(driver);
        drop(self.watchdog.borrow_mut().take());
        drop(self.local.take_all());
    }
}

impl Shared {
    /// Spawns `future` on this runtime.
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (task, notified, handle) = new_task(future, self.clone(), id, meta);
        if let Some(notified) = self.owned.bind(task, notified) {
            self.schedule(notified);
        }
        handle
    }

    /// Runs `f` on this runtime's blocking pool.
    pub(crate) fn spawn_blocking<F, R>(&self, f: F, meta: TaskMeta) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.blocking.spawn(f, id, meta)
    }

    fn push_remote(&self, task: Notified) {
        if self.inject.push([task]) {
            self.reactor.wake();
        }
    }

    /// Tasks alive on this runtime.
    pub(crate) fn alive_tasks(&self) -> usize {
        self.owned.len()
    }

    fn is_current(self: &Arc<Self>, core: Option<&Core>) -> bool {
        core.is_some_and(|core| Arc::ptr_eq(&core.shared, self))
    }
}

impl Schedule for Arc<Shared> {
    #[inline]
    fn schedule(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if Arc::ptr_eq(&core.shared, self) => {
                core.local.push(task);
            }
            _ => self.push_remote(task),
        })
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }

    #[inline]
    fn owner(&self) -> usize {
        Arc::as_ptr(self) as usize
    }

    #[inline]
    fn poll_started(&self, task: &Header) -> u64 {
        self.stall.poll_started(task.meta().location)
    }

    #[inline]
    fn poll_finished(&self, task: &Header, started: u64) {
        if let Some(ran) = self.stall.poll_finished(started) {
            report_stall(&self.stall, task, ran);
        }
    }
}

/// Out of line, so the per-poll check stays a store, a load and a compare.
#[cold]
#[inline(never)]
fn report_stall(stall: &StallMonitor, task: &Header, ran: Duration) {
    let what = format!("task {} {}", task.id(), task.meta());
    stall.report(what.trim_end(), ran);
}

/// The loop's reactor hook: a task of this runtime whose socket became ready goes straight
/// onto the local queue, woken by reference (its waker stays stored in the socket for the next
/// wait). Runs with the reactor's locks held: it only touches the task's state word and the
/// local queue.
struct LocalWakes<'a> {
    core: &'a Core,
    /// `self.core.shared.owner()`, read once per turn.
    owner: usize,
}

impl WakeHook for LocalWakes<'_> {
    #[inline]
    fn wake_in_place(&mut self, waker: &Waker) -> bool {
        task::wake_in_place(waker, self.owner).queue_with(|notified| self.core.local.push(notified))
    }
}

/// The main future's waker: a flag, plus a reactor wake-up when set from another thread.
struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if !context::with_core(|core| self.shared.is_current(core)) {
            self.shared.reactor.wake();
        }
    }
}
