use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::{datagram_calls, io_wait, Timeout};

/// A Unix-domain datagram socket whose sends and receives park the coroutine (see
/// `weft::net::UnixDatagram`: boundaries kept, nothing lost, a sender waits while the
/// receiver's queue is full).
///
/// ```
/// use weft_coroutines::net::UnixDatagram;
/// weft_runtime::Runtime::new()?.block_on(async {
///     weft_coroutines::go(|| {
///         let (a, b) = UnixDatagram::pair()?;
///         a.send(b"hello")?;
///         let mut buf = [0; 16];
///         let n = b.recv(&mut buf)?;
///         assert_eq!(&buf[..n], b"hello");
///         Ok::<(), std::io::Error>(())
///     })
///     .await
///     .unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    pub(super) inner: weft_runtime::net::UnixDatagram,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl UnixDatagram {
    /// Creates a socket file at `path` and binds to it.
    ///
    /// # Errors
    /// Something already exists at `path` (`AddrInUse`), or no runtime runs on this thread;
    /// the error names the path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        weft_runtime::net::UnixDatagram::bind(path).map(UnixDatagram::from_weft)
    }

    /// Binds to a path or (Linux) an abstract name; see
    /// [`weft_runtime::net::UnixDatagram::bind_addr`].
    ///
    /// # Errors
    /// As [`bind`](UnixDatagram::bind).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        weft_runtime::net::UnixDatagram::bind_addr(addr).map(UnixDatagram::from_weft)
    }

    /// A socket bound to no address (it can send, but nobody can address a reply to it).
    ///
    /// # Errors
    /// The kernel refused, or no runtime runs on this thread.
    pub fn unbound() -> io::Result<UnixDatagram> {
        weft_runtime::net::UnixDatagram::unbound().map(UnixDatagram::from_weft)
    }

    /// A connected pair of unnamed sockets.
    ///
    /// # Errors
    /// The kernel refused, or no runtime runs on this thread.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = weft_runtime::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_weft(a), UnixDatagram::from_weft(b)))
    }

    /// Takes over a std socket (made non-blocking here), on a runtime's thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the reactor refused the socket.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        weft_runtime::net::UnixDatagram::from_std(socket).map(UnixDatagram::from_weft)
    }

    fn from_weft(inner: weft_runtime::net::UnixDatagram) -> UnixDatagram {
        UnixDatagram {
            inner,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Sets the default peer for [`send`](UnixDatagram::send) and filters what
    /// [`recv`](UnixDatagram::recv) accepts; never waits.
    ///
    /// # Errors
    /// Nothing is bound at `path`; the error names it.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.connect(path)
    }

    /// As [`connect`](UnixDatagram::connect), to a path or an abstract name.
    ///
    /// # Errors
    /// As [`connect`](UnixDatagram::connect).
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner.connect_addr(addr)
    }

    /// Sends one datagram to the socket bound at `path`, parking while its queue is full
    /// (retried on a short timer: only a connected sender is told when the queue drains; see
    /// [`weft_runtime::net::UnixDatagram::send_to`]).
    ///
    /// # Errors
    /// The send failed or timed out; see the [module docs](crate::net) for calls outside a
    /// coroutine.
    pub fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        io_wait(
            self.inner.send_to(buf, path),
            self.write_timeout.get(),
            "send_to",
        )
    }

    /// As [`send_to`](UnixDatagram::send_to), to a path or an abstract name.
    ///
    /// # Errors
    /// As [`send_to`](UnixDatagram::send_to).
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        io_wait(
            self.inner.send_to_addr(buf, addr),
            self.write_timeout.get(),
            "send_to_addr",
        )
    }

    /// Receives one datagram and the sender's address; bytes beyond `buf`'s length are
    /// discarded.
    ///
    /// # Errors
    /// As [`send_to`](UnixDatagram::send_to).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        io_wait(
            self.inner.recv_from(buf),
            self.read_timeout.get(),
            "recv_from",
        )
    }

    datagram_calls::datagram_calls!();

    /// Shuts down receiving, sending or both. Datagrams already queued can still be received;
    /// after them a receive fails with `NotConnected`, and a send fails with `BrokenPipe`.
    ///
    /// # Errors
    /// The socket refused.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}
