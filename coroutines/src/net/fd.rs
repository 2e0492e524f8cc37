//! `AsFd` and `AsRawFd` for every coroutine socket, as for `weft::net`'s (whose module docs
//! say what not to do with the descriptor).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::{Stream, TcpListener, UdpSocket, UnixDatagram, UnixListener};

macro_rules! fd_of_inner {
    ($($socket:ty),*) => {$(
        impl AsFd for $socket {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $socket {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }
    )*};
}

fd_of_inner!(TcpListener, UdpSocket, UnixListener, UnixDatagram);

impl<S> AsFd for Stream<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `fd` is the descriptor of the inner stream, which owns it and lives as long
        // as `self` (only `into_weft`, which consumes `self`, gives it away), so it stays open
        // for the borrow's lifetime.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

impl<S> AsRawFd for Stream<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}
