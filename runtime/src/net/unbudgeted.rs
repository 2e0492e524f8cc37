//! Stream operations that spend no cooperative budget, for a front end that keeps its own.
//!
//! weft-coroutines polls these with the `Context` of the task that runs the coroutine: a
//! ready socket costs one readiness check and one syscall, and a coroutine counts its
//! operations per resume itself (no thread-local budget lookup per operation). Async code
//! should use the `read`/`write` futures, which spend the task's budget.

use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use super::{TcpStream, UnixStream};

/// What weft-coroutines needs of a stream ([`TcpStream`], [`UnixStream`]) to give it
/// blocking-looking `Read` and `Write`: reads and writes that spend no budget, `shutdown` and
/// `take_error`.
#[doc(hidden)]
pub trait UnbudgetedStream: AsFd {
    /// Reads some bytes, or stores `cx`'s waker for read readiness; spends no budget.
    fn poll_read_unbudgeted(&self, cx: &mut Context<'_>, buf: &mut [u8])
        -> Poll<io::Result<usize>>;

    /// Writes some bytes, or stores `cx`'s waker for write readiness; spends no budget.
    fn poll_write_unbudgeted(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes all of `*buf`, advancing it past what was written, or stores `cx`'s waker for
    /// write readiness; spends no budget.
    ///
    /// # Errors
    /// The socket's error, or `WriteZero` if it accepted no bytes.
    fn poll_write_all_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut &[u8],
    ) -> Poll<io::Result<()>>;

    /// The stream's `shutdown`.
    fn shutdown_stream(&self, how: Shutdown) -> io::Result<()>;

    /// The stream's `take_error`.
    fn take_stream_error(&self) -> io::Result<Option<io::Error>>;
}

macro_rules! unbudgeted_stream {
    ($stream:ty) => {
        impl UnbudgetedStream for $stream {
            #[inline]
            fn poll_read_unbudgeted(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.source.poll_read_unbudgeted(cx, buf)
            }

            #[inline]
            fn poll_write_unbudgeted(
                &self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.source.poll_write_unbudgeted(cx, buf)
            }

            #[inline]
            fn poll_write_all_unbudgeted(
                &self,
                cx: &mut Context<'_>,
                buf: &mut &[u8],
            ) -> Poll<io::Result<()>> {
                self.source.poll_write_all(cx, buf, false)
            }

            fn shutdown_stream(&self, how: Shutdown) -> io::Result<()> {
                self.shutdown(how)
            }

            fn take_stream_error(&self) -> io::Result<Option<io::Error>> {
                self.take_error()
            }
        }
    };
}

unbudgeted_stream!(TcpStream);
unbudgeted_stream!(UnixStream);
