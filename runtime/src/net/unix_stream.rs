use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use weft_reactor::with_context;

use weft_reactor::{unix_socket, Direction};

use super::io_util;
use super::source::Source;
use super::split::{self, OwnedReadHalf, OwnedWriteHalf};

/// A Unix-domain stream connection on the reactor: the local counterpart of
/// [`TcpStream`](super::TcpStream), with the same reads, writes and halves.
///
/// ```
/// use weft_runtime::net::{UnixListener, UnixStream};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let dir = std::env::temp_dir().join(format!("weft-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     let path = dir.join("echo.sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
///     let mut client = UnixStream::connect(&path).await?;
///     let (mut server_side, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut got = [0; 4];
///     server_side.read_exact(&mut got).await?;
///     assert_eq!(&got, b"ping");
///     std::fs::remove_dir_all(&dir)?;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixStream {
    pub(super) source: Source<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    /// `path` is too long for a socket address or holds a NUL byte (`InvalidInput`), nothing
    /// is bound there (`NotFound`), nothing listens there (`ConnectionRefused`), or the
    /// listener's backlog is full (`WouldBlock`); each error names the path.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let addr = SocketAddr::from_pathname(path)
            .map_err(|e| with_context(e, format_args!("connect to {}", path.display())))?;
        UnixStream::connect_addr(&addr).await
    }

    /// Connects to `addr`: a path name, or (Linux) an abstract name made with
    /// `std::os::linux::net::SocketAddrExt::from_abstract_name`.
    ///
    /// # Errors
    /// As [`connect`](UnixStream::connect); an unnamed `addr` is `InvalidInput`.
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let context = |e: io::Error| with_context(e, format_args!("connect to {addr:?}"));
        let fd = unix_socket::stream_socket()?;
        let done = unix_socket::connect(fd.as_fd(), addr).map_err(context)?;
        let source = Source::new(std::os::unix::net::UnixStream::from(fd))?;
        if !done {
            std::future::poll_fn(|cx| source.poll_ready(cx, Direction::Write)).await?;
            if let Some(e) = source.get_ref().take_error()? {
                return Err(context(e));
            }
        }
        Ok(UnixStream { source })
    }

    /// A connected pair of unnamed streams (`socketpair(2)`).
    ///
    /// # Errors
    /// The kernel refused, or there is no runtime on this thread.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Takes over a connected std stream (made non-blocking here).
    ///
    /// # Errors
    /// No runtime on this thread, or the reactor refused the socket.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            source: Source::new(stream)?,
        })
    }

    pub(super) fn from_source(source: Source<std::os::unix::net::UnixStream>) -> UnixStream {
        UnixStream { source }
    }

    io_util::stream_calls!(std::os::unix::net::UnixStream);

    /// Waits until the stream is readable; follow it with
    /// [`try_read`](UnixStream::try_read) (see `TcpStream::readable`).
    ///
    /// # Errors
    /// The runtime shut down.
    pub async fn readable(&self) -> io::Result<()> {
        self.source.ready(Direction::Read).await
    }

    /// Waits until the stream is writable.
    ///
    /// # Errors
    /// The runtime shut down.
    pub async fn writable(&self) -> io::Result<()> {
        self.source.ready(Direction::Write).await
    }

    /// Shuts down one or both directions (`Shutdown::Write`: the peer reads end of stream).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// The remote address (unnamed for the client side of most connections).
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
    pub fn into_split(self) -> (OwnedReadHalf<UnixStream>, OwnedWriteHalf<UnixStream>) {
        split::split(self)
    }
}

impl split::sealed::Split for UnixStream {
    type Std = std::os::unix::net::UnixStream;
    type Addr = SocketAddr;

    fn into_source(self) -> Source<std::os::unix::net::UnixStream> {
        self.source
    }

    fn from_source(source: Source<std::os::unix::net::UnixStream>) -> UnixStream {
        UnixStream::from_source(source)
    }

    fn shutdown(socket: &std::os::unix::net::UnixStream, how: Shutdown) -> io::Result<()> {
        socket.shutdown(how)
    }

    fn peer_addr(socket: &std::os::unix::net::UnixStream) -> io::Result<SocketAddr> {
        socket.peer_addr()
    }

    fn local_addr(socket: &std::os::unix::net::UnixStream) -> io::Result<SocketAddr> {
        socket.local_addr()
    }
}

io_util::stream_traits!(UnixStream);
