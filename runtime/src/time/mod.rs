//! Time: [`sleep`], [`timeout`] and [`interval`], on the reactor's timing wheel.
//!
//! Timers insert and cancel in O(1); the earliest deadline bounds the reactor's wait.
//!
//! A duration too long for an `Instant` (`Duration::MAX`, the usual "for ever") is not an
//! error: the deadline becomes about 30 years away, as in tokio.

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

/// How far away a deadline that would overflow `Instant` is put: about 30 years.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// `at + duration`, or about 30 years after `at` when that overflows `Instant`.
#[doc(hidden)]
pub fn deadline_after(at: Instant, duration: Duration) -> Instant {
    at.checked_add(duration)
        .or_else(|| at.checked_add(FAR_FUTURE))
        .unwrap_or(at)
}
