//! The stall detector: names the task whose poll keeps the loop thread from everything else.
//!
//! An event loop's weak spot is a poll that does not return: CPU-heavy work or a blocking call
//! on the loop thread stalls every other task and all I/O. The detector finds such polls
//! without reading the clock on the hot path:
//!
//! 1. The loop thread bumps `seq` when a poll starts and again when it ends, so `seq` is odd
//!    exactly while a poll runs (plain stores; the loop is the only writer).
//! 2. A watchdog thread wakes every quarter threshold. When it sees the same odd `seq` for a
//!    whole threshold, it records when it first saw that poll and publishes the poll's `seq` in
//!    `flagged`.
//! 3. When that poll returns, the loop finds its own `seq` in `flagged`, measures how long the
//!    poll ran (from the watchdog's first sighting, so to within a quarter threshold) and prints
//!    one warning naming the task. A stale flag never matches a later poll: `seq` only grows.
//! 4. A poll that never returns (a blocking call that waits forever, a deadlock) would never
//!    get to step 3, and its thread would hang in silence. So when the same poll is still
//!    running after [`HANG_FACTOR`] thresholds, the watchdog itself prints a warning at once,
//!    naming the thread and where the task was spawned (the loop stores the task's spawn
//!    location, a `&'static`, with each poll's start; the watchdog never touches the task).
//!
//! The watchdog holds only the monitor, never the runtime, and is stopped and joined when the
//! runtime drops.

use std::panic::Location;
use std::ptr;
use std::sync::{Condvar, Mutex as StdMutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use crate::shim::{lock, Arc, AtomicPtr, AtomicU64, Mutex, Ordering};

/// The default threshold: a poll longer than this is reported.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_millis(100);

/// The watchdog's tick when it has extra work ([`OnTick`]).
pub(crate) const TICK_WITH_HELP: Duration = Duration::from_millis(10);

/// A poll still running after this many thresholds is announced while it runs (step 4).
pub(crate) const HANG_FACTOR: u32 = 10;

/// Shared between the loop thread and the watchdog.
#[derive(Debug)]
pub(crate) struct StallMonitor {
    seq: AtomicU64,
    /// Where the task of the current poll was spawned (null: not known). Holds only pointers
    /// made from `&'static Location`s, so the watchdog may read it at any time.
    spawned_at: AtomicPtr<Location<'static>>,
    /// The loop thread, as the in-progress warning names it ("worker 2").
    thread: String,
    /// What a poll that does not return holds up, for the warnings.
    holds_up: &'static str,
    flagged: AtomicU64,
    /// When the watchdog first saw the flagged poll (ns after `base`).
    first_seen: AtomicU64,
    base: Instant,
    threshold: Duration,
    stats: Mutex<StallStats>,
}

/// What the detector has seen so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StallStats {
    pub(crate) stalls: u64,
    pub(crate) longest: Duration,
}

/// The watchdog thread; stopped and joined on drop.
#[derive(Debug)]
pub(crate) struct Watchdog {
    stop: Arc<Stop>,
    thread: Option<ThreadHandle<()>>,
}

impl StallMonitor {
    /// A monitor for the loop thread that the warnings call `thread`, where a poll that does
    /// not return holds up what `holds_up` says (it completes "…, holding up …").
    pub(crate) fn new(
        threshold: Duration,
        thread: impl Into<String>,
        holds_up: &'static str,
    ) -> StallMonitor {
        StallMonitor {
            seq: AtomicU64::new(0),
            spawned_at: AtomicPtr::new(ptr::null_mut()),
            thread: thread.into(),
            holds_up,
            flagged: AtomicU64::new(0),
            first_seen: AtomicU64::new(0),
            base: Instant::now(),
            threshold,
            stats: Mutex::new(StallStats::default()),
        }
    }

    /// A poll of a task spawned at `spawned_at` starts: returns its (odd) sequence number.
    #[inline]
    pub(crate) fn poll_started(&self, spawned_at: Option<&'static Location<'static>>) -> u64 {
        let spawned_at = spawned_at.map_or(ptr::null_mut(), |l| ptr::from_ref(l).cast_mut());
        // `Release`: a watchdog that reads this location then finds `seq` past the poll it
        // watched, so it never names this task for that earlier poll (free on x86)
        self.spawned_at.store(spawned_at, Ordering::Release);
        let seq = self.seq.load(Ordering::Relaxed) + 1;
        self.seq.store(seq, Ordering::Release);
        seq
    }

    /// The poll numbered `seq` returned. Returns how long it ran when the watchdog flagged it.
    #[inline]
    pub(crate) fn poll_finished(&self, seq: u64) -> Option<Duration> {
        self.seq.store(seq + 1, Ordering::Release);
        if self.flagged.load(Ordering::Acquire) != seq {
            return None;
        }
        self.stalled()
    }

    #[cold]
    fn stalled(&self) -> Option<Duration> {
        let first_seen = self.base + Duration::from_nanos(self.first_seen.load(Ordering::Acquire));
        let ran = first_seen.elapsed();
        let mut stats = lock(&self.stats);
        stats.stalls += 1;
        stats.longest = stats.longest.max(ran);
        Some(ran)
    }

    /// The poll sequence number: odd while a poll runs, bumped at each start and end.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Polls started and finished so far.
    pub(crate) fn polls(&self) -> u64 {
        self.seq.load(Ordering::Relaxed) / 2
    }

    pub(crate) fn stats(&self) -> StallStats {
        *lock(&self.stats)
    }

    /// Prints the detector's one warning for a poll of `what` that ran `ran`.
    #[cold]
    pub(crate) fn report(&self, what: &str, ran: Duration) {
        eprintln!(
            "weft: stall: {what} ran one poll for {} ms (threshold {} ms), holding up {}; move \
             CPU-heavy or blocking work to spawn_blocking",
            ran.as_millis(),
            self.threshold.as_millis(),
            self.holds_up
        );
    }

    /// One watchdog look at this monitor at time `now` (steps 2 and 4); `look` persists
    /// between looks. The caller reads the clock, so loom models can pass the time in.
    fn check(&self, tick: Duration, look: &mut Look, now: Instant) {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 0 {
            return;
        }
        if seq != look.watched {
            *look = Look {
                watched: seq,
                since: now - tick / 2,
                announced: false,
            };
            return;
        }
        let running = now.saturating_duration_since(look.since);
        if self.flagged.load(Ordering::Relaxed) != seq && running >= self.threshold {
            let first_seen = look.since.saturating_duration_since(self.base).as_nanos();
            self.first_seen.store(
                first_seen.min(u128::from(u64::MAX)) as u64,
                Ordering::Release,
            );
            self.flagged.store(seq, Ordering::Release);
        }
        if !look.announced && running >= self.threshold.saturating_mul(HANG_FACTOR) {
            look.announced = true;
            let spawned_at = self.spawned_at.load(Ordering::Acquire);
            // the location read belongs to this poll only if the poll is still the same one
            if self.seq.load(Ordering::Acquire) == seq {
                // `spawned_at` only ever holds null or a pointer made from a `&'static Location`
                // (`poll_started`), valid for the whole program.
                // SAFETY: see above: null or a pointer to a `'static` value.
                let spawned_at = unsafe { spawned_at.as_ref() };
                self.report_running(spawned_at, running);
            }
        }
    }

    /// Step 4's warning: the poll has not returned yet.
    #[cold]
    fn report_running(&self, spawned_at: Option<&Location<'_>>, running: Duration) {
        let task = match spawned_at {
            Some(at) => format!("a task spawned at {at}"),
            None => "a poll".to_owned(),
        };
        eprintln!(
            "weft: stall: {task} has been running one poll on {} for {} ms and has not \
             returned (a blocking call? a deadlock?), holding up {}; it is reported again, by \
             name, when it returns",
            self.thread,
            running.as_millis(),
            self.holds_up
        );
    }
}

/// What the watchdog saw of one monitor at its last look.
#[derive(Debug, Clone, Copy)]
struct Look {
    /// The odd `seq` of the poll it watches.
    watched: u64,
    /// When it first saw that poll (half a tick before that look).
    since: Instant,
    /// Step 4's warning went out for that poll.
    announced: bool,
}

/// The watchdog's stop signal.
#[derive(Debug, Default)]
struct Stop {
    stopped: StdMutex<bool>,
    wake: Condvar,
}

/// Extra work for the watchdog on each tick (the multi-thread runtime's stuck-worker help).
pub(crate) type OnTick = Box<dyn FnMut() + Send>;

/// The watchdog thread's loop over every loop thread's monitor.
fn watch(monitors: &[Arc<StallMonitor>], stop: &Stop, mut on_tick: Option<OnTick>) {
    let threshold = monitors.iter().map(|m| m.threshold).min();
    let mut tick = (threshold.unwrap_or(DEFAULT_THRESHOLD) / 4).max(Duration::from_millis(1));
    if on_tick.is_some() {
        tick = tick.min(TICK_WITH_HELP);
    }
    let first = Look {
        watched: 0,
        since: Instant::now(),
        announced: false,
    };
    let mut looks = vec![first; monitors.len()];
    let mut stopped = stop.stopped.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (guard, _) = stop
            .wake
            .wait_timeout(stopped, tick)
            .unwrap_or_else(|e| e.into_inner());
        stopped = guard;
        if *stopped {
            return;
        }
        for (monitor, look) in monitors.iter().zip(looks.iter_mut()) {
            monitor.check(tick, look, Instant::now());
        }
        if let Some(on_tick) = on_tick.as_mut() {
            on_tick();
        }
    }
}

impl Watchdog {
    /// Starts one watchdog thread for the monitors of every loop thread; `on_tick` also runs
    /// on each tick, which is then at most [`TICK_WITH_HELP`].
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub(crate) fn start(
        monitors: Vec<Arc<StallMonitor>>,
        on_tick: Option<OnTick>,
    ) -> std::io::Result<Watchdog> {
        let stop = Arc::new(Stop::default());
        let stop_seen = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weft-watchdog".into())
            .spawn(move || watch(&monitors, &stop_seen, on_tick))?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        *self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_long_poll_is_flagged_once_and_short_ones_never() {
        let monitor = Arc::new(StallMonitor::new(
            Duration::from_millis(20),
            "a test thread",
            "nothing",
        ));
        let _watchdog = Watchdog::start(vec![monitor.clone()], None).unwrap();
        for _ in 0..100 {
            let seq = monitor.poll_started(None);
            assert_eq!(monitor.poll_finished(seq), None);
        }
        let seq = monitor.poll_started(None);
        std::thread::sleep(Duration::from_millis(120));
        let ran = monitor
            .poll_finished(seq)
            .expect("a 120 ms poll is a stall");
        assert!(ran >= Duration::from_millis(60), "measured {ran:?}");
        let seq = monitor.poll_started(None);
        assert_eq!(
            monitor.poll_finished(seq),
            None,
            "the flag belongs to one poll"
        );
        assert_eq!(monitor.stats().stalls, 1);
        assert_eq!(monitor.polls(), 102);
    }
}

/// Model checks of the publication between the loop thread and the watchdog
/// (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime --release --lib loom`). Loom does not
/// model time, so the watchdog's looks are made at set times after the monitor's `base`.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    use super::*;

    const THRESHOLD: Duration = Duration::from_millis(100);
    const TICK: Duration = Duration::from_millis(25);

    /// The loop thread runs two polls, the first one long: it does not return before the
    /// watchdog has made two looks, 200 ms apart (so past the threshold). The watchdog makes
    /// two more looks at any time, so the second poll may be flagged too, or the first one
    /// after it returned. Whatever the interleaving:
    /// - no poll is flagged twice (its first sighting, `first_seen`, is written once);
    /// - a poll reported as a stall is one the watchdog flagged, so a stale flag never matches
    ///   a later poll, and the report measures from that poll's own first sighting;
    /// - a poll flagged while it ran is reported when it returns (the loop sees its own flag);
    /// - the stall count is the number of reports.
    #[test]
    fn loom_stall_flag_reaches_its_own_poll_only() {
        loom::model(|| {
            let monitor = Arc::new(StallMonitor::new(THRESHOLD, "a model", "nothing"));
            let looked = Arc::new(AtomicBool::new(false));
            let watchdog = {
                let (monitor, looked) = (monitor.clone(), looked.clone());
                thread::spawn(move || {
                    let start = monitor.base + Duration::from_secs(1);
                    let mut look = Look {
                        watched: 0,
                        since: monitor.base,
                        announced: false,
                    };
                    // (seq, first_seen) of each poll flagged, in order
                    let mut flags: Vec<(u64, u64)> = Vec::new();
                    let mut look_at = |after: Duration, flags: &mut Vec<(u64, u64)>| {
                        monitor.check(TICK, &mut look, start + after);
                        // the watchdog is the only writer of both: it reads its own stores
                        let flagged = monitor.flagged.load(Ordering::Relaxed);
                        let first_seen = monitor.first_seen.load(Ordering::Relaxed);
                        match flags.last() {
                            Some(&(seq, seen)) if seq == flagged => {
                                assert_eq!(seen, first_seen, "poll {seq} was flagged twice");
                            }
                            _ if flagged != 0 => flags.push((flagged, first_seen)),
                            _ => {}
                        }
                    };
                    look_at(Duration::ZERO, &mut flags);
                    look_at(Duration::from_millis(200), &mut flags);
                    let flagged_while_long = flags.first().map(|&(seq, _)| seq);
                    looked.store(true, Ordering::Release);
                    look_at(Duration::from_millis(400), &mut flags);
                    look_at(Duration::from_millis(600), &mut flags);
                    (flagged_while_long, flags)
                })
            };
            let mut reports = Vec::new();
            let first = monitor.poll_started(None);
            while !looked.load(Ordering::Acquire) {
                thread::yield_now();
            }
            if let Some(_ran) = monitor.poll_finished(first) {
                // the first sighting published with the flag (the next poll has not started,
                // so the watchdog cannot have written another one yet)
                reports.push((first, monitor.first_seen.load(Ordering::Relaxed)));
            }
            let second = monitor.poll_started(None);
            if monitor.poll_finished(second).is_some() {
                reports.push((second, monitor.first_seen.load(Ordering::Relaxed)));
            }
            let (flagged_while_long, flags) = watchdog.join().unwrap();
            for window in flags.windows(2) {
                assert!(window[0].0 < window[1].0, "flags went back: {flags:?}");
            }
            for report in &reports {
                assert!(
                    flags.contains(report),
                    "reported {report:?}, flagged {flags:?}"
                );
            }
            if let Some(seq) = flagged_while_long {
                assert_eq!(seq, first);
                assert_eq!(reports.first().map(|r| r.0), Some(first), "missed its flag");
            }
            assert_eq!(monitor.stats().stalls, reports.len() as u64);
        });
    }
}
