//! The calls every datagram socket ([`UdpSocket`](super::UdpSocket),
//! [`UnixDatagram`](super::UnixDatagram)) has for its connected peer and its readiness, written
//! once.

/// `send`, `recv`, `try_send`, `try_recv`, `readable` and `writable`, in the inherent `impl` of
/// a datagram socket whose `source` holds its std socket.
macro_rules! datagram_calls {
    () => {
        /// Sends one datagram to the connected peer, waiting while it cannot be sent (a full
        /// send buffer; for a Unix socket, also a full receiver).
        pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
            self.source
                .io(Direction::Write, |s| {
                    weft_reactor::socket::send(std::os::fd::AsFd::as_fd(s), buf)
                })
                .await
        }

        /// Receives one datagram from the connected peer; bytes beyond `buf`'s length are
        /// discarded.
        ///
        /// # Errors
        /// `NotConnected` once the socket was shut down for reading and its queue is empty.
        pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.source
                .io(Direction::Read, |s| {
                    weft_reactor::socket::recv(std::os::fd::AsFd::as_fd(s), buf)
                })
                .await
        }

        /// Sends one datagram to the connected peer without waiting: `WouldBlock` when it
        /// cannot be sent now (then `writable` waits).
        pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
            self.source.try_io(Direction::Write, |s| {
                weft_reactor::socket::send(std::os::fd::AsFd::as_fd(s), buf)
            })
        }

        /// Receives one datagram from the connected peer without waiting: `WouldBlock` when
        /// none is queued (then `readable` waits).
        pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.source.try_io(Direction::Read, |s| {
                weft_reactor::socket::recv(std::os::fd::AsFd::as_fd(s), buf)
            })
        }

        /// Waits until a datagram (or an error) waits to be received; follow it with
        /// `try_recv_from` or `try_recv`. Several tasks may wait at once.
        ///
        /// # Errors
        /// The runtime shut down.
        pub async fn readable(&self) -> io::Result<()> {
            self.source.ready(Direction::Read).await
        }

        /// Waits until a datagram can be sent to the connected peer; follow it with
        /// `try_send` (or, for UDP, `try_send_to`). Several tasks may wait at once.
        ///
        /// # Errors
        /// The runtime shut down.
        pub async fn writable(&self) -> io::Result<()> {
            self.source.ready(Direction::Write).await
        }
    };
}

pub(super) use datagram_calls;
