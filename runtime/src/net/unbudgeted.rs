//! Stream operations that spend no cooperative budget, for a front end that keeps its own.
//!
//! weft-coroutines polls these with the `Context` of the task that runs the coroutine: a
//! ready socket costs one readiness check and one syscall, and a coroutine counts its
//! operations per resume itself (no thread-local budget lookup per operation). Async code
//! should use the `read`/`write` futures, which spend the task's budget.

use std::io;
use std::task::{Context, Poll};

use super::TcpStream;

impl TcpStream {
    /// Reads some bytes, or stores `cx`'s waker for read readiness; spends no budget.
    #[doc(hidden)]
    #[inline]
    pub fn poll_read_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.source.poll_read_unbudgeted(cx, buf)
    }

    /// Writes some bytes, or stores `cx`'s waker for write readiness; spends no budget.
    #[doc(hidden)]
    #[inline]
    pub fn poll_write_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.source.poll_write_unbudgeted(cx, buf)
    }

    /// Writes all of `*buf`, advancing it past what was written, or stores `cx`'s waker for
    /// write readiness; spends no budget.
    ///
    /// # Errors
    /// The socket's error, or `WriteZero` if it accepted no bytes.
    #[doc(hidden)]
    #[inline]
    pub fn poll_write_all_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut &[u8],
    ) -> Poll<io::Result<()>> {
        self.source.poll_write_all(cx, buf, false)
    }
}
