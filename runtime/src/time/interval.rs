use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::{deadline_after, sleep_until, Sleep};

/// Ticks every `period`, the first tick at once. See [`MissedTickBehavior`] for what happens
/// when the ticker falls behind (default: [`Burst`](MissedTickBehavior::Burst)).
///
/// ```
/// use std::time::Duration;
/// weft_runtime::Runtime::new()?.block_on(async {
///     let mut every = weft_runtime::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// When `period` is zero, or outside a runtime.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period` starting at `start`.
///
/// # Panics
/// When `period` is zero, or outside a runtime.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "weft::time::interval: the period must be non-zero"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed because the task was busy (or the loop
/// was stalled) past one or more deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the original schedule
    /// (`start + n * period`). Right when every tick counts (rate accounting).
    #[default]
    Burst,
    /// Fire once now and restart the schedule from now: ticks stay `period` apart.
    Delay,
    /// Fire once now and drop the missed ticks: the next one lands on the original schedule.
    /// Like Go's `time.Ticker`.
    Skip,
}

/// The ticker of [`interval`]; also a `futures_core::Stream` of tick instants.
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(self.sleep.poll_elapsed(cx));
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let due = deadline_after(scheduled, self.period);
        let next = match self.missed {
            MissedTickBehavior::Burst => due,
            MissedTickBehavior::Delay if now > due => deadline_after(now, self.period),
            MissedTickBehavior::Skip if now > due => {
                // In u128 nanoseconds: any number of missed periods, even past `u32::MAX`.
                let period = self.period.as_nanos();
                let skip = ((now - scheduled).as_nanos() / period + 1) * period;
                deadline_after(
                    scheduled,
                    Duration::from_nanos(u64::try_from(skip).unwrap_or(u64::MAX)),
                )
            }
            MissedTickBehavior::Delay | MissedTickBehavior::Skip => due,
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Chooses what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep
            .reset(deadline_after(Instant::now(), self.period));
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
