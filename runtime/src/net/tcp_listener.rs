use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use weft_reactor::{socket, Direction, TimerEntry};

use super::source::Source;
use super::{TcpSocket, TcpStream};
use crate::coop;

/// The first pause after the process runs out of descriptors.
const BACKOFF_START: Duration = Duration::from_millis(1);
/// The longest pause between accept retries while out of descriptors.
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// A listening TCP socket.
///
/// ```
/// use weft_runtime::net::{TcpListener, TcpStream};
/// weft_runtime::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = weft_runtime::spawn(async move { TcpStream::connect(addr).await });
///     let (_server_side, peer) = listener.accept().await?;
///     assert_eq!(peer, client.await.unwrap()?.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Running out of descriptors
///
/// When `accept` fails with `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`, retrying at once cannot
/// succeed, and with an edge-triggered reactor no new event would come for connections already
/// queued. So `accept` does not return those errors: it waits on a timer, backing off from 1 ms
/// to 100 ms, and retries; the connections stay queued in the kernel's backlog meanwhile and
/// are accepted as soon as descriptors free up. Nothing spins and nothing is dropped.
///
/// # Sharing
///
/// Several tasks may wait in `accept` on one listener at once (`Arc<TcpListener>`, one
/// acceptor per worker or per coroutine): each new connection wakes the waiting tasks, and
/// the ones that find nothing left to accept wait again.
#[derive(Debug)]
pub struct TcpListener {
    source: Source<std::net::TcpListener>,
    backoff: Mutex<Backoff>,
}

#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
    timer: Option<TimerEntry>,
    /// Every task waiting for the timer (several may accept on one shared listener, but the
    /// timer keeps only the last one's waker): whoever sees it fire wakes them all.
    waiting: Vec<Waker>,
}

impl Backoff {
    /// Counts the task of `waker` among those waiting for the timer (once).
    fn wait(&mut self, waker: &Waker) {
        if !self.waiting.iter().any(|w| w.will_wake(waker)) {
            self.waiting.push(waker.clone());
        }
    }
}

impl TcpListener {
    /// Binds with `SO_REUSEADDR` and a backlog of 1024; tries each address of `addr` in turn.
    ///
    /// `bind` is synchronous, so a host name in `addr` is resolved on the calling thread; in
    /// code running on the loop, pass an address or resolve it first with
    /// [`lookup_host`](super::lookup_host).
    ///
    /// # Errors
    /// No address could be bound (the last error is returned, naming its address), or there
    /// is no runtime on this thread.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            let attempt = (|| {
                let socket = match addr {
                    SocketAddr::V4(_) => TcpSocket::new_v4()?,
                    SocketAddr::V6(_) => TcpSocket::new_v6()?,
                };
                socket.set_reuseaddr(true)?;
                socket.bind(addr)?;
                socket.listen(1024)
            })();
            match attempt {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "bind: no addresses to try")
        }))
    }

    /// Takes over a listening std socket (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_source(Source::new(listener)?)
    }

    pub(super) fn from_source(source: Source<std::net::TcpListener>) -> io::Result<TcpListener> {
        Ok(TcpListener {
            source,
            backoff: Mutex::new(Backoff::default()),
        })
    }

    /// Waits for a connection. The new stream is registered with this listener's reactor.
    ///
    /// # Errors
    /// Errors of the listening socket itself. Resource exhaustion is retried (see the type's
    /// docs); connections aborted before they were accepted are skipped.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut lent = self.source.lent(Direction::Read);
        poll_fn(|cx| self.poll_accept_lending(cx, Some(&mut lent.waker))).await
    }

    /// Polls for a connection; see [`accept`](TcpListener::accept). While other tasks wait on
    /// the same listener, a task that stops polling stays listed until the next connection
    /// (or a wake-up); `accept` takes itself off the list when dropped.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_lending(cx, None)
    }

    fn poll_accept_lending(
        &self,
        cx: &mut Context<'_>,
        mut lent: Option<&mut Option<Waker>>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(timer) = backoff.timer.as_mut() {
            if timer.poll_elapsed(cx).is_pending() {
                backoff.wait(cx.waker());
                return Poll::Pending;
            }
            backoff.timer = None;
            backoff.waiting.drain(..).for_each(Waker::wake);
        }
        ready!(coop::poll_proceed(cx));
        loop {
            let event =
                ready!(self
                    .source
                    .poll_ready_event(cx, Direction::Read, lent.as_deref_mut()))?;
            match socket::accept(self.source.get_ref().as_fd()) {
                Ok((fd, addr)) => {
                    backoff.delay = None;
                    let stream = std::net::TcpStream::from(fd);
                    let source = Source::with_reactor(stream, self.source.reactor())?;
                    return Poll::Ready(Ok((TcpStream::from_source(source), addr)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.source.clear_readiness(event);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if socket::is_connection_gone(&e) => {}
                Err(e) if socket::is_resource_exhaustion(&e) => {
                    let delay = backoff
                        .delay
                        .map_or(BACKOFF_START, |d| (d * 2).min(BACKOFF_MAX));
                    backoff.delay = Some(delay);
                    let mut timer = TimerEntry::new(self.source.reactor(), Instant::now() + delay);
                    if timer.poll_elapsed(cx).is_pending() {
                        backoff.timer = Some(timer);
                        backoff.wait(cx.waker());
                        return Poll::Pending;
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}
