use std::cell::UnsafeCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{io_poll, io_wait, Timeout, ToSocketAddrs};

/// A TCP connection with `std::io::Read` and `Write`: reads and writes park the coroutine
/// until the socket is ready, so `BufReader`, `read_to_end` and std-style parsers work as is.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use weft_coroutines::net::{TcpListener, TcpStream};
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     weft_coroutines::go(|| {
///         let listener = TcpListener::bind("127.0.0.1:0")?;
///         let addr = listener.local_addr()?;
///         weft_coroutines::go(move || {
///             let mut client = TcpStream::connect(addr).unwrap();
///             client.write_all(b"one\ntwo\n").unwrap();
///         });
///         let (conn, _) = listener.accept()?;
///         let lines: Vec<String> = BufReader::new(conn).lines().collect::<Result<_, _>>()?;
///         assert_eq!(lines, ["one", "two"]);
///         Ok::<(), std::io::Error>(())
///     })
///     .await
///     .unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Sharing a stream
///
/// `&TcpStream` implements `Read` and `Write` too, so one coroutine can wrap `&stream` in a
/// `BufReader` and still write to it. Calls through `&TcpStream` are exclusive: a call made
/// while another coroutine (or thread) is inside a call on the same stream returns an
/// `io::Error` instead of interleaving with it. Give each direction its own stream if two
/// coroutines must read and write at the same time.
#[derive(Debug)]
pub struct TcpStream {
    /// Used through `&mut self`, or through `&self` while holding `busy`.
    inner: UnsafeCell<weft_runtime::net::TcpStream>,
    /// Set while a call through `&self` uses `inner`.
    busy: AtomicBool,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

// SAFETY: `&TcpStream` reaches `inner` only in `exclusive`, which holds `busy` (an atomic
// test-and-set) for the whole access, so no two references to `inner` ever overlap; the other
// fields are atomics.
unsafe impl Sync for TcpStream {}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts. A host name is resolved on the
    /// blocking pool while the coroutine parks (see `weft::net::lookup_host`), so a slow DNS
    /// server holds up this coroutine only.
    ///
    /// # Errors
    /// Every address failed (the last error names it), or see the
    /// [module docs](crate::net) for calls outside a coroutine.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let stream = io_wait(weft_runtime::net::TcpStream::connect(addr), None, "connect")?;
        Ok(TcpStream::from_weft(stream))
    }

    /// Connects to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    /// As [`connect`](TcpStream::connect); `TimedOut` when the time runs out.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let stream = io_wait(
            weft_runtime::net::TcpStream::connect(*addr),
            Some(timeout),
            "connect",
        )?;
        Ok(TcpStream::from_weft(stream))
    }

    /// Takes over a connected std stream (made non-blocking here), on a runtime's thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the reactor refused the socket.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        weft_runtime::net::TcpStream::from_std(stream).map(TcpStream::from_weft)
    }

    pub(super) fn from_weft(stream: weft_runtime::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: UnsafeCell::new(stream),
            busy: AtomicBool::new(false),
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Runs `f` with the only reference to the inner stream, or fails if a call through another
    /// reference is in progress.
    fn exclusive<R>(
        &self,
        f: impl FnOnce(&mut weft_runtime::net::TcpStream) -> io::Result<R>,
    ) -> io::Result<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(io::Error::other(
                "weft coroutines: this TcpStream is in use by another call (another coroutine \
                 or thread); calls through &TcpStream do not interleave",
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

    /// Shuts down the read half, the write half (sends FIN: a half-close) or both.
    ///
    /// # Errors
    /// The socket refused, or a call through another reference is in progress.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.exclusive(|s| s.shutdown(how))
    }

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.exclusive(|s| s.set_nodelay(nodelay))
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.exclusive(|s| s.nodelay())
    }

    /// Waits (parking the coroutine, within the read timeout) for data and copies what is
    /// there into `buf` without consuming it, as std's `peek`: the next read returns the same
    /// bytes. `Ok(0)` is end of stream.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown); `TimedOut` after the read timeout.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.read_timeout.get();
        self.exclusive(|s| io_wait(s.peek(buf), timeout, "peek"))
    }

    /// `SO_LINGER`: with `Some(d)`, dropping the stream waits up to `d` for unsent data
    /// (blocking the thread, which is the coroutine's worker: keep `d` at zero there);
    /// `Some(Duration::ZERO)` resets the connection instead of closing it. See
    /// `weft::net::TcpStream::set_linger`.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown); more than `i32::MAX` seconds is `InvalidInput`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.exclusive(|s| s.set_linger(linger))
    }

    /// The `SO_LINGER` setting.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.exclusive(|s| s.linger())
    }

    /// `SO_KEEPALIVE`: the kernel probes an idle connection and fails it when the peer is gone.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.exclusive(|s| s.set_keepalive(on))
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn keepalive(&self) -> io::Result<bool> {
        self.exclusive(|s| s.keepalive())
    }

    /// `IP_TTL`: the time-to-live of the packets this stream sends.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.exclusive(|s| s.set_ttl(ttl))
    }

    /// The time-to-live of the packets this stream sends.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn ttl(&self) -> io::Result<u32> {
        self.exclusive(|s| s.ttl())
    }

    /// The remote address.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.exclusive(|s| s.peer_addr())
    }

    /// The local address.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.exclusive(|s| s.local_addr())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    /// As [`shutdown`](TcpStream::shutdown).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.exclusive(|s| s.take_error())
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
    pub fn into_weft(self) -> weft_runtime::net::TcpStream {
        self.inner.into_inner()
    }
}

#[inline]
fn read(
    stream: &weft_runtime::net::TcpStream,
    buf: &mut [u8],
    timeout: &Timeout,
) -> io::Result<usize> {
    io_poll(|cx| stream.poll_read_unbudgeted(cx, buf), timeout, "read")
}

#[inline]
fn write(
    stream: &weft_runtime::net::TcpStream,
    buf: &[u8],
    timeout: &Timeout,
) -> io::Result<usize> {
    io_poll(|cx| stream.poll_write_unbudgeted(cx, buf), timeout, "write")
}

#[inline]
fn write_all(
    stream: &weft_runtime::net::TcpStream,
    mut buf: &[u8],
    timeout: &Timeout,
) -> io::Result<()> {
    io_poll(
        |cx| stream.poll_write_all_unbudgeted(cx, &mut buf),
        timeout,
        "write",
    )
}

impl Read for TcpStream {
    /// Reads some bytes; `Ok(0)` is end of stream.
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read(self.inner.get_mut(), buf, &self.read_timeout)
    }
}

impl Write for TcpStream {
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

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.exclusive(|s| read(s, buf, &self.read_timeout))
    }
}

impl Write for &TcpStream {
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
