//! A coroutine's `JoinHandle` is joined from a coroutine (parks), a plain thread (blocks) and
//! async code (awaits); and a coroutine waits on any future with `block_on`.

mod util;

use std::time::{Duration, Instant};

use weft::coroutines;

#[test]
fn a_coroutine_joins_another_and_the_loop_keeps_running() {
    let (value, ticks) = util::run_coro(|| {
        let ticker = weft::go(|| {
            let mut ticks = 0;
            for _ in 0..5 {
                coroutines::sleep(Duration::from_millis(2));
                ticks += 1;
            }
            ticks
        });
        let slow = weft::go(|| {
            coroutines::sleep(Duration::from_millis(30));
            7
        });
        // Parks this coroutine only: the ticker runs meanwhile.
        let value = slow.join().unwrap();
        (value, ticker.join().unwrap())
    });
    assert_eq!((value, ticks), (7, 5));
}

#[test]
fn async_code_awaits_a_coroutine() {
    let got = util::run(async {
        let co = weft::go(|| {
            coroutines::sleep(Duration::from_millis(5));
            String::from("from the stack")
        });
        co.await.unwrap()
    });
    assert_eq!(got, "from the stack");
}

#[test]
fn a_plain_thread_joins_a_coroutine_by_blocking() {
    let got = util::run(async {
        let co = weft::go(|| {
            coroutines::sleep(Duration::from_millis(20));
            99
        });
        let thread = std::thread::spawn(move || co.join().unwrap());
        while !thread.is_finished() {
            weft::time::sleep(Duration::from_millis(1)).await;
        }
        thread.join().unwrap()
    });
    assert_eq!(got, 99);
}

#[test]
fn a_coroutine_blocks_on_a_future_and_an_async_task() {
    util::run_coro(|| {
        let (tx, rx) = util::oneshot();
        let task = weft::spawn(async move {
            weft::time::sleep(Duration::from_millis(10)).await;
            tx.send("sent from async");
            5
        });
        assert_eq!(coroutines::block_on(rx), Some("sent from async"));
        assert_eq!(coroutines::block_on(task).unwrap(), 5);
        // weft's own timers work under block_on too.
        let start = Instant::now();
        coroutines::block_on(weft::time::sleep(Duration::from_millis(10)));
        assert!(start.elapsed() >= Duration::from_millis(10));
    });
}

#[test]
fn blocking_runs_on_the_pool_while_the_coroutine_parks() {
    let (pool_thread, coroutine_thread, ticks) = util::run_coro(|| {
        let ticker = weft::go(|| {
            let mut n = 0;
            for _ in 0..10 {
                coroutines::sleep(Duration::from_millis(1));
                n += 1;
            }
            n
        });
        let pool_thread = coroutines::blocking(|| {
            std::thread::sleep(Duration::from_millis(40));
            std::thread::current().id()
        });
        (
            pool_thread,
            std::thread::current().id(),
            ticker.join().unwrap(),
        )
    });
    assert_ne!(pool_thread, coroutine_thread);
    assert_eq!(ticks, 10);
}

#[test]
fn yield_now_lets_others_run() {
    let order = util::run_coro(|| {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let other = weft::go({
            let log = log.clone();
            move || log.lock().unwrap().push("other")
        });
        log.lock().unwrap().push("before");
        coroutines::yield_now();
        log.lock().unwrap().push("after");
        other.join().unwrap();
        let order = log.lock().unwrap().clone();
        order
    });
    assert_eq!(order, ["before", "other", "after"]);
}

#[test]
fn waits_outside_a_coroutine_on_a_plain_thread_block_the_thread() {
    let start = Instant::now();
    coroutines::sleep(Duration::from_millis(5));
    assert!(start.elapsed() >= Duration::from_millis(5));
    assert_eq!(coroutines::blocking(|| 3), 3);
    assert!(!coroutines::in_coroutine());
}

#[test]
fn join_on_a_loop_thread_outside_a_coroutine_is_a_clear_panic() {
    let err = util::run(async {
        let co = weft::go(|| 1);
        // async code must await: `join` would stall the loop.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.join())).unwrap_err()
    });
    let message = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("event-loop thread"), "{message:?}");
}

/// A future whose `poll` itself parks the coroutine (a sync wait inside a poll, as an
/// `AllowStdIo` over a coroutine socket does) resumes in a later task poll and must still be
/// able to use the context it was given. The second runtime entry comes from a frame 64 KiB
/// deeper, so a context left in an earlier scheduler frame would be overwritten (it crashed).
#[test]
fn a_future_that_parks_inside_its_poll_keeps_a_valid_context() {
    use std::future::poll_fn;
    use std::task::Poll;
    use weft::sync::oneshot;

    let rt = util::rt();
    let (tx, mut rx) = oneshot::channel::<()>();
    let coroutine = rt.block_on(async move {
        let coroutine = weft::go(move || {
            let mut polls = 0;
            coroutines::block_on(poll_fn(|cx| {
                polls += 1;
                if polls > 1 {
                    return Poll::Ready(polls);
                }
                coroutines::block_on(&mut rx).unwrap(); // parks inside this poll
                let live = coroutines::block_on(poll_fn(|now| Poll::Ready(now.waker().clone())));
                assert!(cx.waker().will_wake(&live), "the context's waker changed");
                cx.waker().wake_by_ref();
                Poll::Pending
            }))
        });
        weft::time::sleep(Duration::from_millis(10)).await; // parked in the nested wait
        Some(coroutine) // (an Option: leaving the handle un-awaited here is the point)
    });
    let coroutine = coroutine.unwrap();

    #[inline(never)]
    fn finish(
        rt: &weft::Runtime,
        tx: oneshot::Sender<()>,
        coroutine: coroutines::JoinHandle<u32>,
    ) -> u32 {
        let pad = [0x5au8; 64 * 1024];
        std::hint::black_box(&pad);
        let polls = rt.block_on(async move {
            tx.send(()).unwrap();
            util::within(util::LIMIT, coroutine).await.unwrap()
        });
        std::hint::black_box(&pad);
        polls
    }
    assert_eq!(finish(&rt, tx, coroutine), 2);
}
