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

impl<S: AsFd> AsFd for Stream<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner().as_fd()
    }
}

impl<S: AsFd> AsRawFd for Stream<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner().as_fd().as_raw_fd()
    }
}
