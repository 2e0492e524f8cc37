use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::task::{ready, Context, Poll};

use weft_reactor::socket;

use super::accept::Acceptor;
use super::source::Source;
use super::{TcpSocket, TcpStream};

/// A listening TCP socket.
///
/// ```
/// use weft_runtime::net::{TcpListener, TcpStream};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = weft_runtime::spawn(async move { TcpStream::connect(addr).await });
///     let (_server_side, peer) = listener.accept().await?;
///     assert_eq!(peer, client.await.unwrap()?.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Running out of descriptors
///
/// When `accept` fails with `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`, retrying at once cannot
/// succeed, and with an edge-triggered reactor no new event would come for connections already
/// queued. So `accept` does not return those errors: it waits on a timer, backing off from 1 ms
/// to 100 ms, and retries; the connections stay queued in the kernel's backlog meanwhile and
/// are accepted as soon as descriptors free up. Nothing spins and nothing is dropped.
///
/// # Sharing
///
/// Several tasks may wait in `accept` on one listener at once (`Arc<TcpListener>`, one
/// acceptor per worker or per coroutine): each new connection wakes the waiting tasks, and
/// the ones that find nothing left to accept wait again. An `accept` dropped while it waits
/// (a timeout, a `select`), for a connection or for the backoff timer, takes its task off the
/// listener's lists, and the others are still woken.
#[derive(Debug)]
pub struct TcpListener {
    pub(super) acceptor: Acceptor<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds with `SO_REUSEADDR` and a backlog of 1024; tries each address of `addr` in turn.
    ///
    /// `bind` is synchronous, so a host name in `addr` is resolved on the calling thread; in
    /// code running on the loop, pass an address or resolve it first with
    /// [`lookup_host`](super::lookup_host).
    ///
    /// # Errors
    /// No address could be bound (the last error is returned, naming its address), or there
    /// is no runtime on this thread.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            let attempt = (|| {
                let socket = match addr {
                    SocketAddr::V4(_) => TcpSocket::new_v4()?,
                    SocketAddr::V6(_) => TcpSocket::new_v6()?,
                };
                socket.set_reuseaddr(true)?;
                socket.bind(addr)?;
                socket.listen(1024)
            })();
            match attempt {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "bind: no addresses to try")
        }))
    }

    /// Takes over a listening std socket (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_source(Source::new(listener)?)
    }

    pub(super) fn from_source(source: Source<std::net::TcpListener>) -> io::Result<TcpListener> {
        Ok(TcpListener {
            acceptor: Acceptor::new(source),
        })
    }

    /// Waits for a connection. The new stream is registered with this listener's reactor.
    ///
    /// # Errors
    /// Errors of the listening socket itself. Resource exhaustion is retried (see the type's
    /// docs); connections aborted before they were accepted are skipped.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self
            .acceptor
            .accept(|listener| socket::accept(listener.as_fd()))
            .await?;
        Ok((self.register(fd)?, addr))
    }

    /// Polls for a connection; see [`accept`](TcpListener::accept). While other tasks wait on
    /// the same listener, a task that stops polling stays listed until the next connection
    /// (or a wake-up); `accept` takes itself off the list when dropped.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, addr) = ready!(self
            .acceptor
            .poll_accept(cx, |listener| socket::accept(listener.as_fd())))?;
        Poll::Ready(Ok((self.register(fd)?, addr)))
    }

    /// Registers an accepted connection with this listener's reactor.
    fn register(&self, fd: OwnedFd) -> io::Result<TcpStream> {
        let stream = std::net::TcpStream::from(fd);
        let source = Source::with_reactor(stream, self.acceptor.source().reactor())?;
        Ok(TcpStream::from_source(source))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.acceptor.source().get_ref().local_addr()
    }
}
