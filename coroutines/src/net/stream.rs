use std::cell::UnsafeCell;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
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
/// `BufReader` and still write to it. Calls through `&Stream` are exclusive: a call made
/// while another coroutine (or thread) is inside a call on the same stream returns an
/// `io::Error` instead of interleaving with it. Give each direction its own stream if two
/// coroutines must read and write at the same time.
#[derive(Debug)]
pub struct Stream<S> {
    /// Used through `&mut self`, or through `&self` while holding `busy`.
    inner: UnsafeCell<S>,
    /// Set while a call through `&self` uses `inner`.
    busy: AtomicBool,
    /// The inner stream's descriptor, for `AsFd` without going through `busy`.
    pub(super) fd: RawFd,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

// SAFETY: `&Stream` reaches `inner` only in `exclusive`, which holds `busy` (an atomic
// test-and-set) for the whole access, so no two references to `inner` ever overlap, and `S:
// Send` lets that one access happen on whichever thread holds `busy`; the other fields are
// atomics.
unsafe impl<S: Send> Sync for Stream<S> {}

impl<S: UnbudgetedStream> Stream<S> {
    pub(super) fn from_weft(stream: S) -> Stream<S> {
        Stream {
            fd: stream.as_fd().as_raw_fd(),
            inner: UnsafeCell::new(stream),
            busy: AtomicBool::new(false),
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Runs `f` with the only reference to the inner stream, or fails if a call through another
    /// reference is in progress.
    pub(super) fn exclusive<R>(&self, f: impl FnOnce(&mut S) -> io::Result<R>) -> io::Result<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(io::Error::other(
                "weft coroutines: this stream is in use by another call (another coroutine \
                 or thread); calls through a shared reference do not interleave",
            ));
        }
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _release = Release(&self.busy);
        // SAFETY: `busy` was clear and is now ours until `_release` drops: no other reference to
        // `inner` exists meanwhile (see the `Sync` impl).
        f(unsafe { &mut *self.inner.get() })
    }

    /// The read timeout, for calls that wait on reading.
    pub(super) fn read_limit(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    /// Shuts down the read half, the write half (sends FIN: a half-close) or both.
    ///
    /// # Errors
    /// The socket refused, or a call through another reference is in progress.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.exclusive(|s| s.shutdown_stream(how))
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.exclusive(|s| s.take_stream_error())
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
        self.inner.into_inner()
    }
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
        read(self.inner.get_mut(), buf, &self.read_timeout)
    }
}

impl<S: UnbudgetedStream> Write for Stream<S> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(self.inner.get_mut(), buf, &self.write_timeout)
    }

    /// Writes all of `buf` in one wait (the write timeout bounds the whole call).
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all(self.inner.get_mut(), buf, &self.write_timeout)
    }

    /// Nothing is buffered: a no-op.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: UnbudgetedStream> Read for &Stream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.exclusive(|s| read(s, buf, &self.read_timeout))
    }
}

impl<S: UnbudgetedStream> Write for &Stream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.exclusive(|s| write(s, buf, &self.write_timeout))
    }

    /// Writes all of `buf` in one wait (the write timeout bounds the whole call).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.exclusive(|s| write_all(s, buf, &self.write_timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
