//! TCP, UDP and Unix-domain sockets on the reactor.
//!
//! Every socket is non-blocking and registered once, for both directions, with the reactor of
//! the runtime that created it. Operations try the syscall first and wait only on `EAGAIN`;
//! each completed operation spends one unit of the task's cooperative budget, so a connection
//! that always has data cannot starve the others. Host names are resolved on the blocking pool
//! ([`lookup_host`]), never on the loop thread.
//!
//! The `try_` calls (`try_read`, `try_send_to`, …) never wait and, like tokio's, go by the
//! readiness the reactor has seen: they answer `WouldBlock` without a syscall while it says the
//! direction is drained, and that includes a socket the loop has not polled since it was
//! created. Pair them with `readable`/`writable`, which wait until the direction is ready.
//!
//! Every socket implements `AsFd` and `AsRawFd`, for options weft has no setter for (with
//! `socket2` or `libc`). The descriptor stays registered with the reactor: don't close it,
//! don't make it blocking, and don't read or write through it behind weft's back.

mod accept;
mod addr;
mod datagram_calls;
mod fd;
mod io_util;
mod source;
mod split;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unbudgeted;
mod unix_datagram;
mod unix_listener;
mod unix_stream;

pub use addr::{lookup_host, ToSocketAddrs};
pub use io_util::{ReadExactFuture, ReadFuture, WriteAllFuture, WriteFuture};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError, Split};
pub use tcp_listener::TcpListener;
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
#[doc(hidden)]
pub use unbudgeted::UnbudgetedStream;
pub use unix_datagram::UnixDatagram;
pub use unix_listener::UnixListener;
pub use unix_stream::UnixStream;

/// Compile-time facts: every socket can be shared between tasks on any worker.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<UdpSocket>();
    send_sync::<UnixListener>();
    send_sync::<UnixStream>();
    send_sync::<UnixDatagram>();
    send_sync::<OwnedReadHalf<UnixStream>>();
    send_sync::<OwnedWriteHalf<UnixStream>>();
}
