use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{ready, Context, Poll};
use weft_reactor::with_context;

use super::accept::Acceptor;
use super::source::Source;
use super::UnixStream;

/// A listening Unix-domain stream socket: the local counterpart of
/// [`TcpListener`](super::TcpListener), with the same accept loop (several acceptors may share
/// one listener, and running out of descriptors backs off on a timer instead of failing or
/// spinning).
///
/// The socket file stays on disk after the listener is dropped (as with std): remove it before
/// binding the path again.
///
/// ```
/// use weft_runtime::net::{UnixListener, UnixStream};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let path = std::env::temp_dir().join(format!("weft-doc-listener-{}.sock", std::process::id()));
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
///     let client = weft_runtime::spawn(UnixStream::connect(path.clone()));
///     let (_server_side, _peer) = listener.accept().await?;
///     client.await.unwrap()?;
///     std::fs::remove_file(&path)?;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    pub(super) acceptor: Acceptor<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it.
    ///
    /// # Errors
    /// Something already exists at `path` (`AddrInUse`), its directory is missing, or there is
    /// no runtime on this thread; the error names the path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| with_context(e, format_args!("bind {}", path.display())))?;
        UnixListener::from_std(listener)
    }

    /// Listens on `addr`: a path name, or (Linux) an abstract name made with
    /// `std::os::linux::net::SocketAddrExt::from_abstract_name`, which leaves no file behind.
    ///
    /// # Errors
    /// As [`bind`](UnixListener::bind).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let listener = std::os::unix::net::UnixListener::bind_addr(addr)
            .map_err(|e| with_context(e, format_args!("bind {addr:?}")))?;
        UnixListener::from_std(listener)
    }

    /// Takes over a listening std socket (made non-blocking here).
    ///
    /// # Errors
    /// No runtime on this thread, or the reactor refused the socket.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            acceptor: Acceptor::new(Source::new(listener)?),
        })
    }

    /// Waits for a connection. The new stream is registered with this listener's reactor.
    ///
    /// # Errors
    /// Errors of the listening socket itself; resource exhaustion is retried, as for
    /// [`TcpListener::accept`](super::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.acceptor.accept(accept).await?;
        Ok((self.register(stream)?, addr))
    }

    /// Polls for a connection; see [`accept`](UnixListener::accept) and
    /// [`TcpListener::poll_accept`](super::TcpListener::poll_accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.acceptor.poll_accept(cx, accept))?;
        Poll::Ready(Ok((self.register(stream)?, addr)))
    }

    /// Registers an accepted connection with this listener's reactor.
    fn register(&self, stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let source = Source::with_reactor(stream, self.acceptor.source().reactor())?;
        Ok(UnixStream::from_source(source))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.acceptor.source().get_ref().local_addr()
    }
}

/// Takes one connection off `listener`, already non-blocking.
fn accept(
    listener: &std::os::unix::net::UnixListener,
) -> io::Result<(std::os::unix::net::UnixStream, SocketAddr)> {
    weft_reactor::unix_socket::accept(listener.as_fd())
}
