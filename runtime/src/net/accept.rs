//! The accept loop every listener shares (TCP and Unix): readiness, the syscall, and the
//! timer-driven backoff when the process runs out of descriptors.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use weft_reactor::{socket, Direction, TimerEntry};

use super::source::Source;
use crate::coop;

/// The first pause after the process runs out of descriptors.
const BACKOFF_START: Duration = Duration::from_millis(1);
/// The longest pause between accept retries while out of descriptors.
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// A listening socket `L` on the reactor, with its backoff state.
#[derive(Debug)]
pub(super) struct Acceptor<L: AsFd> {
    source: Source<L>,
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

impl<L: AsFd> Acceptor<L> {
    pub(super) fn new(source: Source<L>) -> Acceptor<L> {
        Acceptor {
            source,
            backoff: Arc::default(),
        }
    }

    pub(super) fn source(&self) -> &Source<L> {
        &self.source
    }

    /// Waits until `op` (one non-blocking accept) succeeds; see the listeners' docs. A task
    /// that is dropped while it waits takes itself off the listener's lists.
    pub(super) async fn accept<T>(&self, mut op: impl FnMut(&L) -> io::Result<T>) -> io::Result<T> {
        let mut lent = self.source.lent(Direction::Read);
        let mut backing_off = BackoffWait {
            backoff: &self.backoff,
            listed: None,
        };
        poll_fn(|cx| {
            self.poll_accept_lending(
                cx,
                Some(&mut lent.waker),
                Some(&mut backing_off.listed),
                &mut op,
            )
        })
        .await
    }

    /// [`accept`](Acceptor::accept) for `poll_accept`: without a future to hold the guards, a
    /// task that stops polling stays listed until the next connection or timer.
    pub(super) fn poll_accept<T>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&L) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        self.poll_accept_lending(cx, None, None, &mut op)
    }

    /// `lent` and `listed`: where `accept` keeps the wakers it lent to a wait shared with other
    /// acceptors and to the backoff timer's list, to take them back when dropped.
    fn poll_accept_lending<T>(
        &self,
        cx: &mut Context<'_>,
        mut lent: Option<&mut Option<Waker>>,
        mut listed: Option<&mut Option<Waker>>,
        op: &mut impl FnMut(&L) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
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
            match op(self.source.get_ref()) {
                Ok(accepted) => {
                    backoff.delay = None;
                    return Poll::Ready(Ok(accepted));
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
}
