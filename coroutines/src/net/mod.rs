//! Blocking-looking TCP, UDP and Unix-domain sockets: `std::net`'s and
//! `std::os::unix::net`'s shapes, `std::io::Read`/`Write`, weft's reactor.
//!
//! Each type wraps its `weft_runtime::net` counterpart, so the coroutine parks while the socket
//! is not ready and the loop runs everything else. End of stream is `Ok(0)`; a reset
//! connection is an `io::Error` of kind `ConnectionReset`, exactly as with `std::net`.
//!
//! # The hot path
//!
//! A `TcpStream` or `UnixStream` read or write in a coroutine, without a timeout, builds no future: it polls
//! the stream's readiness-plus-syscall step (`poll_read_unbudgeted` and friends) with the
//! running task's `Context`. When the socket is ready that is one readiness check and one
//! syscall; when it is not, the step stores the task's waker with the reactor and the
//! coroutine suspends once, to be resumed by the wake. Instead of the runtime's thread-local
//! cooperative budget, each operation spends one unit of a budget the coroutine keeps per
//! resume (the same 128 operations), so a coroutine whose socket never waits still yields.
//! Calls with a timeout, accept, connect and datagrams go through the runtime's futures, under the
//! same parking loop (or [`block_on`] outside a coroutine).
//!
//! # Timeouts
//!
//! `set_read_timeout` and `set_write_timeout` bound each call (a `write_all` counts as one);
//! a call that runs out fails with `io::ErrorKind::TimedOut`. A zero duration is refused, as
//! in `std`.
//!
//! # Outside a coroutine
//!
//! Sockets are made on a runtime's thread (in a coroutine or async code). Afterwards:
//!
//! - **In a coroutine**: calls park the coroutine.
//! - **On a thread without a runtime** (a socket moved to a `std::thread`): calls block that
//!   thread like plain blocking sockets, as long as the runtime that made the socket keeps
//!   running; timeouts are not supported there (`ErrorKind::Unsupported`).
//! - **On an event-loop thread outside a coroutine** (async code): every call returns an
//!   error, since blocking there would stall the loop that has to complete it. Use
//!   `weft::net` in async code.
//! - **While the thread is panicking** (a destructor during unwinding): a call that would
//!   have to wait returns an error instead of parking; one the socket can complete at once
//!   (data ready, room to write) completes. Calls with a timeout return the error at once.

mod datagram_calls;
mod fd;
mod stream;
mod tcp_listener;
mod tcp_stream;
mod udp;
mod unix_datagram;
mod unix_listener;
mod unix_stream;

pub use stream::Stream;
pub use tcp_listener::{Incoming, TcpListener};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_datagram::UnixDatagram;
pub use unix_listener::UnixListener;
pub use unix_stream::UnixStream;
pub use weft_runtime::net::ToSocketAddrs;

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use crate::coroutine::{
    current, park_io, park_on, place, refuse_while_panicking, spend_budget, Place,
};
use crate::wait::block_on;

/// Resolves `host` to its socket addresses, as [`std::net::ToSocketAddrs`] does, but on the
/// blocking pool while the coroutine parks (literal addresses are returned at once).
///
/// ```
/// let rt = weft_runtime::Runtime::new()?;
/// let lookup = rt.block_on(async {
///     weft_coroutines::spawn(|| weft_coroutines::net::lookup_host(("localhost", 80))).await
/// });
/// assert!(lookup??.all(|a| a.ip().is_loopback()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// On a plain thread (no runtime) it resolves in place, like `std`; on an event-loop thread
/// outside a coroutine it returns an error, as every call here does.
///
/// # Errors
/// As `weft::net::lookup_host`.
pub fn lookup_host<A: ToSocketAddrs>(host: A) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    io_wait(weft_runtime::net::lookup_host(host), None, "lookup_host")
}

/// Runs the socket operation `op` to completion from synchronous code (see the module docs),
/// bounded by `timeout`. `what` names the call in errors.
///
/// The hot path (a coroutine, no timeout) polls `op` with the running task's context and
/// parks between polls; everything else goes through a future.
#[inline]
pub(crate) fn io_poll<T>(
    op: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    timeout: impl Limit,
    what: &str,
) -> io::Result<T> {
    let current = current();
    if timeout.unbounded() && !current.is_null() {
        // SAFETY: `current` is this thread's non-null `CURRENT`: this runs on a coroutine's
        // stack.
        return unsafe { park_io(current, op) };
    }
    io_poll_other(op, timeout.limit(), what)
}

/// How long a call may wait: a fixed `Option<Duration>`, or a socket's [`Timeout`], read
/// where the call starts. [`io_poll`]'s hot path asks only [`unbounded`](Limit::unbounded):
/// for a socket that is one load and one test, no `Duration` built.
pub(crate) trait Limit: Copy {
    /// `true` when the call may wait forever.
    fn unbounded(self) -> bool;
    /// The limit, `None` for none.
    fn limit(self) -> Option<Duration>;
}

impl Limit for Option<Duration> {
    #[inline]
    fn unbounded(self) -> bool {
        self.is_none()
    }

    #[inline]
    fn limit(self) -> Option<Duration> {
        self
    }
}

impl Limit for &Timeout {
    #[inline]
    fn unbounded(self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }

    #[inline]
    fn limit(self) -> Option<Duration> {
        self.get()
    }
}

/// [`io_poll`] for an operation that is a future (accept, connect, UDP).
#[inline]
pub(crate) fn io_wait<F, T>(fut: F, timeout: Option<Duration>, what: &str) -> io::Result<T>
where
    F: Future<Output = io::Result<T>>,
{
    let mut fut = pin!(fut);
    io_poll(|cx| fut.as_mut().poll(cx), timeout, what)
}

/// [`io_poll`] with a timeout, while unwinding, or outside a coroutine.
#[inline(never)]
fn io_poll_other<T>(
    op: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    timeout: Option<Duration>,
    what: &str,
) -> io::Result<T> {
    match place() {
        Place::Coroutine if std::thread::panicking() => Err(refuse_while_panicking()),
        Place::Coroutine => match timeout {
            // SAFETY: `place` says this runs on a coroutine's stack.
            None => unsafe { park_on(poll_fn(op)) },
            Some(limit) => {
                let mut op = op;
                // The same per-operation budget as the hot path, or a coroutine with a read
                // timeout on a socket that is always ready would never yield.
                let budgeted = poll_fn(|cx| {
                    ready!(spend_budget(cx));
                    op(cx)
                });
                // SAFETY: as above.
                unsafe { park_on(weft_runtime::time::timeout(limit, budgeted)) }
                    .unwrap_or_else(|_| Err(timed_out(what, limit)))
            }
        },
        Place::Loop => Err(io::Error::other(format!(
            "weft coroutines: {what} on an event-loop thread outside a coroutine would stall \
             the loop; call it from a coroutine (weft::go) or use weft::net in async code"
        ))),
        Place::Plain => match timeout {
            None => block_on(poll_fn(op)),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("weft coroutines: {what} with a timeout needs a coroutine"),
            )),
        },
    }
}

#[cold]
fn timed_out(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} timed out after {limit:?}"),
    )
}

/// A per-socket timeout, settable through `&self` (`0` means none).
#[derive(Debug, Default)]
pub(crate) struct Timeout(AtomicU64);

impl Timeout {
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// # Errors
    /// A zero duration (as `std` refuses it).
    pub(crate) fn set(&self, timeout: Option<Duration>) -> io::Result<()> {
        let nanos = match timeout {
            None => 0,
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        };
        self.0.store(nanos, Ordering::Relaxed);
        Ok(())
    }
}
