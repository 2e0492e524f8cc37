//! An open file whose operations run on the blocking pool (the owned-buffer design is explained
//! on [`File`]).

use std::fmt;
use std::fs::Metadata;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;

use super::{asyncify, join};
use crate::runtime::Handle;
use crate::shim::Arc;
use crate::task::JoinHandle;

/// An operation whose future was dropped before it finished.
type Abandoned = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An open file; each operation is a trip to the blocking pool.
///
/// # Why owned buffers
///
/// A file operation really runs on another thread, and it keeps running when the future that
/// awaits it is dropped: the buffer it reads into or writes from must live as long as the
/// operation, not as long as the caller's borrow. So [`File`] takes the buffer by value and
/// hands it back with the result, as io_uring runtimes do. The alternative, a `&mut [u8]` API
/// such as `futures_io::AsyncRead`, needs a hidden buffer inside the file and a copy per call,
/// and makes writes *write-behind*: the call returns before the data is written, and an error
/// surfaces at some later call (tokio's `File` works that way and must be flushed before it is
/// dropped). Here an awaited write has happened, and its error is its own.
///
/// # Order
///
/// Operations on one `File` take effect in the order they were called. If a future is dropped
/// while its operation runs, the operation finishes in the background and the next call waits
/// for it first; its buffer is dropped on the pool thread.
///
/// ```
/// use std::io::SeekFrom;
/// use weft_runtime::fs::File;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let path = std::env::temp_dir().join(format!("weft-file-doc-{}", std::process::id()));
///     let mut file = File::options().read(true).write(true).create(true).truncate(true)
///         .open(&path).await?;
///     let (written, _buf) = file.write_all(b"hello, file".to_vec()).await;
///     written?;
///     file.seek(SeekFrom::Start(7)).await?;
///     let (n, buf) = file.read(Vec::with_capacity(64)).await;
///     assert_eq!((n?, &buf[..]), (4, &b"file"[..]));
///     file.sync_all().await?;
///     weft_runtime::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    abandoned: Option<Abandoned>,
}

impl File {
    /// Opens a file for reading ([`std::fs::File::open`]).
    ///
    /// # Errors
    /// As [`std::fs::File::open`]; also outside a runtime.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        asyncify(move || std::fs::File::open(path))
            .await
            .map(File::from_std)
    }

    /// Creates or truncates a file for writing ([`std::fs::File::create`]).
    ///
    /// # Errors
    /// As [`std::fs::File::create`]; also outside a runtime.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        asyncify(move || std::fs::File::create(path))
            .await
            .map(File::from_std)
    }

    /// Options for opening a file some other way (append, create only if new, ...).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            std: Arc::new(file),
            abandoned: None,
        }
    }

    /// The std file, once every operation on it has finished.
    pub async fn into_std(mut self) -> std::fs::File {
        self.settle().await;
        let File { std, .. } = self;
        Arc::try_unwrap(std).expect("a finished operation no longer holds the file")
    }

    /// Reads up to `buf.capacity()` bytes, replacing `buf`'s contents: on return `buf` holds
    /// exactly the bytes read, and the count is also returned (0 at the end of the file, or
    /// when `buf` has no capacity). Reuse the returned buffer for the next read.
    ///
    /// If the runtime is gone, the error comes with an empty buffer.
    pub async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let op = self.run(move |mut file| {
            let capacity = buf.capacity();
            buf.clear();
            buf.resize(capacity, 0);
            let result = retry(|| file.read(&mut buf));
            buf.truncate(*result.as_ref().unwrap_or(&0));
            (result, buf)
        });
        op.await.unwrap_or_else(|e| (Err(e), Vec::new()))
    }

    /// Reads to the end of the file, appending to `buf` ([`Read::read_to_end`]); returns the
    /// count appended.
    pub async fn read_to_end(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let op = self.run(move |mut file| (file.read_to_end(&mut buf), buf));
        op.await.unwrap_or_else(|e| (Err(e), Vec::new()))
    }

    /// Writes some of `buf` (one `write(2)`); returns how much.
    pub async fn write(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let op = self.run(move |mut file| (retry(|| file.write(&buf)), buf));
        op.await.unwrap_or_else(|e| (Err(e), Vec::new()))
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let op = self.run(move |mut file| (file.write_all(&buf), buf));
        op.await.unwrap_or_else(|e| (Err(e), Vec::new()))
    }

    /// Moves the file position; returns the new position from the start.
    ///
    /// # Errors
    /// As [`Seek::seek`]; also when the runtime is gone.
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(move |mut file| file.seek(pos)).await?
    }

    /// Flushes data and metadata to the device ([`std::fs::File::sync_all`]).
    ///
    /// # Errors
    /// As [`std::fs::File::sync_all`]; also when the runtime is gone.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.run(|file| file.sync_all()).await?
    }

    /// Flushes data (and only the metadata needed to read it back) to the device
    /// ([`std::fs::File::sync_data`]).
    ///
    /// # Errors
    /// As [`std::fs::File::sync_data`]; also when the runtime is gone.
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.run(|file| file.sync_data()).await?
    }

    /// Truncates or extends the file ([`std::fs::File::set_len`]).
    ///
    /// # Errors
    /// As [`std::fs::File::set_len`]; also when the runtime is gone.
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.run(move |file| file.set_len(size)).await?
    }

    /// The file's metadata ([`std::fs::File::metadata`]).
    ///
    /// # Errors
    /// As [`std::fs::File::metadata`]; also when the runtime is gone.
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        self.run(|file| file.metadata()).await?
    }

    /// Runs `f` on the std file, on a pool thread: several operations for the price of one
    /// trip. A panic in `f` is resumed in the caller.
    ///
    /// ```
    /// use std::io::{Read, Seek, SeekFrom, Write};
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let path = std::env::temp_dir().join(format!("weft-batch-doc-{}", std::process::id()));
    ///     let mut file = weft_runtime::fs::File::options()
    ///         .read(true).write(true).create(true).truncate(true).open(&path).await?;
    ///     let back = file.batch(|mut f| -> std::io::Result<String> {
    ///         f.write_all(b"one trip")?;
    ///         f.seek(SeekFrom::Start(0))?;
    ///         let mut s = String::new();
    ///         f.read_to_string(&mut s)?;
    ///         Ok(s)
    ///     });
    ///     assert_eq!(back.await??, "one trip");
    ///     weft_runtime::fs::remove_file(&path).await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The runtime is gone (what `f` returns is passed through as is).
    pub async fn batch<F, R>(&mut self, f: F) -> io::Result<R>
    where
        F: FnOnce(&std::fs::File) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.run(f).await
    }

    /// Runs `f` on the pool once the previous operation has finished; if this future is
    /// dropped first, the operation is left for the next call to wait for.
    async fn run<F, R>(&mut self, f: F) -> io::Result<R>
    where
        F: FnOnce(&std::fs::File) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.settle().await;
        let file = self.std.clone();
        let job = Handle::try_current()?.spawn_blocking(move || f(&file));
        let mut running = Running {
            job: Some(job),
            abandoned: &mut self.abandoned,
        };
        let job = running.job.as_mut().expect("set just above");
        let result = job.await;
        running.job = None;
        join(result)
    }

    /// Waits for an abandoned operation, if any.
    async fn settle(&mut self) {
        if let Some(abandoned) = self.abandoned.as_mut() {
            abandoned.await;
            self.abandoned = None;
        }
    }
}

/// The operation in flight; parks it in the file if its future is dropped.
struct Running<'a, R: Send + 'static> {
    job: Option<JoinHandle<R>>,
    abandoned: &'a mut Option<Abandoned>,
}

impl<R: Send + 'static> Drop for Running<'_, R> {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            *self.abandoned = Some(Box::pin(async move {
                let _ = job.await;
            }));
        }
    }
}

/// Retries `op` while it fails with `EINTR`.
fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &self.abandoned.is_some())
            .finish()
    }
}

/// How to open a [`File`]: [`std::fs::OpenOptions`], with an async `open`.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let path = std::env::temp_dir().join(format!("weft-append-doc-{}", std::process::id()));
///     for line in ["one\n", "two\n"] {
///         let mut log = weft_runtime::fs::OpenOptions::new()
///             .append(true).create(true).open(&path).await?;
///         log.write_all(line.as_bytes().to_vec()).await.0?;
///     }
///     assert_eq!(weft_runtime::fs::read_to_string(&path).await?, "one\ntwo\n");
///     weft_runtime::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// All options off (as [`std::fs::OpenOptions::new`]).
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Every write goes to the end of the file (implies write).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate an existing file to length 0 (needs write).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if it does not exist (needs write or append).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing if it exists (needs write or append).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a newly created file (before the umask; default `0o666`).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    /// As [`std::fs::OpenOptions::open`]; also outside a runtime.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path) = (self.0.clone(), path.as_ref().to_owned());
        asyncify(move || options.open(path))
            .await
            .map(File::from_std)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}
