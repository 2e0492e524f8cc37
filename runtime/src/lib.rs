//! weft's Future executor: tasks, the current-thread scheduler, networking, time, and channels
//! and locks for tasks and coroutines (`sync`), on the `weft-reactor` event loop. Use it through
//! the `weft` facade crate.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]

mod blocking;
mod context;
mod coop;
pub mod fs;
pub mod net;
mod runtime;
mod scheduler;
mod shim;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;

pub use blocking::spawn_blocking;
pub use runtime::{spawn, spawn_local, spawn_pinned, Builder, Handle, Runtime, RuntimeMetrics};
pub use task::{yield_now, JoinError, JoinHandle};
pub use weft_reactor::{os_error_code, Backend};
