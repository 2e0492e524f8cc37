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
//!   reactor, as every worker does without a hub (the `poll` backend, one worker).
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
    fn from_usize(v: usize) -> Mode {
        match v {
            1 => Mode::Hub,
            2 => Mode::Parker,
            3 => Mode::Reactor,
            _ => Mode::Awake,
        }
    }
}

/// A worker's sleep state, reachable from other threads.
#[derive(Debug)]
pub(super) struct Sleep {
    mode: AtomicUsize,
    /// Set by [`Sleep::wake`]; a sleeper on the hub keeps sleeping until it is up (or work
    /// shows up).
    notified: AtomicBool,
    pub(super) parker: Parker,
}

impl Sleep {
    pub(super) fn new() -> Sleep {
        Sleep {
            mode: AtomicUsize::new(Mode::Awake as usize),
            notified: AtomicBool::new(false),
            parker: Parker::default(),
        }
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
}
