use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::{io_wait, Stream};

/// A Unix-domain stream connection with `std::io::Read` and `Write`, like
/// [`TcpStream`](super::TcpStream): reads and writes park the coroutine.
///
/// ```
/// use std::io::{Read, Write};
/// use weft_coroutines::net::{UnixListener, UnixStream};
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     weft_coroutines::go(|| {
///         let path = std::env::temp_dir().join(format!("weft-coro-doc-{}.sock", std::process::id()));
///         let _ = std::fs::remove_file(&path);
///         let listener = UnixListener::bind(&path)?;
///         let client_path = path.clone();
///         weft_coroutines::go(move || {
///             let mut client = UnixStream::connect(&client_path).unwrap();
///             client.write_all(b"local").unwrap();
///         });
///         let (mut conn, _) = listener.accept()?;
///         let mut got = String::new();
///         conn.read_to_string(&mut got)?;
///         assert_eq!(got, "local");
///         std::fs::remove_file(&path)?;
///         Ok::<(), std::io::Error>(())
///     })
///     .await
///     .unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type UnixStream = Stream<weft_runtime::net::UnixStream>;

impl Stream<weft_runtime::net::UnixStream> {
    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    /// As `weft::net::UnixStream::connect` (each error names the path), or see the
    /// [module docs](crate::net) for calls outside a coroutine.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let stream = io_wait(
            weft_runtime::net::UnixStream::connect(path),
            None,
            "connect",
        )?;
        Ok(UnixStream::from_weft(stream))
    }

    /// Connects to `addr`: a path name or (Linux) an abstract name.
    ///
    /// # Errors
    /// As [`connect`](UnixStream::connect).
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let stream = io_wait(
            weft_runtime::net::UnixStream::connect_addr(addr),
            None,
            "connect",
        )?;
        Ok(UnixStream::from_weft(stream))
    }

    /// A connected pair of unnamed streams, on a runtime's thread.
    ///
    /// # Errors
    /// The kernel refused, or no runtime runs on this thread.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = weft_runtime::net::UnixStream::pair()?;
        Ok((UnixStream::from_weft(a), UnixStream::from_weft(b)))
    }

    /// Takes over a connected std stream (made non-blocking here), on a runtime's thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the reactor refused the socket.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        weft_runtime::net::UnixStream::from_std(stream).map(UnixStream::from_weft)
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
