//! `weft::sync` from coroutines: the `blocking_*` calls park the coroutine, and one channel,
//! lock or group serves coroutines and async tasks together.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::{run, run_coro};
use weft::coroutines::{self, sync::Mutex};
use weft::sync::{mpsc, oneshot, WaitGroup};

/// 1,000 coroutines increment a counter under `blocking_lock`, each holding the guard across
/// a sleep: nobody is ever inside with another, and no increment is lost.
#[test]
fn a_thousand_coroutines_hold_the_mutex_across_a_sleep() {
    let (count, overlaps) = run(async {
        let counter = Arc::new(Mutex::new(0u32));
        let inside = Arc::new(AtomicBool::new(false));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..1_000)
            .map(|_| {
                let (counter, inside, overlaps) =
                    (counter.clone(), inside.clone(), overlaps.clone());
                weft::go(move || {
                    let mut guard = counter.blocking_lock();
                    if inside.swap(true, Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    let before = *guard;
                    coroutines::sleep(Duration::from_micros(100)); // the others park meanwhile
                    *guard = before + 1;
                    inside.store(false, Ordering::SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        let count = *counter.lock().await;
        (count, overlaps.load(Ordering::SeqCst))
    });
    assert_eq!(count, 1_000);
    assert_eq!(overlaps, 0, "two coroutines held the lock at once");
}

/// Coroutines count themselves out; a coroutine (`blocking_wait`) and an async task (`wait`)
/// both return only once every job is done.
#[test]
fn a_wait_group_is_waited_on_by_a_coroutine_and_a_task() {
    let (seen_by_coroutine, seen_by_task) = run(async {
        let wg = WaitGroup::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..50u64 {
            wg.add(1);
            let (wg, finished) = (wg.clone(), finished.clone());
            weft::go(move || {
                coroutines::sleep(Duration::from_millis(1 + i % 7));
                finished.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        let coroutine = {
            let (wg, finished) = (wg.clone(), finished.clone());
            weft::go(move || {
                wg.blocking_wait();
                finished.load(Ordering::SeqCst)
            })
        };
        let task = {
            let (wg, finished) = (wg.clone(), finished.clone());
            weft::spawn(async move {
                wg.wait().await;
                finished.load(Ordering::SeqCst)
            })
        };
        (coroutine.await.unwrap(), task.await.unwrap())
    });
    assert_eq!((seen_by_coroutine, seen_by_task), (50, 50));
}

/// Coroutines produce into a small channel an async task drains, and an async task produces
/// into one a coroutine drains: values arrive complete and in each producer's order.
#[test]
fn mpsc_between_coroutines_and_tasks_both_ways() {
    let (to_task, to_coroutine) = run(async {
        // coroutines -> async task
        let (tx, mut rx) = mpsc::channel(2);
        for p in 0..4u32 {
            let tx = tx.clone();
            weft::go(move || {
                for i in 0..250 {
                    tx.blocking_send((p, i)).unwrap(); // parks while the channel is full
                }
            });
        }
        drop(tx);
        let consumer = weft::spawn(async move {
            let mut next = [0u32; 4];
            while let Some((p, i)) = rx.recv().await {
                assert_eq!(i, next[p as usize], "producer {p} out of order");
                next[p as usize] += 1;
            }
            next.iter().sum::<u32>()
        });

        // async task -> coroutine
        let (tx, mut rx) = mpsc::channel(1);
        weft::spawn(async move {
            for i in 0..1_000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let drainer = weft::go(move || {
            let mut expected = 0;
            while let Some(i) = rx.blocking_recv() {
                assert_eq!(i, expected);
                expected += 1;
            }
            expected
        });
        (consumer.await.unwrap(), drainer.await.unwrap())
    });
    assert_eq!((to_task, to_coroutine), (1_000, 1_000));
}

/// A coroutine answers an async request through a oneshot, after waiting itself.
#[test]
fn a_coroutine_replies_to_async_code_through_a_oneshot() {
    let answers = run(async {
        let mut answers = Vec::new();
        for n in 0..10u64 {
            let (reply, answer) = oneshot::channel();
            weft::go(move || {
                coroutines::sleep(Duration::from_millis(n % 3));
                reply.send(n * n).unwrap();
            });
            answers.push(answer.await.unwrap());
        }
        answers
    });
    assert_eq!(answers, (0..10).map(|n| n * n).collect::<Vec<_>>());
}

/// Two coroutines ping-pong over capacity-1 channels: each wait parks one of them.
#[test]
fn coroutines_ping_pong_over_channels() {
    let rounds = run_coro(|| {
        let (ping_tx, mut ping_rx) = mpsc::channel(1);
        let (pong_tx, mut pong_rx) = mpsc::channel(1);
        let echo = weft::go(move || {
            while let Some(v) = ping_rx.blocking_recv() {
                pong_tx.blocking_send(v + 1).unwrap();
            }
        });
        let mut v = 0u32;
        for _ in 0..1_000 {
            ping_tx.blocking_send(v).unwrap();
            v = pong_rx.blocking_recv().unwrap();
        }
        drop(ping_tx);
        echo.join().unwrap();
        v
    });
    assert_eq!(rounds, 1_000);
}
