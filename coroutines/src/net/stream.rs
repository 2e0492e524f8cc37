use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weft_runtime::net::UnbudgetedStream;

use super::{io_poll, Timeout};

/// A byte stream with `std::io::Read` and `Write` whose reads and writes park the coroutine
/// until the socket is ready, so `BufReader`, `read_to_end` and std-style parsers work as is.
/// Used through its two kinds, [`TcpStream`](super::TcpStream) and
/// [`UnixStream`](super::UnixStream); `S` is the async stream it wraps.
///
/// # Sharing a stream
///
/// `&Stream` implements `Read` and `Write` too, so one coroutine can wrap `&stream` in a
/// `BufReader` and still write to it, and, as with Go's `net.Conn`, one coroutine can read
/// while another writes (share it with an `Arc`). Each direction takes one call at a time: a
/// read made while another coroutine (or thread) is inside a read on the same stream returns
/// an `io::Error` instead of interleaving the bytes between them, and so does a second write.
/// Everything else (`shutdown`, options, addresses) works at any time.
#[derive(Debug)]
pub struct Stream<S> {
    inner: S,
    /// Set while a read (or peek) through `&self` is in progress.
    reading: AtomicBool,
    /// Set while a write through `&self` is in progress.
    writing: AtomicBool,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl<S> Stream<S> {
    /// The async stream, for the calls that need no turn of their own (options, addresses).
    pub(super) fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: UnbudgetedStream> Stream<S> {
    pub(super) fn from_weft(stream: S) -> Stream<S> {
        Stream {
            inner: stream,
            reading: AtomicBool::new(false),
            writing: AtomicBool::new(false),
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Runs `f`, a read, unless another read through a shared reference is in progress.
    pub(super) fn read_alone<R>(&self, f: impl FnOnce(&S) -> io::Result<R>) -> io::Result<R> {
        one_at_a_time(&self.reading, "read", || f(&self.inner))
    }

    /// Runs `f`, a write, unless another write through a shared reference is in progress.
    fn write_alone<R>(&self, f: impl FnOnce(&S) -> io::Result<R>) -> io::Result<R> {
        one_at_a_time(&self.writing, "write", || f(&self.inner))
    }

    /// The read timeout, for calls that wait on reading.
    pub(super) fn read_limit(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    /// Shuts down the read half, the write half (sends FIN: a half-close) or both.
    ///
    /// # Errors
    /// The socket refused.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown_stream(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_stream_error()
    }

    /// Bounds each read (`None`: wait forever, the default).
    ///
    /// # Errors
    /// `Some(Duration::ZERO)` is refused, as in `std`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// Bounds each write (`None`: wait forever, the default).
    ///
    /// # Errors
    /// `Some(Duration::ZERO)` is refused, as in `std`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(timeout)
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// Gives back the async stream, for use from async code on its runtime.
    pub fn into_weft(self) -> S {
        self.inner
    }
}

/// Runs `f` while holding `flag`, or fails at once if another call holds it.
fn one_at_a_time<R>(
    flag: &AtomicBool,
    what: &str,
    f: impl FnOnce() -> io::Result<R>,
) -> io::Result<R> {
    if flag.swap(true, Ordering::Acquire) {
        return Err(io::Error::other(format!(
            "weft coroutines: another call (another coroutine or thread) is inside a {what} on \
             this stream; calls in one direction through a shared reference do not interleave"
        )));
    }
    struct Release<'a>(&'a AtomicBool);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _release = Release(flag);
    f()
}

#[inline]
fn read(stream: &impl UnbudgetedStream, buf: &mut [u8], timeout: &Timeout) -> io::Result<usize> {
    io_poll(|cx| stream.poll_read_unbudgeted(cx, buf), timeout, "read")
}

#[inline]
fn write(stream: &impl UnbudgetedStream, buf: &[u8], timeout: &Timeout) -> io::Result<usize> {
    io_poll(|cx| stream.poll_write_unbudgeted(cx, buf), timeout, "write")
}

#[inline]
fn write_all(stream: &impl UnbudgetedStream, mut buf: &[u8], timeout: &Timeout) -> io::Result<()> {
    io_poll(
        |cx| stream.poll_write_all_unbudgeted(cx, &mut buf),
        timeout,
        "write",
    )
}

impl<S: UnbudgetedStream> Read for Stream<S> {
    /// Reads some bytes; `Ok(0)` is end of stream.
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read(&self.inner, buf, &self.read_timeout)
    }
}

impl<S: UnbudgetedStream> Write for Stream<S> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(&self.inner, buf, &self.write_timeout)
    }

    /// Writes all of `buf` in one wait (the write timeout bounds the whole call).
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all(&self.inner, buf, &self.write_timeout)
    }

    /// Nothing is buffered: a no-op.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: UnbudgetedStream> Read for &Stream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_alone(|s| read(s, buf, &self.read_timeout))
    }
}

impl<S: UnbudgetedStream> Write for &Stream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_alone(|s| write(s, buf, &self.write_timeout))
    }

    /// Writes all of `buf` in one wait (the write timeout bounds the whole call).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_alone(|s| write_all(s, buf, &self.write_timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
