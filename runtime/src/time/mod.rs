//! Time: [`sleep`], [`timeout`] and [`interval`], on the reactor's timing wheel.
//!
//! Timers insert and cancel in O(1); the earliest deadline bounds the reactor's wait.

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
