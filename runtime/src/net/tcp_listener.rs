use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Wake, Waker};
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
/// the ones that find nothing left to accept wait again. An `accept` dropped while it waits
/// (a timeout, a `select`), for a connection or for the backoff timer, takes its task off the
/// listener's lists, and the others are still woken.
#[derive(Debug)]
pub struct TcpListener {
    source: Source<std::net::TcpListener>,
    backoff: Arc<SharedBackoff>,
}

#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
    timer: Option<TimerEntry>,
    /// Every task waiting for the timer (several may accept on one shared listener). The timer
    /// itself is polled with the listener's own waker ([`SharedBackoff`]), which wakes them all
    /// when it fires, so no `accept` dropped meanwhile can take the wake-up with it.
    waiting: Vec<Waker>,
}

/// The backoff state, and the waker its timer fires.
#[derive(Debug, Default)]
struct SharedBackoff(Mutex<Backoff>);

impl SharedBackoff {
    fn lock(&self) -> MutexGuard<'_, Backoff> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for SharedBackoff {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// The timer fired: every task waiting for it retries its `accept`.
    fn wake_by_ref(self: &Arc<Self>) {
        let waiting = std::mem::take(&mut self.lock().waiting);
        waiting.into_iter().for_each(Waker::wake);
    }
}

impl Backoff {
    /// Counts the task of `waker` among those waiting for the timer (once). With `listed`
    /// (from `accept`'s [`BackoffWait`]), remembers a clone so a dropped `accept` can take its
    /// task off the list.
    fn wait(&mut self, waker: &Waker, listed: Option<&mut Option<Waker>>) {
        if !self.waiting.iter().any(|w| w.will_wake(waker)) {
            self.waiting.push(waker.clone());
        }
        if let Some(listed) = listed {
            if !listed.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *listed = Some(waker.clone());
            }
        }
    }
}

/// An `accept` waiting out the backoff timer: when it is dropped before the timer fires (a
/// timeout, a `select`), it takes its task off the timer's list, which would otherwise keep
/// the task alive until the next `accept` on the listener after the timer fired.
struct BackoffWait<'a> {
    backoff: &'a SharedBackoff,
    listed: Option<Waker>,
}

impl Drop for BackoffWait<'_> {
    fn drop(&mut self) {
        let Some(waker) = self.listed.take() else {
            return;
        };
        let mut backoff = self.backoff.lock();
        let taken = backoff
            .waiting
            .iter()
            .position(|w| w.will_wake(&waker))
            .map(|at| backoff.waiting.swap_remove(at));
        // Dropping a waker may free a task: not under the lock.
        drop(backoff);
        drop(taken);
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
            backoff: Arc::default(),
        })
    }

    /// Waits for a connection. The new stream is registered with this listener's reactor.
    ///
    /// # Errors
    /// Errors of the listening socket itself. Resource exhaustion is retried (see the type's
    /// docs); connections aborted before they were accepted are skipped.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut lent = self.source.lent(Direction::Read);
        let mut backing_off = BackoffWait {
            backoff: &self.backoff,
            listed: None,
        };
        poll_fn(|cx| {
            self.poll_accept_lending(cx, Some(&mut lent.waker), Some(&mut backing_off.listed))
        })
        .await
    }

    /// Polls for a connection; see [`accept`](TcpListener::accept). While other tasks wait on
    /// the same listener, a task that stops polling stays listed until the next connection
    /// (or a wake-up); `accept` takes itself off the list when dropped.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_lending(cx, None, None)
    }

    /// `lent` and `listed`: where `accept` keeps the wakers it lent to a wait shared with other
    /// acceptors and to the backoff timer's list, to take them back when dropped.
    fn poll_accept_lending(
        &self,
        cx: &mut Context<'_>,
        mut lent: Option<&mut Option<Waker>>,
        mut listed: Option<&mut Option<Waker>>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut backoff = self.backoff.lock();
        if let Some(timer) = backoff.timer.as_mut() {
            if self.poll_backoff_timer(timer).is_pending() {
                backoff.wait(cx.waker(), listed);
                return Poll::Pending;
            }
            backoff.timer = None;
            backoff.waiting.drain(..).for_each(Waker::wake);
        }
        // The list is only ever filled while a timer is set, so this task is not on it now.
        if let Some(listed) = listed.as_deref_mut() {
            *listed = None;
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
                    if self.poll_backoff_timer(&mut timer).is_pending() {
                        backoff.timer = Some(timer);
                        backoff.wait(cx.waker(), listed);
                        return Poll::Pending;
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Polls the backoff timer with the listener's own waker (see [`Backoff::waiting`]).
    fn poll_backoff_timer(&self, timer: &mut TimerEntry) -> Poll<()> {
        let waker = Waker::from(self.backoff.clone());
        timer.poll_elapsed(&mut Context::from_waker(&waker))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}
