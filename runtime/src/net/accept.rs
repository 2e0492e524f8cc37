//! The accept loop every listener shares (TCP and Unix): readiness, the syscall, and the
//! timer-driven backoff when the process runs out of descriptors.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use weft_reactor::{socket, Direction, TimerEntry};

use super::source::Source;
use crate::coop;
use crate::shim::{lock, Mutex, MutexGuard};

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

/// The backoff state of one listener; `T` is its timer (a [`TimerEntry`]; loom models pass a
/// flag instead, since loom cannot model time).
///
/// The protocol, all under the [`SharedBackoff`] mutex:
/// 1. An accept that runs out of descriptors sets `timer`, polls it with the listener's own
///    waker, and lists its task in `waiting`.
/// 2. While `timer` is set, no accept is tried: each one polls the timer; pending, it lists its
///    task and waits ([`SharedBackoff::poll_ready`]).
/// 3. When the timer fires, its waker takes the whole list and wakes it (after the lock).
/// 4. The first accept to find the timer elapsed clears it and takes what is left on the list
///    (if it got there before step 3's wake-up), waking them after releasing the lock, then
///    retries.
///
/// So `waiting` is only ever non-empty while `timer` is set, and every listed task is woken once
/// the timer elapses, unless its `accept` was dropped first ([`BackoffWait`]).
#[derive(Debug)]
struct Backoff<T> {
    delay: Option<Duration>,
    timer: Option<T>,
    /// Every task waiting for the timer (several may accept on one shared listener). The timer
    /// itself is polled with the listener's own waker ([`SharedBackoff`]), which wakes them all
    /// when it fires, so no `accept` dropped meanwhile can take the wake-up with it.
    waiting: Vec<Waker>,
}

impl<T> Default for Backoff<T> {
    fn default() -> Backoff<T> {
        Backoff {
            delay: None,
            timer: None,
            waiting: Vec::new(),
        }
    }
}

/// The backoff state, and the waker its timer fires.
#[derive(Debug)]
struct SharedBackoff<T = TimerEntry>(Mutex<Backoff<T>>);

impl<T> Default for SharedBackoff<T> {
    fn default() -> SharedBackoff<T> {
        SharedBackoff(Mutex::new(Backoff::default()))
    }
}

impl<T> SharedBackoff<T> {
    fn lock(&self) -> MutexGuard<'_, Backoff<T>> {
        lock(&self.0)
    }

    /// Steps 2 and 4: `None` while the backoff timer runs (the task of `waker` is listed, and
    /// remembered in `listed`); otherwise the locked state, for an accept to go ahead.
    /// `poll_timer` polls the timer with the listener's waker. Runs on every accept: without a
    /// timer it costs one lock and one test.
    #[inline]
    fn poll_ready(
        &self,
        waker: &Waker,
        mut listed: Option<&mut Option<Waker>>,
        mut poll_timer: impl FnMut(&mut T) -> Poll<()>,
    ) -> Option<MutexGuard<'_, Backoff<T>>> {
        loop {
            let mut backoff = self.lock();
            let Some(timer) = backoff.timer.as_mut() else {
                // The list is only ever filled while a timer is set, so this task is not on it.
                if let Some(listed) = listed {
                    *listed = None;
                }
                return Some(backoff);
            };
            if poll_timer(timer).is_pending() {
                backoff.wait(waker, listed.as_deref_mut());
                return None;
            }
            backoff.timer = None;
            let ended = std::mem::take(&mut backoff.waiting);
            // Waking may run a task's code, or free a task whose `accept` takes this lock in
            // its drop: not under the lock. Another accept may set a new timer meanwhile,
            // hence the loop.
            drop(backoff);
            ended.into_iter().for_each(Waker::wake);
        }
    }
}

impl<T: Send + 'static> Wake for SharedBackoff<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// The timer fired: every task waiting for it retries its `accept` (step 3).
    fn wake_by_ref(self: &Arc<Self>) {
        let waiting = std::mem::take(&mut self.lock().waiting);
        waiting.into_iter().for_each(Waker::wake);
    }
}

impl<T> Backoff<T> {
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
/// the task alive until the next `accept` on the listener after the timer fired, and wakes it
/// once, in case another `accept` of that task was listed under the same entry.
struct BackoffWait<'a, T = TimerEntry> {
    backoff: &'a SharedBackoff<T>,
    listed: Option<Waker>,
}

impl<T> Drop for BackoffWait<'_, T> {
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
        drop(backoff);
        // The entry is the task's, not this accept's: another accept of the same task (a
        // `join` of two) may be listed under it too, and would be stranded. So the task is
        // woken, to poll (and list) that one again; a task with no other accept only polls
        // once more. Not under the lock: waking may run code, or free the task.
        if let Some(taken) = taken {
            taken.wake();
        }
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
        let Some(mut backoff) =
            self.backoff
                .poll_ready(cx.waker(), listed.as_deref_mut(), |timer| {
                    self.poll_backoff_timer(timer)
                })
        else {
            return Poll::Pending;
        };
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// A timer that is a flag: set means elapsed.
    fn poll_flag(elapsed: &mut bool) -> Poll<()> {
        if *elapsed {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// A waker that records whether the backoff lock was free when it was woken.
    struct LockProbe {
        backoff: Arc<SharedBackoff<bool>>,
        lock_was_free: AtomicBool,
    }

    impl Wake for LockProbe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            let free = self.backoff.0.try_lock().is_ok();
            self.lock_was_free.store(free, Ordering::SeqCst);
        }
    }

    /// Regression: the accept that found the backoff timer elapsed woke the tasks waiting for
    /// it while holding the backoff lock, so a wake-up that frees a task whose dropped `accept`
    /// takes that lock ([`BackoffWait`]'s drop) deadlocked the loop thread.
    #[test]
    fn backoff_waiters_are_woken_after_the_lock_is_released() {
        let backoff = Arc::new(SharedBackoff::<bool>::default());
        backoff.lock().timer = Some(false);
        let probe = Arc::new(LockProbe {
            backoff: backoff.clone(),
            lock_was_free: AtomicBool::new(false),
        });
        let waiter = Waker::from(probe.clone());
        assert!(backoff.poll_ready(&waiter, None, poll_flag).is_none());
        assert_eq!(backoff.lock().waiting.len(), 1);
        backoff.lock().timer = Some(true);
        let ended = backoff.poll_ready(Waker::noop(), None, poll_flag);
        assert!(ended.is_some(), "the backoff is over");
        drop(ended);
        assert!(
            probe.lock_was_free.load(Ordering::SeqCst),
            "a waiter was woken under the backoff lock"
        );
        assert!(backoff.lock().waiting.is_empty());
    }

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Woken(AtomicUsize);

    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Regression: two `accept`s of one task (a `join` of two, one under a timeout) share the
    /// task's one entry on the backoff list; dropping one took the entry off, and the timer
    /// then never woke the task for the other.
    #[test]
    fn dropping_one_accept_of_a_task_does_not_strand_its_other_accept() {
        let backoff = Arc::new(SharedBackoff::<bool>::default());
        backoff.lock().timer = Some(false);
        let woken = Arc::new(Woken::default());
        let waker = Waker::from(woken.clone());
        let mut first = BackoffWait {
            backoff: &*backoff,
            listed: None,
        };
        let mut second = BackoffWait {
            backoff: &*backoff,
            listed: None,
        };
        assert!(backoff
            .poll_ready(&waker, Some(&mut first.listed), poll_flag)
            .is_none());
        assert!(backoff
            .poll_ready(&waker, Some(&mut second.listed), poll_flag)
            .is_none());
        drop(first);
        // the timer fires
        backoff.lock().timer = Some(true);
        backoff.wake_by_ref();
        assert!(
            woken.0.load(Ordering::SeqCst) > 0,
            "the task's other accept was stranded"
        );
        // woken, the task polls its other accept, which finds the backoff over
        assert!(backoff
            .poll_ready(&waker, Some(&mut second.listed), poll_flag)
            .is_some());
        assert!(second.listed.is_none());
    }
}

/// Model checks of the backoff list (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime
/// --release --lib loom`). The timer is a flag that a "reactor" thread sets before it wakes
/// the listener's waker, as the reactor does when a timer fires; each acceptor is a thread.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::poll_fn;

    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::thread;

    use super::*;
    use crate::sync::loom_util::block_on;

    type Fired = Arc<AtomicBool>;

    fn poll_fired(fired: &mut Fired) -> Poll<()> {
        if fired.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// The waker of an acceptor that gives up: waking it frees its task, whose drop (like a
    /// dropped `accept`'s) takes the backoff lock, so a wake-up under that lock deadlocks the
    /// model.
    struct Quitter {
        backoff: Arc<SharedBackoff<Fired>>,
        woken: AtomicUsize,
    }

    impl Wake for Quitter {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            drop(self.backoff.lock());
            self.woken.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A listener is backing off (step 1 done). Its timer fires while one acceptor waits it
    /// out and another polls once and is dropped. The one that waits is always woken and
    /// accepts (a stranded one deadlocks the model), nobody is woken under the lock, and at
    /// the end the timer is gone and no waker is left on the list.
    #[test]
    fn loom_accept_backoff_strands_nobody() {
        loom::model(|| {
            let backoff = Arc::new(SharedBackoff::<Fired>::default());
            let fired = Arc::new(AtomicBool::new(false));
            backoff.lock().timer = Some(fired.clone());
            let reactor = {
                let (backoff, fired) = (backoff.clone(), fired.clone());
                thread::spawn(move || {
                    fired.store(true, Ordering::Release);
                    Waker::from(backoff).wake();
                })
            };
            let quitter = {
                let backoff = backoff.clone();
                thread::spawn(move || {
                    let quitter = Arc::new(Quitter {
                        backoff: backoff.clone(),
                        woken: AtomicUsize::new(0),
                    });
                    let waker = Waker::from(quitter.clone());
                    let mut wait = BackoffWait {
                        backoff: &*backoff,
                        listed: None,
                    };
                    let accepted = backoff
                        .poll_ready(&waker, Some(&mut wait.listed), poll_fired)
                        .is_some();
                    assert_eq!(accepted, wait.listed.is_none());
                    drop(wait);
                })
            };
            block_on(async {
                let mut wait = BackoffWait {
                    backoff: &*backoff,
                    listed: None,
                };
                poll_fn(|cx| {
                    match backoff.poll_ready(cx.waker(), Some(&mut wait.listed), poll_fired) {
                        Some(_accepting) => Poll::Ready(()),
                        None => Poll::Pending,
                    }
                })
                .await;
                assert!(wait.listed.is_none());
            });
            reactor.join().unwrap();
            quitter.join().unwrap();
            let state = backoff.lock();
            assert!(state.timer.is_none(), "the backoff never ended");
            assert!(state.waiting.is_empty(), "a waker outlived its accept");
        });
    }
}
