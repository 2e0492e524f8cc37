//! The futures behind every stream's `read`, `write`, `read_exact` and `write_all`.
//!
//! They are hand-written structs rather than `async fn`s: each is polled straight into
//! `Source::poll_read`/`poll_write`, with no nested state machines on the hot path.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::source::Source;

/// The future of `read`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadFuture<'a> {
    pub(crate) source: &'a Source<std::net::TcpStream>,
    pub(crate) buf: &'a mut [u8],
}

impl Future for ReadFuture<'_> {
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
pub struct WriteFuture<'a> {
    pub(crate) source: &'a Source<std::net::TcpStream>,
    pub(crate) buf: &'a [u8],
}

impl Future for WriteFuture<'_> {
    type Output = io::Result<usize>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.source.poll_write(cx, self.buf)
    }
}

/// The future of `read_exact`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReadExactFuture<'a> {
    pub(crate) source: &'a Source<std::net::TcpStream>,
    pub(crate) buf: &'a mut [u8],
    pub(crate) filled: usize,
}

impl Future for ReadExactFuture<'_> {
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
pub struct WriteAllFuture<'a> {
    pub(crate) source: &'a Source<std::net::TcpStream>,
    pub(crate) buf: &'a [u8],
}

impl Future for WriteAllFuture<'_> {
    type Output = io::Result<()>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.source.poll_write_all(cx, &mut this.buf, true)
    }
}
