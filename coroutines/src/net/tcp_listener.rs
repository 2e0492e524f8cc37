use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::{io_wait, TcpStream};

/// A listening TCP socket whose `accept` parks the coroutine.
///
/// ```
/// use std::io::{Read, Write};
/// use weft_coroutines::net::{TcpListener, TcpStream};
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     weft_coroutines::go(|| {
///         let listener = TcpListener::bind("127.0.0.1:0")?;
///         let addr = listener.local_addr()?;
///         let client = weft_coroutines::go(move || -> std::io::Result<String> {
///             let mut stream = TcpStream::connect(addr)?;
///             stream.write_all(b"ping")?;
///             let mut reply = String::new();
///             stream.read_to_string(&mut reply)?; // to EOF
///             Ok(reply)
///         });
///         let (mut conn, _) = listener.accept()?;
///         let mut ping = [0; 4];
///         conn.read_exact(&mut ping)?;
///         conn.write_all(b"pong")?;
///         drop(conn); // EOF for the client
///         assert_eq!(client.join().unwrap()?, "pong");
///         Ok::<(), std::io::Error>(())
///     })
///     .await
///     .unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Running out of descriptors does not fail `accept`: it waits and retries, with the
/// connections kept in the kernel's backlog (see `weft::net::TcpListener`).
#[derive(Debug)]
pub struct TcpListener {
    pub(super) inner: weft_runtime::net::TcpListener,
}

impl TcpListener {
    /// Binds with `SO_REUSEADDR` and a backlog of 1024; tries each address in turn.
    ///
    /// # Errors
    /// No address could be bound (the last error names it), or no runtime runs on this thread.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: weft_runtime::net::TcpListener::bind(addr)?,
        })
    }

    /// Takes over a std listener (made non-blocking here), on a runtime's thread.
    ///
    /// # Errors
    /// No runtime runs on this thread, or the reactor refused the socket.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: weft_runtime::net::TcpListener::from_std(listener)?,
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// Errors of the listening socket itself, or a call outside a coroutine on a loop thread
    /// (see the [module docs](crate::net)).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = io_wait(self.inner.accept(), None, "accept")?;
        Ok((TcpStream::from_weft(stream), peer))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming::new(self)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The iterator of `incoming` ([`TcpListener::incoming`],
/// [`UnixListener::incoming`](super::UnixListener::incoming)): never ends, yields each
/// `accept`'s result.
#[derive(Debug)]
pub struct Incoming<'a, L = TcpListener> {
    pub(super) listener: &'a L,
}

impl<'a, L> Incoming<'a, L> {
    pub(super) fn new(listener: &'a L) -> Incoming<'a, L> {
        Incoming { listener }
    }
}

impl Iterator for Incoming<'_, TcpListener> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}
