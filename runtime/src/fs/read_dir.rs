//! Directory listings as a stream, read from the pool in batches.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::{FileType, Metadata};
use std::future::{poll_fn, Future};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{asyncify, join};
use crate::runtime::Handle;
use crate::shim::Arc;
use crate::task::JoinHandle;

/// Entries read per trip to the pool: one hand-off per 32 entries instead of one per entry.
const BATCH: usize = 32;

/// Lists a directory ([`std::fs::read_dir`]). Entries come in no particular order, without
/// `.` and `..`.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let mut entries = weft_runtime::fs::read_dir("/").await?;
///     let mut any = false;
///     while let Some(entry) = entries.next_entry().await? {
///         any |= entry.path().is_absolute();
///     }
///     assert!(any);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// As [`std::fs::read_dir`]; also outside a runtime.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let dir = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        state: State::Idle(Some(Batch {
            entries: VecDeque::new(),
            dir,
            done: false,
        })),
    })
}

/// The entries of a directory: a [`Stream`](futures_core::Stream) of `io::Result<DirEntry>`,
/// also read with [`next_entry`](ReadDir::next_entry). Each trip to the pool reads up to 32
/// entries.
pub struct ReadDir {
    state: State,
}

enum State {
    /// Between trips. `None` once the listing ended (or failed to reach the pool).
    Idle(Option<Batch>),
    /// A pool thread is reading the next batch.
    Pending(JoinHandle<Batch>),
}

struct Batch {
    entries: VecDeque<io::Result<DirEntry>>,
    dir: std::fs::ReadDir,
    done: bool,
}

impl Batch {
    /// Reads up to [`BATCH`] entries (on a pool thread).
    fn fill(mut self) -> Batch {
        for _ in 0..BATCH {
            match self.dir.next() {
                Some(entry) => self.entries.push_back(entry.map(DirEntry::new)),
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        self
    }
}

impl ReadDir {
    /// The next entry, or `None` at the end of the listing.
    ///
    /// # Errors
    /// Reading the directory failed (that entry is skipped; the listing may go on), or the
    /// runtime is gone.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: `Ready(Ok(None))` at the end of the listing.
    ///
    /// # Errors
    /// As [`next_entry`](ReadDir::next_entry).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                State::Idle(slot) => {
                    let Some(mut batch) = slot.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    if let Some(entry) = batch.entries.pop_front() {
                        *slot = Some(batch);
                        return Poll::Ready(entry.map(Some));
                    }
                    if batch.done {
                        return Poll::Ready(Ok(None));
                    }
                    let handle = match Handle::try_current() {
                        Ok(handle) => handle,
                        Err(e) => {
                            *slot = Some(batch);
                            return Poll::Ready(Err(e));
                        }
                    };
                    self.state = State::Pending(handle.spawn_blocking(move || batch.fill()));
                }
                State::Pending(job) => {
                    let filled = ready!(Pin::new(job).poll(cx));
                    match join(filled) {
                        Ok(batch) => self.state = State::Idle(Some(batch)),
                        Err(e) => {
                            self.state = State::Idle(None);
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
        }
    }
}

impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .poll_next_entry(cx)
            .map(io::Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle(Some(batch)) => format!("{} entries buffered", batch.entries.len()),
            State::Idle(None) => "done".to_owned(),
            State::Pending(_) => "reading".to_owned(),
        };
        f.debug_struct("ReadDir").field("state", &state).finish()
    }
}

/// One entry of a [`ReadDir`]. Its type was read on the pool thread with the listing (from the
/// directory itself where the filesystem records it), so [`file_type`](DirEntry::file_type)
/// rarely costs another trip.
#[derive(Debug, Clone)]
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    file_type: Option<FileType>,
}

impl DirEntry {
    fn new(std: std::fs::DirEntry) -> DirEntry {
        let file_type = std.file_type().ok();
        DirEntry {
            std: Arc::new(std),
            file_type,
        }
    }

    /// The full path: the listed directory joined with the file name.
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The file name alone.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's type, not following symlinks.
    ///
    /// # Errors
    /// As [`std::fs::DirEntry::file_type`]; also outside a runtime.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let std = self.std.clone();
        asyncify(move || std.file_type()).await
    }

    /// The entry's metadata, not following symlinks.
    ///
    /// # Errors
    /// As [`std::fs::DirEntry::metadata`]; also outside a runtime.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }
}
