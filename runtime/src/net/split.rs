use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::io_util;
use super::source::Source;
use super::TcpStream;

type Shared = Arc<Source<std::net::TcpStream>>;

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Shared,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`]. Dropping it sends FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Shared,
    fin_on_drop: bool,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl OwnedReadHalf {
    pub(super) fn new(inner: Shared) -> OwnedReadHalf {
        OwnedReadHalf { inner }
    }

    /// Reads some bytes; `Ok(0)` is end of stream.
    pub fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> io_util::ReadFuture<'a> {
        io_util::ReadFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Fills `buf` completely (`UnexpectedEof` if the peer closes first).
    pub fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> io_util::ReadExactFuture<'a> {
        io_util::ReadExactFuture {
            source: &self.inner,
            buf,
            filled: 0,
        }
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Joins the halves back into a stream.
    ///
    /// # Errors
    /// The halves belong to different streams; both are handed back.
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.inner, &write.inner) {
            return Err(ReuniteError(self, write));
        }
        let inner = self.inner.clone();
        drop(self);
        let mut write = write;
        write.fin_on_drop = false;
        drop(write);
        match Arc::try_unwrap(inner) {
            Ok(source) => Ok(TcpStream::from_source(source)),
            Err(_) => unreachable!("both halves were given up"),
        }
    }
}

impl OwnedWriteHalf {
    pub(super) fn new(inner: Shared) -> OwnedWriteHalf {
        OwnedWriteHalf {
            inner,
            fin_on_drop: true,
        }
    }

    /// Writes some bytes, returning how many.
    pub fn write<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteFuture<'a> {
        io_util::WriteFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Writes all of `buf`.
    pub fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteAllFuture<'a> {
        io_util::WriteAllFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Sends FIN now (dropping the half does it too).
    pub fn shutdown(&self) -> io::Result<()> {
        self.inner.get_ref().shutdown(Shutdown::Write)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.fin_on_drop {
            // The peer may already be gone (ENOTCONN): nothing left to tell it.
            let _ = self.inner.get_ref().shutdown(Shutdown::Write);
        }
    }
}

impl futures_io::AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown())
    }
}

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different TCP streams")
    }
}

impl std::error::Error for ReuniteError {}
