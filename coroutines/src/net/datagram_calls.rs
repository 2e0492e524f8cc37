//! The calls both coroutine datagram sockets ([`UdpSocket`](super::UdpSocket),
//! [`UnixDatagram`](super::UnixDatagram)) have for their connected peer and their timeouts,
//! written once.

/// `send`, `recv`, `set_read_timeout` and `set_write_timeout`, in the inherent `impl` of a
/// coroutine datagram socket with `inner` (the weft socket) and `read_timeout`/`write_timeout`.
macro_rules! datagram_calls {
    () => {
        /// Sends one datagram to the connected peer, parking while it cannot be sent.
        ///
        /// # Errors
        /// As `send_to`.
        pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
            io_wait(self.inner.send(buf), self.write_timeout.get(), "send")
        }

        /// Receives one datagram from the connected peer; bytes beyond `buf`'s length are
        /// discarded.
        ///
        /// # Errors
        /// As `send_to`; `NotConnected` once the socket was shut down for reading and its
        /// queue is empty.
        pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
            io_wait(self.inner.recv(buf), self.read_timeout.get(), "recv")
        }

        /// Bounds each receive (`None`: wait forever, the default).
        ///
        /// # Errors
        /// `Some(Duration::ZERO)` is refused, as in `std`.
        pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.read_timeout.set(timeout)
        }

        /// Bounds each send (`None`: wait forever, the default).
        ///
        /// # Errors
        /// `Some(Duration::ZERO)` is refused, as in `std`.
        pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.write_timeout.set(timeout)
        }
    };
}

pub(super) use datagram_calls;
