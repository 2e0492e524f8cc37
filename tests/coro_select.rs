//! `weft::coroutines::Select`: fair between ready arms, timeouts that fire only when nothing
//! else is ready, send/reserve arms, closed channels, losing arms that lose nothing, and the
//! same select from a coroutine, from async code (`.await`) and from a plain thread.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{assert_between, run, run_coro, Watchdog};
use weft::coroutines::{self, Select};
use weft::sync::mpsc::error::SendError;
use weft::sync::{mpsc, oneshot, Notify};

#[derive(Debug, PartialEq)]
enum Arm {
    A(Option<u32>),
    B(Option<u32>),
    C(Option<u32>),
    Timeout,
}

/// Two channels that always hold a value: over 1,000 selects each arm wins about half the time.
#[test]
fn two_always_ready_arms_are_chosen_equally_often() {
    let (a, b) = run_coro(|| {
        let (tx_a, mut rx_a) = mpsc::unbounded_channel();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel();
        for i in 0..1_000 {
            tx_a.send(i).unwrap();
            tx_b.send(i).unwrap();
        }
        let (mut a, mut b) = (0, 0);
        for _ in 0..1_000 {
            match Select::new()
                .recv(&mut rx_a, Arm::A)
                .recv(&mut rx_b, Arm::B)
                .wait()
            {
                Arm::A(Some(_)) => a += 1,
                Arm::B(Some(_)) => b += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        (a, b)
    });
    assert_eq!(a + b, 1_000);
    assert!(a >= 300 && b >= 300, "unfair: A won {a}, B won {b}");
}

/// A never-ready arm listed between two ready ones must not favour the arm after it (a plain
/// rotation of the start would give the third arm two thirds of the wins, and a stride drawn
/// with a bias gave it five ninths). 30,000 rounds: one standard deviation of the share is
/// 0.3%, so the 2% bound is about seven.
#[test]
fn an_idle_arm_between_ready_ones_does_not_tilt_the_odds() {
    const ROUNDS: u32 = 30_000;
    let (a, b) = run_coro(|| {
        let (tx_a, mut rx_a) = mpsc::unbounded_channel();
        let (_tx_idle, mut rx_idle) = mpsc::unbounded_channel();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel();
        for i in 0..ROUNDS {
            tx_a.send(i).unwrap();
            tx_b.send(i).unwrap();
        }
        let (mut a, mut b) = (0, 0);
        for round in 0..ROUNDS {
            match Select::new()
                .recv(&mut rx_a, Arm::A)
                .recv(&mut rx_idle, Arm::C)
                .recv(&mut rx_b, Arm::B)
                .try_wait()
            {
                Some(Arm::A(Some(_))) => a += 1,
                Some(Arm::B(Some(_))) => b += 1,
                other => panic!("unexpected {other:?}"),
            }
            if round % 32 == 31 {
                // try_wait spends the cooperative budget (up to 3 units here) and never
                // parks: a yield brings a fresh one
                coroutines::yield_now();
            }
        }
        (a, b)
    });
    assert_eq!(a + b, ROUNDS);
    let share_b = f64::from(b) / f64::from(ROUNDS);
    assert!(
        (share_b - 0.5).abs() < 0.02,
        "unfair: A won {a}, B won {b} (B's share {share_b:.3})"
    );
}

/// `Duration::MAX` is "for ever": no overflow panic, the other arms still win.
#[test]
fn a_timeout_of_duration_max_never_fires_and_does_not_panic() {
    let got = run_coro(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sender = weft::go(move || {
            coroutines::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
        });
        let got = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::MAX, || Arm::Timeout)
            .wait();
        sender.join().unwrap();
        got
    });
    assert_eq!(got, Arm::A(Some(1)));
}

#[test]
fn the_timeout_fires_when_nothing_is_ready() {
    let (got, elapsed) = run_coro(|| {
        let (_tx, mut rx) = mpsc::channel::<u32>(1);
        let start = Instant::now();
        let got = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_millis(50), || Arm::Timeout)
            .wait();
        (got, start.elapsed())
    });
    assert_eq!(got, Arm::Timeout);
    assert_between(
        "select timeout",
        elapsed,
        Duration::from_millis(50),
        Duration::from_secs(5),
    );
}

#[test]
fn a_value_that_comes_first_beats_the_timeout() {
    let (got, elapsed) = run_coro(|| {
        let (tx, mut rx) = mpsc::channel(1);
        weft::go(move || {
            coroutines::sleep(Duration::from_millis(10));
            tx.blocking_send(7).unwrap();
        });
        let start = Instant::now();
        let got = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_secs(3), || Arm::Timeout)
            .wait();
        (got, start.elapsed())
    });
    assert_eq!(got, Arm::A(Some(7)));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

/// When the deadline has passed and a value is ready too, the value wins: timers are polled
/// after the channel arms.
#[test]
fn a_ready_value_wins_over_a_deadline_that_has_passed() {
    let got = run_coro(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        (0..100).for_each(|i| tx.send(i).unwrap());
        let past = Instant::now() - Duration::from_millis(1);
        (0..100)
            .map(|_| {
                Select::new()
                    .timeout_at(past, || Arm::Timeout)
                    .recv(&mut rx, Arm::A)
                    .wait()
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(got, (0..100).map(|i| Arm::A(Some(i))).collect::<Vec<_>>());
}

#[test]
fn a_send_arm_waits_for_a_slot_and_delivers() {
    let (sent, received) = run_coro(|| {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(1).unwrap(); // full
        let receiver = weft::go(move || {
            coroutines::sleep(Duration::from_millis(10));
            (rx.blocking_recv(), rx.blocking_recv())
        });
        let sent = Select::new()
            .send(&tx, 2, |r| r.is_ok())
            .timeout(Duration::from_secs(3), || false)
            .wait();
        (sent, receiver.join().unwrap())
    });
    assert!(sent, "the send arm did not win");
    assert_eq!(received, (Some(1), Some(2)));
}

#[test]
fn a_send_arm_on_a_closed_channel_gives_the_value_back() {
    let back = run_coro(|| {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        Select::new()
            .send(&tx, String::from("unsent"), |r| {
                r.err().map(|SendError(v)| v)
            })
            .wait()
    });
    assert_eq!(back.as_deref(), Some("unsent"));
}

/// A reserve arm that loses gives its place back: the slot it may have been handed is free.
#[test]
fn a_losing_reserve_arm_keeps_no_slot() {
    run_coro(|| {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap(); // full: the reserve arm queues
        let (tx_other, mut rx_other) = mpsc::channel(1);
        let drainer = weft::go(move || {
            coroutines::sleep(Duration::from_millis(10));
            // frees the slot (handing it to the queued reserve), then makes the other arm
            // ready in the same turn
            assert_eq!(rx.try_recv(), Ok(0));
            tx_other.try_send(9).unwrap();
            rx
        });
        let won = Select::new()
            .recv(&mut rx_other, |v| v)
            .timeout(Duration::from_secs(3), || None)
            .reserve(&tx, |_| Some(100))
            .wait();
        let mut rx = drainer.join().unwrap();
        // Whichever arm won, the slot is not stuck with a dropped reservation.
        match won {
            Some(9) => {
                tx.try_send(1).expect("the losing reserve kept the slot");
                assert_eq!(rx.try_recv(), Ok(1));
            }
            Some(100) => assert_eq!(rx_other.try_recv(), Ok(9)),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn a_closed_channel_arm_is_ready_with_none() {
    let got = run_coro(|| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let (_keep, mut idle) = mpsc::channel::<u32>(1);
        drop(tx);
        let start = Instant::now();
        let got = Select::new()
            .recv(&mut idle, Arm::B)
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_secs(3), || Arm::Timeout)
            .wait();
        assert!(start.elapsed() < Duration::from_secs(3));
        got
    });
    assert_eq!(got, Arm::A(None));
}

/// Selecting over two channels many times loses and duplicates nothing: every value is
/// received once, in each channel's order.
#[test]
fn losing_recv_arms_lose_nothing() {
    let (from_a, from_b) = run_coro(|| {
        let (tx_a, mut rx_a) = mpsc::channel(4);
        let (tx_b, mut rx_b) = mpsc::channel(4);
        weft::go(move || (0..500).for_each(|i| tx_a.blocking_send(i).unwrap()));
        weft::go(move || (0..500).for_each(|i| tx_b.blocking_send(i).unwrap()));
        let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
        let (mut a_open, mut b_open) = (true, true);
        while a_open || b_open {
            // A finished channel's arm is left out, as Go code sets the channel to nil.
            let event = match (a_open, b_open) {
                (true, true) => Select::new()
                    .recv(&mut rx_a, Arm::A)
                    .recv(&mut rx_b, Arm::B)
                    .wait(),
                (true, false) => Select::new().recv(&mut rx_a, Arm::A).wait(),
                _ => Select::new().recv(&mut rx_b, Arm::B).wait(),
            };
            match event {
                Arm::A(Some(v)) => from_a.push(v),
                Arm::B(Some(v)) => from_b.push(v),
                Arm::A(None) => a_open = false,
                Arm::B(None) => b_open = false,
                other => panic!("unexpected {other:?}"),
            }
        }
        (from_a, from_b)
    });
    let want: Vec<u32> = (0..500).collect();
    assert_eq!(from_a, want);
    assert_eq!(from_b, want);
}

/// Future arms: a oneshot receiver passed by `&mut` survives a loss and is received later; a
/// `Notify` wakes the select.
#[test]
fn oneshot_and_notify_arms() {
    run_coro(|| {
        let (reply_tx, mut reply) = oneshot::channel::<&str>();
        let notify = Arc::new(Notify::new());
        let notifier = notify.clone();
        weft::go(move || {
            coroutines::sleep(Duration::from_millis(5));
            notifier.notify_one();
        });
        let first = Select::new()
            .future(&mut reply, |r| format!("reply {r:?}"))
            .future(notify.notified(), |()| "notified".to_string())
            .wait();
        assert_eq!(first, "notified");
        reply_tx.send("kept").unwrap();
        let second = Select::new()
            .future(&mut reply, |r| r.map(str::to_string).unwrap())
            .future(notify.notified(), |()| "notified again".to_string())
            .wait();
        assert_eq!(second, "kept");
    });
}

/// Async code awaits the same select (in a spawned, `Send` task); no coroutine involved.
#[test]
fn async_code_awaits_a_select() {
    let got = run(async {
        let (tx, mut rx) = mpsc::channel(1);
        let (_idle_tx, mut idle) = mpsc::channel::<u32>(1);
        weft::go(move || {
            coroutines::sleep(Duration::from_millis(5));
            tx.blocking_send(42).unwrap();
        });
        let task = weft::spawn(async move {
            let first = Select::new()
                .recv(&mut idle, Arm::B)
                .recv(&mut rx, Arm::A)
                .timeout(Duration::from_secs(3), || Arm::Timeout)
                .await;
            let second = Select::new()
                .recv(&mut idle, Arm::B)
                .timeout(Duration::from_millis(20), || Arm::Timeout)
                .await;
            (first, second)
        });
        task.await.unwrap()
    });
    assert_eq!(got, (Arm::A(Some(42)), Arm::Timeout));
}

/// From a plain thread: a value from an async task, then a timeout with no runtime in sight.
#[test]
fn a_plain_thread_selects_and_times_out() {
    let _dog = Watchdog::arm(Duration::from_secs(30));
    let (tx, mut rx) = mpsc::channel(1);
    let thread = std::thread::spawn(move || {
        let first = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_secs(5), || Arm::Timeout)
            .wait();
        let start = Instant::now();
        let second = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_millis(40), || Arm::Timeout)
            .wait();
        (first, second, start.elapsed(), rx)
    });
    run(async move {
        weft::time::sleep(Duration::from_millis(10)).await;
        tx.send(5).await.unwrap();
        // keep the sender alive until the thread's second select timed out
        while !thread.is_finished() {
            weft::time::sleep(Duration::from_millis(2)).await;
        }
        let (first, second, elapsed, _rx) = thread.join().unwrap();
        assert_eq!(first, Arm::A(Some(5)));
        assert_eq!(second, Arm::Timeout);
        assert_between(
            "plain-thread timeout",
            elapsed,
            Duration::from_millis(40),
            Duration::from_secs(5),
        );
    });
}

#[test]
fn try_wait_never_waits() {
    let (empty, ready, expired) = run(async {
        let (tx, mut rx) = mpsc::channel(1);
        let empty = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::from_secs(60), || Arm::Timeout)
            .try_wait();
        tx.try_send(3).unwrap();
        let ready = Select::new().recv(&mut rx, Arm::A).try_wait();
        let expired = Select::new()
            .recv(&mut rx, Arm::A)
            .timeout(Duration::ZERO, || Arm::Timeout)
            .try_wait();
        (empty, ready, expired)
    });
    assert_eq!(empty, None);
    assert_eq!(ready, Some(Arm::A(Some(3))));
    assert_eq!(expired, Some(Arm::Timeout));
}

#[test]
fn wait_in_async_code_or_without_arms_panics_with_a_clear_message() {
    let message = run(async {
        let (_tx, mut rx) = mpsc::channel::<u32>(1);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            Select::new().recv(&mut rx, |_| ()).wait();
        }));
        panic_text(caught.expect_err("wait on the loop thread must panic"))
    });
    assert!(message.contains(".await"), "unexpected message: {message}");

    let caught = catch_unwind(|| Select::<()>::new().wait());
    let message = panic_text(caught.expect_err("a select with no arm must panic"));
    assert!(message.contains("no arm"), "unexpected message: {message}");
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a string panic message")
}
