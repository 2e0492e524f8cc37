//! The blocking pool of one runtime: its tasks, its threads, and its shutdown.
//!
//! A blocking task is an ordinary task (see `crate::task`) whose future calls the closure once;
//! the pool is its scheduler. `schedule` submits the task to the [`Handoff`], which says when a
//! thread must be started; a worker thread runs [`Notified::run`] on what it takes, so panics
//! become `JoinError`s and `abort` of a queued task cancels it, exactly as for async tasks.
//!
//! Like the runtime's own scheduler, the pool keeps an *owned list* of its tasks: it holds one
//! reference per task until the task completes, so shutdown can cancel the tasks that never
//! started, and name the ones still running when it stops waiting.
//!
//! # Shutdown (`Spawner::shutdown`, from `Runtime`'s `Drop`, after the async tasks are gone)
//!
//! 1. Close the hand-off: later submits are rejected, idle workers wake up and leave, and the
//!    tasks no thread has taken yet come back; each is removed from the owned list and
//!    cancelled (its `JoinHandle` gives a cancelled `JoinError`).
//! 2. Close the owned list: a task spawned from now on is cancelled at once. (A spawn that
//!    bound its task between steps 1 and 2 finds its submit rejected and cancels it itself.)
//! 3. Wait, up to the shutdown timeout, for the workers to finish the jobs in their hands.
//! 4. If some are still busy, print one line on stderr naming their tasks, and return: those
//!    threads finish on their own (and exit); their tasks' outputs still reach live handles.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use slab::Slab;

use super::handoff::{Handoff, Submit};
use super::Config;
use crate::shim::{lock, spawn_thread, Arc, Mutex};
use crate::task::{new_task, JoinHandle, Notified, Schedule, Task, TaskMeta};

/// A runtime's blocking pool; clones share it. It is also the scheduler of its tasks.
#[derive(Debug, Clone)]
pub(crate) struct Spawner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handoff: Handoff<Notified>,
    owned: Mutex<Owned>,
    keep_alive: Duration,
    shutdown_timeout: Duration,
}

/// Tasks of the pool that have not completed, each with what names it in the shutdown report.
#[derive(Debug, Default)]
struct Owned {
    tasks: Slab<Listed>,
    closed: bool,
}

#[derive(Debug)]
struct Listed {
    task: Task,
    id: u64,
    meta: TaskMeta,
}

impl Spawner {
    pub(crate) fn new(config: Config) -> Spawner {
        Spawner {
            inner: Arc::new(Inner {
                handoff: Handoff::new(config.max_threads),
                owned: Mutex::new(Owned::default()),
                keep_alive: config.keep_alive,
                shutdown_timeout: config.shutdown_timeout,
            }),
        }
    }

    /// Runs `f` on a pool thread as task `id`.
    pub(crate) fn spawn<F, R>(&self, f: F, id: u64, meta: TaskMeta) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let future = BlockingTask { f: Some(f) };
        let (task, notified, handle) = new_task(future, self.clone(), id, meta.clone());
        if let Some(notified) = self.bind(task, notified, id, meta) {
            self.schedule(notified);
        }
        handle
    }

    /// Threads in the pool now (busy or idle).
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.handoff.threads()
    }

    /// Shuts the pool down (see the module docs), waiting for running jobs at most `limit` (and
    /// never longer than the configured shutdown timeout). Returns `true` when no thread was
    /// left busy.
    pub(crate) fn shutdown(&self, limit: Option<Duration>) -> bool {
        let inner = &*self.inner;
        let wait = limit.map_or(inner.shutdown_timeout, |l| l.min(inner.shutdown_timeout));
        for notified in inner.handoff.close() {
            if let Some(task) = self.remove(&notified.0) {
                task.shutdown();
            }
            drop(notified);
        }
        lock(&inner.owned).closed = true;
        let busy = inner.handoff.wait_exited(wait);
        if busy > 0 {
            eprintln!("{}", self.still_running(busy, wait));
        }
        busy == 0
    }

    /// The shutdown report: how many threads are busy and which tasks they run.
    #[cold]
    fn still_running(&self, busy: usize, waited: Duration) -> String {
        const NAMED: usize = 8;
        let owned = lock(&self.inner.owned);
        let mut line = format!(
            "weft: runtime shutdown: {busy} blocking-pool thread{} still busy after {:?}; \
             not waiting for {} task{}",
            if busy == 1 { "" } else { "s" },
            waited,
            owned.tasks.len(),
            if owned.tasks.len() == 1 { "" } else { "s" },
        );
        let mut sep = ": ";
        for (_, listed) in owned.tasks.iter().take(NAMED) {
            let _ = write!(line, "{sep}task {} {}", listed.id, listed.meta);
            line.truncate(line.trim_end().len());
            sep = ", ";
        }
        if owned.tasks.len() > NAMED {
            let _ = write!(line, " and {} more", owned.tasks.len() - NAMED);
        }
        line
    }

    /// Adds a new task to the owned list; after shutdown it is cancelled at once instead.
    fn bind(&self, task: Task, notified: Notified, id: u64, meta: TaskMeta) -> Option<Notified> {
        let mut owned = lock(&self.inner.owned);
        if owned.closed {
            drop(owned);
            task.shutdown();
            drop(notified);
            return None;
        }
        let key = owned.tasks.vacant_key();
        task.set_owned_key(key);
        owned.tasks.insert(Listed { task, id, meta });
        Some(notified)
    }

    /// Takes `task` off the owned list, returning the list's reference.
    fn remove(&self, task: &Task) -> Option<Task> {
        let mut owned = lock(&self.inner.owned);
        let key = task.owned_key();
        match owned.tasks.get(key) {
            Some(listed) if listed.task.is(task) => Some(owned.tasks.remove(key).task),
            _ => None,
        }
    }

    /// Starts worker thread number `n`, as the hand-off asked.
    fn start_thread(&self, n: usize) {
        let inner = self.inner.clone();
        let started = spawn_thread(format!("weft-blocking-{n}"), move || {
            inner.handoff.work(inner.keep_alive, Notified::run);
        });
        if let Err(e) = started {
            if self.inner.handoff.spawn_failed() {
                panic!(
                    "weft: spawn_blocking: the OS refused a blocking-pool thread and none is \
                     running to take the task: {e}"
                );
            }
        }
    }
}

impl Schedule for Spawner {
    fn schedule(&self, task: Notified) {
        match self.inner.handoff.submit(task) {
            Submit::Queued => {}
            Submit::Spawn(n) => self.start_thread(n),
            Submit::Rejected(task) => {
                // Shutdown closed the hand-off after this task was bound: cancel it here, since
                // no worker will ever run it. The closure is `Send`, so dropping it on this
                // thread is fine.
                if let Some(listed) = self.remove(&task.0) {
                    listed.shutdown();
                }
                drop(task);
            }
        }
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.remove(task)
    }
}

/// The future of a blocking task: calls the closure on its first (and only) poll.
struct BlockingTask<F> {
    f: Option<F>,
}

impl<F> Unpin for BlockingTask<F> {}

impl<F, R> Future for BlockingTask<F>
where
    F: FnOnce() -> R,
{
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .f
            .take()
            .expect("a blocking task is polled once: it never returns Pending");
        Poll::Ready(f())
    }
}

/// Model checks of the owned list against shutdown (`RUSTFLAGS="--cfg loom" cargo test -p
/// weft-runtime --release --lib loom`). Worker threads are loom threads (`shim::spawn_thread`);
/// under loom a keep-alive or shutdown timeout other than zero never runs out.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    use super::*;
    use crate::task::loom_harness::block_on;

    /// Counts its drops: each job's closure owns one.
    struct DropCount(Arc<AtomicUsize>);

    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A job that counts its runs in `ran` and whose closure's drop is counted in `dropped`.
    fn job(ran: &Arc<AtomicUsize>, dropped: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
        let (ran, token) = (ran.clone(), DropCount(dropped.clone()));
        move || {
            let _token = token;
            ran.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One job is running or about to run on the pool's one worker, and finishes (taking
    /// itself off the owned list) while the pool shuts down; another job is spawned from a
    /// second thread meanwhile. Every job either runs or is cancelled, exactly once, and its
    /// handle says which; each closure is dropped once; shutdown waits for the worker (it
    /// reports nobody busy), and leaves no task on the owned list.
    #[test]
    fn loom_blocking_owned_list_shutdown_sees_every_job() {
        loom::model(|| {
            let pool = Spawner::new(Config {
                max_threads: 1,
                keep_alive: Duration::from_secs(10),
                shutdown_timeout: Duration::from_secs(10),
            });
            let ran = Arc::new(AtomicUsize::new(0));
            let dropped = Arc::new(AtomicUsize::new(0));
            let first = pool.spawn(job(&ran, &dropped), 1, TaskMeta::default());
            let late = {
                let (pool, job) = (pool.clone(), job(&ran, &dropped));
                thread::spawn(move || pool.spawn(job, 2, TaskMeta::default()))
            };
            assert!(pool.shutdown(None), "shutdown left a worker busy");
            let second = late.join().unwrap();
            let finished = [first, second].map(|join| match block_on(join) {
                Ok(()) => 1,
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    0
                }
            });
            assert_eq!(ran.load(Ordering::Relaxed), finished.iter().sum::<usize>());
            assert_eq!(
                dropped.load(Ordering::Relaxed),
                2,
                "a closure was dropped twice"
            );
            assert!(
                lock(&pool.inner.owned).tasks.is_empty(),
                "a task is still owned"
            );
            assert_eq!(pool.num_threads(), 0);
        });
    }
}
