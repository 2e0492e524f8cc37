use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::{datagram_calls, io_wait, Timeout, ToSocketAddrs};

/// A UDP socket whose sends and receives park the coroutine.
///
/// ```
/// use weft_coroutines::net::UdpSocket;
/// weft_runtime::Runtime::new()?.block_on(async {
///     weft_coroutines::go(|| {
///         let a = UdpSocket::bind("127.0.0.1:0")?;
///         let b = UdpSocket::bind("127.0.0.1:0")?;
///         a.send_to(b"hello", b.local_addr()?)?;
///         let mut buf = [0; 16];
///         let (n, from) = b.recv_from(&mut buf)?;
///         assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
///         Ok::<(), std::io::Error>(())
///     })
///     .await
///     .unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    pub(super) inner: weft_runtime::net::UdpSocket,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// # Errors
    /// No address could be bound, or no runtime runs on this thread.
    pub fn bind<A: std::net::ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        Ok(UdpSocket::from_weft(weft_runtime::net::UdpSocket::bind(
            addr,
        )?))
    }

    /// Takes over a std socket (made non-blocking here), with whatever options were set on it
    /// (broadcast, TTL, multicast groups: std's setters).
    ///
    /// # Errors
    /// No runtime runs on this thread, or the socket could not be registered.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket::from_weft(
            weft_runtime::net::UdpSocket::from_std(socket)?,
        ))
    }

    fn from_weft(inner: weft_runtime::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            inner,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Sends one datagram to `target`.
    ///
    /// # Errors
    /// The send failed or timed out; see the [module docs](crate::net) for calls outside a
    /// coroutine.
    pub fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        io_wait(
            self.inner.send_to(buf, target),
            self.write_timeout.get(),
            "send_to",
        )
    }

    /// Receives one datagram; bytes beyond `buf`'s length are discarded.
    ///
    /// # Errors
    /// As [`send_to`](UdpSocket::send_to).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        io_wait(
            self.inner.recv_from(buf),
            self.read_timeout.get(),
            "recv_from",
        )
    }

    /// Sets the default peer for [`send`](UdpSocket::send) and filters what
    /// [`recv`](UdpSocket::recv) accepts. A host name is resolved on the blocking pool while
    /// the coroutine parks.
    ///
    /// # Errors
    /// The address could not be resolved or connected.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        io_wait(self.inner.connect(addr), None, "connect")
    }

    datagram_calls::datagram_calls!();

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}
