//! The public face of a runtime: [`Runtime`], its [`Builder`], and the thread-safe [`Handle`].

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;

use weft_reactor::{Backend, Reactor};

use std::time::Duration;

use crate::blocking;
use crate::context;
use crate::scheduler::current_thread::{Config, Core, Shared};
use crate::scheduler::stall::DEFAULT_THRESHOLD;
use crate::shim::Arc;
use crate::task::{JoinHandle, TaskMeta};

/// An event loop: a reactor, a scheduler, and the tasks on it.
///
/// The current-thread flavour runs every task on the thread that calls
/// [`block_on`](Runtime::block_on). That thread owns the runtime, so `Runtime` is not `Send`
/// (which is also what makes [`spawn_local`] sound); use a [`Handle`] to spawn from other
/// threads.
///
/// Dropping the runtime cancels its tasks (their futures are dropped on this thread), fails any
/// I/O still waiting with an error, and fires pending timers; then it shuts the blocking pool
/// down (see [`Builder::blocking_shutdown_timeout`]).
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
    core: Core,
    handle: Handle,
    _not_send: PhantomData<*const ()>,
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
    shared: Arc<Shared>,
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
        self.core.block_on(future)
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
        let shared = &self.handle.shared;
        let stalls = shared.stall.stats();
        RuntimeMetrics {
            workers: 1,
            alive_tasks: shared.alive_tasks(),
            polls: shared.stall.polls(),
            stalls: stalls.stalls,
            longest_poll: stalls.longest,
            blocking_threads: shared.blocking.num_threads(),
            queue_depth: self.core.queue_depth(),
        }
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The reactor backend in use.
    pub fn backend(&self) -> Backend {
        self.handle.shared.reactor.backend()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.core.shutdown();
        self.handle.shared.blocking.shutdown();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &"current_thread")
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
            backend: None,
            event_interval: 61,
            stall_threshold: Some(DEFAULT_THRESHOLD),
            blocking: blocking::Config::default(),
        }
    }

    /// Turns the stall detector on or off (default: on). When on, a watchdog thread notices
    /// any single poll that keeps the loop thread longer than the
    /// [threshold](Builder::stall_threshold), and when that poll returns, one line on stderr
    /// names the task (id, name, spawn location) and how long it ran. The loop itself pays two
    /// stores and a load per poll; it never reads the clock.
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
    /// `WEFT_BACKEND` holds something other than `epoll` or `poll`, or the reactor's
    /// descriptors could not be created.
    pub fn build(&self) -> io::Result<Runtime> {
        let backend = match self.backend {
            Some(b) => b,
            None => Backend::from_env()?.unwrap_or_default(),
        };
        let reactor = Reactor::new(backend)?;
        let core = Core::new(
            reactor,
            Config {
                event_interval: self.event_interval,
                stall_threshold: self.stall_threshold,
                blocking: self.blocking,
            },
        )?;
        let handle = Handle {
            shared: core.shared.clone(),
        };
        Ok(Runtime {
            core,
            handle,
            _not_send: PhantomData,
        })
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
        context::with_core(|core| match core {
            Some(core) => Ok(Handle {
                shared: core.shared.clone(),
            }),
            None => Err(context::outside_runtime()),
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
        self.shared.spawn(future, TaskMeta::here(None))
    }

    pub(crate) fn spawn_with_meta<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, meta)
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
        self.shared.spawn_blocking(f, TaskMeta::here(None))
    }

    /// Tasks spawned on this runtime that have not finished yet.
    pub fn alive_tasks(&self) -> usize {
        self.shared.alive_tasks()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
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
/// # Panics
/// Outside a runtime's loop thread.
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
    context::with_core(|core| match core {
        Some(core) => core.shared.spawn(future, meta),
        None => panic!("spawn_local: {}", context::outside_runtime()),
    })
}
