//! Owned read and write halves of a stream, for TCP (`S = TcpStream`, the default) and Unix
//! streams (`S = UnixStream`).

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::io_util;
use super::source::Source;
use super::{TcpStream, UnixStream};

/// The stream types that split into owned halves: [`TcpStream`] and [`UnixStream`]. Sealed.
pub trait Split: sealed::Split {}

impl Split for TcpStream {}
impl Split for UnixStream {}

pub(super) mod sealed {
    use std::io;
    use std::net::Shutdown;
    use std::os::fd::AsFd;

    use super::super::source::Source;

    /// What the halves need of a stream type.
    pub trait Split: Sized {
        /// The std socket the stream registers.
        type Std: AsFd + std::fmt::Debug;
        /// The stream's address type.
        type Addr;
        fn into_source(self) -> Source<Self::Std>;
        fn from_source(source: Source<Self::Std>) -> Self;
        fn shutdown(socket: &Self::Std, how: Shutdown) -> io::Result<()>;
        fn peer_addr(socket: &Self::Std) -> io::Result<Self::Addr>;
        fn local_addr(socket: &Self::Std) -> io::Result<Self::Addr>;
    }
}

type Shared<S> = Arc<Source<<S as sealed::Split>::Std>>;

/// The reading half of a stream, from `into_split` ([`TcpStream::into_split`],
/// [`UnixStream::into_split`]).
pub struct OwnedReadHalf<S: Split = TcpStream> {
    inner: Shared<S>,
}

/// The writing half of a stream, from `into_split`. Dropping it sends FIN (shuts down the
/// stream's write direction).
pub struct OwnedWriteHalf<S: Split = TcpStream> {
    inner: Shared<S>,
    fin_on_drop: bool,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams.
pub struct ReuniteError<S: Split = TcpStream>(pub OwnedReadHalf<S>, pub OwnedWriteHalf<S>);

/// Splits `stream` into its halves.
pub(super) fn split<S: Split>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let shared = Arc::new(stream.into_source());
    (
        OwnedReadHalf {
            inner: shared.clone(),
        },
        OwnedWriteHalf {
            inner: shared,
            fin_on_drop: true,
        },
    )
}

impl<S: Split> OwnedReadHalf<S> {
    /// Reads some bytes; `Ok(0)` is end of stream.
    pub fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> io_util::ReadFuture<'a, S::Std> {
        io_util::ReadFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Fills `buf` completely (`UnexpectedEof` if the peer closes first). Not cancel safe: see
    /// `TcpStream::read_exact`.
    pub fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> io_util::ReadExactFuture<'a, S::Std> {
        io_util::ReadExactFuture {
            source: &self.inner,
            buf,
            filled: 0,
        }
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        S::peer_addr(self.inner.get_ref())
    }

    /// Joins the halves back into a stream.
    ///
    /// # Errors
    /// The halves belong to different streams; both are handed back.
    pub fn reunite(self, write: OwnedWriteHalf<S>) -> Result<S, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.inner, &write.inner) {
            return Err(ReuniteError(self, write));
        }
        let inner = self.inner.clone();
        drop(self);
        let mut write = write;
        write.fin_on_drop = false;
        drop(write);
        match Arc::try_unwrap(inner) {
            Ok(source) => Ok(S::from_source(source)),
            Err(_) => unreachable!("both halves were given up"),
        }
    }
}

impl<S: Split> OwnedWriteHalf<S> {
    /// Writes some bytes, returning how many.
    pub fn write<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteFuture<'a, S::Std> {
        io_util::WriteFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Writes all of `buf`. Not cancel safe: dropped before it completes, it may have sent a
    /// part of `buf`.
    pub fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteAllFuture<'a, S::Std> {
        io_util::WriteAllFuture {
            source: &self.inner,
            buf,
        }
    }

    /// Sends FIN now (dropping the half does it too).
    pub fn shutdown(&self) -> io::Result<()> {
        S::shutdown(self.inner.get_ref(), Shutdown::Write)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<S::Addr> {
        S::local_addr(self.inner.get_ref())
    }
}

impl<S: Split> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.fin_on_drop {
            // The peer may already be gone (ENOTCONN): nothing left to tell it.
            let _ = self.shutdown();
        }
    }
}

impl<S: Split> futures_io::AsyncRead for OwnedReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_read(cx, buf)
    }
}

impl<S: Split> futures_io::AsyncWrite for OwnedWriteHalf<S> {
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

impl<S: Split> fmt::Debug for OwnedReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: Split> fmt::Debug for OwnedWriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("inner", &self.inner)
            .field("fin_on_drop", &self.fin_on_drop)
            .finish()
    }
}

impl<S: Split> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S: Split> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different streams")
    }
}

impl<S: Split> std::error::Error for ReuniteError<S> {}
