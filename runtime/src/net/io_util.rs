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

    #[inline]
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

    #[inline]
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

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.source.poll_write_all(cx, &mut this.buf, true)
    }
}
