//! A hub: one `epoll` set that watches other reactors' `epoll` sets, so one thread can sleep
//! on behalf of several reactors and learn which of them has events.
//!
//! An epoll descriptor is itself pollable: it reads as ready while its own ready list is not
//! empty. The hub adds each reactor's descriptor edge-triggered, so it reports a reactor once
//! per batch of new events (not over and over while that reactor's owner is busy). The thread
//! that learns of a reactor's events must then turn that reactor (`Reactor::turn` with a zero
//! timeout) to dispatch them.
//!
//! A multi-thread runtime uses it to keep sleeping workers asleep: one sleeping worker waits on
//! the hub for all of them (see weft-runtime's `scheduler/multi_thread`). `poll(2)` sets cannot
//! be nested, so [`Hub::add`] refuses reactors on the `poll` backend.
//!
//! # Sleeping elsewhere
//!
//! A reactor's driver normally blocks inside [`Reactor::turn`](crate::Reactor::turn), which
//! publishes its wake-up deadline so that a timer added from another thread with an earlier
//! deadline interrupts the wait. A driver that sleeps *elsewhere* (on a hub, on a thread parker)
//! brackets that sleep with [`Handle::park_elsewhere`] and [`Handle::unpark_elsewhere`]: such a
//! timer then writes the reactor's wake-up eventfd, which makes its epoll set (and so the hub)
//! ready.
//!
//! # Waking the hub's sleeper
//!
//! [`Hub::wake`] makes the current or next [`Hub::wait`] return with `Ok(true)` through the
//! hub's own wake-up eventfd, without touching any reactor: the sleeper learns it was woken
//! with one `epoll_wait`, instead of having a reactor's eventfd reported and then turning that
//! reactor to drain it.

use crate::error::with_context;
use std::io;
use std::sync::TryLockError;
use std::time::Duration;

use crate::reactor::Handle;
use crate::sync::{lock, Mutex, Ordering};
use crate::sys::notify::Notifier;
use crate::sys::{epoll, Events};

/// The key of the hub's own wake-up eventfd; reactors may not use it.
const WAKE_KEY: usize = usize::MAX;

/// An epoll set over reactors' epoll sets; see the module docs.
///
/// ```
/// use std::time::Duration;
/// use weft_reactor::{Backend, Hub, Reactor};
///
/// let hub = Hub::new()?;
/// let reactor = Reactor::new(Backend::Epoll)?;
/// hub.add(&reactor.handle(), 7)?;
/// reactor.handle().wake(); // any event on the reactor...
/// let mut ready = Vec::new();
/// hub.wait(Some(Duration::from_secs(5)), &mut ready)?;
/// assert_eq!(ready, [7]); // ...is reported under its key
/// hub.wake(); // and the hub's own wake-up...
/// assert!(hub.wait(Some(Duration::from_secs(5)), &mut ready)?); // ...ends the next wait
/// assert!(ready.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Hub {
    selector: epoll::Selector,
    events: Mutex<Events>,
    /// Registered edge-triggered, so each write is a new edge: the counter is never read.
    wake_up: Notifier,
}

impl Hub {
    /// An empty hub.
    ///
    /// # Errors
    /// `epoll_create1` failed (for example, out of descriptors).
    pub fn new() -> io::Result<Hub> {
        let context = |e: io::Error| with_context(e, "creating a weft reactor hub");
        let selector = epoll::Selector::new().map_err(context)?;
        let wake_up = Notifier::new().map_err(context)?;
        selector
            .register_readable(wake_up.raw_fd(), WAKE_KEY as u64)
            .map_err(context)?;
        Ok(Hub {
            selector,
            events: Mutex::new(Events::with_capacity(64)),
            wake_up,
        })
    }

    /// Watches `reactor`'s epoll set, reporting its events under `key`.
    ///
    /// # Errors
    /// `Unsupported` for a reactor on the `poll` backend, `InvalidInput` for the key
    /// `usize::MAX` (the hub's own); otherwise what `epoll_ctl` says.
    pub fn add(&self, reactor: &Handle, key: usize) -> io::Result<()> {
        if key == WAKE_KEY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a hub's reactor key must be below usize::MAX",
            ));
        }
        let Some(fd) = reactor.inner.selector.epoll_fd() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a hub watches epoll reactors only (poll sets cannot be nested)",
            ));
        };
        self.selector
            .register_readable(fd, key as u64)
            .map_err(|e| with_context(e, "adding a reactor to a hub"))
    }

    /// Waits up to `timeout` (`None`: until a reactor has events or the hub is woken) and
    /// replaces `ready` with the keys of the reactors that got new events. Returns `true` when
    /// [`wake`](Hub::wake) ended the wait (or was called since the last wait). `EINTR` counts
    /// as an empty wait.
    ///
    /// # Errors
    /// `epoll_wait` failed.
    pub fn wait(&self, timeout: Option<Duration>, ready: &mut Vec<usize>) -> io::Result<bool> {
        let mut events = lock(&self.events);
        self.wait_locked(&mut events, timeout, ready)
    }

    /// [`wait`](Hub::wait) with a zero timeout, unless another thread is inside `wait` now:
    /// then returns `Ok(None)` at once instead of queueing behind it. A caller that polls on
    /// behalf of others gets `Some(true)` when it took a [`wake`](Hub::wake) meant for a
    /// sleeper; it passes it on with `wake`.
    ///
    /// # Errors
    /// `epoll_wait` failed.
    pub fn try_poll(&self, ready: &mut Vec<usize>) -> io::Result<Option<bool>> {
        let mut events = match self.events.try_lock() {
            Ok(events) => events,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                ready.clear();
                return Ok(None);
            }
        };
        self.wait_locked(&mut events, Some(Duration::ZERO), ready)
            .map(Some)
    }

    fn wait_locked(
        &self,
        events: &mut Events,
        timeout: Option<Duration>,
        ready: &mut Vec<usize>,
    ) -> io::Result<bool> {
        ready.clear();
        let woken = self.select(events, timeout, ready)?;
        if woken {
            // edge-triggered: the next write is reported again whatever the counter holds
            self.wake_up.clear_pending();
        }
        Ok(woken)
    }

    /// The wait itself: fills `ready`, returns whether the hub's own wake-up was reported.
    #[cfg(not(loom))]
    fn select(
        &self,
        events: &mut Events,
        timeout: Option<Duration>,
        ready: &mut Vec<usize>,
    ) -> io::Result<bool> {
        self.selector.select(events, timeout)?;
        let mut woken = false;
        events.for_each(|event| match event.token as usize {
            WAKE_KEY => woken = true,
            key => ready.push(key),
        });
        Ok(woken)
    }

    /// Under loom only the hub's own wake-up is modelled (`sys::notify`): a wait reports no
    /// reactor, and one with a timeout other than zero lasts until [`wake`](Hub::wake).
    #[cfg(loom)]
    fn select(
        &self,
        _events: &mut Events,
        timeout: Option<Duration>,
        _ready: &mut Vec<usize>,
    ) -> io::Result<bool> {
        Ok(self.wake_up.model_wait(timeout != Some(Duration::ZERO)))
    }

    /// Ends the current or next [`wait`](Hub::wait) with `Ok(true)`. Calls before that wait
    /// returns cost one syscall between them.
    pub fn wake(&self) {
        self.wake_up.wake();
    }
}

impl Handle {
    /// The driver is about to sleep outside [`Reactor::turn`](crate::Reactor::turn) (module
    /// docs): from now until [`unpark_elsewhere`](Handle::unpark_elsewhere), a timer added
    /// with a deadline before this reactor's next one writes its wake-up eventfd. Returns the
    /// time until that next deadline (`None`: no timer pending), which bounds the sleep.
    pub fn park_elsewhere(&self) -> Option<Duration> {
        self.inner.park()
    }

    /// Ends a sleep begun with [`park_elsewhere`](Handle::park_elsewhere).
    pub fn unpark_elsewhere(&self) {
        self.inner.unpark();
    }

    /// `true` while a timer is pending on this reactor.
    pub fn has_timers(&self) -> bool {
        self.inner.timer_count.load(Ordering::Relaxed) > 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Backend, Reactor};
    use std::time::Instant;

    #[test]
    fn reports_each_reactor_under_its_key_once_per_batch() {
        let hub = Hub::new().unwrap();
        let a = Reactor::new(Backend::Epoll).unwrap();
        let mut b = Reactor::new(Backend::Epoll).unwrap();
        hub.add(&a.handle(), 1).unwrap();
        hub.add(&b.handle(), 2).unwrap();
        let mut ready = Vec::new();
        hub.wait(Some(Duration::ZERO), &mut ready).unwrap();
        assert!(ready.is_empty(), "nothing happened yet: {ready:?}");

        b.handle().wake();
        hub.wait(Some(Duration::from_secs(5)), &mut ready).unwrap();
        assert_eq!(ready, [2]);
        // edge-triggered: the same pending event is not reported again...
        hub.wait(Some(Duration::ZERO), &mut ready).unwrap();
        assert!(ready.is_empty(), "reported twice: {ready:?}");
        // ...and turning the reactor consumes it
        b.turn(Some(Duration::ZERO)).unwrap();
        a.handle().wake();
        hub.wait(Some(Duration::from_secs(5)), &mut ready).unwrap();
        assert_eq!(ready, [1]);
    }

    #[test]
    fn a_wake_ends_one_wait_and_touches_no_reactor() {
        let hub = Hub::new().unwrap();
        let reactor = Reactor::new(Backend::Epoll).unwrap();
        hub.add(&reactor.handle(), 3).unwrap();
        let mut ready = Vec::new();
        assert!(!hub.wait(Some(Duration::ZERO), &mut ready).unwrap());
        for _ in 0..3 {
            hub.wake();
            hub.wake(); // coalesced with the first
            let start = Instant::now();
            assert!(hub.wait(Some(Duration::from_secs(5)), &mut ready).unwrap());
            assert!(start.elapsed() < Duration::from_secs(2));
            assert!(ready.is_empty(), "a reactor was reported: {ready:?}");
            // consumed: the next wait times out
            assert!(!hub
                .wait(Some(Duration::from_millis(10)), &mut ready)
                .unwrap());
        }
        let err = hub.add(&reactor.handle(), usize::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn refuses_poll_reactors() {
        let hub = Hub::new().unwrap();
        let reactor = Reactor::new(Backend::Poll).unwrap();
        let err = hub.add(&reactor.handle(), 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn an_earlier_timer_interrupts_a_sleep_elsewhere() {
        let hub = Hub::new().unwrap();
        let mut reactor = Reactor::new(Backend::Epoll).unwrap();
        let handle = reactor.handle();
        hub.add(&handle, 0).unwrap();
        assert!(!handle.has_timers());
        assert_eq!(handle.park_elsewhere(), None);
        let remote = handle.clone();
        let adder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut entry =
                crate::TimerEntry::new(&remote, Instant::now() + Duration::from_millis(50));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(entry.poll_elapsed(&mut cx).is_pending());
            (entry, remote.has_timers())
        });
        let start = Instant::now();
        let mut ready = Vec::new();
        hub.wait(Some(Duration::from_secs(10)), &mut ready).unwrap();
        handle.unpark_elsewhere();
        let (entry, had_timers) = adder.join().unwrap();
        assert!(had_timers);
        assert_eq!(ready, [0], "the timer did not interrupt the hub");
        assert!(start.elapsed() < Duration::from_secs(5));
        reactor.turn(Some(Duration::ZERO)).unwrap();
        drop(entry);
    }
}
