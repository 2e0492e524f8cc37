//! How a parked worker sleeps, and how a helper turns a reactor whose owner is busy or asleep.
//!
//! # One sleeper watches everyone's I/O
//!
//! Each worker has its own reactor (module docs of `multi_thread`). If every parked worker
//! blocked in its own reactor, each would wake for its own sockets' events even when another
//! worker, awake anyway, could have served them: on a machine with fewer free cores than
//! workers those extra wake-ups preempt the load itself. So, on the epoll backend with more than
//! one worker, the reactors' epoll sets are watched by one [`Hub`](weft_reactor::Hub), and a
//! worker that parks sleeps in one of three ways ([`Mode`]):
//!
//! - **Hub**: the first to park takes the hub and waits on it for every reactor's events (and
//!   its own timers). When a reactor reports, it turns that reactor, whoever owns it: `Send`
//!   tasks land in its own queue, pinned ones in their owner's inbox.
//! - **Parker**: the others, if their reactor has no timer pending, sleep on a [`Parker`] until
//!   woken for work. Their sockets are watched by the hub's sleeper; while nobody sleeps on the
//!   hub, by busy workers between batches and by the watchdog each tick.
//! - **Reactor**: a worker with timers pending that cannot take the hub blocks in its own
//!   reactor, as every worker does without a hub (the `poll` backend, one worker). A wake
//!   writes that reactor's wake-up eventfd; a loom model below checks that it always ends the
//!   sleep, with the reactor's own turn (whose wait loom models through that eventfd).
//!
//! # Who holds the hub
//!
//! 1. Only a worker that sleeps on the hub holds it ([`HubState::held`]), from choosing
//!    [`Mode::Hub`] until it is awake again. A worker that finds it held takes its parker.
//! 2. A parker sleeper counts itself in `parker_sleepers`, then looks at `held` once more
//!    (`SeqCst` both): if the hub's sleeper let go meanwhile, it does not block but parks again
//!    and takes the hub.
//! 3. A poller (a busy worker between batches, the watchdog each tick) polls the hub only while
//!    parker sleepers exist and nobody holds it, and does not take it: if it did, a worker
//!    choosing its mode during that moment would take its parker, and with nobody on the hub
//!    the parked workers' I/O would wait for the next tick. So a worker parking meanwhile takes
//!    the hub and waits on it right after the poll (the hub's own lock orders the two waits).
//! 4. The poll may then take the hub's wake-up meant for that worker (it reports it as
//!    `woken`); the poller passes it on with [`Hub::wake`], so the sleeper's wait still ends.
//!    The loom models below check 1-4 against a pinned task pushed for the parking worker.
//!
//! # Turning someone else's reactor
//!
//! A reactor's driver sits behind a lock, held only while turning. A helper that learns of a
//! reactor's events (from the hub) and finds the lock held must not drop them: the holder may
//! already have collected its events before these arrived, and the hub reports each batch only
//! once. [`TurnGate`] closes that gap: the helper raises `missed` and tries once more; a
//! holder looks at `missed` after releasing the lock and turns again if it is up. Either the
//! helper's second try gets the lock or the holder sees the flag (a `SeqCst` fence on each
//! side), so no batch waits for the next event. The loom model below checks it.

use weft_reactor::{Handle as ReactorHandle, Hub};

use crate::shim::{fence, lock, wait, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering};

/// How a parked worker sleeps (module docs). Stored in [`Sleep::mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Awake = 0,
    Hub = 1,
    Parker = 2,
    Reactor = 3,
}

impl Mode {
    /// How a worker about to park sleeps: on the hub if nobody does (taking it), else on its
    /// parker unless `has_timers` (then in its reactor, which watches them); in its reactor when
    /// there is no hub.
    pub(super) fn choose(hub: Option<&HubState>, has_timers: impl FnOnce() -> bool) -> Mode {
        match hub {
            Some(hub) if hub.try_hold() => Mode::Hub,
            Some(_) if !has_timers() => Mode::Parker,
            _ => Mode::Reactor,
        }
    }

    fn from_usize(v: usize) -> Mode {
        match v {
            1 => Mode::Hub,
            2 => Mode::Parker,
            3 => Mode::Reactor,
            _ => Mode::Awake,
        }
    }
}

/// The hub and who holds it (module docs).
#[derive(Debug)]
pub(super) struct HubState {
    pub(super) hub: Hub,
    /// Held by the worker that sleeps on the hub, from choosing [`Mode::Hub`] until it is awake
    /// again, and by nobody else: a thread that polls the hub for a moment
    /// ([`HubState::poll_orphans`]) does not take it, so a worker choosing its mode meanwhile
    /// still finds the hub free.
    pub(super) held: AtomicBool,
    /// Workers sleeping on their parker, whose sockets only the hub watches.
    pub(super) parker_sleepers: AtomicUsize,
}

impl HubState {
    pub(super) fn new(hub: Hub) -> HubState {
        HubState {
            hub,
            held: AtomicBool::new(false),
            parker_sleepers: AtomicUsize::new(0),
        }
    }

    fn try_hold(&self) -> bool {
        !self.held.load(Ordering::Relaxed)
            && self
                .held
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// The hub's sleeper is awake again.
    pub(super) fn release(&self) {
        self.held.store(false, Ordering::Release);
    }

    /// A worker that chose [`Mode::Parker`] counts itself in and publishes its park deadline
    /// (`reactor` is its own). Returns `false` when it must not block after all: a timer was
    /// added since it chose, the hub's sleeper let go since (nobody would watch its sockets:
    /// it parks again and takes the hub), or it was woken already. Either way
    /// [`leave_parker_sleep`](HubState::leave_parker_sleep) follows.
    pub(super) fn enter_parker_sleep(&self, reactor: &ReactorHandle, sleep: &Sleep) -> bool {
        self.parker_sleepers.fetch_add(1, Ordering::SeqCst);
        let timers = reactor.park_elsewhere().is_some();
        !timers && self.held.load(Ordering::SeqCst) && !sleep.take_notified()
    }

    /// Ends a sleep begun with [`enter_parker_sleep`](HubState::enter_parker_sleep).
    pub(super) fn leave_parker_sleep(&self, reactor: &ReactorHandle, sleep: &Sleep) {
        reactor.unpark_elsewhere();
        self.parker_sleepers.fetch_sub(1, Ordering::SeqCst);
        sleep.take_notified();
    }

    /// Polls the hub without blocking when workers sleep on their parkers and nobody sleeps
    /// on the hub for them (a busy worker between batches, the watchdog each tick), filling
    /// `ready` with the reactors to turn for their owners. It does not take the hub: a worker
    /// parking meanwhile takes it and waits on it once this poll is done. If the poll took
    /// the hub's own wake-up, which was meant for that worker, it passes it on.
    pub(super) fn poll_orphans(&self, ready: &mut Vec<usize>) {
        ready.clear();
        if self.parker_sleepers.load(Ordering::SeqCst) == 0 || self.held.load(Ordering::SeqCst) {
            return;
        }
        match self.hub.try_poll(ready) {
            Ok(Some(true)) => self.hub.wake(),
            Ok(_) => {}
            Err(_) => ready.clear(),
        }
    }
}

/// A worker's sleep state, reachable from other threads.
#[derive(Debug)]
pub(super) struct Sleep {
    /// Set while the worker sleeps (or is about to): a thread that queues a pinned task for it
    /// wakes it then ([`Sleep::parked_after_push`]).
    parked: AtomicBool,
    mode: AtomicUsize,
    /// Set by [`Sleep::wake`]; a sleeper on the hub keeps sleeping until it is up (or work
    /// shows up).
    notified: AtomicBool,
    pub(super) parker: Parker,
}

impl Sleep {
    pub(super) fn new() -> Sleep {
        Sleep {
            parked: AtomicBool::new(false),
            mode: AtomicUsize::new(Mode::Awake as usize),
            notified: AtomicBool::new(false),
            parker: Parker::default(),
        }
    }

    /// Marks the worker parked, then a `SeqCst` fence; the worker looks at its inbox after it.
    /// Pairs with [`parked_after_push`](Sleep::parked_after_push): either the worker sees the
    /// pushed task, or the pusher sees it parked.
    pub(super) fn set_parked(&self) {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The worker is awake again.
    pub(super) fn clear_parked(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Called after pushing a task into the worker's inbox from another thread: `true` when
    /// the worker parked (or is about to) and must be woken.
    #[inline]
    pub(super) fn parked_after_push(&self) -> bool {
        fence(Ordering::SeqCst);
        self.parked.load(Ordering::SeqCst)
    }

    /// Publishes how this worker is about to sleep (before it counts itself parked, so whoever
    /// wakes it reads the right mode), or `Awake` after.
    pub(super) fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as usize, Ordering::SeqCst);
    }

    pub(super) fn mode(&self) -> Mode {
        Mode::from_usize(self.mode.load(Ordering::SeqCst))
    }

    /// Takes the notification, if any. A sleeper calls it after publishing its mode and a
    /// `SeqCst` fence (`Worker::park` has one): then either `wake` saw the mode, or this sees
    /// the flag.
    pub(super) fn take_notified(&self) -> bool {
        self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::SeqCst)
    }

    /// Wakes the worker however it sleeps: `wake_hub` interrupts a wait on the hub,
    /// `wake_reactor` one in its reactor.
    pub(super) fn wake(&self, wake_hub: impl FnOnce(), wake_reactor: impl FnOnce()) {
        self.notified.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        match self.mode() {
            Mode::Parker => self.parker.unpark(),
            Mode::Hub => wake_hub(),
            Mode::Reactor => wake_reactor(),
            // it checks its queues (and `closing`) after publishing a mode, before sleeping
            Mode::Awake => {}
        }
    }
}

/// A thread parker: `unpark` before `park` is remembered.
#[derive(Debug, Default)]
pub(super) struct Parker {
    notified: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    pub(super) fn park(&self) {
        let mut notified = lock(&self.notified);
        while !*notified {
            notified = wait(&self.cv, notified);
        }
        *notified = false;
    }

    pub(super) fn unpark(&self) {
        *lock(&self.notified) = true;
        self.cv.notify_one();
    }
}

/// The `missed` hand-off between a reactor's lock holder and a helper (module docs).
#[derive(Debug, Default)]
pub(super) struct TurnGate {
    missed: AtomicBool,
}

impl TurnGate {
    /// Call right after taking the driver's lock, before collecting events: a flag raised
    /// before this point is covered by the coming turn.
    pub(super) fn locked(&self) {
        if self.missed.load(Ordering::Relaxed) {
            self.missed.store(false, Ordering::SeqCst);
        }
    }

    /// Call after releasing the driver's lock: `true` when a helper found it held and the
    /// caller must turn again.
    pub(super) fn unlocked(&self) -> bool {
        fence(Ordering::SeqCst);
        self.missed.load(Ordering::Relaxed) && self.missed.swap(false, Ordering::SeqCst)
    }

    /// A helper found the lock held: raise the flag; the caller then tries the lock once more.
    pub(super) fn raise(&self) {
        self.missed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;
    use weft_reactor::Backend;

    /// A reactor stand-in: `pending` events wait in the kernel; a turn collects them into
    /// `collected` while holding the driver. The driver lock is a CAS flag (acquire on lock,
    /// release on unlock, as a mutex): loom explores a failed `Mutex::try_lock` against the
    /// holder's unlock less thoroughly than plain atomics.
    struct Reactor {
        pending: AtomicUsize,
        collected: AtomicUsize,
        held: AtomicBool,
        gate: TurnGate,
    }

    impl Reactor {
        fn try_lock(&self) -> bool {
            self.held
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }

        /// `Remote::turn`'s shape: lock, collect, unlock, turn again while `missed` is up.
        fn turn(&self, blocking: bool) -> bool {
            loop {
                while !self.try_lock() {
                    if !blocking {
                        return false;
                    }
                    thread::yield_now();
                }
                self.gate.locked();
                let events = self.pending.swap(0, Ordering::Relaxed);
                self.collected.fetch_add(events, Ordering::Relaxed);
                self.held.store(false, Ordering::Release);
                if !self.gate.unlocked() {
                    return true;
                }
            }
        }

        /// `Remote::help_turn`'s shape.
        fn help(&self) {
            if !self.turn(false) {
                self.gate.raise();
                self.turn(false);
            }
        }
    }

    #[test]
    fn an_event_reported_to_a_helper_is_never_left_behind() {
        loom::model(|| {
            let reactor = Arc::new(Reactor {
                pending: AtomicUsize::new(0),
                collected: AtomicUsize::new(0),
                held: AtomicBool::new(false),
                gate: TurnGate::default(),
            });
            let owner = {
                let reactor = reactor.clone();
                thread::spawn(move || {
                    reactor.turn(true);
                })
            };
            // the event arrives, the hub reports it, the helper turns or hands it off
            reactor.pending.fetch_add(1, Ordering::Relaxed);
            reactor.help();
            owner.join().unwrap();
            let collected = reactor.collected.load(Ordering::Relaxed);
            assert_eq!(collected, 1, "an event was stranded");
        });
    }

    #[test]
    fn a_wake_is_never_lost_whatever_the_mode() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let reactor_woken = Arc::new(AtomicBool::new(false));
            let waker = {
                let sleep = sleep.clone();
                let reactor_woken = reactor_woken.clone();
                thread::spawn(move || {
                    let woken_elsewhere = || reactor_woken.store(true, Ordering::SeqCst);
                    sleep.wake(woken_elsewhere, woken_elsewhere);
                })
            };
            // the worker publishes its mode, then sleeps on the parker unless notified
            sleep.set_mode(Mode::Parker);
            fence(Ordering::SeqCst); // `Worker::park`'s fence
            if !sleep.take_notified() {
                sleep.parker.park();
            }
            sleep.set_mode(Mode::Awake);
            waker.join().unwrap();
            assert!(!reactor_woken.load(Ordering::SeqCst));
        });
    }

    /// A hub whose sleeper is someone else when `held`, and `orphans` workers asleep on their
    /// parkers that nobody watches (so pollers poll).
    fn hub(held: bool, orphans: usize) -> Arc<HubState> {
        let state = HubState::new(Hub::new().unwrap());
        state.held.store(held, Ordering::Relaxed);
        state.parker_sleepers.store(orphans, Ordering::Relaxed);
        Arc::new(state)
    }

    /// A poller (the watchdog's tick, or a busy worker between batches).
    fn poller(hub: &Arc<HubState>) -> thread::JoinHandle<()> {
        let hub = hub.clone();
        thread::spawn(move || hub.poll_orphans(&mut Vec::new()))
    }

    /// The known race: a worker chooses how to sleep while the watchdog polls the hub for an
    /// orphaned sibling. If it ends up on its parker, a sleeper must be on the hub: nothing
    /// else watches its sockets until the next tick. (Before the fix the poll held the hub, the
    /// worker took the parker, and nobody slept on the hub.)
    #[test]
    fn loom_a_poll_of_the_hub_never_sends_a_parking_worker_to_its_parker() {
        loom::model(|| {
            let hub = hub(false, 1);
            let reactor = weft_reactor::Reactor::new(Backend::Epoll).unwrap().handle();
            let sleep = Sleep::new();
            let poller = poller(&hub);
            let mode = Mode::choose(Some(&hub), || false);
            sleep.set_mode(mode);
            sleep.set_parked();
            let on_parker = mode == Mode::Parker && hub.enter_parker_sleep(&reactor, &sleep);
            poller.join().unwrap();
            assert!(
                !on_parker || hub.held.load(Ordering::SeqCst),
                "asleep on its parker ({mode:?}) with nobody on the hub"
            );
            if mode == Mode::Parker {
                hub.leave_parker_sleep(&reactor, &sleep);
            }
        });
    }

    /// A worker parks (`Worker::park`'s steps, sleeping however it chose, and parking again
    /// when it slept for nothing) while another thread queues a pinned task for it
    /// (`PinnedTo::schedule`'s steps) and a poller polls the hub: the worker ends up seeing
    /// the task. A lost wake-up leaves it asleep for ever, which loom reports as a deadlock.
    /// `timers`: the worker has timers pending, so with the hub held it sleeps in its own
    /// reactor (a blocking turn; under loom only the reactor's wake-up eventfd can end it).
    fn a_pinned_task_always_wakes_its_worker(held: bool, orphans: usize, timers: bool) {
        loom::model(move || {
            let hub = hub(held, orphans);
            let mut driver = weft_reactor::Reactor::new(Backend::Epoll).unwrap();
            let reactor = driver.handle();
            let sleep = Arc::new(Sleep::new());
            let inbox = Arc::new(AtomicUsize::new(0));
            let pusher = {
                let (hub, reactor, sleep, inbox) =
                    (hub.clone(), reactor.clone(), sleep.clone(), inbox.clone());
                thread::spawn(move || {
                    inbox.fetch_add(1, Ordering::Release);
                    if sleep.parked_after_push() {
                        // `Shared::wake_worker`
                        sleep.wake(|| hub.hub.wake(), || reactor.wake());
                    }
                })
            };
            let poller = poller(&hub);
            let mut ready = Vec::new();
            while inbox.load(Ordering::Acquire) == 0 {
                let mode = Mode::choose(Some(&hub), || timers);
                sleep.set_mode(mode);
                sleep.set_parked();
                if inbox.load(Ordering::Acquire) == 0 {
                    match mode {
                        Mode::Hub => loop {
                            // `Worker::sleep_on_hub` (no reactor reports: a model hub)
                            hub.hub.wait(None, &mut ready).unwrap();
                            if sleep.take_notified() || inbox.load(Ordering::Acquire) > 0 {
                                break;
                            }
                        },
                        Mode::Parker => {
                            if hub.enter_parker_sleep(&reactor, &sleep) {
                                sleep.parker.park();
                            }
                            hub.leave_parker_sleep(&reactor, &sleep);
                        }
                        // `Worker::turn(None)`
                        Mode::Reactor => {
                            driver.turn(None).unwrap();
                        }
                        Mode::Awake => unreachable!("a parking worker chose how to sleep"),
                    }
                }
                sleep.set_mode(Mode::Awake);
                if mode == Mode::Hub {
                    hub.release();
                }
                sleep.clear_parked();
            }
            pusher.join().unwrap();
            poller.join().unwrap();
        });
    }

    /// The hub is free; another worker sleeps orphaned on its parker, so a poller polls: the
    /// worker sleeps on the hub, and the poll must not swallow the hub's wake-up meant for it.
    #[test]
    fn loom_a_pinned_task_wakes_its_worker_on_the_hub() {
        a_pinned_task_always_wakes_its_worker(false, 1, false);
    }

    /// A sibling sleeps on the hub: the worker sleeps on its parker.
    #[test]
    fn loom_a_pinned_task_wakes_its_worker_on_its_parker() {
        a_pinned_task_always_wakes_its_worker(true, 0, false);
    }

    /// A sibling sleeps on the hub and the worker has timers pending: it sleeps in its own
    /// reactor.
    #[test]
    fn loom_a_pinned_task_wakes_its_worker_in_its_reactor() {
        a_pinned_task_always_wakes_its_worker(true, 0, true);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The hub's wake-up is meant for the worker that sleeps on it; a poll on behalf of an
    /// orphaned parker sleeper that takes it passes it on, so the sleeper's wait still ends.
    #[test]
    fn a_poll_for_orphans_passes_on_the_wake_up_it_took() {
        let state = HubState::new(Hub::new().unwrap());
        state.parker_sleepers.store(1, Ordering::SeqCst);
        state.hub.wake();
        let mut ready = Vec::new();
        state.poll_orphans(&mut ready);
        assert!(ready.is_empty());
        assert!(!state.held.load(Ordering::SeqCst), "a poll took the hub");
        let start = Instant::now();
        assert!(state
            .hub
            .wait(Some(Duration::from_secs(5)), &mut ready)
            .unwrap());
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
