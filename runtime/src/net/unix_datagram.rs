use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use weft_reactor::with_context;

use weft_reactor::Direction;

use super::datagram_calls;
use super::source::Source;
use crate::coop;
use crate::time::sleep;

/// How long an unconnected send first waits before it retries a full queue, and the longest
/// it waits between retries (see [`UnixDatagram::send_to`]).
const FULL_QUEUE_FIRST_PAUSE: Duration = Duration::from_micros(250);
const FULL_QUEUE_MAX_PAUSE: Duration = Duration::from_millis(16);

/// A Unix-domain datagram socket on the reactor. Datagrams keep their boundaries and, unlike
/// UDP, are never lost or reordered: a sender waits while the receiver's queue is full. Any
/// number of tasks may send and receive on one socket at once (`Arc<UnixDatagram>`).
///
/// ```
/// use weft_runtime::net::UnixDatagram;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"one").await?;
///     a.send(b"two").await?;
///     let mut buf = [0; 16];
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"one");
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"two");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    pub(super) source: Source<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates a socket file at `path` and binds to it.
    ///
    /// # Errors
    /// Something already exists at `path` (`AddrInUse`), its directory is missing, or there is
    /// no runtime on this thread; the error names the path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket = std::os::unix::net::UnixDatagram::bind(path)
            .map_err(|e| with_context(e, format_args!("bind {}", path.display())))?;
        UnixDatagram::from_std(socket)
    }

    /// Binds to `addr`: a path name, or (Linux) an abstract name made with
    /// `std::os::linux::net::SocketAddrExt::from_abstract_name`, which leaves no file behind.
    ///
    /// # Errors
    /// As [`bind`](UnixDatagram::bind).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let socket = std::os::unix::net::UnixDatagram::bind_addr(addr)
            .map_err(|e| with_context(e, format_args!("bind {addr:?}")))?;
        UnixDatagram::from_std(socket)
    }

    /// A socket bound to no address: it can send to named sockets (or one it connects to),
    /// but nobody can address a reply to it.
    ///
    /// # Errors
    /// The kernel refused, or there is no runtime on this thread.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of unnamed sockets (`socketpair(2)`).
    ///
    /// # Errors
    /// The kernel refused, or there is no runtime on this thread.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Takes over a std socket (made non-blocking here).
    ///
    /// # Errors
    /// No runtime on this thread, or the reactor refused the socket.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            source: Source::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](UnixDatagram::send) and filters what
    /// [`recv`](UnixDatagram::recv) accepts. Connecting a datagram socket never waits.
    ///
    /// # Errors
    /// Nothing is bound at `path` (`NotFound`) or it is not a datagram socket; the error
    /// names the path.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.source
            .get_ref()
            .connect(path)
            .map_err(|e| with_context(e, format_args!("connect to {}", path.display())))
    }

    /// As [`connect`](UnixDatagram::connect), to a path or an abstract name.
    ///
    /// # Errors
    /// As [`connect`](UnixDatagram::connect).
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.source
            .get_ref()
            .connect_addr(addr)
            .map_err(|e| with_context(e, format_args!("connect to {addr:?}")))
    }

    /// Sends one datagram to the socket bound at `path`, waiting while its queue is full.
    ///
    /// The kernel tells only a *connected* sender when a full queue drains, so this call
    /// retries on a timer instead (a quarter of a millisecond at first, doubling up to 16 ms):
    /// a sender that waits on one busy receiver often should [`connect`](UnixDatagram::connect)
    /// and use [`send`](UnixDatagram::send), which is woken as soon as there is room.
    ///
    /// # Errors
    /// Nothing is bound at `path` (`NotFound`), or nothing reads there any more
    /// (`ConnectionRefused`); the error names the path.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.send_retrying(
            |socket| socket.send_to(buf, path),
            || path.display().to_string(),
        )
        .await
    }

    /// As [`send_to`](UnixDatagram::send_to), to a path or an abstract name.
    ///
    /// # Errors
    /// As [`send_to`](UnixDatagram::send_to).
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.send_retrying(
            |socket| socket.send_to_addr(buf, addr),
            || format!("{addr:?}"),
        )
        .await
    }

    /// The loop behind the unconnected sends: [`send_once`](UnixDatagram::send_once) until it
    /// stops saying `WouldBlock`, pausing on a timer in between (see
    /// [`send_to`](UnixDatagram::send_to)).
    async fn send_retrying(
        &self,
        mut send: impl FnMut(&std::os::unix::net::UnixDatagram) -> io::Result<usize>,
        target: impl Fn() -> String,
    ) -> io::Result<usize> {
        let mut pause = FULL_QUEUE_FIRST_PAUSE;
        loop {
            poll_fn(coop::poll_proceed).await;
            match self.send_once(&mut send, &target) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sleep(pause).await;
                    pause = (pause * 2).min(FULL_QUEUE_MAX_PAUSE);
                }
                result => return result,
            }
        }
    }

    /// One unconnected send, repeated through `EINTR`; an error other than `WouldBlock` names
    /// the destination (`target`).
    fn send_once(
        &self,
        send: &mut impl FnMut(&std::os::unix::net::UnixDatagram) -> io::Result<usize>,
        target: &impl Fn() -> String,
    ) -> io::Result<usize> {
        loop {
            match send(self.source.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("send to {}: {e}", target()),
                    ));
                }
                result => return result,
            }
        }
    }

    /// Sends one datagram to the socket bound at `path` without waiting: `WouldBlock` when
    /// its queue is full. Always makes the system call (no readiness is cached for
    /// unconnected sends, see [`send_to`](UnixDatagram::send_to)).
    ///
    /// # Errors
    /// As [`send_to`](UnixDatagram::send_to), and `WouldBlock`.
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.send_once(&mut |socket| socket.send_to(buf, path), &|| {
            path.display().to_string()
        })
    }

    /// Receives one datagram and the sender's address; bytes beyond `buf`'s length are
    /// discarded.
    ///
    /// # Errors
    /// `NotConnected` once the socket was [shut down](UnixDatagram::shutdown) for reading and
    /// its queue is empty.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.io(Direction::Read, |s| s.recv_from(buf)).await
    }

    datagram_calls::datagram_calls!();

    /// Receives one datagram and the sender's address without waiting: `WouldBlock` when
    /// none is queued.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.try_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Shuts down receiving, sending or both. Datagrams already queued can still be received;
    /// after them, a receive (also one already waiting) fails with `NotConnected`, and a send
    /// fails with `BrokenPipe`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }
}
