//! The stall detector: names the task whose poll keeps the loop thread from everything else.
//!
//! An event loop's weak spot is a poll that does not return: CPU-heavy work or a blocking call
//! on the loop thread stalls every other task and all I/O. The detector finds such polls
//! without reading the clock on the hot path:
//!
//! 1. The loop thread bumps `seq` when a poll starts and again when it ends, so `seq` is odd
//!    exactly while a poll runs (two plain stores per poll; the loop is the only writer).
//! 2. A watchdog thread wakes every quarter threshold. When it sees the same odd `seq` for a
//!    whole threshold, it records when it first saw that poll and publishes the poll's `seq` in
//!    `flagged`.
//! 3. When that poll returns, the loop finds its own `seq` in `flagged`, measures how long the
//!    poll ran (from the watchdog's first sighting, so to within a quarter threshold) and prints
//!    one warning naming the task. A stale flag never matches a later poll: `seq` only grows.
//!
//! The watchdog holds only the monitor, never the runtime, and is stopped and joined when the
//! runtime drops.

use std::sync::{Condvar, Mutex as StdMutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use crate::shim::{lock, Arc, AtomicU64, Mutex, Ordering};

/// The default threshold: a poll longer than this is reported.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_millis(100);

/// The watchdog's tick when it has extra work ([`OnTick`]).
pub(crate) const TICK_WITH_HELP: Duration = Duration::from_millis(10);

/// Shared between the loop thread and the watchdog.
#[derive(Debug)]
pub(crate) struct StallMonitor {
    seq: AtomicU64,
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
    pub(crate) fn new(threshold: Duration) -> StallMonitor {
        StallMonitor {
            seq: AtomicU64::new(0),
            flagged: AtomicU64::new(0),
            first_seen: AtomicU64::new(0),
            base: Instant::now(),
            threshold,
            stats: Mutex::new(StallStats::default()),
        }
    }

    /// A poll starts: returns its (odd) sequence number.
    #[inline]
    pub(crate) fn poll_started(&self) -> u64 {
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

    /// Polls started and finished so far.
    /// The poll sequence number: odd while a poll runs, bumped at each start and end.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

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
            "weft: stall: {what} ran one poll for {} ms (threshold {} ms), stalling every other \
             task and all I/O on its loop thread; move CPU-heavy or blocking work to \
             spawn_blocking",
            ran.as_millis(),
            self.threshold.as_millis()
        );
    }

    /// One watchdog look at this monitor (step 2); `watched` and `since` persist between looks.
    fn check(&self, tick: Duration, watched: &mut u64, since: &mut Instant) {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 0 {
            return;
        }
        if seq != *watched {
            *watched = seq;
            *since = Instant::now() - tick / 2;
        } else if self.flagged.load(Ordering::Relaxed) != seq && since.elapsed() >= self.threshold {
            let first_seen = since.saturating_duration_since(self.base).as_nanos();
            self.first_seen.store(
                first_seen.min(u128::from(u64::MAX)) as u64,
                Ordering::Release,
            );
            self.flagged.store(seq, Ordering::Release);
        }
    }
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
    let mut looks: Vec<(u64, Instant)> = monitors.iter().map(|_| (0, Instant::now())).collect();
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
        for (monitor, (watched, since)) in monitors.iter().zip(looks.iter_mut()) {
            monitor.check(tick, watched, since);
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
        let monitor = Arc::new(StallMonitor::new(Duration::from_millis(20)));
        let _watchdog = Watchdog::start(vec![monitor.clone()], None).unwrap();
        for _ in 0..100 {
            let seq = monitor.poll_started();
            assert_eq!(monitor.poll_finished(seq), None);
        }
        let seq = monitor.poll_started();
        std::thread::sleep(Duration::from_millis(120));
        let ran = monitor
            .poll_finished(seq)
            .expect("a 120 ms poll is a stall");
        assert!(ran >= Duration::from_millis(60), "measured {ran:?}");
        let seq = monitor.poll_started();
        assert_eq!(
            monitor.poll_finished(seq),
            None,
            "the flag belongs to one poll"
        );
        assert_eq!(monitor.stats().stalls, 1);
        assert_eq!(monitor.polls(), 102);
    }
}
