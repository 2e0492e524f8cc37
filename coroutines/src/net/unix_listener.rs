use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::{io_wait, Incoming, UnixStream};

/// A listening Unix-domain socket whose `accept` parks the coroutine (see
/// `weft::net::UnixListener`; running out of descriptors waits and retries, as for TCP).
///
/// The socket file stays on disk after the listener is dropped: remove it before binding the
/// path again.
#[derive(Debug)]
pub struct UnixListener {
    pub(super) inner: weft_runtime::net::UnixListener,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it.
    ///
    /// # Errors
    /// Something already exists at `path` (`AddrInUse`), its directory is missing, or no
    /// runtime runs on this thread; the error names the path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: weft_runtime::net::UnixListener::bind(path)?,
        })
    }

    /// Listens on `addr`: a path name or (Linux) an abstract name.
    ///
    /// # Errors
    /// As [`bind`](UnixListener::bind).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: weft_runtime::net::UnixListener::bind_addr(addr)?,
        })
    }

    /// Takes over a std listener (made non-blocking here), on a runtime's thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the reactor refused the socket.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: weft_runtime::net::UnixListener::from_std(listener)?,
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// Errors of the listening socket itself, or a call outside a coroutine on a loop thread
    /// (see the [module docs](crate::net)).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = io_wait(self.inner.accept(), None, "accept")?;
        Ok((UnixStream::from_weft(stream), peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_, UnixListener> {
        Incoming::new(self)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Iterator for Incoming<'_, UnixListener> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}
