//! A socket registered with the reactor, and the one place that turns readiness plus a
//! non-blocking syscall into a `Poll`.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{ready, Context, Poll, Waker};

use weft_reactor::{socket, Direction, ReadyEvent, Registration};

use crate::context;
use crate::coop;

/// A non-blocking socket and its registration. The registration is declared first so it is
/// dropped (deregistered) before the socket closes. `pub` only so that the sealed
/// [`Split`](super::Split) trait may name it; the module is private, so nothing outside the
/// crate can reach it.
#[derive(Debug)]
pub struct Source<T: AsFd> {
    registration: Registration,
    io: T,
}

impl<T: AsFd> Source<T> {
    /// Registers `io` (already non-blocking) with the reactor of the runtime on this thread.
    pub(crate) fn new(io: T) -> io::Result<Source<T>> {
        let reactor = context::reactor()?;
        Source::with_reactor(io, &reactor)
    }

    /// Registers `io` (already non-blocking) with `reactor`.
    pub(crate) fn with_reactor(io: T, reactor: &weft_reactor::Handle) -> io::Result<Source<T>> {
        let registration = reactor.register(io.as_fd())?;
        Ok(Source { registration, io })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    pub(crate) fn reactor(&self) -> &weft_reactor::Handle {
        self.registration.handle()
    }

    /// Ready when `direction` may make progress, without spending budget.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        self.registration.poll_ready(cx, direction).map_ok(|_| ())
    }

    /// Ready with the readiness event itself, for callers that run their own syscall loop.
    /// With `lent` (from [`lent`](Source::lent)), the wait may be shared with other tasks.
    pub(crate) fn poll_ready_event(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        lent: Option<&mut Option<Waker>>,
    ) -> Poll<io::Result<weft_reactor::ReadyEvent>> {
        match lent {
            None => self.registration.poll_ready(cx, direction),
            Some(lent) => self.registration.poll_ready_shared(cx, direction, lent),
        }
    }

    /// A guard for an operation that shares its waits with other tasks; see [`Lent`].
    pub(crate) fn lent(&self, direction: Direction) -> Lent<'_> {
        Lent::new(&self.registration, direction)
    }

    /// Waits until `direction` may make progress: readiness only, no syscall. Any number of
    /// tasks may wait at once. Spends one unit of cooperative budget once ready, so a
    /// `ready` + `try_io` loop on a socket that stays ready still lets other tasks run.
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        let mut lent = self.lent(direction);
        poll_fn(|cx| {
            ready!(self
                .registration
                .poll_ready_shared(cx, direction, &mut lent.waker))?;
            coop::poll_proceed(cx).map(Ok)
        })
        .await
    }

    /// One attempt of `op` without waiting: `WouldBlock` at once (no syscall) while the cached
    /// readiness says the direction is drained; after an `EAGAIN` from `op`, readiness is
    /// cleared so that [`ready`](Source::ready) waits for the next edge. A receive on a socket
    /// shut down for reading fails with `NotConnected` once its queue is empty.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let Some(event) = self.registration.ready_now(direction)? else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        loop {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if direction == Direction::Read && event.is_read_closed() {
                        return Err(shut_down_for_reading());
                    }
                    self.registration.clear_readiness(event);
                    return Err(e);
                }
                result => return result,
            }
        }
    }

    /// Forgets readiness after `EAGAIN`.
    pub(crate) fn clear_readiness(&self, event: weft_reactor::ReadyEvent) {
        self.registration.clear_readiness(event);
    }

    /// Runs `op` until it stops saying `EAGAIN`, waiting for readiness in between; spends one
    /// unit of cooperative budget when it completes. A receive on a socket shut down for
    /// reading fails with `NotConnected` once its queue is empty, instead of spinning. Any number of tasks may run operations
    /// on one source at once (UDP through `&self`).
    pub(crate) async fn io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut lent = self.lent(direction);
        poll_fn(|cx| {
            ready!(coop::poll_proceed(cx));
            loop {
                let event =
                    ready!(self
                        .registration
                        .poll_ready_shared(cx, direction, &mut lent.waker))?;
                match op(&self.io) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if direction == Direction::Read && event.is_read_closed() {
                            return Poll::Ready(Err(shut_down_for_reading()));
                        }
                        self.registration.clear_readiness(event);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    result => return Poll::Ready(result),
                }
            }
        })
        .await
    }
}

/// What a receive gets once the socket was shut down for reading and its queue is empty: a
/// datagram socket answers `EAGAIN` for ever then, while its readiness stays set (no new edge
/// will come), so retrying would spin. Stream sockets read `Ok(0)` instead and never get here.
fn shut_down_for_reading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "receive on a socket shut down for reading: nothing is queued and nothing more can arrive",
    )
}

/// The waker a wait on a shared source lent it (see `Registration::poll_ready_shared`):
/// taken back when the operation is dropped before it completes, so that the source does not
/// keep a task that stopped waiting alive until its next edge.
pub(crate) struct Lent<'a> {
    registration: &'a Registration,
    direction: Direction,
    pub(crate) waker: Option<Waker>,
}

impl<'a> Lent<'a> {
    fn new(registration: &'a Registration, direction: Direction) -> Lent<'a> {
        Lent {
            registration,
            direction,
            waker: None,
        }
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        self.registration.withdraw(self.direction, &mut self.waker);
    }
}

impl<T: AsFd> Source<T> {
    /// Reads into `buf`. A short read proves the socket drained, so readiness is cleared
    /// without the extra `EAGAIN` round trip, except when the peer's FIN came with this edge
    /// (the EOF must still be read and no new edge will announce it) or urgent data is pending
    /// (the read stopped at the urgent mark): see [`ReadyEvent::short_read_drains`].
    #[inline(always)]
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_budget(cx, buf, true)
    }

    /// [`poll_read`](Source::poll_read) without spending cooperative budget, for callers that
    /// keep their own (weft-coroutines).
    #[inline]
    pub(crate) fn poll_read_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_budget(cx, buf, false)
    }

    #[inline(always)]
    fn poll_read_budget(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        budgeted: bool,
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_transfer(
            cx,
            Direction::Read,
            len,
            budgeted,
            |fd| socket::recv(fd, buf),
            |n, event| n > 0 && n < len && event.short_read_drains(),
        )
    }

    /// Writes from `buf`. A short write proves the send buffer full, so write readiness is
    /// cleared at once.
    #[inline(always)]
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_budget(cx, buf, true)
    }

    /// [`poll_write`](Source::poll_write) without spending cooperative budget.
    #[inline]
    pub(crate) fn poll_write_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_budget(cx, buf, false)
    }

    #[inline(always)]
    fn poll_write_budget(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        budgeted: bool,
    ) -> Poll<io::Result<usize>> {
        self.poll_transfer(
            cx,
            Direction::Write,
            buf.len(),
            budgeted,
            |fd| socket::send(fd, buf),
            |n, _| n < buf.len(),
        )
    }

    /// Writes all of `*buf`, advancing it past what was written (so a `Pending` resumes where
    /// it stopped); `budgeted` spends one unit of cooperative budget per write.
    #[inline(always)]
    pub(crate) fn poll_write_all(
        &self,
        cx: &mut Context<'_>,
        buf: &mut &[u8],
        budgeted: bool,
    ) -> Poll<io::Result<()>> {
        while !buf.is_empty() {
            match ready!(self.poll_write_budget(cx, buf, budgeted))? {
                0 => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write_all: the socket accepted no bytes",
                    )))
                }
                n => *buf = &buf[n..],
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The loop behind `poll_read` and `poll_write`: wait for readiness, run `op`, and clear
    /// readiness on `EAGAIN` or when `drained` says a partial transfer proved the direction
    /// exhausted. With `budgeted`, one unit of cooperative budget is spent once the direction
    /// is ready, before the first syscall: a wait for readiness costs none (the task returns
    /// `Pending` anyway), so the common read-until-`Pending` loop pays for its transfers only.
    #[inline(always)]
    fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        budgeted: bool,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
        drained: impl Fn(usize, &ReadyEvent) -> bool,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut event = ready!(self.registration.poll_ready(cx, direction))?;
        if budgeted {
            ready!(coop::poll_proceed(cx));
        }
        loop {
            match op(self.io.as_fd()) {
                Ok(n) => {
                    if drained(n, &event) {
                        self.registration.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(event);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            event = ready!(self.registration.poll_ready(cx, direction))?;
        }
    }
}
