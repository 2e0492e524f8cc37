use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::{io_wait, Stream, ToSocketAddrs};

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
/// Calls through `&TcpStream` work too: one coroutine may read while another writes (see
/// [`Stream`]).
pub type TcpStream = Stream<weft_runtime::net::TcpStream>;

impl Stream<weft_runtime::net::TcpStream> {
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
    /// As [`connect`](TcpStream::connect); `TimedOut` when the time runs out; a zero
    /// `timeout` is `InvalidInput`, as in `std`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot connect with a zero timeout",
            ));
        }
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

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner().nodelay()
    }

    /// Waits (parking the coroutine, within the read timeout) for data and copies what is
    /// there into `buf` without consuming it, as std's `peek`: the next read returns the same
    /// bytes. `Ok(0)` is end of stream.
    ///
    /// # Errors
    /// A read or peek through another reference is in progress (see [`Stream`]), the socket
    /// refused, or `TimedOut` after the read timeout.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.read_limit();
        self.read_alone(|s| io_wait(s.peek(buf), timeout, "peek"))
    }

    /// `SO_LINGER`: with `Some(d)`, dropping the stream waits up to `d` for unsent data
    /// (blocking the thread, which is the coroutine's worker: keep `d` at zero there);
    /// `Some(Duration::ZERO)` resets the connection instead of closing it. See
    /// `weft::net::TcpStream::set_linger`.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown); more than `i32::MAX` seconds is `InvalidInput`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner().set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner().linger()
    }

    /// `SO_KEEPALIVE`: the kernel probes an idle connection and fails it when the peer is gone.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.inner().set_keepalive(on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner().keepalive()
    }

    /// `IP_TTL`: the time-to-live of the packets this stream sends.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner().set_ttl(ttl)
    }

    /// The time-to-live of the packets this stream sends.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner().ttl()
    }

    /// The remote address.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As [`shutdown`](Stream::shutdown).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner().local_addr()
    }
}
