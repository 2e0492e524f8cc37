//! `AsFd` and `AsRawFd` for every socket, so options weft has no setter for can be set with
//! `socket2` or `libc` (as with std's and tokio's sockets). The descriptor stays registered
//! with the reactor: don't close it, don't switch it to blocking mode, and don't read from
//! or write to it behind weft's back.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::{TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};

macro_rules! fd_of {
    ($($socket:ty => |$this:ident| $fd:expr;)*) => {$(
        impl AsFd for $socket {
            fn as_fd(&self) -> BorrowedFd<'_> {
                let $this = self;
                $fd
            }
        }

        impl AsRawFd for $socket {
            fn as_raw_fd(&self) -> RawFd {
                self.as_fd().as_raw_fd()
            }
        }
    )*};
}

fd_of! {
    TcpListener => |this| this.acceptor.source().get_ref().as_fd();
    TcpSocket => |this| this.fd.as_fd();
    TcpStream => |this| this.source.get_ref().as_fd();
    UdpSocket => |this| this.source.get_ref().as_fd();
    UnixListener => |this| this.acceptor.source().get_ref().as_fd();
    UnixStream => |this| this.source.get_ref().as_fd();
    UnixDatagram => |this| this.source.get_ref().as_fd();
}
