//! `JoinHandle::abort`: idle, running, queued and finished tasks; from another thread; the
//! future is dropped on the loop thread and the handle reports cancellation.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{assert_between, drop_guard, run, within};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn aborting_an_idle_task_drops_its_future_and_reports_cancelled() {
    run(async {
        let (guard, flag) = drop_guard();
        let task = weft::spawn(async move {
            let _guard = guard;
            std::future::pending::<u32>().await
        });
        weft::yield_now().await; // it runs once and parks forever
        assert!(!task.is_finished());
        assert!(!flag.is_dropped());

        task.abort();
        within(SECOND, flag.wait()).await; // dropped without the handle being awaited
        let err = task.await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!err.is_panic());
        assert!(err.to_string().contains("cancelled"), "{err}");
    });
}

#[test]
fn aborting_a_task_that_ran_and_then_waited_stops_it_there() {
    run(async {
        let steps = Arc::new(AtomicUsize::new(0));
        let (guard, flag) = drop_guard();
        let task = weft::spawn({
            let steps = steps.clone();
            async move {
                let _guard = guard;
                for _ in 0..5 {
                    steps.fetch_add(1, Ordering::SeqCst);
                    weft::yield_now().await;
                }
                // Now pending on I/O that never comes.
                let (mut a, _b) = util::tcp_pair().await.unwrap();
                let mut buf = [0; 1];
                let _ = a.read(&mut buf).await;
                steps.fetch_add(100, Ordering::SeqCst); // never reached
            }
        });
        // Let it run its five steps and park on the read.
        within(SECOND, async {
            while steps.load(Ordering::SeqCst) < 5 {
                weft::yield_now().await;
            }
        })
        .await;
        weft::time::sleep(Duration::from_millis(10)).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(flag.is_dropped());
        assert_eq!(
            steps.load(Ordering::SeqCst),
            5,
            "the task went past its await point"
        );
    });
}

#[test]
fn aborting_a_task_before_it_first_runs_means_it_never_runs() {
    run(async {
        let ran = Arc::new(AtomicBool::new(false));
        let (guard, flag) = drop_guard();
        let task = weft::spawn({
            let ran = ran.clone();
            async move {
                let _guard = guard;
                ran.store(true, Ordering::SeqCst);
            }
        });
        task.abort(); // still in the run queue
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst), "an aborted task was polled");
        assert!(flag.is_dropped());
    });
}

#[test]
fn aborting_a_task_that_was_woken_but_not_yet_run_cancels_it() {
    run(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let task = weft::spawn({
            let polls = polls.clone();
            async move {
                loop {
                    polls.fetch_add(1, Ordering::SeqCst);
                    weft::yield_now().await; // re-queues itself every time
                }
            }
        });
        weft::yield_now().await;
        weft::yield_now().await;
        let before = polls.load(Ordering::SeqCst);
        assert!(before >= 1);
        task.abort(); // it sits in the run queue right now
        assert!(task.await.unwrap_err().is_cancelled());
        let after = polls.load(Ordering::SeqCst);
        weft::yield_now().await;
        weft::yield_now().await;
        assert_eq!(polls.load(Ordering::SeqCst), after, "the task kept running");
    });
}

#[test]
fn aborting_a_finished_task_changes_nothing() {
    run(async {
        let task = weft::spawn(async { String::from("result") });
        within(SECOND, async {
            while !task.is_finished() {
                weft::yield_now().await;
            }
        })
        .await;
        task.abort();
        task.abort();
        assert_eq!(task.await.unwrap(), "result");
    });
}

#[test]
fn aborting_twice_is_harmless() {
    run(async {
        let task = weft::spawn(std::future::pending::<()>());
        task.abort();
        task.abort();
        weft::yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn abort_from_another_thread_wakes_the_idle_loop_and_drops_the_future_on_the_loop_thread() {
    run(async {
        let loop_thread = std::thread::current().id();
        let (guard, flag) = drop_guard();
        let task = weft::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        weft::yield_now().await;

        // JoinHandle<()> is Send: hand it to a thread that aborts it a little later, while
        // the loop sleeps in the reactor with nothing else to do.
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            task.abort();
            task
        });
        within(Duration::from_secs(5), flag.wait()).await;
        assert_between(
            "cross-thread abort",
            start.elapsed(),
            Duration::from_millis(50),
            Duration::from_secs(1),
        );
        assert_eq!(
            flag.dropped_on(),
            Some(loop_thread),
            "the future was dropped off the loop thread"
        );

        let task = thread.join().unwrap();
        assert!(task.is_finished());
        assert!(task.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn a_handle_awaited_on_another_thread_sees_the_cancellation() {
    let rt = util::rt();
    let task = rt.spawn(std::future::pending::<u8>());
    util::run_on(&rt, util::LIMIT, async {
        weft::yield_now().await;
        task.abort();
    });
    // Await the handle on a second runtime in another thread; the first loop is not running.
    let waiter = std::thread::spawn(move || {
        util::run(async move { task.await.unwrap_err().is_cancelled() })
    });
    // The cancellation is delivered when the first loop runs again.
    util::run_on(&rt, util::LIMIT, async {
        weft::time::sleep(Duration::from_millis(20)).await;
    });
    assert!(waiter.join().unwrap());
}

#[test]
fn aborting_one_task_leaves_the_others_alone() {
    run(async {
        let tasks: Vec<_> = (0..100u32)
            .map(|i| {
                weft::spawn(async move {
                    weft::time::sleep(Duration::from_millis(5)).await;
                    i
                })
            })
            .collect();
        for (i, task) in tasks.iter().enumerate() {
            if i % 3 == 0 {
                task.abort();
            }
        }
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok(v) => {
                    assert_ne!(i % 3, 0, "task {i} survived its abort");
                    assert_eq!(v, i as u32);
                }
                Err(e) => {
                    assert_eq!(i % 3, 0, "task {i} was cancelled without an abort");
                    assert!(e.is_cancelled());
                }
            }
        }
    });
}

#[test]
fn a_task_can_abort_itself_through_its_handle() {
    run(async {
        let (tx, rx) = util::oneshot::<weft::JoinHandle<()>>();
        let (guard, flag) = drop_guard();
        let reached = Arc::new(AtomicBool::new(false));
        let task = weft::spawn({
            let reached = reached.clone();
            async move {
                let _guard = guard;
                let me = rx.await.unwrap();
                me.abort();
                // The abort takes effect at the next await point.
                weft::yield_now().await;
                reached.store(true, Ordering::SeqCst);
            }
        });
        // The task now owns its own handle: watch for the drop instead of awaiting it.
        tx.send(task);
        within(SECOND, flag.wait()).await;
        assert!(
            !reached.load(Ordering::SeqCst),
            "the task ran past its own abort"
        );
    });
}
