//! A hierarchical timing wheel: O(1) insert and cancel, millisecond slots, exact deadlines.
//!
//! Six levels of 64 slots. Level `l` slot `s` covers `64^l` milliseconds; level 0 covers single
//! milliseconds, level 5 about 2.2 years (later deadlines are clamped). An entry goes to the level
//! of the highest 6-bit digit in which its deadline differs from `elapsed` (the wheel's current
//! millisecond), so entries in level 0 are due within the current 64 ms block, entries in level 1
//! within the current 4,096 ms block, and so on. When time reaches a higher-level slot, its
//! entries *cascade*: they are re-inserted relative to the new `elapsed` and land lower.
//!
//! Entries live in a slab and form doubly-linked lists by index, so cancelling is an unlink.
//! Every entry keeps its exact deadline in nanoseconds: a level-0 slot is one millisecond wide,
//! and when it is next to expire the wheel reports the earliest exact deadline in it, which is
//! how sub-millisecond sleeps are honoured.
//!
//! The wheel is pure logic over `u64` nanoseconds since the reactor's base instant; the reactor
//! supplies the clock, so tests drive it with made-up times.

use std::task::Waker;

use slab::Slab;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NIL: usize = usize::MAX;
const NANOS_PER_MS: u64 = 1_000_000;
/// The furthest tick the wheel can hold.
const MAX_TICK: u64 = (1 << (SLOT_BITS as usize * LEVELS)) - 1;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Slot {
        level: usize,
        slot: usize,
    },
    /// Expired: unlinked, waiting for its owner to notice and remove it.
    Fired,
}

#[derive(Debug)]
struct Entry {
    deadline: u64,
    waker: Option<Waker>,
    place: Place,
    prev: usize,
    next: usize,
}

/// The wheel. Keys returned by [`Wheel::insert`] stay valid until [`Wheel::remove`].
#[derive(Debug)]
pub(crate) struct Wheel {
    entries: Slab<Entry>,
    heads: [[usize; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    /// The current millisecond: every slot before it has been processed.
    elapsed: u64,
    /// Entries still in a slot (not yet fired).
    pending: usize,
    /// Set by [`Wheel::close`]: nothing will turn the wheel again.
    closed: bool,
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            entries: Slab::new(),
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            elapsed: 0,
            pending: 0,
            closed: false,
        }
    }
}

impl Wheel {
    /// Entries waiting in the wheel.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Adds a timer for `deadline` (ns). Returns its key; an entry already due fires at the next
    /// [`Wheel::process`].
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> usize {
        let key = self.entries.insert(Entry {
            deadline,
            waker: Some(waker),
            place: Place::Fired,
            prev: NIL,
            next: NIL,
        });
        self.link(key);
        self.pending += 1;
        key
    }

    /// `true` once the timer fired. Otherwise updates the waker to wake.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> bool {
        let entry = &mut self.entries[key];
        if entry.place == Place::Fired {
            return true;
        }
        match &entry.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => entry.waker = Some(waker.clone()),
        }
        false
    }

    /// Fires every timer, for good: the reactor is going away. Afterwards a reset leaves its
    /// timer fired, and [`Wheel::is_closed`] tells new timers not to wait.
    pub(crate) fn close(&mut self, wake: &mut Vec<Waker>) {
        self.process(u64::MAX, wake);
        self.closed = true;
    }

    /// Whether [`Wheel::close`] ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Moves a timer to a new deadline, re-arming it if it had fired (unless the wheel is
    /// closed: then it stays fired).
    pub(crate) fn reset(&mut self, key: usize, deadline: u64) {
        self.entries[key].deadline = deadline;
        if self.closed {
            return;
        }
        if self.entries[key].place == Place::Fired {
            self.pending += 1;
        } else {
            self.unlink(key);
        }
        self.link(key);
    }

    /// Removes a timer, fired or not; returns its waker for the caller to drop outside any lock.
    pub(crate) fn remove(&mut self, key: usize) -> Option<Waker> {
        if self.entries[key].place != Place::Fired {
            self.unlink(key);
            self.pending -= 1;
        }
        self.entries.remove(key).waker
    }

    fn tick_of(deadline: u64) -> u64 {
        (deadline / NANOS_PER_MS).min(MAX_TICK)
    }

    fn link(&mut self, key: usize) {
        let tick = Self::tick_of(self.entries[key].deadline).max(self.elapsed);
        let level = level_for(self.elapsed, tick);
        let slot = ((tick >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1);
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[key];
            e.place = Place::Slot { level, slot };
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head].prev = key;
        }
        self.heads[level][slot] = key;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next, place) = {
            let e = &self.entries[key];
            (e.prev, e.next, e.place)
        };
        let Place::Slot { level, slot } = place else {
            return;
        };
        if prev == NIL {
            self.heads[level][slot] = next;
        } else {
            self.entries[prev].next = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1 << slot);
        }
        let e = &mut self.entries[key];
        e.place = Place::Fired;
        e.prev = NIL;
        e.next = NIL;
    }

    /// The next occupied slot: `(level, slot, first tick it covers)`.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        (0..LEVELS).find_map(|level| {
            let occupied = self.occupied[level];
            if occupied == 0 {
                return None;
            }
            let shift = level as u32 * SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let distance = occupied.rotate_right(now_slot as u32).trailing_zeros() as usize;
            let slot = (now_slot + distance) & (SLOTS - 1);
            let level_span = 1u64 << (shift + SLOT_BITS);
            let level_start = self.elapsed & !(level_span - 1);
            let mut start = level_start + ((slot as u64) << shift);
            if slot < now_slot {
                start += level_span;
            }
            Some((level, slot, start))
        })
    }

    /// When the wheel next needs attention (ns): the exact earliest deadline when it is in the
    /// next level-0 slot, else the start of the next slot to cascade.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let (level, slot, start) = self.next_slot()?;
        if level > 0 {
            return Some(start * NANOS_PER_MS);
        }
        let mut key = self.heads[0][slot];
        let mut earliest = u64::MAX;
        while key != NIL {
            earliest = earliest.min(self.entries[key].deadline);
            key = self.entries[key].next;
        }
        Some(earliest)
    }

    /// Fires every timer due at `now` (ns), appending their wakers to `wake`.
    pub(crate) fn process(&mut self, now: u64, wake: &mut Vec<Waker>) {
        let now_tick = Self::tick_of(now);
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now_tick {
                break;
            }
            self.elapsed = start;
            let mut key = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1 << slot);
            let mut kept_for_later = false;
            while key != NIL {
                let next = self.entries[key].next;
                let e = &mut self.entries[key];
                e.place = Place::Fired;
                e.prev = NIL;
                e.next = NIL;
                if level == 0 && e.deadline <= now {
                    self.pending -= 1;
                    wake.extend(e.waker.take());
                } else {
                    // A higher level cascades down; a level-0 entry later in this same
                    // millisecond goes back to its slot.
                    kept_for_later |= level == 0;
                    self.link(key);
                }
                key = next;
            }
            if kept_for_later {
                return;
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
    }
}

/// The level whose digit is the highest one in which `elapsed` and `tick` differ.
fn level_for(elapsed: u64, tick: u64) -> usize {
    let differing = (elapsed ^ tick) | (SLOTS as u64 - 1);
    let significant = 63 - differing.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    const MS: u64 = NANOS_PER_MS;

    struct Tag(usize, Arc<std::sync::Mutex<Vec<usize>>>);
    impl Wake for Tag {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn waker(tag: usize, log: &Arc<std::sync::Mutex<Vec<usize>>>) -> Waker {
        Waker::from(Arc::new(Tag(tag, log.clone())))
    }

    fn run(wheel: &mut Wheel, now: u64) {
        let mut wake = Vec::new();
        wheel.process(now, &mut wake);
        wake.into_iter().for_each(Waker::wake);
    }

    #[test]
    fn fires_in_deadline_order_across_levels() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut wheel = Wheel::default();
        let deadlines = [
            5 * MS,
            70 * MS,
            3 * MS,
            5_000 * MS,
            300_000 * MS,
            64 * MS,
            4_096 * MS,
        ];
        for (i, &d) in deadlines.iter().enumerate() {
            wheel.insert(d, waker(i, &log));
        }
        let mut now = 0;
        while wheel.pending() > 0 {
            now = wheel.next_deadline().unwrap().max(now);
            run(&mut wheel, now);
        }
        let mut expected: Vec<usize> = (0..deadlines.len()).collect();
        expected.sort_by_key(|&i| deadlines[i]);
        assert_eq!(*log.lock().unwrap(), expected);
    }

    #[test]
    fn nothing_fires_early_and_sub_millisecond_deadlines_are_exact() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut wheel = Wheel::default();
        wheel.insert(2 * MS + 300_000, waker(1, &log));
        wheel.insert(2 * MS + 700_000, waker(2, &log));
        assert_eq!(wheel.next_deadline(), Some(2 * MS + 300_000));
        run(&mut wheel, 2 * MS + 299_999);
        assert!(log.lock().unwrap().is_empty());
        run(&mut wheel, 2 * MS + 300_000);
        assert_eq!(*log.lock().unwrap(), vec![1]);
        assert_eq!(wheel.next_deadline(), Some(2 * MS + 700_000));
        run(&mut wheel, 3 * MS);
        assert_eq!(*log.lock().unwrap(), vec![1, 2]);
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut wheel = Wheel::default();
        let keep = wheel.insert(10 * MS, waker(1, &log));
        let cancel = wheel.insert(10 * MS, waker(2, &log));
        let far = wheel.insert(100_000 * MS, waker(3, &log));
        wheel.remove(cancel);
        wheel.remove(far);
        assert_eq!(wheel.pending(), 1);
        run(&mut wheel, 200_000 * MS);
        assert_eq!(*log.lock().unwrap(), vec![1]);
        assert!(wheel.poll(keep, &waker(9, &log)));
        wheel.remove(keep);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn reset_rearms_a_fired_timer() {
        let count = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let mut wheel = Wheel::default();
        let key = wheel.insert(MS, Waker::from(Arc::new(Count(count.clone()))));
        let mut wake = Vec::new();
        wheel.process(MS, &mut wake);
        assert_eq!(wake.len(), 1);
        wheel.reset(key, 5 * MS);
        assert_eq!(wheel.pending(), 1);
        assert!(!wheel.poll(key, &Waker::from(Arc::new(Count(count.clone())))));
        wheel.process(6 * MS, &mut wake);
        assert_eq!(wake.len(), 2);
    }

    #[test]
    fn a_closed_wheel_fires_everything_and_a_reset_stays_fired() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut wheel = Wheel::default();
        let near = wheel.insert(MS, waker(0, &log));
        let far = wheel.insert(u64::MAX / 2, waker(1, &log));
        let mut wake = Vec::new();
        wheel.close(&mut wake);
        assert!(wheel.is_closed());
        assert_eq!(wake.len(), 2);
        assert_eq!(wheel.pending(), 0);
        wheel.reset(near, 10 * MS);
        assert_eq!(wheel.pending(), 0);
        assert!(wheel.poll(near, &waker(2, &log)));
        assert!(wheel.poll(far, &waker(3, &log)));
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn many_random_timers_fire_once_each_and_never_early() {
        let mut wheel = Wheel::default();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut deadlines = Vec::new();
        for i in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let d = seed % (10_000_000 * MS);
            deadlines.push(d);
            wheel.insert(d, waker(i, &log));
        }
        let mut now = 0;
        while let Some(next) = wheel.next_deadline() {
            now = next.max(now) + (seed % 3) * MS;
            run(&mut wheel, now);
            for &i in log.lock().unwrap().iter() {
                assert!(deadlines[i] <= now, "timer {i} fired early");
            }
        }
        let mut fired = log.lock().unwrap().clone();
        fired.sort_unstable();
        assert_eq!(fired, (0..2_000).collect::<Vec<_>>());
    }
}
