use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use weft_reactor::with_context;

use weft_reactor::Direction;

use super::addr::resolve;
use super::datagram_calls;
use super::source::Source;
use super::ToSocketAddrs;

/// A UDP socket on the reactor. Any number of tasks may send and receive on one socket at once
/// (`Arc<UdpSocket>`); each waiting task is woken when the socket gets ready.
///
/// ```
/// use weft_runtime::net::UdpSocket;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"hello", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    pub(super) source: Source<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// `bind` is synchronous, so a host name in `addr` is resolved on the calling thread; in
    /// code running on the loop, pass an address or resolve it first with
    /// [`lookup_host`](super::lookup_host).
    ///
    /// # Errors
    /// No address could be bound, or there is no runtime on this thread.
    pub fn bind<A: std::net::ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(addr)?;
        UdpSocket::from_std(socket)
    }

    /// Takes over a std socket (made non-blocking here).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            source: Source::new(socket)?,
        })
    }

    /// Sends one datagram to `target`.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.source
            .io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives one datagram; bytes beyond `buf`'s length are discarded.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.io(Direction::Read, |s| s.recv_from(buf)).await
    }

    /// Sets the default peer for [`send`](UdpSocket::send) and filters what
    /// [`recv`](UdpSocket::recv) accepts: the first address of `addr` that the socket can
    /// connect to (a host name is resolved on the blocking pool, as in
    /// [`lookup_host`](super::lookup_host)).
    ///
    /// # Errors
    /// The name could not be resolved, or no address could be connected (the last error).
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            match self.source.get_ref().connect(addr) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(with_context(e, format_args!("connect to {addr}"))),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "connect: no addresses to try")
        }))
    }

    datagram_calls::datagram_calls!();

    /// Sends one datagram to `target` without waiting: `WouldBlock` when the send buffer is full
    /// or the socket is not yet known to be writable (see the [module docs](super); then
    /// `writable` waits).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.source
            .try_io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Receives one datagram without waiting: `WouldBlock` when none is known to be queued
    /// (then `readable` waits).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.try_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// `SO_BROADCAST`: allow sending to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.source.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.source.get_ref().broadcast()
    }

    /// `IP_TTL`: the time-to-live of the datagrams this socket sends.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// The time-to-live of the datagrams this socket sends.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Joins the IPv4 multicast group `group` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the kernel picks one).
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let done = self.source.get_ref().join_multicast_v4(&group, &interface);
        membership(done, "join", group)
    }

    /// Leaves a group joined with [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let done = self.source.get_ref().leave_multicast_v4(&group, &interface);
        membership(done, "leave", group)
    }

    /// Joins the IPv6 multicast group `group` on interface number `interface` (0: any).
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        let done = self.source.get_ref().join_multicast_v6(&group, interface);
        membership(done, "join", group)
    }

    /// Leaves a group joined with [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        let done = self.source.get_ref().leave_multicast_v6(&group, interface);
        membership(done, "leave", group)
    }

    /// `IP_MULTICAST_LOOP`: whether this host's own members of a group get what it sends.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.source.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.source.get_ref().multicast_loop_v4()
    }

    /// `IP_MULTICAST_TTL`: how many hops the multicast datagrams this socket sends may travel
    /// (1, the default, keeps them on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` setting.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.source.get_ref().multicast_ttl_v4()
    }
}

/// Names the group in a failed `join`/`leave`.
fn membership(done: io::Result<()>, what: &str, group: impl std::fmt::Display) -> io::Result<()> {
    done.map_err(|e| with_context(e, format_args!("{what} multicast group {group}")))
}
