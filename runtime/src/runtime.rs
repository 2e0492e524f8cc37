//! The public face of a runtime: [`Runtime`], its [`Builder`], and the thread-safe [`Handle`].

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;

use weft_reactor::{Backend, Reactor};

use std::time::{Duration, Instant};

use crate::blocking;
use crate::context::{self, Scheduler};
use crate::scheduler::current_thread::{self, Core};
use crate::scheduler::multi_thread::{self, MultiThread};
use crate::scheduler::stall::DEFAULT_THRESHOLD;
use crate::shim::Arc;
use crate::task::{JoinHandle, Pinned, TaskMeta};

/// An event loop: reactors, a scheduler, and the tasks on them.
///
/// Two flavours:
/// - **current-thread** ([`Runtime::new`], [`Builder::new_current_thread`]): every task runs on
///   the thread that calls [`block_on`](Runtime::block_on) (the Node.js / Redis model).
/// - **multi-thread** ([`Builder::new_multi_thread`]): `worker_threads` event loops, each with
///   its own reactor, sharing `Send` tasks by work stealing; `block_on` runs its future on the
///   calling thread while the workers run everything spawned.
///
/// A runtime is owned by the thread that built it, so `Runtime` is not `Send` (which is also
/// what makes [`spawn_local`] sound on a current-thread runtime); use a [`Handle`] to spawn from
/// other threads.
///
/// Dropping the runtime cancels its tasks (futures of tasks pinned to a worker are dropped on
/// that worker), fails any I/O still waiting with an error (and every later operation on its
/// sockets, should they outlive it), and fires pending timers; then it
/// shuts the blocking pool down (see [`Builder::blocking_shutdown_timeout`]). A multi-thread
/// runtime first waits for each worker to finish the poll it is in, and says on stderr what it
/// waits for after a second; [`Runtime::shutdown_timeout`] bounds that wait.
///
/// ```
/// let rt = weft_runtime::Runtime::new()?;
/// let answer = rt.block_on(async {
///     let task = weft_runtime::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    flavor: Flavor,
    handle: Handle,
    /// Set once shut down (by `shutdown_timeout`, before the drop).
    shut_down: bool,
    _not_send: PhantomData<*const ()>,
}

enum Flavor {
    CurrentThread(Core),
    MultiThread(MultiThread),
}

/// Configures a [`Runtime`].
///
/// ```
/// use weft_runtime::{Backend, Runtime};
/// let rt = Runtime::builder().backend(Backend::Poll).event_interval(32).build()?;
/// rt.block_on(async { weft_runtime::yield_now().await });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// `None`: current-thread. `Some(None)`: multi-thread, default worker count.
    workers: Option<Option<usize>>,
    backend: Option<Backend>,
    event_interval: usize,
    stall_threshold: Option<Duration>,
    blocking: blocking::Config,
}

/// A snapshot of a runtime's counters, from [`Runtime::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Event-loop threads (1 for the current-thread runtime).
    pub workers: usize,
    /// Spawned tasks that have not finished.
    pub alive_tasks: usize,
    /// Task polls so far (including polls of the future given to `block_on`).
    pub polls: u64,
    /// Polls the stall detector reported (longer than the threshold).
    pub stalls: u64,
    /// The longest poll the stall detector measured; polls under the threshold are not timed.
    pub longest_poll: Duration,
    /// Threads in the blocking pool.
    pub blocking_threads: usize,
    /// Tasks ready to run and waiting for the loop thread.
    pub queue_depth: usize,
}

/// A thread-safe reference to a runtime: spawns tasks onto it from any thread.
///
/// ```
/// let rt = weft_runtime::Runtime::new()?;
/// let handle = rt.handle().clone();
/// let from_thread = std::thread::spawn(move || handle.spawn(async { "hi" }))
///     .join()
///     .unwrap();
/// assert_eq!(rt.block_on(from_thread).unwrap(), "hi");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    inner: HandleInner,
}

#[derive(Clone)]
enum HandleInner {
    CurrentThread(Arc<current_thread::Shared>),
    MultiThread(Arc<multi_thread::Shared>),
}

impl Runtime {
    /// A current-thread runtime with default settings (see [`Builder`]).
    ///
    /// # Errors
    /// The reactor could not be created (out of descriptors, or a bad `WEFT_BACKEND`).
    pub fn new() -> io::Result<Runtime> {
        Builder::new_current_thread().build()
    }

    /// A builder for a current-thread runtime.
    pub fn builder() -> Builder {
        Builder::new_current_thread()
    }

    /// Runs `future` to completion on this thread, driving every spawned task and all I/O
    /// while it waits.
    ///
    /// # Panics
    /// When called from inside a runtime (that would stall the outer loop); spawn instead.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.flavor {
            Flavor::CurrentThread(core) => core.block_on(future),
            Flavor::MultiThread(mt) => mt.block_on(future),
        }
    }

    /// Shuts the runtime down like dropping it, but waits at most `timeout` in all: for worker
    /// threads stuck inside a task's poll, then for blocking-pool jobs still running (never
    /// longer than the builder's `blocking_shutdown_timeout`). What is still running then is
    /// left behind, named on stderr; a worker left behind still fails the I/O waiting on its
    /// reactor and fires its timers when its poll returns. Returns `true` when nothing was left
    /// behind (a zero `timeout` leaves the workers finishing even a short poll). On a
    /// current-thread runtime the loop thread is the caller, so only the blocking pool can
    /// keep it waiting.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = weft_runtime::Runtime::builder().multi_thread().worker_threads(2).build()?;
    /// // a task that blocks its worker for a long time (don't do this: use spawn_blocking)
    /// rt.spawn(async { std::thread::sleep(Duration::from_secs(3)) });
    /// std::thread::sleep(Duration::from_millis(50));
    /// let start = Instant::now();
    /// assert!(!rt.shutdown_timeout(Duration::from_millis(100)));
    /// assert!(start.elapsed() < Duration::from_secs(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.shutdown(Some(timeout))
    }

    fn shutdown(&mut self, timeout: Option<Duration>) -> bool {
        if std::mem::replace(&mut self.shut_down, true) {
            return true;
        }
        let started = Instant::now();
        let workers_clean = match &mut self.flavor {
            Flavor::CurrentThread(core) => {
                core.shutdown();
                true
            }
            Flavor::MultiThread(mt) => mt.shutdown(timeout),
        };
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let pool_clean = self.handle.blocking().shutdown(left);
        workers_clean && pool_clean
    }

    /// Spawns a task (see [`Handle::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// The runtime's counters now.
    ///
    /// ```
    /// let rt = weft_runtime::Runtime::new()?;
    /// rt.block_on(async { weft_runtime::spawn(async {}).await.unwrap() });
    /// let metrics = rt.metrics();
    /// assert_eq!((metrics.workers, metrics.alive_tasks, metrics.stalls), (1, 0, 0));
    /// assert!(metrics.polls >= 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        match &self.flavor {
            Flavor::CurrentThread(core) => {
                let shared = &core.shared;
                let stalls = shared.stall.stats();
                RuntimeMetrics {
                    workers: 1,
                    alive_tasks: shared.alive_tasks(),
                    polls: shared.stall.polls(),
                    stalls: stalls.stalls,
                    longest_poll: stalls.longest,
                    blocking_threads: shared.blocking.num_threads(),
                    queue_depth: core.queue_depth(),
                }
            }
            Flavor::MultiThread(mt) => {
                let shared = &mt.shared;
                let (stalls, longest_poll) = shared.stalls();
                RuntimeMetrics {
                    workers: shared.workers(),
                    alive_tasks: shared.alive_tasks(),
                    polls: shared.polls(),
                    stalls,
                    longest_poll,
                    blocking_threads: shared.blocking.num_threads(),
                    queue_depth: shared.queue_depth(),
                }
            }
        }
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The reactor backend in use.
    pub fn backend(&self) -> Backend {
        match &self.flavor {
            Flavor::CurrentThread(core) => core.shared.reactor.backend(),
            Flavor::MultiThread(mt) => mt.shared.block_on_reactor().backend(),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match self.flavor {
            Flavor::CurrentThread(_) => "current_thread",
            Flavor::MultiThread(_) => "multi_thread",
        };
        f.debug_struct("Runtime")
            .field("flavor", &flavor)
            .field("workers", &self.handle.workers())
            .field("backend", &self.backend())
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new_current_thread()
    }
}

impl Builder {
    /// A current-thread runtime: the calling thread is the event loop.
    pub fn new_current_thread() -> Builder {
        Builder {
            workers: None,
            backend: None,
            event_interval: 61,
            stall_threshold: Some(DEFAULT_THRESHOLD),
            blocking: blocking::Config::default(),
        }
    }

    /// A multi-thread runtime: `worker_threads` event loops (default: `WEFT_WORKERS` if set,
    /// else the number of CPUs this process may use).
    ///
    /// ```
    /// let rt = weft_runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// let sum = rt.block_on(async {
    ///     let tasks: Vec<_> = (0..10u64).map(|i| weft_runtime::spawn(async move { i * i })).collect();
    ///     let mut sum = 0;
    ///     for task in tasks {
    ///         sum += task.await.unwrap();
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 285);
    /// assert_eq!(rt.metrics().workers, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder::new_current_thread().multi_thread()
    }

    /// Switches this builder to the multi-thread flavour (see [`Builder::new_multi_thread`]).
    pub fn multi_thread(mut self) -> Builder {
        if self.workers.is_none() {
            self.workers = Some(None);
        }
        self
    }

    /// Worker threads of a multi-thread runtime (at least 1); switches to that flavour.
    pub fn worker_threads(mut self, workers: usize) -> Builder {
        self.workers = Some(Some(workers.max(1)));
        self
    }

    /// Turns the stall detector on or off (default: on). When on, a watchdog thread notices
    /// any single poll that keeps the loop thread longer than the
    /// [threshold](Builder::stall_threshold), and when that poll returns, one line on stderr
    /// names the task (id, name, spawn location) and how long it ran. A poll still running
    /// after ten thresholds (a blocking call that never returns, a deadlock) is announced at
    /// once, with the thread and the task's spawn location, so a stuck loop never hangs in
    /// silence. The loop itself pays three stores and three loads per poll; it never reads the
    /// clock.
    pub fn stall_detector(mut self, on: bool) -> Builder {
        self.stall_threshold = on.then_some(self.stall_threshold.unwrap_or(DEFAULT_THRESHOLD));
        self
    }

    /// The poll duration the stall detector reports (default 100 ms; turns the detector on).
    pub fn stall_threshold(mut self, threshold: Duration) -> Builder {
        self.stall_threshold = Some(threshold.max(Duration::from_millis(1)));
        self
    }

    /// The demultiplexer. Default: `WEFT_BACKEND` if set, else epoll.
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = Some(backend);
        self
    }

    /// How many tasks run between two reactor polls while tasks are ready (default 61, as in
    /// tokio). Lower favours I/O latency, higher favours throughput of already-ready tasks.
    pub fn event_interval(mut self, tasks: usize) -> Builder {
        self.event_interval = tasks;
        self
    }

    /// The most threads the blocking pool ([`spawn_blocking`](crate::spawn_blocking)) runs at
    /// once (default 512, at least 1). Jobs beyond it queue until a thread is free.
    pub fn max_blocking_threads(mut self, threads: usize) -> Builder {
        self.blocking.max_threads = threads.max(1);
        self
    }

    /// How long an idle blocking-pool thread waits for a job before it exits (default 10 s).
    pub fn thread_keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.blocking.keep_alive = keep_alive;
        self
    }

    /// How long dropping the runtime waits for blocking jobs that are still running (default
    /// 10 s). Jobs that have not started are cancelled at once; after the timeout the drop
    /// names the ones still running on stderr and returns without them.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = weft_runtime::Runtime::builder()
    ///     .blocking_shutdown_timeout(Duration::from_millis(50))
    ///     .build()?;
    /// rt.block_on(async {
    ///     drop(weft_runtime::spawn_blocking(|| std::thread::sleep(Duration::from_secs(2))));
    ///     // let the job start
    ///     weft_runtime::time::sleep(Duration::from_millis(20)).await;
    /// });
    /// let start = Instant::now();
    /// drop(rt); // prints which task is still running, after 50 ms
    /// assert!(start.elapsed() < Duration::from_secs(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn blocking_shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.blocking.shutdown_timeout = timeout;
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    /// `WEFT_BACKEND` holds something other than `epoll` or `poll`, `WEFT_WORKERS` is not a
    /// positive number, or the reactors' descriptors or the worker threads could not be created.
    pub fn build(&self) -> io::Result<Runtime> {
        let backend = match self.backend {
            Some(b) => b,
            None => Backend::from_env()?.unwrap_or_default(),
        };
        let (flavor, handle) = match self.workers {
            None => {
                let core = Core::new(
                    Reactor::new(backend)?,
                    current_thread::Config {
                        event_interval: self.event_interval,
                        stall_threshold: self.stall_threshold,
                        blocking: self.blocking,
                    },
                )?;
                let handle = HandleInner::CurrentThread(core.shared.clone());
                (Flavor::CurrentThread(core), handle)
            }
            Some(workers) => {
                let workers = match workers {
                    Some(n) => n,
                    None => default_workers()?,
                };
                let mt = MultiThread::new(multi_thread::Config {
                    workers,
                    backend,
                    event_interval: self.event_interval,
                    stall_threshold: self.stall_threshold,
                    blocking: self.blocking,
                })?;
                let handle = HandleInner::MultiThread(mt.shared.clone());
                (Flavor::MultiThread(mt), handle)
            }
        };
        Ok(Runtime {
            flavor,
            handle: Handle { inner: handle },
            shut_down: false,
            _not_send: PhantomData,
        })
    }
}

/// `WEFT_WORKERS`, else the CPUs this process may run on.
fn default_workers() -> io::Result<usize> {
    match std::env::var("WEFT_WORKERS") {
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WEFT_WORKERS={value:?}: expected a positive number of worker threads"),
            )),
        },
        Err(std::env::VarError::NotUnicode(value)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("WEFT_WORKERS={value:?}: expected a positive number of worker threads"),
        )),
        Err(std::env::VarError::NotPresent) => {
            Ok(std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
    }
}

impl Handle {
    /// The handle of the runtime driving this thread.
    ///
    /// # Panics
    /// Outside a runtime; see [`Handle::try_current`].
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => panic!("{e}"),
        }
    }

    /// The handle of the runtime driving this thread.
    ///
    /// # Errors
    /// This thread is not running a weft runtime.
    pub fn try_current() -> io::Result<Handle> {
        context::with_scheduler(|s| {
            let inner = match s {
                Some(Scheduler::CurrentThread(core)) => {
                    HandleInner::CurrentThread(core.shared.clone())
                }
                Some(Scheduler::Worker(worker)) => {
                    HandleInner::MultiThread(worker.shared().clone())
                }
                Some(Scheduler::BlockOn(shared)) => HandleInner::MultiThread(shared.clone()),
                None => return Err(context::outside_runtime()),
            };
            Ok(Handle { inner })
        })
    }

    /// Spawns a task onto the runtime. It starts when the loop next runs; from another thread,
    /// the loop is woken. The returned [`JoinHandle`] awaits its output; dropping it detaches
    /// the task.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with_meta(future, TaskMeta::here(None))
    }

    pub(crate) fn spawn_with_meta<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner {
            HandleInner::CurrentThread(shared) => shared.spawn(future, meta),
            HandleInner::MultiThread(shared) => shared.spawn(future, meta),
        }
    }

    /// Spawns a task that stays on one event-loop thread for its whole life, from any thread:
    /// `make` runs on that thread and builds the future, which need not be `Send` (it may hold
    /// `Rc`s, or a coroutine's stack). On a multi-thread runtime, a call from a worker keeps the
    /// task on that worker unless another one has clearly fewer pinned tasks; a call from
    /// elsewhere picks the less loaded of two workers.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let rt = weft_runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// let task = rt.handle().spawn_pinned(|| {
    ///     let local = Rc::new(21); // not Send: built on the worker, never leaves it
    ///     async move { *local * 2 }
    /// });
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_pinned<M, F>(&self, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_pinned_with_meta(None, make, TaskMeta::here(None))
    }

    /// Like [`spawn_pinned`](Handle::spawn_pinned), on worker `worker` (`0..workers()`), e.g.
    /// one `SO_REUSEPORT` accept loop per worker.
    ///
    /// # Errors
    /// `worker` is not below [`workers`](Handle::workers).
    #[track_caller]
    pub fn spawn_pinned_on<M, F>(&self, worker: usize, make: M) -> io::Result<JoinHandle<F::Output>>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let workers = self.workers();
        if worker >= workers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "spawn_pinned_on: worker {worker} does not exist (the runtime has {workers})"
                ),
            ));
        }
        Ok(self.spawn_pinned_with_meta(Some(worker), make, TaskMeta::here(None)))
    }

    pub(crate) fn spawn_pinned_with_meta<M, F>(
        &self,
        worker: Option<usize>,
        make: M,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner {
            // every task of a current-thread runtime runs on its one loop thread
            HandleInner::CurrentThread(shared) => shared.spawn(Pinned::Make(Some(make)), meta),
            HandleInner::MultiThread(shared) => shared.spawn_pinned(worker, make, meta),
        }
    }

    /// Event-loop threads: 1 for a current-thread runtime.
    pub fn workers(&self) -> usize {
        match &self.inner {
            HandleInner::CurrentThread(_) => 1,
            HandleInner::MultiThread(shared) => shared.workers(),
        }
    }

    fn blocking(&self) -> &blocking::Spawner {
        match &self.inner {
            HandleInner::CurrentThread(shared) => &shared.blocking,
            HandleInner::MultiThread(shared) => &shared.blocking,
        }
    }

    /// Runs `f` on the runtime's blocking pool, from any thread (see
    /// [`spawn_blocking`](crate::spawn_blocking)). After the runtime is dropped, the job is
    /// cancelled at once.
    ///
    /// ```
    /// let rt = weft_runtime::Runtime::new()?;
    /// let handle = rt.handle().clone();
    /// let job = std::thread::spawn(move || handle.spawn_blocking(|| 6 * 7))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(job).unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let meta = TaskMeta::here(None);
        match &self.inner {
            HandleInner::CurrentThread(shared) => shared.spawn_blocking(f, meta),
            HandleInner::MultiThread(shared) => shared.spawn_blocking(f, meta),
        }
    }

    /// Tasks spawned on this runtime that have not finished yet.
    pub fn alive_tasks(&self) -> usize {
        match &self.inner {
            HandleInner::CurrentThread(shared) => shared.alive_tasks(),
            HandleInner::MultiThread(shared) => shared.alive_tasks(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.workers())
            .field("alive_tasks", &self.alive_tasks())
            .finish()
    }
}

/// Spawns a task onto the runtime running this thread.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let task = weft_runtime::spawn(async { 1 + 1 });
///     assert_eq!(task.await.unwrap(), 2);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a runtime (use [`Handle::spawn`] from other threads).
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current().spawn(future)
}

/// Spawns a `!Send` future onto the runtime running this thread; it never leaves this thread.
///
/// ```
/// use std::rc::Rc;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let shared = Rc::new(5);
///     let task = weft_runtime::spawn_local({
///         let shared = shared.clone();
///         async move { *shared * 2 }
///     });
///     assert_eq!(task.await.unwrap(), 10);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// On a multi-thread runtime it runs on the worker that calls it; from the thread inside a
/// multi-thread runtime's `block_on`, which runs no tasks, use [`spawn_pinned`] instead.
///
/// # Panics
/// Outside a runtime's loop thread (a current-thread runtime's thread or a worker).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_with_meta(future, TaskMeta::here(None))
}

pub(crate) fn spawn_local_with_meta<F>(future: F, meta: TaskMeta) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_scheduler(|s| match s {
        Some(Scheduler::CurrentThread(core)) => core.shared.spawn(future, meta),
        Some(Scheduler::Worker(worker)) => worker.spawn_local(future, meta),
        Some(Scheduler::BlockOn(_)) => panic!(
            "spawn_local: this thread is in a multi-thread runtime's block_on, which runs no \
             tasks; use spawn_pinned (it builds the future on a worker) or spawn"
        ),
        None => panic!("spawn_local: {}", context::outside_runtime()),
    })
}

/// Spawns a task pinned to one loop thread of the runtime running this thread; `make` builds
/// its (possibly `!Send`) future there. See [`Handle::spawn_pinned`].
///
/// ```
/// use std::cell::RefCell;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let task = weft_runtime::spawn_pinned(|| {
///         let log = RefCell::new(Vec::new());
///         async move {
///             log.borrow_mut().push("built on its loop thread");
///             log.into_inner().len()
///         }
///     });
///     assert_eq!(task.await.unwrap(), 1);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a runtime (use [`Handle::spawn_pinned`] from other threads).
#[track_caller]
pub fn spawn_pinned<M, F>(make: M) -> JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    Handle::current().spawn_pinned_with_meta(None, make, TaskMeta::here(None))
}
