//! Timers: deadline order, cancellation, precision, intervals and their missed-tick behaviours.

mod util;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use util::{assert_between, drop_guard, run, XorShift};
use weft::time::{interval, interval_at, sleep, sleep_until, timeout, MissedTickBehavior};

const MS: Duration = Duration::from_millis(1);

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn sleeps_spawned_in_shuffled_order_complete_in_deadline_order() {
    run(async {
        // Deadlines 10, 16, 22, ... ms: 6 ms apart, spawned in a shuffled order.
        let mut order: Vec<usize> = (0..24).collect();
        XorShift::new(7).shuffle(&mut order);
        let done = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let tasks: Vec<_> = order
            .iter()
            .map(|&i| {
                let done = done.clone();
                let deadline = start + MS * (10 + 6 * i as u32);
                weft::spawn(async move {
                    sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "sleep {i} woke early");
                    done.lock().unwrap().push(i);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let done = done.lock().unwrap().clone();
        assert_eq!(done, (0..24).collect::<Vec<_>>(), "completion order");
    });
}

#[test]
fn sleeps_with_equal_deadlines_all_fire() {
    run(async {
        let deadline = Instant::now() + 20 * MS;
        let fired = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..500)
            .map(|_| {
                let fired = fired.clone();
                weft::spawn(async move {
                    sleep_until(deadline).await;
                    fired.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(fired.load(Ordering::SeqCst), 500);
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn a_timeout_on_a_pending_future_gives_elapsed_after_its_duration() {
    run(async {
        let start = Instant::now();
        let out = timeout(50 * MS, std::future::pending::<()>()).await;
        assert!(out.is_err(), "a pending future cannot finish");
        assert_between("timeout(50ms)", start.elapsed(), 50 * MS, 2_000 * MS);
        let err: std::io::Error = out.unwrap_err().into();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn a_timeout_drops_the_future_it_gives_up_on() {
    run(async {
        let (guard, flag) = drop_guard();
        let out = timeout(20 * MS, async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .await;
        assert!(out.is_err());
        assert!(flag.is_dropped(), "the abandoned future was not dropped");
    });
}

#[test]
fn a_timeout_that_does_not_expire_returns_the_output_and_does_not_wait() {
    run(async {
        let start = Instant::now();
        let out = timeout(Duration::from_secs(10), async {
            sleep(5 * MS).await;
            7
        })
        .await;
        assert_eq!(out, Ok(7));
        assert_between(
            "timeout(10s, 5ms work)",
            start.elapsed(),
            5 * MS,
            2_000 * MS,
        );
    });
}

#[test]
fn a_dropped_sleep_never_wakes_its_task() {
    run(async {
        let dropped_counter = Arc::new(CountingWaker::default());
        let kept_counter = Arc::new(CountingWaker::default());

        // Register two 20 ms timers with counting wakers; drop one before its deadline.
        let mut dropped = Box::pin(sleep(20 * MS));
        let mut kept = Box::pin(sleep(20 * MS));
        let w1 = Waker::from(dropped_counter.clone());
        let w2 = Waker::from(kept_counter.clone());
        assert!(dropped
            .as_mut()
            .poll(&mut Context::from_waker(&w1))
            .is_pending());
        assert!(kept
            .as_mut()
            .poll(&mut Context::from_waker(&w2))
            .is_pending());
        drop(dropped);

        // Well past the deadline: the kept timer woke its waker once, the dropped one never.
        sleep(120 * MS).await;
        assert_eq!(
            dropped_counter.0.load(Ordering::SeqCst),
            0,
            "a cancelled timer fired"
        );
        assert_eq!(
            kept_counter.0.load(Ordering::SeqCst),
            1,
            "the live timer did not fire"
        );
        assert!(
            !kept.is_elapsed(),
            "is_elapsed before the sleep was polled to completion"
        );
        assert!(kept.as_mut().poll(&mut Context::from_waker(&w2)).is_ready());
        assert!(kept.is_elapsed());
    });
}

#[test]
fn a_task_that_drops_a_long_sleep_finishes_without_waiting_for_it() {
    let start = Instant::now();
    run(async {
        let task = weft::spawn(async {
            let mut long = Box::pin(sleep(Duration::from_secs(30)));
            // Poll it once so the timer is registered, then give up on it.
            let polled = std::future::poll_fn(|cx| Poll::Ready(long.as_mut().poll(cx))).await;
            assert!(polled.is_pending());
            drop(long);
            "done"
        });
        assert_eq!(task.await.unwrap(), "done");
    });
    // The runtime also shut down without waiting for the cancelled timer.
    assert_between(
        "run with a dropped 30 s sleep",
        start.elapsed(),
        Duration::ZERO,
        2_000 * MS,
    );
}

#[test]
fn aborting_a_sleeping_task_cancels_it_at_once() {
    run(async {
        let (guard, flag) = drop_guard();
        let task = weft::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(30)).await;
            "woke up"
        });
        weft::yield_now().await; // the task starts and parks on its timer
        assert!(!task.is_finished());
        let start = Instant::now();
        task.abort();
        let err = task.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(flag.is_dropped());
        assert_between(
            "abort of a sleeper",
            start.elapsed(),
            Duration::ZERO,
            1_000 * MS,
        );
    });
}

#[test]
fn a_300us_sleep_takes_at_least_300us_and_well_under_20ms_on_average() {
    run(async {
        let runs = 20;
        let mut total = Duration::ZERO;
        for _ in 0..runs {
            let start = Instant::now();
            sleep(Duration::from_micros(300)).await;
            let took = start.elapsed();
            assert!(
                took >= Duration::from_micros(300),
                "sleep(300us) took only {took:?}"
            );
            total += took;
        }
        let average = total / runs;
        assert_between(
            "average sleep(300us)",
            average,
            Duration::from_micros(300),
            20 * MS,
        );
    });
}

#[test]
fn a_50ms_sleep_takes_at_least_50ms_and_under_a_second() {
    run(async {
        for _ in 0..3 {
            let start = Instant::now();
            sleep(50 * MS).await;
            assert_between("sleep(50ms)", start.elapsed(), 50 * MS, 1_000 * MS);
        }
    });
}

#[test]
fn sleep_until_a_past_instant_completes_at_once() {
    run(async {
        let past = Instant::now();
        std::thread::sleep(2 * MS);
        let start = Instant::now();
        sleep_until(past).await;
        sleep(Duration::ZERO).await;
        assert_between(
            "sleep_until(past)",
            start.elapsed(),
            Duration::ZERO,
            50 * MS,
        );
    });
}

#[test]
fn a_reset_sleep_waits_for_its_new_deadline() {
    run(async {
        let start = Instant::now();
        let mut s = Box::pin(sleep(Duration::from_secs(30)));
        s.as_mut().reset(start + 30 * MS);
        s.as_mut().await;
        assert_between("reset sleep", start.elapsed(), 30 * MS, 1_000 * MS);
        // An elapsed sleep waits again once reset.
        s.as_mut().reset(Instant::now() + 20 * MS);
        assert!(!s.is_elapsed());
        let again = Instant::now();
        s.as_mut().await;
        assert_between("re-armed sleep", again.elapsed(), 20 * MS, 1_000 * MS);
    });
}

#[test]
fn an_interval_ticks_once_per_period_and_never_early() {
    run(async {
        let start = Instant::now();
        let mut every = interval_at(start, 10 * MS);
        let mut ticks = Vec::new();
        let window = start + 205 * MS;
        let _ = weft::time::timeout_at(window, async {
            loop {
                let scheduled = every.tick().await;
                assert!(
                    Instant::now() >= scheduled,
                    "a tick came before its instant"
                );
                ticks.push(scheduled);
            }
        })
        .await;
        // Ticks at 0, 10, ..., 200 ms: at most 21, and with a lot of slack at least 5.
        assert!(
            (5..=21).contains(&ticks.len()),
            "{} ticks in a 205 ms window of a 10 ms interval",
            ticks.len()
        );
        for (n, t) in ticks.iter().enumerate() {
            assert_eq!(*t, start + 10 * MS * n as u32, "tick {n} off the schedule");
        }
    });
}

const PERIOD: Duration = Duration::from_millis(50);

/// What an interval did after a stall.
struct Stalled {
    start: Instant,
    /// When the loop got the thread back.
    stall_end: Instant,
    /// The ticks after the stall: (the instant each reported, when it returned).
    ticks: Vec<(Instant, Instant)>,
}

/// An interval of 50 ms whose task blocks the loop for 260 ms after the first tick: the ticks
/// at 50, 100, 150, 200 and 250 ms are missed.
async fn ticks_after_a_stall(behaviour: MissedTickBehavior, count: usize) -> Stalled {
    let start = Instant::now();
    let mut every = interval_at(start, PERIOD);
    every.set_missed_tick_behavior(behaviour);
    assert_eq!(every.period(), PERIOD);
    assert_eq!(every.tick().await, start);
    std::thread::sleep(260 * MS); // blocks the whole loop
    let stall_end = Instant::now();
    let mut ticks = Vec::new();
    for _ in 0..count {
        let scheduled = every.tick().await;
        let now = Instant::now();
        assert!(now >= scheduled, "a tick returned before its instant");
        ticks.push((scheduled, now));
    }
    Stalled {
        start,
        stall_end,
        ticks,
    }
}

#[test]
fn a_burst_interval_catches_up_on_missed_ticks_back_to_back() {
    run(async {
        let Stalled { start, ticks, .. } = ticks_after_a_stall(MissedTickBehavior::Burst, 6).await;
        let catch_up = ticks[4].1 - ticks[0].1;
        // Five missed ticks come at once (spaced, they would take 200 ms).
        assert_between("five burst ticks", catch_up, Duration::ZERO, 100 * MS);
        for (n, (scheduled, _)) in ticks.iter().enumerate() {
            assert_eq!(
                *scheduled,
                start + PERIOD * (n as u32 + 1),
                "burst tick {n}"
            );
        }
    });
}

#[test]
fn a_skip_interval_fires_once_then_returns_to_the_original_schedule() {
    run(async {
        let Stalled {
            start,
            stall_end,
            ticks,
        } = ticks_after_a_stall(MissedTickBehavior::Skip, 3).await;
        assert_eq!(
            ticks[0].0,
            start + PERIOD,
            "the late tick reports its own instant"
        );
        // No burst: the next tick is the first slot of the original schedule after the stall.
        let next = ticks[1].0;
        assert!(next > stall_end, "a missed tick was replayed");
        assert!(
            next <= ticks[0].1 + PERIOD,
            "more than one slot was skipped"
        );
        assert_eq!(
            (next - start).as_nanos() % PERIOD.as_nanos(),
            0,
            "off the schedule"
        );
        assert_eq!(ticks[2].0, next + PERIOD);
    });
}

#[test]
fn a_delay_interval_restarts_its_schedule_after_a_stall() {
    run(async {
        let Stalled {
            start,
            stall_end,
            ticks,
        } = ticks_after_a_stall(MissedTickBehavior::Delay, 3).await;
        assert_eq!(
            ticks[0].0,
            start + PERIOD,
            "the late tick reports its own instant"
        );
        // Then a full period from when the late tick fired, and on from there.
        assert!(
            ticks[1].0 >= stall_end + PERIOD,
            "the schedule did not restart"
        );
        assert_eq!(ticks[2].0, ticks[1].0 + PERIOD);
    });
}

#[test]
fn interval_reset_moves_the_next_tick_one_period_out() {
    run(async {
        let mut every = interval(40 * MS);
        every.tick().await; // immediate
        sleep(20 * MS).await;
        every.reset();
        let reset_at = Instant::now();
        every.tick().await;
        assert_between("tick after reset", reset_at.elapsed(), 40 * MS, 1_000 * MS);
    });
}

#[test]
fn many_timers_cancelled_while_others_fire() {
    run(async {
        // 2000 timers; every other one is cancelled by a timeout firing first.
        let fired = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..2000u32)
            .map(|i| {
                let fired = fired.clone();
                weft::spawn(async move {
                    let d = MS * (1 + i % 30);
                    if i % 2 == 0 {
                        sleep(d).await;
                        fired.fetch_add(1, Ordering::SeqCst);
                        true
                    } else {
                        timeout(d, sleep(Duration::from_secs(60))).await.is_ok()
                    }
                })
            })
            .collect();
        let mut finished = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            let completed = task.await.unwrap();
            assert_eq!(completed, i % 2 == 0, "task {i}");
            finished += 1;
        }
        assert_eq!(finished, 2000);
        assert_eq!(fired.load(Ordering::SeqCst), 1000);
    });
}

/// A duration too long for an `Instant` is "for ever", as in tokio: no overflow panic in
/// `sleep`, `timeout` or `interval`, nothing fires, and the loop does not spin on it.
#[test]
fn duration_max_means_for_ever() {
    run(async {
        let forever = sleep(Duration::MAX);
        assert!(timeout(30 * MS, forever).await.is_err());
        assert_eq!(timeout(Duration::MAX, async { 7 }).await, Ok(7));
        assert_eq!(timeout(Duration::MAX, sleep(5 * MS)).await, Ok(()));
        let mut ticks = interval(Duration::MAX);
        ticks.tick().await;
        assert!(timeout(30 * MS, ticks.tick()).await.is_err());
        for behavior in [MissedTickBehavior::Burst, MissedTickBehavior::Skip] {
            let mut ticks = interval(Duration::MAX);
            ticks.set_missed_tick_behavior(behavior);
            ticks.tick().await;
            assert!(timeout(5 * MS, ticks.tick()).await.is_err());
        }
    });
}

/// Dropping a runtime fires every timer: also a sleep first polled afterwards, one reset
/// afterwards, and an interval's next tick. They used to stay pending for ever, on a wheel
/// nothing would turn again.
#[test]
fn timers_of_a_dropped_runtime_fire_instead_of_hanging() {
    let rt = util::rt();
    let (fresh, mut reset, mut ticks) = rt.block_on(async {
        let mut polled = Box::pin(sleep(Duration::from_secs(300)));
        assert!(timeout(MS, polled.as_mut()).await.is_err());
        let mut ticks = interval(Duration::from_secs(300));
        ticks.tick().await;
        (sleep(Duration::from_secs(300)), polled, ticks)
    });
    drop(rt);
    reset.reset(Instant::now() + Duration::from_secs(300));
    let started = Instant::now();
    run(async move {
        fresh.await;
        reset.await;
        ticks.tick().await;
    });
    assert_between(
        "three timers of a dropped runtime",
        started.elapsed(),
        Duration::ZERO,
        Duration::from_secs(5),
    );
}

/// `timeout` over a future that is always ready (it spends the whole cooperative budget on
/// every poll) still ends at its deadline: the deadline check spends no budget.
#[test]
fn timeout_fires_while_the_inner_future_spends_the_whole_budget() {
    run(async {
        let start = Instant::now();
        let busy = async {
            while start.elapsed() < Duration::from_secs(5) {
                sleep(Duration::ZERO).await;
            }
        };
        let out = timeout(50 * MS, busy).await;
        assert!(out.is_err(), "the busy future ran to its own end");
        assert_between(
            "timeout",
            start.elapsed(),
            50 * MS,
            Duration::from_millis(2_500),
        );
    });
}

/// `Skip` after more than `u32::MAX` missed periods (1 ns ones, a 4.4 s stall) still lands after
/// now instead of replaying a missed tick.
#[test]
fn skip_after_more_than_u32_max_missed_periods_replays_nothing() {
    run(async {
        let start = Instant::now();
        let mut every = interval_at(start, Duration::from_nanos(1));
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(every.tick().await, start);
        std::thread::sleep(Duration::from_millis(4_400)); // more than 2^32 ns
        let stall_end = Instant::now();
        assert!(
            every.tick().await < stall_end,
            "the late tick fires at once"
        );
        let next = every.tick().await;
        assert!(next > stall_end, "a missed tick was replayed");
    });
}
