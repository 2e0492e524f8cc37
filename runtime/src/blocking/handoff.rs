//! The pool's hand-off: how a submitted job finds a thread. This is the whole concurrency
//! protocol of the blocking pool, kept free of tasks and OS threads so loom can model it (the
//! caller spawns the threads `submit` asks for and runs `work` on them).
//!
//! # State (one mutex)
//!
//! - `queue`: jobs not yet taken by a thread.
//! - `threads`: live workers, counted from the moment `submit` decides to start one (so two
//!   racing submits never both spawn the last allowed thread) until the worker leaves `work`.
//! - `idle`: workers parked in `work`, waiting for a job.
//! - `notified`: wake-ups handed to idle workers and not yet consumed. An idle worker is
//!   *claimed* by a wake-up; `idle - notified` are the unclaimed ones a new job may count on.
//! - `shutdown`: set once by `close`; no job is accepted after it.
//!
//! # Protocol
//!
//! 1. **Submit.** Lock, push the job. If an idle worker is unclaimed (`idle > notified`), claim
//!    it (`notified += 1`) and signal the condvar. Otherwise, if under the cap, count a new
//!    thread and tell the caller to spawn it. Otherwise leave the job queued: every worker
//!    drains the queue before it parks, so a busy worker takes it when it is done.
//! 2. **Work.** A worker pops and runs jobs (lock released while running) until the queue is
//!    empty, then parks (`idle += 1`) for at most the keep-alive.
//! 3. **Wake.** After *any* return from the wait (signal, spurious wake-up or timeout), the
//!    worker first checks `notified`: if a wake-up is pending it consumes it and goes back to
//!    step 2. This is the race the protocol exists for: a submit that claimed this worker just
//!    as its keep-alive ran out has already decided not to spawn a thread, so a worker that
//!    retired on the timeout alone would strand the job. The wake-up count, not the condvar
//!    signal, carries the hand-off; a signal that finds nobody waiting is harmless.
//! 4. **Retire.** Only a worker that timed out with no wake-up pending leaves (`idle -= 1`,
//!    `threads -= 1`), under the same lock that submits take, so no submit counts on it after.
//! 5. **Close.** Set `shutdown`, take the queue (the caller cancels those jobs) and wake every
//!    idle worker. Workers finish the job in hand and leave; `wait_exited` waits, bounded, for
//!    `threads` to reach zero.

use std::collections::VecDeque;
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

#[cfg(not(loom))]
use crate::shim::wait_timeout;
use crate::shim::{lock, wait, Condvar, Mutex, MutexGuard};

/// The hand-off between submitters and worker threads.
#[derive(Debug)]
pub(crate) struct Handoff<T> {
    state: Mutex<State<T>>,
    /// Idle workers wait here for a job.
    work: Condvar,
    /// `wait_exited` waits here for the last worker to leave.
    exited: Condvar,
    max_threads: usize,
}

#[derive(Debug)]
struct State<T> {
    queue: VecDeque<T>,
    threads: usize,
    idle: usize,
    notified: usize,
    shutdown: bool,
    /// Threads ever started, to number them.
    started: usize,
}

/// What `submit` did with a job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Submit<T> {
    /// Queued; an idle worker was woken for it, or a busy one will take it.
    Queued,
    /// Queued, and a new worker was counted: the caller must start a thread (numbered as
    /// given) that runs [`Handoff::work`], or report failure with [`Handoff::spawn_failed`].
    Spawn(usize),
    /// The pool is closed; the job is handed back.
    Rejected(T),
}

impl<T> Handoff<T> {
    /// A pool that runs at most `max_threads` workers (at least one).
    pub(crate) fn new(max_threads: usize) -> Handoff<T> {
        Handoff {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: false,
                started: 0,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            max_threads: max_threads.max(1),
        }
    }

    /// Step 1: queues `job` and says whether a thread must be started for it.
    pub(crate) fn submit(&self, job: T) -> Submit<T> {
        let mut state = lock(&self.state);
        if state.shutdown {
            return Submit::Rejected(job);
        }
        state.queue.push_back(job);
        if state.idle > state.notified {
            state.notified += 1;
            drop(state);
            self.work.notify_one();
            Submit::Queued
        } else if state.threads < self.max_threads {
            state.threads += 1;
            state.started += 1;
            Submit::Spawn(state.started)
        } else {
            Submit::Queued
        }
    }

    /// The thread `submit` asked for could not be started. Returns `true` when no worker is
    /// left at all, so queued jobs would wait until `close`.
    pub(crate) fn spawn_failed(&self) -> bool {
        let mut state = lock(&self.state);
        state.threads -= 1;
        if state.threads == 0 && state.shutdown {
            self.exited.notify_all();
        }
        state.threads == 0 && !state.queue.is_empty()
    }

    /// Steps 2 to 4: the body of a worker thread. Runs jobs with `run` (which must not panic:
    /// the pool's jobs catch their own panics) until the pool closes or the worker has been
    /// idle for `keep_alive`.
    pub(crate) fn work(&self, keep_alive: Duration, mut run: impl FnMut(T)) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                run(job);
                state = lock(&self.state);
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let retire;
            (state, retire) = self.park(state, keep_alive);
            state.idle -= 1;
            if retire {
                break;
            }
        }
        state.threads -= 1;
        if state.threads == 0 && state.shutdown {
            self.exited.notify_all();
        }
    }

    /// Parks an idle worker (step 3). Returns the lock and `true` when it should retire.
    fn park<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<T>>,
        keep_alive: Duration,
    ) -> (MutexGuard<'a, State<T>>, bool) {
        let mut waiter = Waiter::new(keep_alive);
        loop {
            let timed_out;
            (state, timed_out) = waiter.wait(&self.work, &self.state, state);
            if state.notified > 0 {
                state.notified -= 1;
                return (state, false);
            }
            if state.shutdown {
                return (state, false);
            }
            if timed_out {
                return (state, true);
            }
        }
    }

    /// Step 5, first half: refuses new jobs, wakes every idle worker and hands back the jobs no
    /// thread has taken.
    pub(crate) fn close(&self) -> VecDeque<T> {
        let mut state = lock(&self.state);
        state.shutdown = true;
        let queued = std::mem::take(&mut state.queue);
        drop(state);
        self.work.notify_all();
        queued
    }

    /// Step 5, second half: waits up to `timeout` for every worker to leave; returns how many
    /// are still running a job.
    pub(crate) fn wait_exited(&self, timeout: Duration) -> usize {
        let mut state = lock(&self.state);
        let mut waiter = Waiter::new(timeout);
        while state.threads > 0 {
            let timed_out;
            (state, timed_out) = waiter.wait(&self.exited, &self.state, state);
            if timed_out {
                break;
            }
        }
        state.threads
    }

    /// Live worker threads (including ones being started).
    pub(crate) fn threads(&self) -> usize {
        lock(&self.state).threads
    }
}

/// A series of waits on a condvar, bounded in total (an idle spell up to the keep-alive, or
/// shutdown up to its timeout).
struct Waiter {
    #[cfg(not(loom))]
    deadline: Option<Instant>,
    #[cfg(loom)]
    keep_alive: Duration,
}

impl Waiter {
    #[cfg(not(loom))]
    fn new(keep_alive: Duration) -> Waiter {
        Waiter {
            deadline: Instant::now().checked_add(keep_alive),
        }
    }

    /// One wait. Returns the lock and `true` once the keep-alive has run out.
    #[cfg(not(loom))]
    fn wait<'a, S>(
        &mut self,
        condvar: &Condvar,
        _mutex: &'a Mutex<S>,
        guard: MutexGuard<'a, S>,
    ) -> (MutexGuard<'a, S>, bool) {
        let Some(deadline) = self.deadline else {
            return (wait(condvar, guard), false);
        };
        let now = Instant::now();
        if now >= deadline {
            return (guard, true);
        }
        let guard = wait_timeout(condvar, guard, deadline - now);
        (guard, Instant::now() >= deadline)
    }

    #[cfg(loom)]
    fn new(keep_alive: Duration) -> Waiter {
        Waiter { keep_alive }
    }

    /// Under loom, which has no clock, a zero keep-alive models a worker whose keep-alive runs
    /// out at an arbitrary moment: the lock is released, any other thread may act, and the wait
    /// ends as a timeout without any signal. Any other keep-alive never runs out.
    #[cfg(loom)]
    fn wait<'a, S>(
        &mut self,
        condvar: &Condvar,
        mutex: &'a Mutex<S>,
        guard: MutexGuard<'a, S>,
    ) -> (MutexGuard<'a, S>, bool) {
        if self.keep_alive.is_zero() {
            drop(guard);
            loom::thread::yield_now();
            (lock(mutex), true)
        } else {
            (wait(condvar, guard), false)
        }
    }
}

/// Model checks of the hand-off (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release
/// --lib loom`). Jobs are numbers; running one records it. Worker threads are loom threads
/// started exactly when `submit` says so, as the pool does with OS threads.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread::JoinHandle;

    struct Model {
        pool: Arc<Handoff<usize>>,
        /// Bit `n` is set when job `n` ran; a job that ran twice trips an assertion.
        ran: Arc<AtomicUsize>,
        keep_alive: Duration,
        workers: Vec<JoinHandle<()>>,
    }

    impl Model {
        fn new(max_threads: usize, keep_alive: Duration) -> Model {
            Model {
                pool: Arc::new(Handoff::new(max_threads)),
                ran: Arc::new(AtomicUsize::new(0)),
                keep_alive,
                workers: Vec::new(),
            }
        }

        /// Submits job `n`, starting a worker when asked to. `false` when rejected.
        fn submit(&mut self, n: usize) -> bool {
            match self.pool.submit(n) {
                Submit::Queued => true,
                Submit::Spawn(_) => {
                    let (pool, ran, keep_alive) =
                        (self.pool.clone(), self.ran.clone(), self.keep_alive);
                    self.workers.push(loom::thread::spawn(move || {
                        pool.work(keep_alive, |job| {
                            let prev = ran.fetch_or(1 << job, Ordering::SeqCst);
                            assert_eq!(prev & (1 << job), 0, "job {job} ran twice");
                        })
                    }));
                    true
                }
                Submit::Rejected(_) => false,
            }
        }

        fn join(self) -> usize {
            for worker in self.workers {
                worker.join().unwrap();
            }
            self.ran.load(Ordering::SeqCst)
        }
    }

    /// The race the protocol exists for: a worker's keep-alive runs out just as a job arrives.
    /// Either the submit sees the worker idle and claims it (and the worker, waking on its
    /// timeout, must still take the job), or it sees it gone and starts a new thread. Both jobs
    /// run exactly once and every worker leaves.
    #[test]
    fn a_job_racing_a_retiring_worker_is_never_stranded() {
        loom::model(|| {
            let mut model = Model::new(2, Duration::ZERO);
            assert!(model.submit(0));
            assert_eq!(model.workers.len(), 1);
            assert!(model.submit(1));
            let pool = model.pool.clone();
            assert_eq!(model.join(), 0b11, "a job was stranded");
            assert_eq!(pool.threads(), 0);
            assert!(pool.close().is_empty());
        });
    }

    /// At the cap, a job queues behind a busy worker instead of starting a thread, and the
    /// worker takes it before it parks.
    #[test]
    fn at_the_cap_a_busy_worker_takes_the_queued_job() {
        loom::model(|| {
            let mut model = Model::new(1, Duration::ZERO);
            assert!(model.submit(0));
            assert!(model.submit(1));
            assert_eq!(model.workers.len(), 1, "the cap was exceeded");
            let pool = model.pool.clone();
            assert_eq!(model.join(), 0b11);
            assert_eq!(pool.threads(), 0);
        });
    }

    /// Shutdown racing a submit and an idle worker that never times out: every job either runs
    /// or comes back from `close` (exactly one of the two), later submits are rejected, and the
    /// idle worker is woken to leave, so `wait_exited` returns.
    #[test]
    fn close_hands_back_or_runs_every_job_and_wakes_idle_workers() {
        loom::model(|| {
            let mut model = Model::new(1, Duration::from_secs(10));
            assert!(model.submit(0));
            let submitter = {
                let pool = model.pool.clone();
                loom::thread::spawn(move || match pool.submit(1) {
                    Submit::Queued => true,
                    Submit::Rejected(_) => false,
                    Submit::Spawn(_) => unreachable!("the cap is one thread"),
                })
            };
            let returned = model
                .pool
                .close()
                .into_iter()
                .fold(0, |bits, job| bits | 1 << job);
            let accepted = submitter.join().unwrap();
            assert!(!model.submit(2), "a submit after close was accepted");
            assert_eq!(model.pool.wait_exited(Duration::from_secs(10)), 0);
            let pool = model.pool.clone();
            let ran = model.join();
            assert_eq!(ran & returned, 0, "a job both ran and came back");
            let expected = if accepted { 0b11 } else { 0b01 };
            assert_eq!(ran | returned, expected, "a job was lost");
            assert_eq!(pool.threads(), 0);
        });
    }
}
