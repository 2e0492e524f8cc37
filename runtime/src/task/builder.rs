use std::future::Future;

use super::{JoinHandle, TaskMeta};
use crate::runtime::{spawn_local_with_meta, Handle};

/// Spawns a task with a name, which the stall detector and debug output use to tell tasks apart.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let task = weft_runtime::task::Builder::new().name("greeter").spawn(async { "hello" });
///     assert_eq!(task.await.unwrap(), "hello");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<Box<str>>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Spawns onto the runtime running this thread (see [`crate::spawn`]).
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Handle::current().spawn_with_meta(future, TaskMeta::here(self.name))
    }

    /// Spawns onto `handle`'s runtime, from any thread.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.spawn_with_meta(future, TaskMeta::here(self.name))
    }

    /// Spawns a task pinned to one loop thread, its future built there by `make` (see
    /// [`Handle::spawn_pinned`]).
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_pinned<M, F>(self, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        Handle::current().spawn_pinned_with_meta(None, make, TaskMeta::here(self.name))
    }

    /// Spawns a `!Send` future onto this thread's runtime (see [`crate::spawn_local`]).
    ///
    /// # Panics
    /// Outside a runtime's loop thread.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local_with_meta(future, TaskMeta::here(self.name))
    }
}
