//! Files and directories, without stalling the loop: each operation runs `std::fs` on the
//! runtime's [blocking pool](crate::spawn_blocking).
//!
//! # Why a thread pool, not the reactor
//!
//! The reactor waits for *readiness*, and regular files have none to offer: POSIX says a
//! regular file always polls readable and writable, and `epoll_ctl` refuses one outright with
//! `EPERM`. Yet a `read` that misses the page cache waits for the disk, a `write` can be
//! throttled behind writeback, `fsync` takes milliseconds to seconds, and `open`, `stat` and
//! directory reads wait on metadata I/O. Run on the loop thread, any of these stalls every task
//! and all network I/O of the runtime. So, like nginx's `aio threads`, libuv and tokio, weft
//! hands each file operation to a pool thread and wakes the task when it is done.
//!
//! # Owned buffers
//!
//! [`File`] reads into and writes from buffers passed *by value* and handed back with the
//! result (`file.read(buf).await` gives `(io::Result<usize>, Vec<u8>)`): the operation runs on
//! another thread and may outlive the future awaiting it, so it must own its buffer. No hidden
//! copy, no write-behind: an awaited write has happened. [`File`] says more.
//!
//! # Batch when you can
//!
//! A hand-off to the pool and the wake-up back cost a few microseconds, more than a small read
//! that hits the page cache. Code that does several file operations in a row should do them in
//! one pool trip: one [`spawn_blocking`](crate::spawn_blocking) closure with plain `std::fs`
//! calls, or [`File::batch`] for a sequence of calls on one open file.
//!
//! ```
//! use weft_runtime::fs;
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let dir = std::env::temp_dir().join(format!("weft-fs-doc-{}", std::process::id()));
//!     fs::create_dir_all(&dir).await?;
//!     fs::write(dir.join("greeting"), "hello").await?;
//!     assert_eq!(fs::read_to_string(dir.join("greeting")).await?, "hello");
//!
//!     // Three operations, one trip to the pool:
//!     let d = dir.clone();
//!     let sizes = weft_runtime::spawn_blocking(move || -> std::io::Result<u64> {
//!         std::fs::write(d.join("a"), [0; 10])?;
//!         std::fs::write(d.join("b"), [0; 20])?;
//!         Ok(std::fs::metadata(d.join("a"))?.len() + std::fs::metadata(d.join("b"))?.len())
//!     });
//!     assert_eq!(sizes.await??, 30);
//!
//!     let mut names = Vec::new();
//!     let mut entries = fs::read_dir(&dir).await?;
//!     while let Some(entry) = entries.next_entry().await? {
//!         names.push(entry.file_name().into_string().unwrap());
//!     }
//!     names.sort();
//!     assert_eq!(names, ["a", "b", "greeting"]);
//!     fs::remove_dir_all(&dir).await
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Every function must be awaited inside a runtime; outside one it fails with an error. If the
//! runtime shuts down before a queued operation ran, it fails with an error too.

mod file;
mod read_dir;

use std::io;
use std::path::{Path, PathBuf};

pub use file::{File, OpenOptions};
pub use read_dir::{read_dir, DirEntry, ReadDir};

use crate::blocking;
use crate::task::JoinError;

/// Runs `f` on the current runtime's blocking pool and returns what it returns.
async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    blocking::run_io("weft::fs", f).await
}

/// A pool job's outcome (see [`blocking::join_io`]).
fn join<T>(result: Result<T, JoinError>) -> io::Result<T> {
    blocking::join_io("weft::fs", result)
}

/// Reads a whole file ([`std::fs::read`]).
///
/// # Errors
/// As [`std::fs::read`]; also outside a runtime.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads a whole UTF-8 file ([`std::fs::read_to_string`]).
///
/// # Errors
/// As [`std::fs::read_to_string`]; also outside a runtime.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Creates or truncates a file and writes `contents` ([`std::fs::write`]). The contents are
/// copied, so the caller keeps its buffer; [`File::write_all`] takes an owned one instead.
///
/// # Errors
/// As [`std::fs::write`]; also outside a runtime.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// Metadata of a path, following symlinks ([`std::fs::metadata`]).
///
/// # Errors
/// As [`std::fs::metadata`]; also outside a runtime.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// Metadata of a path itself, not following a symlink ([`std::fs::symlink_metadata`]).
///
/// # Errors
/// As [`std::fs::symlink_metadata`]; also outside a runtime.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Creates a directory ([`std::fs::create_dir`]).
///
/// # Errors
/// As [`std::fs::create_dir`]; also outside a runtime.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and any missing parents ([`std::fs::create_dir_all`]).
///
/// # Errors
/// As [`std::fs::create_dir_all`]; also outside a runtime.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// Removes a file ([`std::fs::remove_file`]).
///
/// # Errors
/// As [`std::fs::remove_file`]; also outside a runtime.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory ([`std::fs::remove_dir`]).
///
/// # Errors
/// As [`std::fs::remove_dir`]; also outside a runtime.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it ([`std::fs::remove_dir_all`]), in one pool trip.
///
/// # Errors
/// As [`std::fs::remove_dir_all`]; also outside a runtime.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory, replacing `to` if it exists ([`std::fs::rename`]).
///
/// # Errors
/// As [`std::fs::rename`]; also outside a runtime.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies a file's contents and permissions; returns the bytes copied ([`std::fs::copy`]).
///
/// # Errors
/// As [`std::fs::copy`]; also outside a runtime.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// The canonical, absolute form of a path ([`std::fs::canonicalize`]).
///
/// # Errors
/// As [`std::fs::canonicalize`]; also outside a runtime.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}
