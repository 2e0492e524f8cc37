//! Per-source readiness: the cached bits and the two waiting tasks (one reader, one writer).
//!
//! # The readiness word
//!
//! `bits` (low 8 bits of [`ScheduledIo::readiness`]):
//! - `READABLE` / `WRITABLE`: an edge said the direction can make progress. Set by the driver,
//!   cleared by an operation that got `EAGAIN` (or a short read/write, see `net`).
//! - `URGENT`: TCP urgent data is pending (`EPOLLPRI`). Comes with `READABLE` and is cleared with
//!   it; while set, a short read does not count as "drained" (a read stops at the urgent mark).
//! - `READ_CLOSED`: the peer sent FIN (`EPOLLRDHUP`) or the socket hung up. Never cleared: reads
//!   keep returning data, then EOF, so a FIN that rode in on the last data is never missed.
//! - `WRITE_CLOSED`: the socket hung up (`EPOLLHUP`). Never cleared.
//! - `ERROR`: `EPOLLERR`; the next syscall reports the error. Cleared with the direction bits on
//!   `EAGAIN` so a consumed error cannot make the loop spin.
//! - `SHUTDOWN`: the reactor is gone. Set in the same update that clears every bit above, so from
//!   then on every operation fails with an error, even one whose direction was ready: none tries
//!   its syscall on a readiness that nobody can renew.
//!
//! `tick` (bits 16..32) counts events. An operation remembers the tick it saw when it found the
//! source ready; if it then gets `EAGAIN`, it clears readiness only if the tick is unchanged.
//! Without the tick, an edge arriving between the failed syscall and the clear would be wiped
//! out, and edge-triggered epoll would never repeat it: a lost wake-up.
//!
//! # Waking protocol
//!
//! 1. The driver sets bits (and bumps the tick) with one atomic update, *then* locks `waiters`
//!    and releases the matching *armed* wakers: each is offered to the driver's [`WakeHook`],
//!    which may wake it by reference in place (it stays stored, disarmed); any the hook declines
//!    are taken out and woken after unlocking.
//! 2. A task that found the source not ready locks `waiters`, re-reads the bits under the lock,
//!    and only then stores its waker (or keeps the stored one when it would wake the same task)
//!    and arms it.
//!
//! Either the driver's update happens before the task's re-read (the task sees it and does not
//! sleep) or the task's waker is armed before the driver locks (the driver releases it).
//!
//! A slot keeps its waker after an in-place wake so that the task's next wait on the same source
//! skips a waker clone and drop; the `armed` flag keeps the old behaviour of one wake per wait
//! (an edge for a direction nobody waits on wakes nobody). A kept waker holds a reference to
//! its task until the slot is overwritten, the source deregisters, or the reactor shuts down.
//!
//! A waiting task never replaces an *armed* waker of another task: methods that take `&self`
//! (`accept` on a listener shared by several tasks, a UDP socket's sends and receives) let
//! several tasks wait on one direction at once, so a second waiter joins the slot's `others`
//! and the next edge wakes them all; each then retries its syscall, and those that get `EAGAIN`
//! wait again. A task that stopped waiting (its future dropped) may get one spurious wake-up.

use std::io;
use std::task::{Context, Poll, Waker};

use crate::sync::{AtomicUsize, Ordering, SpinGuard, SpinLock};
use crate::sys::EventBits;

/// Set once the reactor shuts down.
const SHUTDOWN: usize = 1 << 7;
const TICK_SHIFT: usize = 16;
const TICK_MASK: usize = 0xffff << TICK_SHIFT;

/// Which half of a source an operation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reading (or accepting).
    Read,
    /// Writing (or connecting).
    Write,
}

impl Direction {
    /// The bits that let an operation in this direction try its syscall.
    fn ready_mask(self) -> usize {
        let b = match self {
            Direction::Read => {
                EventBits::READABLE | EventBits::URGENT | EventBits::READ_CLOSED | EventBits::ERROR
            }
            Direction::Write => EventBits::WRITABLE | EventBits::WRITE_CLOSED | EventBits::ERROR,
        };
        usize::from(b)
    }
}

/// The bits an `EAGAIN` proves stale, for either direction: an event holds only the bits of its
/// own direction's `ready_mask`, so masking it with this clears `READABLE`, `URGENT` and `ERROR`
/// for a read, `WRITABLE` and `ERROR` for a write (the `*_CLOSED` bits are never cleared). One
/// constant, so the hot read path does not work out the event's direction.
const CLEARABLE: usize =
    (EventBits::READABLE | EventBits::URGENT | EventBits::WRITABLE | EventBits::ERROR) as usize;

/// What an operation saw when it found its source ready; hand it back to
/// [`Registration::clear_readiness`](crate::Registration::clear_readiness) after `EAGAIN`.
///
/// One word: the tick and the ready bits as read, plus a direction bit.
#[derive(Clone, Copy, Debug)]
pub struct ReadyEvent(usize);

/// Marks a [`ReadyEvent`] of the write direction (a bit the readiness word never uses).
const WRITE_DIRECTION: usize = 1 << 8;

impl ReadyEvent {
    /// The peer will send no more (FIN seen or hang-up). A short read must not be taken as
    /// "drained" then: the EOF still has to be read, and no further edge will announce it.
    #[inline]
    pub fn is_read_closed(&self) -> bool {
        self.0 & usize::from(EventBits::READ_CLOSED) != 0
    }

    /// Whether a read that returned fewer bytes than asked proves the socket drained, so
    /// readiness can be cleared without the `EAGAIN` round trip. Not after FIN or hang-up (see
    /// [`is_read_closed`](ReadyEvent::is_read_closed)), and not while TCP urgent data is pending:
    /// Linux stops a read at the urgent mark with more data queued behind it, and no new edge
    /// announces that data.
    #[inline]
    pub fn short_read_drains(&self) -> bool {
        self.0 & usize::from(EventBits::READ_CLOSED | EventBits::URGENT) == 0
    }

    #[inline]
    pub(crate) fn direction(&self) -> Direction {
        if self.0 & WRITE_DIRECTION != 0 {
            Direction::Write
        } else {
            Direction::Read
        }
    }

    #[inline]
    fn tick(&self) -> usize {
        self.0 & TICK_MASK
    }
}

/// The shared state of one registered source.
#[derive(Debug, Default)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: SpinLock<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    reader: Slot,
    writer: Slot,
}

impl Waiters {
    #[inline]
    fn slot(&mut self, direction: Direction) -> &mut Slot {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

/// One direction's waiting tasks: usually one, in `waker`.
#[derive(Debug, Default)]
struct Slot {
    /// The last waker stored; kept after an in-place wake for the next wait to reuse.
    waker: Option<Waker>,
    /// A task waits and has not been woken since (implies `waker.is_some()`).
    armed: bool,
    /// Further tasks waiting at the same time, which only methods taking `&self` allow (several
    /// tasks in `accept` on one shared listener, in `recv_from` on one UDP socket): each is
    /// woken, by value, with the armed one. A task appears once however often it polls, and an
    /// operation dropped while it waits takes its task out again (`withdraw`). Only
    /// ever non-empty while `armed` (a task joins here only while another one waits, and
    /// releasing the slot empties it), so a slot nobody waits on costs one test.
    others: Vec<Waker>,
}

impl Slot {
    /// Releases the armed waker (woken in place by `hook`, or taken out into `wake`) and takes
    /// out the others.
    #[inline(always)]
    fn release(&mut self, hook: &mut impl WakeHook, wake: &mut Vec<Waker>) {
        if !self.armed {
            return;
        }
        self.armed = false;
        if let Some(waker) = &self.waker {
            if !hook.wake_in_place(waker) {
                wake.extend(self.waker.take());
            }
        }
        if !self.others.is_empty() {
            self.release_others(wake);
        }
    }

    #[cold]
    #[inline(never)]
    fn release_others(&mut self, wake: &mut Vec<Waker>) {
        wake.append(&mut self.others);
    }

    /// Makes the task of `waker` wait here (the caller holds the waiters' lock and saw the
    /// direction not ready).
    #[inline]
    fn wait(&mut self, waker: &Waker) -> Wait {
        match &self.waker {
            Some(stored) if stored.will_wake(waker) => {
                self.armed = true;
                Wait::Armed
            }
            // another task waits already: this one joins it
            Some(_) if self.armed => {
                if !self.others.iter().any(|other| other.will_wake(waker)) {
                    self.others.push(waker.clone());
                }
                Wait::Joined
            }
            _ => {
                self.armed = true;
                Wait::Store
            }
        }
    }

    /// Takes `waker`'s task out of the others (it stopped waiting), if it is there.
    fn withdraw(&mut self, waker: &Waker) -> Option<Waker> {
        let at = self
            .others
            .iter()
            .position(|other| other.will_wake(waker))?;
        Some(self.others.swap_remove(at))
    }

    /// Takes every waker out (shutdown, deregistration): the stored one and the others
    /// (an empty `Vec` unless several tasks waited, so no allocation in the usual case).
    fn take_all(&mut self) -> (Option<Waker>, Vec<Waker>) {
        self.armed = false;
        (self.waker.take(), std::mem::take(&mut self.others))
    }
}

/// How [`Slot::wait`] made a task wait.
enum Wait {
    /// The slot already held the task's waker and is armed with it.
    Armed,
    /// The slot is armed for the task; the caller stores its waker after unlocking.
    Store,
    /// Another task holds the slot: this one is among the others.
    Joined,
}

/// Lets the driver's owner wake tasks in place while the driver dispatches events.
///
/// A driver turn offers every waker an event releases to the hook, *with the reactor's locks
/// held* (the source table and the source's waiter lock). An implementation must therefore be
/// quick and must not block, take locks this reactor may hold, drop a waker, or run foreign
/// code; in exchange the waker needs no clone or drop, and a scheduler can queue its own tasks
/// directly. The unit hook `()` declines everything.
pub trait WakeHook {
    /// Returns `true` when `waker` was woken by reference here; it then stays stored for the
    /// next wait. `false` has the driver take it out and wake it by value after unlocking.
    fn wake_in_place(&mut self, waker: &Waker) -> bool;
}

impl WakeHook for () {
    #[inline]
    fn wake_in_place(&mut self, _waker: &Waker) -> bool {
        false
    }
}

impl ScheduledIo {
    /// Records an event, offers the wakers it releases to `hook` and appends those the hook
    /// declines to `wake`. Always inlined: it is the body of the driver's per-event loop.
    #[inline(always)]
    pub(crate) fn set_readiness(
        &self,
        bits: EventBits,
        hook: &mut impl WakeHook,
        wake: &mut Vec<Waker>,
    ) {
        let bits = usize::from(bits.0);
        // Bump the tick, then publish the bits. A task that reads the word in between sees the
        // new tick without the new bits: it either finds the direction not ready and parks (and
        // step 2 below wakes it) or clears stale bits under the new tick before they are set.
        // The tick lives in bits 16..32; a carry out of it lands in bits nobody reads.
        self.readiness.fetch_add(1 << TICK_SHIFT, Ordering::AcqRel);
        self.readiness.fetch_or(bits, Ordering::AcqRel);
        let wants_reader = bits & Direction::Read.ready_mask() != 0;
        let wants_writer = bits & Direction::Write.ready_mask() != 0;
        let mut waiters = self.waiters.lock();
        if wants_reader {
            waiters.reader.release(hook, wake);
        }
        if wants_writer {
            waiters.writer.release(hook, wake);
        }
    }

    /// Marks the source dead (reactor shut down), dropping its cached readiness, and releases
    /// both waiters.
    pub(crate) fn shutdown(&self, wake: &mut Vec<Waker>) {
        let dead = |cur: usize| Some((cur & TICK_MASK) | SHUTDOWN);
        // (`fetch_update` cannot fail: the closure always returns `Some`)
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, dead);
        let mut guard = self.waiters.lock();
        let waiters = &mut *guard;
        for slot in [&mut waiters.reader, &mut waiters.writer] {
            let (waker, others) = slot.take_all();
            wake.extend(waker);
            wake.extend(others);
        }
    }

    /// Ready when the direction can try its syscall; otherwise stores the waker. The error:
    /// the reactor has shut down.
    #[inline]
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & direction.ready_mask() != 0 {
            return Poll::Ready(Ok(Self::event(cur, direction)));
        }
        self.poll_ready_slow(cx, direction, None)
    }

    /// [`poll_ready`](ScheduledIo::poll_ready) for a wait that other tasks may share. When
    /// the task joins the others, a clone of its waker goes to `lent` for
    /// [`withdraw`](ScheduledIo::withdraw); once ready, `lent` is emptied (the edge that made
    /// the direction ready released every waiter).
    pub(crate) fn poll_ready_shared(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        lent: &mut Option<Waker>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let cur = self.readiness.load(Ordering::Acquire);
        let polled = if cur & direction.ready_mask() != 0 {
            Poll::Ready(Ok(Self::event(cur, direction)))
        } else {
            self.poll_ready_slow(cx, direction, Some(&mut *lent))
        };
        if polled.is_ready() {
            *lent = None;
        }
        polled
    }

    /// A task that joined the others stopped waiting (its operation was dropped): takes its
    /// waker out, so the slot does not keep a finished task alive until the next edge.
    ///
    /// The entry is the task's, not the operation's: another operation of the same task (a
    /// `join` of two accepts on one shared listener) may be waiting under it too, and would
    /// never hear of the next edge. So the task is woken once, to poll (and list) that one
    /// again; a task with nothing else waiting just polls once more.
    pub(crate) fn withdraw(&self, direction: Direction, lent: &mut Option<Waker>) {
        let Some(waker) = lent.take() else {
            return;
        };
        let taken = self.waiters.lock().slot(direction).withdraw(&waker);
        // Waking may run code or free a task: not under the lock.
        if let Some(taken) = taken {
            taken.wake();
        }
    }

    /// The readiness cached for `direction` now, without waiting or storing a waker: `None`
    /// when not ready. The error: the reactor has shut down.
    #[inline]
    pub(crate) fn ready_now(&self, direction: Direction) -> io::Result<Option<ReadyEvent>> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & (direction.ready_mask() | SHUTDOWN) == 0 {
            return Ok(None);
        }
        Self::ready_or_shutdown(cur, direction).map(Some)
    }

    /// Not ready at first sight. The common case, tried first: the lock is free, the source is
    /// still not ready and the slot already holds this task's waker, which is simply re-armed
    /// (no calls), so it is inlined into the operation. Anything else goes to
    /// `poll_ready_locked`.
    #[inline]
    fn poll_ready_slow(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        lent: Option<&mut Option<Waker>>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(mut waiters) = self.waiters.try_lock() {
            let cur = self.readiness.load(Ordering::Acquire);
            if cur & (direction.ready_mask() | SHUTDOWN) == 0 {
                let slot = waiters.slot(direction);
                if slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.armed = true;
                    return Poll::Pending;
                }
            }
        }
        self.poll_ready_locked(cx, direction, lent)
    }

    /// The general case: wait for the lock, re-check readiness under it, store (or keep) and
    /// arm the waker, or join the others (lending a clone to `lent` when the caller keeps
    /// one). Storing a different waker is out of line.
    #[inline(never)]
    fn poll_ready_locked(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        lent: Option<&mut Option<Waker>>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let mut waiters = self.waiters.lock();
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & (direction.ready_mask() | SHUTDOWN) != 0 {
            drop(waiters);
            return Poll::Ready(Self::ready_or_shutdown(cur, direction));
        }
        match waiters.slot(direction).wait(cx.waker()) {
            Wait::Armed => {}
            Wait::Store => Self::store_waker(waiters, direction, cx.waker()),
            Wait::Joined => {
                drop(waiters);
                if let Some(lent) = lent {
                    if !lent.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *lent = Some(cx.waker().clone());
                    }
                }
            }
        }
        Poll::Pending
    }

    /// Stores a clone of `waker` in `direction`'s slot (already armed), in place of whatever
    /// was there.
    #[inline(never)]
    fn store_waker(mut waiters: SpinGuard<'_, Waiters>, direction: Direction, waker: &Waker) {
        let slot = waiters.slot(direction);
        let old = slot.waker.replace(waker.clone());
        // Dropping a waker may free a task: not under the lock.
        drop(waiters);
        drop(old);
    }

    #[inline]
    fn ready_or_shutdown(cur: usize, direction: Direction) -> io::Result<ReadyEvent> {
        if cur & direction.ready_mask() != 0 {
            Ok(Self::event(cur, direction))
        } else {
            Err(shut_down())
        }
    }

    #[inline]
    fn event(cur: usize, direction: Direction) -> ReadyEvent {
        let seen = cur & (TICK_MASK | direction.ready_mask());
        match direction {
            Direction::Read => ReadyEvent(seen),
            Direction::Write => ReadyEvent(seen | WRITE_DIRECTION),
        }
    }

    /// Clears what `event` saw, unless an edge arrived since (the tick moved).
    #[inline]
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.0 & CLEARABLE;
        let tick = event.tick();
        let mut cur = self.readiness.load(Ordering::Relaxed);
        while cur & TICK_MASK == tick {
            match self.readiness.compare_exchange_weak(
                cur,
                cur & !clear,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes the stored wakers out (the source is being deregistered); the caller drops them
    /// after releasing its own locks.
    pub(crate) fn take_waiters(&self) -> [(Option<Waker>, Vec<Waker>); 2] {
        let mut waiters = self.waiters.lock();
        [waiters.reader.take_all(), waiters.writer.take_all()]
    }
}

/// The reactor this source was registered with has shut down.
#[cold]
#[inline(never)]
fn shut_down() -> io::Error {
    io::Error::other("the weft runtime this socket was registered with has shut down")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn flag() -> (Arc<Flag>, Waker) {
        let f = Arc::new(Flag(false.into()));
        (f.clone(), Waker::from(f))
    }

    #[test]
    fn an_edge_between_eagain_and_clear_is_not_lost() {
        let io = ScheduledIo::default();
        let mut wake = Vec::new();
        io.set_readiness(EventBits(EventBits::READABLE), &mut (), &mut wake);
        let (_, waker) = flag();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("should be readable")
        };
        // The syscall returns EAGAIN, but a new edge lands before we clear.
        io.set_readiness(EventBits(EventBits::READABLE), &mut (), &mut wake);
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    #[test]
    fn withdrawn_waiters_leave_the_slot_and_the_one_that_stays_is_woken() {
        let io = ScheduledIo::default();
        let (stays, waker) = flag();
        assert!(io
            .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
            .is_pending());
        let mut leavers = Vec::new();
        for _ in 0..10 {
            let (gone, waker) = flag();
            let mut lent = None;
            let polled =
                io.poll_ready_shared(&mut Context::from_waker(&waker), Direction::Read, &mut lent);
            assert!(polled.is_pending());
            assert!(
                lent.as_ref().is_some_and(|w| w.will_wake(&waker)),
                "nothing was lent"
            );
            leavers.push((gone, lent));
        }
        for (_, lent) in &mut leavers {
            io.withdraw(Direction::Read, lent);
            assert!(lent.is_none());
        }
        for (gone, _) in &leavers {
            assert_eq!(
                Arc::strong_count(gone),
                1,
                "the slot kept a withdrawn waker"
            );
        }
        let mut wake = Vec::new();
        io.set_readiness(EventBits(EventBits::READABLE), &mut (), &mut wake);
        assert_eq!(wake.len(), 1, "only the waiter that stayed is released");
        wake.drain(..).for_each(Waker::wake);
        assert!(stays.0.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// Regression: two waits of one task shared a single entry among the others, so dropping
    /// one of them took the entry away from the other, which then missed the next edge.
    #[test]
    fn withdrawing_one_of_a_tasks_two_waits_wakes_it_for_the_other() {
        let io = ScheduledIo::default();
        let (_holder, waker) = flag();
        assert!(io
            .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
            .is_pending());
        let (both, waker) = flag();
        let mut lent = [None, None];
        for lent in &mut lent {
            let polled =
                io.poll_ready_shared(&mut Context::from_waker(&waker), Direction::Read, lent);
            assert!(polled.is_pending());
        }
        let [first, _second] = &mut lent;
        io.withdraw(Direction::Read, first);
        assert!(
            both.0.load(std::sync::atomic::Ordering::SeqCst),
            "the task's other wait is no longer listed and was not told"
        );
    }

    #[test]
    fn read_closed_survives_clearing_and_wakes_the_reader() {
        let io = ScheduledIo::default();
        let (woken, waker) = flag();
        let mut cx = Context::from_waker(&waker);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        let mut wake = Vec::new();
        io.set_readiness(
            EventBits(EventBits::READABLE | EventBits::READ_CLOSED),
            &mut (),
            &mut wake,
        );
        wake.drain(..).for_each(Waker::wake);
        assert!(woken.0.load(std::sync::atomic::Ordering::SeqCst));
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("should be readable")
        };
        assert!(seen.is_read_closed());
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
        // Writing was never announced.
        assert!(io.poll_ready(&mut cx, Direction::Write).is_pending());
    }

    #[test]
    fn urgent_data_keeps_a_short_read_from_clearing_and_clears_with_readable() {
        let io = ScheduledIo::default();
        let (_, waker) = flag();
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        io.set_readiness(
            EventBits(EventBits::READABLE | EventBits::URGENT),
            &mut (),
            &mut wake,
        );
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("should be readable")
        };
        assert!(!seen.short_read_drains());
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        io.set_readiness(EventBits(EventBits::READABLE), &mut (), &mut wake);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("should be readable")
        };
        assert!(seen.short_read_drains(), "URGENT was cleared with READABLE");
    }
}

/// Model checks of the waking protocol (`RUSTFLAGS="--cfg loom" cargo test -p weft-reactor
/// --release --lib loom`). A socket is modelled as a flag the driver raises before reporting an
/// edge and the task lowers when it reads.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicBool, AtomicUsize};
    use loom::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A hook that wakes every waker in place, as a scheduler's own turn does.
    struct ByRef;
    impl WakeHook for ByRef {
        fn wake_in_place(&mut self, waker: &Waker) -> bool {
            waker.wake_by_ref();
            true
        }
    }

    /// A driver thread that reports one read edge, waking what it releases (in place first).
    fn edge_on_another_thread(io: &Arc<ScheduledIo>) -> loom::thread::JoinHandle<()> {
        let io = io.clone();
        loom::thread::spawn(move || {
            let mut wake = Vec::new();
            io.set_readiness(EventBits(EventBits::READABLE), &mut ByRef, &mut wake);
            wake.into_iter().for_each(Waker::wake);
        })
    }

    /// The task drains, gets `EAGAIN`, clears and parks while the driver reports new data (its
    /// waker released through `hook`): it either sees the data or is woken. A lost edge would
    /// leave data unread and nobody awake.
    fn edge_racing_clear_and_park<H: WakeHook + Send + 'static>(hook: fn() -> H) {
        loom::model(move || {
            let io = Arc::new(ScheduledIo::default());
            let data = Arc::new(AtomicBool::new(false));
            let driver = {
                let (io, data) = (io.clone(), data.clone());
                loom::thread::spawn(move || {
                    data.store(true, Ordering::SeqCst);
                    let mut wake = Vec::new();
                    io.set_readiness(EventBits(EventBits::READABLE), &mut hook(), &mut wake);
                    wake.into_iter().for_each(Waker::wake);
                })
            };
            let woken = std::sync::Arc::new(Flag(false.into()));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            let mut got_data = false;
            let mut parked = false;
            for _ in 0..3 {
                match io.poll_ready(&mut cx, Direction::Read) {
                    Poll::Ready(Ok(event)) => {
                        if data.swap(false, Ordering::SeqCst) {
                            got_data = true;
                            break;
                        }
                        io.clear_readiness(event);
                    }
                    Poll::Ready(Err(_)) => unreachable!("no shutdown in this model"),
                    Poll::Pending => {
                        parked = true;
                        break;
                    }
                }
            }
            driver.join().unwrap();
            if parked {
                let was_woken = woken.0.load(std::sync::atomic::Ordering::SeqCst);
                assert!(
                    was_woken || !data.load(Ordering::SeqCst),
                    "data arrived, the task parked, and nobody woke it"
                );
            } else {
                assert!(got_data);
            }
        });
    }

    #[test]
    fn an_edge_racing_a_clear_and_park_is_never_lost() {
        edge_racing_clear_and_park(|| ());
    }

    #[test]
    fn an_edge_racing_a_clear_and_park_is_never_lost_when_woken_in_place() {
        edge_racing_clear_and_park(|| ByRef);
    }

    /// A waker woken in place stays stored; the task's next wait re-arms that same waker (no
    /// clone), and an edge racing that wait either is seen or wakes the task again.
    #[test]
    fn a_kept_waker_is_re_armed_by_the_next_wait() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            let sent = Arc::new(AtomicUsize::new(0));
            let woken = std::sync::Arc::new(Flag(false.into()));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
            let driver = {
                let (io, sent) = (io.clone(), sent.clone());
                loom::thread::spawn(move || {
                    for _ in 0..2 {
                        sent.fetch_add(1, Ordering::SeqCst);
                        let mut wake = Vec::new();
                        io.set_readiness(EventBits(EventBits::READABLE), &mut ByRef, &mut wake);
                        assert!(wake.is_empty(), "the hook took every waker");
                    }
                })
            };
            while !woken.0.swap(false, std::sync::atomic::Ordering::SeqCst) {
                loom::thread::yield_now();
            }
            // Woken: drain, then wait again with the same waker.
            let mut received = 0;
            let mut parked = false;
            for _ in 0..3 {
                match io.poll_ready(&mut cx, Direction::Read) {
                    Poll::Ready(Ok(event)) => {
                        let got = sent.load(Ordering::SeqCst);
                        if got > received {
                            received = got;
                        } else {
                            io.clear_readiness(event);
                        }
                    }
                    Poll::Ready(Err(_)) => unreachable!("no shutdown in this model"),
                    Poll::Pending => {
                        parked = true;
                        break;
                    }
                }
            }
            driver.join().unwrap();
            if parked && sent.load(Ordering::SeqCst) > received {
                assert!(
                    woken.0.load(std::sync::atomic::Ordering::SeqCst),
                    "the second edge found the re-armed waker and did not wake it"
                );
            }
            // The slot holds the one waker the first wait stored: never cloned again.
            assert_eq!(std::sync::Arc::strong_count(&woken), 3);
        });
    }

    /// Two tasks wait on one direction at once (a listener shared by two acceptors) while an
    /// edge arrives: each either sees the readiness or is woken. Before `Slot::others`, the
    /// second waiter's waker replaced the first's, which then slept through the edge.
    #[test]
    fn every_concurrent_waiter_is_woken() {
        fn wait(io: &ScheduledIo) -> (bool, std::sync::Arc<Flag>) {
            let woken = std::sync::Arc::new(Flag(false.into()));
            let waker = Waker::from(woken.clone());
            let mut cx = Context::from_waker(&waker);
            (io.poll_ready(&mut cx, Direction::Read).is_pending(), woken)
        }
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            let driver = edge_on_another_thread(&io);
            let other = {
                let io = io.clone();
                loom::thread::spawn(move || wait(&io))
            };
            let mine = wait(&io);
            driver.join().unwrap();
            let theirs = other.join().unwrap();
            for (parked, woken) in [mine, theirs] {
                if parked {
                    assert!(
                        woken.0.load(std::sync::atomic::Ordering::SeqCst),
                        "a waiter parked and the edge did not wake it"
                    );
                }
            }
        });
    }

    /// A task that joined the others withdraws (its operation was dropped) while an edge
    /// arrives: the task that stays is still woken, and no clone of the leaver's waker is
    /// left behind in any order of events.
    #[test]
    fn a_withdrawing_waiter_takes_no_wake_up_from_the_one_that_stays() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            let stays = std::sync::Arc::new(Flag(false.into()));
            let waker = Waker::from(stays.clone());
            assert!(io
                .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
                .is_pending());
            let driver = edge_on_another_thread(&io);
            let leaver = {
                let io = io.clone();
                loom::thread::spawn(move || {
                    let gone = std::sync::Arc::new(Flag(false.into()));
                    let waker = Waker::from(gone.clone());
                    let mut cx = Context::from_waker(&waker);
                    let mut lent = None;
                    if io
                        .poll_ready_shared(&mut cx, Direction::Read, &mut lent)
                        .is_pending()
                    {
                        io.withdraw(Direction::Read, &mut lent);
                    }
                    assert!(lent.is_none());
                    gone
                })
            };
            driver.join().unwrap();
            let gone = leaver.join().unwrap();
            assert!(
                stays.0.load(std::sync::atomic::Ordering::SeqCst),
                "the waiter that stayed slept through the edge"
            );
            assert_eq!(
                std::sync::Arc::strong_count(&gone),
                1,
                "a lent waker was kept"
            );
        });
    }

    /// A write-side edge never releases the reader's waker, and vice versa.
    #[test]
    fn wakers_are_released_by_their_own_direction() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            let reader = std::sync::Arc::new(Flag(false.into()));
            let waker = Waker::from(reader.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
            let driver = {
                let io = io.clone();
                loom::thread::spawn(move || {
                    let mut wake = Vec::new();
                    io.set_readiness(EventBits(EventBits::WRITABLE), &mut (), &mut wake);
                    wake.len()
                })
            };
            assert_eq!(driver.join().unwrap(), 0);
            assert!(!reader.0.load(std::sync::atomic::Ordering::SeqCst));
        });
    }
}
