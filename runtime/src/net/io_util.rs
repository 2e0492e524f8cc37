//! The futures behind every stream's `read`, `write`, `read_exact` and `write_all`, for TCP
//! (`S` is std's `TcpStream`, the default) and Unix streams (std's `UnixStream`).
//!
//! They are hand-written structs rather than `async fn`s: each is polled straight into
//! `Source::poll_read`/`poll_write`, with no nested state machines on the hot path.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::source::Source;

/// The future of `read`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadFuture<'a, S: AsFd = std::net::TcpStream> {
    pub(crate) source: &'a Source<S>,
    pub(crate) buf: &'a mut [u8],
}

impl<S: AsFd> Future for ReadFuture<'_, S> {
    type Output = io::Result<usize>;

    // Always inlined: a thin shim on the per-request path, which a large caller's future
    // (LLVM's size budget) must not turn into a call with its register saves.
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.source.poll_read(cx, this.buf)
    }
}

/// The future of `write`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WriteFuture<'a, S: AsFd = std::net::TcpStream> {
    pub(crate) source: &'a Source<S>,
    pub(crate) buf: &'a [u8],
}

impl<S: AsFd> Future for WriteFuture<'_, S> {
    type Output = io::Result<usize>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.source.poll_write(cx, self.buf)
    }
}

/// The future of `read_exact`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadExactFuture<'a, S: AsFd = std::net::TcpStream> {
    pub(crate) source: &'a Source<S>,
    pub(crate) buf: &'a mut [u8],
    pub(crate) filled: usize,
}

impl<S: AsFd> Future for ReadExactFuture<'_, S> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.filled < this.buf.len() {
            match ready!(this.source.poll_read(cx, &mut this.buf[this.filled..]))? {
                0 => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "read_exact: the peer closed after {} of {} bytes",
                            this.filled,
                            this.buf.len()
                        ),
                    )))
                }
                n => this.filled += n,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The future of `write_all`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WriteAllFuture<'a, S: AsFd = std::net::TcpStream> {
    pub(crate) source: &'a Source<S>,
    pub(crate) buf: &'a [u8],
}

impl<S: AsFd> Future for WriteAllFuture<'_, S> {
    type Output = io::Result<()>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.source.poll_write_all(cx, &mut this.buf, true)
    }
}

/// The calls every stream type ([`TcpStream`](super::TcpStream),
/// [`UnixStream`](super::UnixStream)) has, in its inherent `impl`: `read`, `read_exact`,
/// `write`, `write_all`, `try_read`, `try_write`. `$std` is the std socket in its `source`.
macro_rules! stream_calls {
    ($std:ty) => {
        /// Reads some bytes; `Ok(0)` is end of stream (or an empty `buf`).
        ///
        /// Cancel safe: dropped before it completes (a lost `select`, a `timeout`), it has
        /// read nothing.
        pub fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> io_util::ReadFuture<'a, $std> {
            io_util::ReadFuture {
                source: &self.source,
                buf,
            }
        }

        /// Fills `buf` completely.
        ///
        /// Not cancel safe: dropped before it completes, it leaves the bytes it read so far at
        /// the start of `buf`, gone from the socket, with no count of them. Use `read` in
        /// a `select` or under a `timeout` that may fire.
        ///
        /// # Errors
        /// `UnexpectedEof` if the peer closes first.
        pub fn read_exact<'a>(
            &'a mut self,
            buf: &'a mut [u8],
        ) -> io_util::ReadExactFuture<'a, $std> {
            io_util::ReadExactFuture {
                source: &self.source,
                buf,
                filled: 0,
            }
        }

        /// Writes some bytes, returning how many.
        pub fn write<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteFuture<'a, $std> {
            io_util::WriteFuture {
                source: &self.source,
                buf,
            }
        }

        /// Writes all of `buf`.
        ///
        /// Not cancel safe: dropped before it completes, it may have sent a part of `buf`.
        pub fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> io_util::WriteAllFuture<'a, $std> {
            io_util::WriteAllFuture {
                source: &self.source,
                buf,
            }
        }

        /// Reads without waiting: `Ok(0)` is end of stream; `WouldBlock` when nothing is there
        /// (then `readable` waits for more). Spends no cooperative budget.
        pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.source.try_io(Direction::Read, |s| {
                weft_reactor::socket::recv(std::os::fd::AsFd::as_fd(s), buf)
            })
        }

        /// Writes without waiting: `WouldBlock` when the send buffer is full (then `writable`
        /// waits for room).
        pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
            self.source.try_io(Direction::Write, |s| {
                weft_reactor::socket::send(std::os::fd::AsFd::as_fd(s), buf)
            })
        }
    };
}

/// `futures_io::AsyncRead` and `AsyncWrite` for a stream type whose `source` holds its socket;
/// closing shuts down the write direction (the peer reads end of stream).
macro_rules! stream_traits {
    ($stream:ty) => {
        impl futures_io::AsyncRead for $stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<io::Result<usize>> {
                self.source.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<io::Result<usize>> {
                self.source.poll_write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write direction (the peer reads end of stream).
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }
    };
}

pub(super) use {stream_calls, stream_traits};
