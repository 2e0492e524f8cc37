//! A worker's run queue: a bounded ring that its owner pushes to and pops from, and that idle
//! workers steal half of.
//!
//! # Protocol
//!
//! - `tail` is written only by the owner; `head` is advanced by whoever takes entries (the owner
//!   popping one, a thief taking a batch), always by compare-and-swap.
//! - Slots hold task pointers in atomics, so a thief may read a slot that the owner is
//!   overwriting at the same moment; what it read is used only if its CAS on `head` succeeds.
//! 1. **Push** (owner): if `tail - head < CAPACITY`, store the pointer in `slot[tail]`, then
//!    publish it with a release store of `tail + 1`. Otherwise the ring is full and the caller
//!    moves half of it to the inject queue ([`RunQueue::push_or_overflow`]).
//! 2. **Pop** (owner): read `slot[head]`, then CAS `head` from `head` to `head + 1`; a failed CAS
//!    means a thief took it, so retry with the new `head`.
//! 3. **Steal** (any thread): read `head`, then `tail` (acquire: the slots below it are
//!    published), copy the pointers of the first half into the thief's own ring *without*
//!    publishing them, then CAS `head` forward past them. Success makes the copies the thief's
//!    (it publishes them with its own `tail`); failure discards them and retries.
//!
//! Why a copy read before the CAS is safe: the owner overwrites `slot[i]` only when
//! `i = tail >= head + CAPACITY`, that is only after `head` moved past the slot the thief read,
//! which makes the thief's CAS fail. `head` and `tail` are `u32` counters compared with wrapping
//! arithmetic; an ABA would need 2³² pops during one steal.

use std::marker::PhantomData;
use std::ptr;

use crate::shim::{AtomicPtr, AtomicU32, Ordering};

/// Slots per ring (small under loom so models stay small).
#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;

const MASK: u32 = CAPACITY as u32 - 1;

/// What a ring can hold: a value that is one pointer.
pub(crate) trait Pointer: Sized {
    /// Gives up the value as a pointer.
    fn into_ptr(self) -> *mut ();
    /// Takes the value back.
    ///
    /// # Safety
    /// `ptr` came from `into_ptr` and is taken back exactly once.
    unsafe fn from_ptr(ptr: *mut ()) -> Self;
}

/// The ring. Only the owning worker calls `push*` and `pop`; anyone may `steal_into`.
pub(crate) struct RunQueue<T: Pointer> {
    head: AtomicU32,
    tail: AtomicU32,
    slots: Box<[AtomicPtr<()>]>,
    _values: PhantomData<T>,
}

// SAFETY: the ring moves `T` values between threads (owner to thief), so it is `Send` and `Sync`
// when `T` is `Send`; every slot access is atomic and ownership of a value passes through a CAS
// on `head` (see the module docs).
unsafe impl<T: Pointer + Send> Send for RunQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Pointer + Send> Sync for RunQueue<T> {}

impl<T: Pointer> RunQueue<T> {
    pub(crate) fn new() -> RunQueue<T> {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            _values: PhantomData,
        }
    }

    /// Entries now (a snapshot when read by another thread).
    pub(crate) fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: pushes `value`, or when the ring is full hands back `value` and the older
    /// half of the ring to `overflow` (which must take them all, e.g. the inject queue).
    pub(crate) fn push_or_overflow(&self, value: T, overflow: impl FnOnce(Vec<T>)) {
        let mut value = value;
        loop {
            let tail = self.tail.load(Ordering::Relaxed);
            let head = self.head.load(Ordering::Acquire);
            if tail.wrapping_sub(head) < CAPACITY as u32 {
                self.slots[(tail & MASK) as usize].store(value.into_ptr(), Ordering::Relaxed);
                self.tail.store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            match self.take_half(head, tail, value) {
                Ok(batch) => return overflow(batch),
                // a thief made room meanwhile
                Err(back) => value = back,
            }
        }
    }

    /// Owner only: claims the older half of a full ring, plus `value`.
    fn take_half(&self, head: u32, tail: u32, value: T) -> Result<Vec<T>, T> {
        let n = tail.wrapping_sub(head) / 2;
        if self
            .head
            .compare_exchange(
                head,
                head.wrapping_add(n),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return Err(value);
        }
        let mut batch = Vec::with_capacity(n as usize + 1);
        for i in 0..n {
            let ptr = self.slots[(head.wrapping_add(i) & MASK) as usize].load(Ordering::Relaxed);
            // SAFETY: the CAS made slots head..head+n ours; each pointer is taken back once.
            batch.push(unsafe { T::from_ptr(ptr) });
        }
        batch.push(value);
        Ok(batch)
    }

    /// Owner only: the oldest entry.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let tail = self.tail.load(Ordering::Relaxed);
            if head == tail {
                return None;
            }
            let ptr = self.slots[(head & MASK) as usize].load(Ordering::Relaxed);
            match self.head.compare_exchange(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: the CAS made `slot[head]` ours; it holds a pointer from `into_ptr`.
                Ok(_) => return Some(unsafe { T::from_ptr(ptr) }),
                Err(actual) => head = actual,
            }
        }
    }

    /// Any thread: moves half of this ring's entries into `dst` (which must be empty and owned
    /// by the caller) and returns one of them to run now.
    pub(crate) fn steal_into(&self, dst: &RunQueue<T>) -> Option<T> {
        let dst_tail = dst.tail.load(Ordering::Relaxed);
        debug_assert!(dst.is_empty(), "a thief steals only into an empty queue");
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let tail = self.tail.load(Ordering::Acquire);
            let available = tail.wrapping_sub(head);
            if available == 0 || available > CAPACITY as u32 {
                // empty, or a stale `head` read against a newer `tail`: look again
                if available == 0 {
                    return None;
                }
                head = self.head.load(Ordering::Acquire);
                continue;
            }
            let n = available - available / 2;
            for i in 0..n {
                let ptr =
                    self.slots[(head.wrapping_add(i) & MASK) as usize].load(Ordering::Relaxed);
                dst.slots[(dst_tail.wrapping_add(i) & MASK) as usize].store(ptr, Ordering::Relaxed);
            }
            match self.head.compare_exchange(
                head,
                head.wrapping_add(n),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // keep the newest stolen entry to run now, publish the rest
                    let last = dst.slots[(dst_tail.wrapping_add(n - 1) & MASK) as usize]
                        .load(Ordering::Relaxed);
                    if n > 1 {
                        dst.tail
                            .store(dst_tail.wrapping_add(n - 1), Ordering::Release);
                    }
                    // SAFETY: the CAS made these entries ours; `last` is taken back once and
                    // the others are now owned by `dst`.
                    return Some(unsafe { T::from_ptr(last) });
                }
                Err(actual) => head = actual,
            }
        }
    }

    /// Owner only (or with every other user gone): empties the ring.
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(value) = self.pop() {
            out.push(value);
        }
        out
    }
}

impl<T: Pointer> Drop for RunQueue<T> {
    fn drop(&mut self) {
        drop(self.drain());
    }
}

impl<T: Pointer> std::fmt::Debug for RunQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunQueue")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    impl Pointer for Box<u32> {
        fn into_ptr(self) -> *mut () {
            Box::into_raw(self).cast()
        }
        unsafe fn from_ptr(ptr: *mut ()) -> Self {
            // SAFETY: `ptr` came from `Box::into_raw` (contract of `from_ptr`).
            unsafe { Box::from_raw(ptr.cast()) }
        }
    }

    #[test]
    fn pops_in_order_and_overflows_half_when_full() {
        let q = RunQueue::<Box<u32>>::new();
        let mut spilled = Vec::new();
        for i in 0..CAPACITY as u32 + 1 {
            q.push_or_overflow(Box::new(i), |batch| spilled.extend(batch));
        }
        let spilled: Vec<u32> = spilled.into_iter().map(|b| *b).collect();
        let half = CAPACITY as u32 / 2;
        assert_eq!(
            spilled,
            (0..half).chain([CAPACITY as u32]).collect::<Vec<_>>()
        );
        let rest: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|b| *b).collect();
        assert_eq!(rest, (half..CAPACITY as u32).collect::<Vec<_>>());
    }

    #[test]
    fn a_thief_takes_the_older_half() {
        let q = RunQueue::<Box<u32>>::new();
        let thief = RunQueue::<Box<u32>>::new();
        for i in 0..10 {
            q.push_or_overflow(Box::new(i), |_| unreachable!());
        }
        assert_eq!(q.steal_into(&thief).map(|b| *b), Some(4));
        let stolen: Vec<u32> = std::iter::from_fn(|| thief.pop()).map(|b| *b).collect();
        assert_eq!(stolen, vec![0, 1, 2, 3]);
        assert_eq!(q.len(), 5);
        assert_eq!(q.pop().map(|b| *b), Some(5));
    }

    #[test]
    fn concurrent_thieves_lose_and_duplicate_nothing() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        const N: u32 = 200_000;
        let q = Arc::new(RunQueue::<Box<u32>>::new());
        let done = Arc::new(AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (q, done) = (q.clone(), done.clone());
                std::thread::spawn(move || {
                    let mine = RunQueue::<Box<u32>>::new();
                    let mut seen = Vec::new();
                    while !done.load(Ordering::Acquire) || !q.is_empty() {
                        if let Some(v) = q.steal_into(&mine) {
                            seen.push(*v);
                            seen.extend(std::iter::from_fn(|| mine.pop()).map(|b| *b));
                        }
                    }
                    seen
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut spilled = Vec::new();
        for i in 0..N {
            q.push_or_overflow(Box::new(i), |batch| spilled.extend(batch));
            if i % 3 == 0 {
                seen.extend(q.pop().map(|b| *b));
            }
        }
        done.store(true, Ordering::Release);
        seen.extend(std::iter::from_fn(|| q.pop()).map(|b| *b));
        for thief in thieves {
            seen.extend(thief.join().unwrap());
        }
        seen.extend(spilled.into_iter().map(|b| *b));
        seen.sort_unstable();
        assert_eq!(seen, (0..N).collect::<Vec<_>>());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    struct Item(Box<u32>);

    impl Pointer for Item {
        fn into_ptr(self) -> *mut () {
            Box::into_raw(self.0).cast()
        }
        unsafe fn from_ptr(ptr: *mut ()) -> Self {
            // SAFETY: `ptr` came from `Box::into_raw` (contract of `from_ptr`).
            Item(unsafe { Box::from_raw(ptr.cast()) })
        }
    }

    /// The owner pushes past capacity and pops while a thief steals: every value comes out
    /// exactly once (loom also checks the boxes are neither leaked nor freed twice).
    #[test]
    fn loom_run_queue_push_pop_steal_overflow() {
        loom::model(|| {
            let q = Arc::new(RunQueue::<Item>::new());
            let thief = {
                let q = q.clone();
                thread::spawn(move || {
                    let mine = RunQueue::<Item>::new();
                    let mut got = Vec::new();
                    if let Some(v) = q.steal_into(&mine) {
                        got.push(*v.0);
                        got.extend(std::iter::from_fn(|| mine.pop()).map(|v| *v.0));
                    }
                    got
                })
            };
            let mut got = Vec::new();
            for i in 0..CAPACITY as u32 + 1 {
                q.push_or_overflow(Item(Box::new(i)), |batch| {
                    got.extend(batch.into_iter().map(|v| *v.0))
                });
            }
            got.extend(q.pop().map(|v| *v.0));
            got.extend(thief.join().unwrap());
            got.extend(std::iter::from_fn(|| q.pop()).map(|v| *v.0));
            got.sort_unstable();
            assert_eq!(got, (0..CAPACITY as u32 + 1).collect::<Vec<_>>());
        });
    }

    /// Two thieves race each other and the owner's pop.
    #[test]
    fn loom_run_queue_two_thieves() {
        loom::model(|| {
            let q = Arc::new(RunQueue::<Item>::new());
            for i in 0..3 {
                q.push_or_overflow(Item(Box::new(i)), |_| unreachable!());
            }
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let mine = RunQueue::<Item>::new();
                        let mut got = Vec::new();
                        if let Some(v) = q.steal_into(&mine) {
                            got.push(*v.0);
                            got.extend(std::iter::from_fn(|| mine.pop()).map(|v| *v.0));
                        }
                        got
                    })
                })
                .collect();
            let mut got: Vec<u32> = q.pop().map(|v| *v.0).into_iter().collect();
            for thief in thieves {
                got.extend(thief.join().unwrap());
            }
            got.extend(std::iter::from_fn(|| q.pop()).map(|v| *v.0));
            got.sort_unstable();
            assert_eq!(got, vec![0, 1, 2]);
        });
    }
}
