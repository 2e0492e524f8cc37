//! Starting coroutines: [`go`], [`spawn`] and [`Builder`].

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::coroutine::{place, CoroutineFuture, Place};
use crate::stack::{Stack, DEFAULT_STACK_SIZE};
use crate::JoinHandle;

/// Starts a coroutine running `f` on the runtime of this thread; the [`JoinHandle`] gives its
/// result. The same as [`spawn`].
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let answer = weft_coroutines::go(|| {
///         weft_coroutines::sleep(std::time::Duration::from_millis(1)); // parks, the loop runs on
///         6 * 7
///     });
///     assert_eq!(answer.await.unwrap(), 42);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// Outside a runtime's loop thread, or when no stack can be mapped; [`Builder::spawn`] returns
/// those as errors instead.
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn(f)
}

/// Starts a coroutine running `f` on the runtime of this thread (see [`go`]).
///
/// # Panics
/// Outside a runtime's loop thread, or when no stack can be mapped; [`Builder::spawn`] returns
/// those as errors instead.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(handle) => handle,
        Err(e) => panic!("weft::coroutines::spawn: {e}"),
    }
}

/// Configures a coroutine before it starts: its name (for the overflow report and the stall
/// detector) and its stack size.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let worker = weft_coroutines::Builder::new()
///         .name("worker")
///         .stack_size(64 * 1024)
///         .spawn(|| "done")?;
///     assert_eq!(worker.await.unwrap(), "done");
///
///     let absurd = weft_coroutines::Builder::new().stack_size(1 << 40).spawn(|| ());
///     assert!(absurd.is_err()); // 1 TiB: an io::Error, not a crash
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// An unnamed coroutine with the default stack ([`DEFAULT_STACK_SIZE`]).
    pub fn new() -> Builder {
        Builder {
            name: None,
            stack_size: DEFAULT_STACK_SIZE,
        }
    }

    /// Names the coroutine.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The usable stack size in bytes, rounded up to whole pages (at least 4 KiB); a guard
    /// page comes on top. Only pages the coroutine touches use memory. Default-sized stacks
    /// are pooled per thread; other sizes are mapped for each coroutine.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Starts the coroutine on the runtime of this thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the stack could not be mapped (out of memory, out of
    /// memory maps, or a size that does not fit); the error names the size.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if place() == Place::Plain {
            return Err(io::Error::other(
                "weft coroutines: no weft runtime on this thread: spawn coroutines inside \
                 Runtime::block_on, a task or another coroutine",
            ));
        }
        launch(f, self.name, self.stack_size)
    }
}

/// The one place a coroutine becomes a task. The stack is mapped (or reused) here, so a
/// mapping failure is the spawner's error; the coroutine itself is built by the runtime on the
/// loop thread it is placed on (see `weft_runtime::Handle::spawn_pinned`), where it stays.
#[track_caller]
fn launch<F, T>(f: F, name: Option<String>, stack_size: usize) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let stack = Stack::take(stack_size)?;
    let id = Arc::new(AtomicU64::new(0));
    let builder = match &name {
        Some(name) => weft_runtime::task::Builder::new().name(name.clone()),
        None => weft_runtime::task::Builder::new(),
    };
    let task_id = id.clone();
    let handle =
        builder.spawn_pinned(move || CoroutineFuture::new(stack, name.map(Into::into), task_id, f));
    id.store(handle.id(), Ordering::Relaxed);
    Ok(JoinHandle::new(handle))
}
