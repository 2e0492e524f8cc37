use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use weft_reactor::{socket, Direction};

use super::addr::resolve;
use super::io_util;
use super::source::Source;
use super::split::{self, OwnedReadHalf, OwnedWriteHalf};
use super::{TcpSocket, ToSocketAddrs};

/// A TCP connection on the reactor.
///
/// Reads and writes try the syscall first and wait only on `EAGAIN`. Both directions can be
/// used at once from two tasks after [`into_split`](TcpStream::into_split).
///
/// ```no_run
/// # weft_runtime::Runtime::new()?.block_on(async {
/// let mut stream = weft_runtime::net::TcpStream::connect("127.0.0.1:7000").await?;
/// stream.write_all(b"ping").await?;
/// let mut reply = [0; 4];
/// stream.read_exact(&mut reply).await?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpStream {
    pub(super) source: Source<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts.
    ///
    /// A host name is resolved on the blocking pool ([`lookup_host`](super::lookup_host)), so
    /// a slow DNS server delays this connect only, not the loop.
    ///
    /// # Errors
    /// The name could not be resolved, or every address failed; the error is the last one,
    /// naming its address.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            let socket = match addr {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            match socket.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "connect: no addresses to try")
        }))
    }

    /// Takes over a connected std stream (made non-blocking here).
    ///
    /// # Errors
    /// No runtime on this thread, or the reactor refused the socket.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            source: Source::new(stream)?,
        })
    }

    pub(super) fn from_source(source: Source<std::net::TcpStream>) -> TcpStream {
        TcpStream { source }
    }

    io_util::stream_calls!(std::net::TcpStream);

    /// Waits for data and copies what is there into `buf` without consuming it: the next
    /// `read` returns the same bytes. `Ok(0)` is end of stream (or an empty `buf`). For sniffing
    /// a protocol before choosing a handler (a TLS hello or plain HTTP on one port). Several
    /// tasks may peek at once.
    ///
    /// ```
    /// use weft_runtime::net::{TcpListener, TcpStream};
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server_side, _) = listener.accept().await?;
    ///     client.write_all(b"GET / HTTP/1.1\r\n").await?;
    ///     let mut first = [0; 3];
    ///     let n = server_side.peek(&mut first).await?;
    ///     assert_eq!(&first[..n], &b"GET"[..n]);
    ///     let mut line = [0; 16];
    ///     server_side.read_exact(&mut line).await?; // the peeked bytes are still there
    ///     assert_eq!(&line, b"GET / HTTP/1.1\r\n");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.source.io(Direction::Read, |s| s.peek(buf)).await
    }

    /// Waits until the stream is readable: data, end of stream or an error waits for the next
    /// read. Readiness can be stale (another task read first): follow it with
    /// [`try_read`](TcpStream::try_read), which then says `WouldBlock` and re-arms the wait.
    /// Several tasks may wait at once.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use weft_runtime::net::{TcpListener, TcpStream};
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"hi").await?;
    ///     let mut buf = [0; 16];
    ///     let n = loop {
    ///         server.readable().await?;
    ///         match server.try_read(&mut buf) {
    ///             Ok(n) => break n,
    ///             Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
    ///             Err(e) => return Err(e),
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"hi");
    ///     Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The runtime shut down.
    pub async fn readable(&self) -> io::Result<()> {
        self.source.ready(Direction::Read).await
    }

    /// Waits until the stream is writable (see [`readable`](TcpStream::readable)).
    ///
    /// # Errors
    /// The runtime shut down.
    pub async fn writable(&self) -> io::Result<()> {
        self.source.ready(Direction::Write).await
    }

    /// Shuts down one or both halves (`Shutdown::Write` sends FIN: a half-close).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them (Nagle).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get_ref().nodelay()
    }

    /// `SO_LINGER`: with `Some(d)`, dropping the stream waits up to `d` (whole seconds; a
    /// fraction rounds up) for unsent data to go out, on the thread that drops it: keep `d` at
    /// zero on the loop. `Some(Duration::ZERO)` discards unsent data and resets the connection
    /// (the peer sees `ConnectionReset`) instead of the usual FIN. `None`, the default, closes
    /// in the background.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_runtime::net::{TcpListener, TcpStream};
    /// weft_runtime::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server_side, _) = listener.accept().await?;
    ///     client.set_linger(Some(Duration::ZERO))?;
    ///     drop(client); // an abortive close: RST, not FIN
    ///     let err = server_side.read(&mut [0; 16]).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// More than `i32::MAX` seconds (`InvalidInput`), or the kernel refused.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket::set_linger(self.source.get_ref().as_fd(), linger)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket::linger(self.source.get_ref().as_fd())
    }

    /// `SO_KEEPALIVE`: the kernel probes a connection that stays idle (after two hours by
    /// default, `net.ipv4.tcp_keepalive_time`) and fails it when the peer is gone.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        socket::set_keepalive(self.source.get_ref().as_fd(), on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        socket::keepalive(self.source.get_ref().as_fd())
    }

    /// `IP_TTL`: the time-to-live of the packets this stream sends.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// The time-to-live of the packets this stream sends.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Splits into a read half and a write half that can move to different tasks.
    /// [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self)
    }
}

impl split::sealed::Split for TcpStream {
    type Std = std::net::TcpStream;
    type Addr = SocketAddr;

    fn into_source(self) -> Source<std::net::TcpStream> {
        self.source
    }

    fn from_source(source: Source<std::net::TcpStream>) -> TcpStream {
        TcpStream::from_source(source)
    }

    fn shutdown(socket: &std::net::TcpStream, how: Shutdown) -> io::Result<()> {
        socket.shutdown(how)
    }

    fn peer_addr(socket: &std::net::TcpStream) -> io::Result<SocketAddr> {
        socket.peer_addr()
    }

    fn local_addr(socket: &std::net::TcpStream) -> io::Result<SocketAddr> {
        socket.local_addr()
    }
}

io_util::stream_traits!(TcpStream);
