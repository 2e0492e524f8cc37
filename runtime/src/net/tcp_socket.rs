use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use weft_reactor::with_context;

use weft_reactor::socket::{self, Buffer};
use weft_reactor::Direction;

use super::source::Source;
use super::{TcpListener, TcpStream};

/// A TCP socket before it listens or connects: where `SO_REUSEADDR`, `SO_REUSEPORT`, the
/// listen backlog and the other options (keep-alive, buffer sizes, linger, `TCP_NODELAY`) are
/// chosen. Options set on a listening socket are inherited by the connections it accepts.
///
/// ```
/// use weft_runtime::net::TcpSocket;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_reuseport(true)?; // several listeners may share the port
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(4096)?;
///     println!("listening on {}", listener.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    pub(super) fd: OwnedFd,
}

impl TcpSocket {
    /// An IPv4 socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket::tcp_socket(false)?,
        })
    }

    /// An IPv6 socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket::tcp_socket(true)?,
        })
    }

    /// `SO_REUSEADDR`: bind while old connections on the port are in TIME_WAIT.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        socket::set_reuseaddr(self.fd.as_fd(), on)
    }

    /// `SO_REUSEPORT`: let several sockets (one per loop thread) bind the same port; the kernel
    /// spreads incoming connections across them.
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        socket::set_reuseport(self.fd.as_fd(), on)
    }

    /// `SO_KEEPALIVE`: the kernel probes a connection that stays idle (after two hours by
    /// default, `net.ipv4.tcp_keepalive_time`) and fails it when the peer is gone.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        socket::set_keepalive(self.fd.as_fd(), on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        socket::keepalive(self.fd.as_fd())
    }

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them (Nagle).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        socket::set_nodelay(self.fd.as_fd(), on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        socket::nodelay(self.fd.as_fd())
    }

    /// `SO_SNDBUF`: asks for a kernel send buffer of `bytes`. Linux doubles the figure for its
    /// bookkeeping and caps it at `net.core.wmem_max`; setting it turns off the kernel's
    /// automatic sizing for this socket.
    ///
    /// # Errors
    /// `bytes` over `i32::MAX` (`InvalidInput`), or the kernel refused.
    pub fn set_send_buffer_size(&self, bytes: u32) -> io::Result<()> {
        socket::set_buffer_size(self.fd.as_fd(), Buffer::Send, bytes)
    }

    /// The send buffer's size as the kernel reports it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        socket::buffer_size(self.fd.as_fd(), Buffer::Send)
    }

    /// `SO_RCVBUF`: asks for a kernel receive buffer of `bytes` (doubled and capped at
    /// `net.core.rmem_max`, as for [`set_send_buffer_size`](TcpSocket::set_send_buffer_size)).
    ///
    /// # Errors
    /// `bytes` over `i32::MAX` (`InvalidInput`), or the kernel refused.
    pub fn set_recv_buffer_size(&self, bytes: u32) -> io::Result<()> {
        socket::set_buffer_size(self.fd.as_fd(), Buffer::Receive, bytes)
    }

    /// The receive buffer's size as the kernel reports it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        socket::buffer_size(self.fd.as_fd(), Buffer::Receive)
    }

    /// `SO_LINGER`; see [`TcpStream::set_linger`].
    ///
    /// # Errors
    /// More than `i32::MAX` seconds (`InvalidInput`), or the kernel refused.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket::set_linger(self.fd.as_fd(), linger)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket::linger(self.fd.as_fd())
    }

    /// Binds to `addr`.
    ///
    /// # Errors
    /// The address is in use or not local; the error names it.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        socket::bind(self.fd.as_fd(), &addr)
            .map_err(|e| with_context(e, format_args!("bind {addr}")))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std::net::TcpStream::from(self.fd.try_clone()?).local_addr()
    }

    /// Starts listening with room for `backlog` pending connections (capped by the kernel's
    /// `net.core.somaxconn`).
    ///
    /// # Errors
    /// No runtime on this thread, or `listen(2)` failed.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        socket::listen(self.fd.as_fd(), backlog)?;
        TcpListener::from_source(Source::new(std::net::TcpListener::from(self.fd))?)
    }

    /// Connects to `addr`, waiting for the handshake on the reactor.
    ///
    /// # Errors
    /// The connection was refused, timed out or could not start; the error names `addr`.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let context = |e: io::Error| with_context(e, format_args!("connect to {addr}"));
        let done = socket::connect(self.fd.as_fd(), &addr).map_err(context)?;
        let source = Source::new(std::net::TcpStream::from(self.fd))?;
        if !done {
            std::future::poll_fn(|cx| source.poll_ready(cx, Direction::Write)).await?;
            if let Some(e) = source.get_ref().take_error()? {
                return Err(context(e));
            }
        }
        Ok(TcpStream::from_source(source))
    }
}
