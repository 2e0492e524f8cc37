//! `sync::WaitGroup`: waiting for a group of tasks or threads, returning at once at zero,
//! reuse after a wait, and what an extra `done()` does.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::{run, within};
use weft::sync::WaitGroup;
use weft::time::sleep;

#[test]
fn wait_returns_once_every_task_is_done() {
    run(async {
        let wg = WaitGroup::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..10u64 {
            wg.add(1);
            let (wg, finished) = (wg.clone(), finished.clone());
            weft::spawn(async move {
                sleep(Duration::from_millis(i)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        within(Duration::from_secs(5), wg.wait()).await;
        assert_eq!(finished.load(Ordering::SeqCst), 10);
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn wait_at_zero_returns_at_once_and_the_group_can_be_reused() {
    run(async {
        let wg = WaitGroup::new();
        wg.wait().await;
        for round in 0..3 {
            wg.add(2);
            for _ in 0..2 {
                let wg = wg.clone();
                weft::spawn(async move {
                    weft::yield_now().await;
                    wg.done();
                });
            }
            within(Duration::from_secs(5), wg.wait()).await;
            assert_eq!(wg.count(), 0, "round {round}");
        }
    });
}

#[test]
fn many_waiters_are_all_released() {
    run(async {
        let wg = WaitGroup::new();
        wg.add(1);
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let wg = wg.clone();
                weft::spawn(async move { wg.wait().await })
            })
            .collect();
        weft::yield_now().await;
        let done_from_thread = {
            let wg = wg.clone();
            std::thread::spawn(move || wg.done())
        };
        for waiter in waiters {
            within(Duration::from_secs(5), waiter).await.unwrap();
        }
        done_from_thread.join().unwrap();
    });
}

#[cfg(not(debug_assertions))]
#[test]
fn an_extra_done_is_ignored_in_release_builds() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
    assert_eq!(wg.count(), 0, "the counter went below zero");
    wg.add(1);
    assert_eq!(wg.count(), 1);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "done called more times than jobs were added")]
fn an_extra_done_panics_in_debug_builds() {
    let wg = WaitGroup::new();
    wg.done();
}
