//! The reactor: one selector, the registered sources, the timer wheel and the wake-up eventfd.
//!
//! [`Reactor`] is the *driver*, owned by the one thread that waits on the selector. [`Handle`]
//! is the cheap, cloneable, thread-safe side that registers sources and timers and wakes the
//! driver.
//!
//! # One turn of the driver
//!
//! 1. If the caller is willing to block, lock the wheel, compute the next deadline, publish it in
//!    `parked_until`, and unlock. A timer inserted later by another thread with an earlier
//!    deadline sees `parked_until` under the same lock and wakes the driver through the eventfd.
//! 2. Wait in the selector until an event, the deadline, or a wake-up.
//! 3. Lock the source slab once for the whole batch; for each event whose token's generation
//!    matches its slot, set the source's readiness and offer the wakers it releases to the
//!    caller's [`WakeHook`] (which may wake them in place), collecting the rest. Events for a slot
//!    that was freed and reused (older generation) are dropped.
//! 4. If timers are pending, fire the expired ones, again collecting wakers.
//! 5. Wake everything collected, with no reactor lock held, because a waker may drop the last
//!    reference to a task whose output holds a socket, and that socket deregisters itself.

use crate::error::with_context;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::readiness::{Direction, ReadyEvent, ScheduledIo, WakeHook};
use crate::sync::{lock, Arc, AtomicU64, AtomicUsize, Mutex, Ordering};
#[cfg(loom)]
use crate::sys::EventBits;
use crate::sys::{notify::Notifier, Backend, Event, Events, Interest, Selector};
use crate::timer::wheel::Wheel;
use crate::token;

/// Events collected per wait.
const EVENTS_PER_WAIT: usize = 1024;

/// The driver half: waits for events and timers and wakes whoever waits on them.
#[derive(Debug)]
pub struct Reactor {
    inner: Arc<Inner>,
    events: Events,
    wake: Vec<Waker>,
}

/// The shared half of a reactor: registers sources and timers, wakes the driver.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) selector: Selector,
    backend: Backend,
    notifier: Notifier,
    sources: Mutex<Sources>,
    pub(crate) timers: Mutex<Wheel>,
    /// Mirrors `timers.pending()`, so a turn with no timers never locks the wheel or reads the
    /// clock.
    pub(crate) timer_count: AtomicUsize,
    /// While the driver blocks: the deadline (ns since `base`) it will wake at by itself,
    /// `u64::MAX` for none. 0 while it is not blocked.
    pub(crate) parked_until: AtomicU64,
    base: Instant,
    /// Events dropped because their slot had been reused (a test hook and a diagnostic).
    stale_events: AtomicUsize,
}

#[derive(Debug, Default)]
struct Sources {
    slab: Slab<Source>,
    next_generation: u32,
    shut_down: bool,
}

#[derive(Debug)]
struct Source {
    io: Arc<ScheduledIo>,
    generation: u32,
}

impl Reactor {
    /// A reactor on `backend`.
    ///
    /// # Errors
    /// The selector or eventfd could not be created (for example, out of descriptors).
    pub fn new(backend: Backend) -> io::Result<Reactor> {
        let selector = Selector::new(backend)
            .map_err(|e| with_context(e, format_args!("creating the {backend:?} selector")))?;
        let notifier =
            Notifier::new().map_err(|e| with_context(e, "creating the wake-up eventfd"))?;
        // nobody waits in the selector yet, so no wake-up is needed
        selector.register_wakeup(notifier.raw_fd(), token::WAKE)?;
        let inner = Arc::new(Inner {
            selector,
            backend,
            notifier,
            sources: Mutex::new(Sources::default()),
            timers: Mutex::new(Wheel::default()),
            timer_count: AtomicUsize::new(0),
            parked_until: AtomicU64::new(0),
            base: Instant::now(),
            stale_events: AtomicUsize::new(0),
        });
        Ok(Reactor {
            inner,
            events: Events::with_capacity(EVENTS_PER_WAIT),
            wake: Vec::with_capacity(EVENTS_PER_WAIT),
        })
    }

    /// The shared handle.
    pub fn handle(&self) -> Handle {
        Handle {
            inner: self.inner.clone(),
        }
    }

    /// Waits up to `timeout` (`None`: until something happens) and wakes the tasks whose
    /// sources became ready or whose timers expired. Returns how many wakers it woke.
    ///
    /// # Errors
    /// The selector failed (not `EINTR`, which counts as an empty wait).
    pub fn turn(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        self.turn_with(timeout, &mut ())
    }

    /// [`turn`](Reactor::turn), offering every waker an I/O event releases to `hook` first (see
    /// [`WakeHook`] for what it may do). Returns how many wakers the reactor woke itself; those
    /// woken in place are the hook's to count.
    ///
    /// # Errors
    /// The selector failed (not `EINTR`, which counts as an empty wait).
    pub fn turn_with(
        &mut self,
        timeout: Option<Duration>,
        hook: &mut impl WakeHook,
    ) -> io::Result<usize> {
        let inner = &*self.inner;
        let blocking = timeout != Some(Duration::ZERO);
        let mut timeout = timeout;
        if blocking {
            if let Some(until) = inner.park() {
                timeout = Some(timeout.map_or(until, |t| t.min(until)));
            }
        }
        // (under loom the selector only polls; the wait itself is modelled just below)
        let timeout = if cfg!(loom) {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let selected = inner.selector.select(&mut self.events, timeout);
        #[cfg(loom)]
        inner.model_wake_up(&mut self.events, blocking);
        if blocking {
            inner.unpark();
        }
        selected?;
        inner.dispatch(&self.events, hook, &mut self.wake);
        if inner.timer_count.load(Ordering::Relaxed) > 0 {
            let now = inner.now_ns();
            let mut wheel = lock(&inner.timers);
            wheel.process(now, &mut self.wake);
            inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
        }
        let woken = self.wake.len();
        self.wake.drain(..).for_each(Waker::wake);
        Ok(woken)
    }
}

impl Drop for Reactor {
    /// Shutdown: every registered source completes its waits with an error and every timer
    /// fires (also one first polled or reset afterwards), so no task stays parked on a reactor
    /// that will never turn again.
    fn drop(&mut self) {
        let inner = &*self.inner;
        {
            let mut sources = lock(&inner.sources);
            sources.shut_down = true;
            for (_, source) in sources.slab.iter() {
                source.io.shutdown(&mut self.wake);
            }
        }
        {
            let mut wheel = lock(&inner.timers);
            wheel.close(&mut self.wake);
            inner.timer_count.store(wheel.pending(), Ordering::Relaxed);
        }
        self.wake.drain(..).for_each(Waker::wake);
    }
}

impl Inner {
    pub(crate) fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
    }

    /// Nanoseconds from `base` to `deadline` (0 for a deadline before the reactor existed).
    pub(crate) fn ns_of(&self, deadline: Instant) -> u64 {
        deadline
            .saturating_duration_since(self.base)
            .as_nanos()
            .min(u128::from(u64::MAX - 1)) as u64
    }

    fn dispatch(&self, events: &Events, hook: &mut impl WakeHook, wake: &mut Vec<Waker>) {
        if events.is_empty() {
            return;
        }
        let sources = lock(&self.sources);
        for event in events.epoll() {
            self.dispatch_one(&sources, event, hook, wake);
        }
        for event in events.ready() {
            self.dispatch_one(&sources, event, hook, wake);
        }
    }

    /// One event of a batch (step 3 of a turn). Inlined into both loops of `dispatch`: this is
    /// the per-event hot path, and a call per event costs a prologue and an epilogue.
    #[inline(always)]
    fn dispatch_one(
        &self,
        sources: &Sources,
        event: Event,
        hook: &mut impl WakeHook,
        wake: &mut Vec<Waker>,
    ) {
        if event.token == token::WAKE {
            self.wake_event();
            return;
        }
        let (index, generation) = token::unpack(event.token);
        match sources.slab.get(index) {
            Some(source) if source.generation == generation => {
                source.io.set_readiness(event.bits, hook, wake);
            }
            _ => {
                self.stale_events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Under loom the wake-up eventfd is modelled (`sys::notify`): a turn polls the selector,
    /// then reports the wake-up if there was one; a blocking turn first waits for it. Time does
    /// not pass in a model, so no timeout or timer ends that wait: a lost wake-up shows as
    /// loom's deadlock.
    #[cfg(loom)]
    fn model_wake_up(&self, events: &mut Events, blocking: bool) {
        if self.notifier.model_wait(blocking) {
            events.add_modelled(Event {
                token: token::WAKE,
                bits: EventBits(EventBits::READABLE),
            });
        }
    }

    /// The wake-up eventfd fired: drain it (and re-arm it where the backend needs that).
    #[cold]
    #[inline(never)]
    fn wake_event(&self) {
        self.notifier.drain();
        // The poll(2) backend disarmed the eventfd when it reported it; without this, only the
        // first cross-thread wake-up would ever interrupt a blocking wait.
        self.selector
            .rearm(self.notifier.raw_fd(), token::WAKE, Interest::Read);
    }

    /// Step 1 of a turn, for a driver about to block (in its selector or elsewhere): publishes
    /// the next deadline in `parked_until` under the wheel's lock, so that a timer inserted
    /// from now on with an earlier one wakes the driver ([`Inner::wake_if_parked_past`], under
    /// the same lock). Returns the time until that deadline (`None`: no timer pending).
    pub(crate) fn park(&self) -> Option<Duration> {
        let wheel = lock(&self.timers);
        let deadline = wheel.next_deadline();
        self.parked_until
            .store(deadline.unwrap_or(u64::MAX).max(1), Ordering::SeqCst);
        deadline.map(|d| Duration::from_nanos(d.saturating_sub(self.now_ns())))
    }

    /// The driver is awake again: timers need not wake it.
    pub(crate) fn unpark(&self) {
        self.parked_until.store(0, Ordering::SeqCst);
    }

    /// Wakes the driver if it is blocked past `deadline` (ns). Call with the wheel locked.
    pub(crate) fn wake_if_parked_past(&self, deadline: u64) {
        let parked = self.parked_until.load(Ordering::SeqCst);
        if parked != 0 && deadline < parked {
            self.notifier.wake();
        }
    }
}

impl Handle {
    /// Registers `fd` for both directions. The returned [`Registration`] must be dropped before
    /// the descriptor is closed (declare it before the socket in the owning struct).
    ///
    /// # Errors
    /// The reactor has shut down, or the selector refused the descriptor.
    pub fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::default());
        let token = {
            let mut sources = lock(&self.inner.sources);
            if sources.shut_down {
                return Err(io::Error::other("weft reactor has shut down"));
            }
            let generation = sources.next_generation;
            sources.next_generation = generation.wrapping_add(1);
            let index = sources.slab.insert(Source {
                io: io.clone(),
                generation,
            });
            token::pack(index, generation)
        };
        let fd = fd.as_raw_fd();
        match self.inner.selector.register(fd, token) {
            Ok(true) => self.wake(),
            Ok(false) => {}
            Err(e) => {
                lock(&self.inner.sources)
                    .slab
                    .remove(token::unpack(token).0);
                return Err(with_context(e, "registering a socket with the reactor"));
            }
        }
        Ok(Registration {
            handle: self.clone(),
            io,
            token,
            fd,
            rearm: self.inner.backend == Backend::Poll,
        })
    }

    /// Makes the driver's current or next wait return at once. Safe from any thread; many calls
    /// before the driver wakes cost one syscall.
    pub fn wake(&self) {
        self.inner.notifier.wake();
    }

    /// The backend this reactor runs on.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// `true` when both handles belong to the same reactor.
    pub fn ptr_eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How many events named a slot that had since been reused (and were dropped).
    pub fn stale_events(&self) -> usize {
        self.inner.stale_events.load(Ordering::Relaxed)
    }
}

/// One source registered with a reactor: its readiness and waiting tasks.
///
/// Operations follow one pattern: [`poll_ready`](Registration::poll_ready), try the syscall, and
/// on `EAGAIN` call [`clear_readiness`](Registration::clear_readiness) with the event that
/// `poll_ready` returned, then poll again.
#[derive(Debug)]
pub struct Registration {
    handle: Handle,
    io: Arc<ScheduledIo>,
    token: u64,
    fd: RawFd,
    /// The backend emulates edges and must hear about drained directions (`poll(2)`).
    rearm: bool,
}

impl Registration {
    /// Ready when `direction` may make progress; otherwise the task is woken when it may.
    ///
    /// # Errors
    /// The reactor has shut down.
    #[inline]
    pub fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(cx, direction)
    }

    /// [`poll_ready`](Registration::poll_ready) for an operation several tasks may wait on at
    /// once (methods taking `&self`: accept, UDP, `readable`). When this task waits beside
    /// another, a clone of its waker is lent to the source and recorded in `lent`; an
    /// operation dropped before it completes hands `lent` to
    /// [`withdraw`](Registration::withdraw), so that the source does not keep its task alive.
    ///
    /// # Errors
    /// The reactor has shut down.
    #[inline]
    pub fn poll_ready_shared(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        lent: &mut Option<Waker>,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready_shared(cx, direction, lent)
    }

    /// Takes back the waker a dropped operation lent (see
    /// [`poll_ready_shared`](Registration::poll_ready_shared)); nothing when `lent` is empty.
    pub fn withdraw(&self, direction: Direction, lent: &mut Option<Waker>) {
        self.io.withdraw(direction, lent);
    }

    /// The readiness cached for `direction` now, without waiting: `None` when the last
    /// operation drained it and no edge came since (a syscall would say `EAGAIN`).
    ///
    /// # Errors
    /// The reactor has shut down.
    #[inline]
    pub fn ready_now(&self, direction: Direction) -> io::Result<Option<ReadyEvent>> {
        self.io.ready_now(direction)
    }

    /// The syscall said `EAGAIN` (or a short read/write proved the socket drained): forget the
    /// readiness `event` reported, unless a newer edge arrived meanwhile.
    #[inline]
    pub fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
        if self.rearm {
            self.rearm(event);
        }
    }

    #[cold]
    fn rearm(&self, event: ReadyEvent) {
        let interest = match event.direction() {
            Direction::Read => Interest::Read,
            Direction::Write => Interest::Write,
        };
        if self
            .handle
            .inner
            .selector
            .rearm(self.fd, self.token, interest)
        {
            self.handle.wake();
        }
    }

    /// The reactor this source is registered with.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let inner = &*self.handle.inner;
        // The descriptor is still open (see `Handle::register`); a failure here only means the
        // reactor is gone or the fd was never added, and the generation check covers late events.
        let _ = inner.selector.deregister(self.fd);
        let removed = {
            let mut sources = lock(&inner.sources);
            let (index, generation) = token::unpack(self.token);
            match sources.slab.get(index) {
                Some(s) if s.generation == generation => Some(sources.slab.remove(index)),
                _ => None,
            }
        };
        let waiters = self.io.take_waiters();
        drop((removed, waiters));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sys::EventBits;
    use std::os::fd::AsFd;

    #[test]
    fn a_late_event_for_a_reused_slot_is_dropped() {
        let reactor = Reactor::new(Backend::Epoll).unwrap();
        let handle = reactor.handle();
        let (a, _a_peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (b, _b_peer) = std::os::unix::net::UnixStream::pair().unwrap();

        let first = handle.register(a.as_fd()).unwrap();
        let stale_token = first.token;
        drop(first);
        let second = handle.register(b.as_fd()).unwrap();
        assert_eq!(
            token::unpack(second.token).0,
            token::unpack(stale_token).0,
            "the slot is reused"
        );

        let late = Event {
            token: stale_token,
            bits: EventBits(EventBits::READABLE),
        };
        let mut wake = Vec::new();
        reactor
            .inner
            .dispatch(&Events::synthetic(late), &mut (), &mut wake);
        assert_eq!(handle.stale_events(), 1);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        // The newcomer was never told it is readable.
        let _ = second.poll_ready(&mut cx, Direction::Write);
        assert!(second.poll_ready(&mut cx, Direction::Read).is_pending());
        let fresh = Event {
            token: second.token,
            bits: EventBits(EventBits::READABLE),
        };
        reactor
            .inner
            .dispatch(&Events::synthetic(fresh), &mut (), &mut wake);
        assert!(second.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    /// Regression: the poll backend disarmed the wake-up eventfd after reporting it once, so
    /// every later `Handle::wake` from another thread went unheard until a timer fired.
    #[test]
    fn a_source_registered_during_a_blocking_turn_is_polled_at_once() {
        // the poll backend builds its descriptor list per wait: registering from another
        // thread must wake the waiting driver, or the new socket is ignored until the timeout
        for backend in [Backend::Epoll, Backend::Poll] {
            let mut reactor = Reactor::new(backend).unwrap();
            let handle = reactor.handle();
            let registering = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let registrar = {
                let registering = registering.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
                    registering.store(true, Ordering::SeqCst);
                    let registration = handle.register(a.as_fd()).unwrap();
                    (registration, a, b)
                })
            };
            let start = Instant::now();
            // a turn may return early for an unrelated event (the poll backend reports the
            // wake-up eventfd writable at first); the one that counts is the first turn that
            // returns after the registration began
            while !registering.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
                reactor.turn(Some(Duration::from_secs(5))).unwrap();
            }
            let took = start.elapsed();
            assert!(took < Duration::from_secs(2), "{backend:?}: took {took:?}");
            drop(registrar.join().unwrap());
        }
    }

    #[test]
    fn every_cross_thread_wake_interrupts_a_blocking_turn() {
        for backend in [Backend::Epoll, Backend::Poll] {
            let mut reactor = Reactor::new(backend).unwrap();
            for round in 0..3 {
                let handle = reactor.handle();
                let waker = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(10));
                    handle.wake();
                });
                let start = Instant::now();
                reactor.turn(Some(Duration::from_secs(5))).unwrap();
                let took = start.elapsed();
                assert!(
                    took < Duration::from_secs(2),
                    "{backend:?}, round {round}: the wake-up took {took:?}"
                );
                waker.join().unwrap();
            }
        }
    }
}

/// Model checks of the timer hand-off to a parked driver (`RUSTFLAGS="--cfg loom" cargo test
/// -p weft-reactor --release --lib loom`). The wake-up eventfd is modelled (`sys::notify`).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::TimerEntry;

    /// How the timer that is due earliest comes, while the driver parks.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Earlier {
        /// Added when no timer is pending (the driver would sleep with no deadline).
        First,
        /// Added before a pending later one (the driver would sleep until that one).
        BeforeALater,
        /// The pending later one, moved earlier with `reset`.
        ResetFromLater,
    }

    /// A driver about to block publishes its deadline (step 1 of a turn, or `park_elsewhere`)
    /// while another thread makes a timer due earlier than any pending one: either the
    /// driver's deadline is that timer's, or the driver is woken. Otherwise it would sleep past
    /// it.
    fn an_earlier_timer_reaches_a_parking_driver(how: Earlier) {
        loom::model(move || {
            let reactor = Reactor::new(Backend::Epoll).unwrap();
            let handle = reactor.handle();
            let start = Instant::now();
            let mut later = TimerEntry::new(&handle, start + Duration::from_secs(7200));
            if how != Earlier::First {
                let mut cx = Context::from_waker(Waker::noop());
                assert!(later.poll_elapsed(&mut cx).is_pending());
            }
            let adder = {
                let handle = handle.clone();
                loom::thread::spawn(move || {
                    let deadline = start + Duration::from_secs(3600);
                    if how == Earlier::ResetFromLater {
                        later.reset(deadline);
                        return vec![later];
                    }
                    let mut entry = TimerEntry::new(&handle, deadline);
                    let mut cx = Context::from_waker(Waker::noop());
                    assert!(entry.poll_elapsed(&mut cx).is_pending());
                    vec![entry, later]
                })
            };
            let inner = &*handle.inner;
            inner.park();
            let entries = adder.join().unwrap();
            // still parked: what it sleeps until, and whether its selector wait would end now
            let sleeps_until = inner.parked_until.load(Ordering::SeqCst);
            let woken = inner.notifier.model_wait(false);
            inner.unpark();
            assert!(
                woken || sleeps_until <= inner.ns_of(entries[0].deadline()),
                "the driver sleeps past the earlier timer unwoken"
            );
            drop((entries, reactor));
        });
    }

    #[test]
    fn loom_an_earlier_timer_wakes_a_driver_with_no_timer() {
        an_earlier_timer_reaches_a_parking_driver(Earlier::First);
    }

    #[test]
    fn loom_an_earlier_timer_wakes_a_driver_with_a_later_timer() {
        an_earlier_timer_reaches_a_parking_driver(Earlier::BeforeALater);
    }

    #[test]
    fn loom_a_timer_reset_earlier_wakes_a_driver_parked_until_it() {
        an_earlier_timer_reaches_a_parking_driver(Earlier::ResetFromLater);
    }
}
