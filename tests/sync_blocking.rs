//! The `blocking_*` methods of `weft::sync`: from plain threads they block the thread (and
//! pair with tasks on a runtime); on an event-loop thread outside a coroutine they panic with
//! a message that says to `.await` instead, rather than freezing the loop.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use util::{run, Watchdog};
use weft::sync::{mpsc, oneshot, Mutex, WaitGroup};

/// Runs `f` on the loop thread and returns its panic message.
#[track_caller]
fn panic_message_on_the_loop(f: impl FnOnce()) -> String {
    let caught = run(async move { catch_unwind(AssertUnwindSafe(f)) });
    let payload = caught.expect_err("a blocking call on the loop thread must panic");
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a string panic message")
}

#[track_caller]
fn assert_loop_panic(message: String) {
    assert!(
        message.contains("event-loop thread") && message.contains(".await"),
        "unexpected panic message: {message}"
    );
}

#[test]
fn blocking_calls_on_a_loop_thread_panic_with_a_clear_message() {
    let (_tx, rx) = oneshot::channel::<u8>();
    assert_loop_panic(panic_message_on_the_loop(move || {
        let _ = rx.blocking_recv();
    }));

    let (_tx, mut rx) = mpsc::channel::<u8>(1);
    assert_loop_panic(panic_message_on_the_loop(move || {
        let _ = rx.blocking_recv();
    }));

    let (tx, _rx) = mpsc::channel::<u8>(1);
    tx.try_send(1).unwrap();
    assert_loop_panic(panic_message_on_the_loop(move || {
        let _ = tx.blocking_send(2);
    }));

    let mutex = Arc::new(Mutex::new(()));
    let held = mutex.clone();
    assert_loop_panic(panic_message_on_the_loop(move || {
        let _guard = held.try_lock().unwrap();
        drop(held.blocking_lock());
    }));

    let wg = WaitGroup::new();
    wg.add(1);
    assert_loop_panic(panic_message_on_the_loop(move || wg.blocking_wait()));
}

#[test]
fn threads_exchange_values_through_a_small_channel() {
    let _dog = Watchdog::arm(Duration::from_secs(30));
    let (tx, mut rx) = mpsc::channel(2);
    let producers: Vec<_> = (0..3u64)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    tx.blocking_send(p * 1000 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        let mut last = [None::<u64>; 3];
        let mut count = 0;
        while let Some(v) = rx.blocking_recv() {
            let p = (v / 1000) as usize;
            assert!(last[p].is_none_or(|l| l < v), "sender {p} reordered");
            last[p] = Some(v);
            count += 1;
        }
        count
    });
    producers.into_iter().for_each(|p| p.join().unwrap());
    assert_eq!(consumer.join().unwrap(), 1500);
}

#[test]
fn a_thread_and_a_task_talk_both_ways() {
    let (to_task, mut task_inbox) = mpsc::channel::<u32>(1);
    let (to_thread, mut thread_inbox) = mpsc::unbounded_channel::<u32>();
    let thread = std::thread::spawn(move || {
        for i in 0..100 {
            to_task.blocking_send(i).unwrap();
            assert_eq!(thread_inbox.blocking_recv(), Some(i + 1));
        }
    });
    run(async move {
        while let Some(i) = task_inbox.recv().await {
            to_thread.send(i + 1).unwrap();
        }
    });
    thread.join().unwrap();
}

#[test]
fn a_thread_waits_for_a_oneshot_reply_and_a_wait_group_filled_by_tasks() {
    let (tx, rx) = oneshot::channel();
    let wg = WaitGroup::new();
    wg.add(3);
    let waiter = {
        let wg = wg.clone();
        std::thread::spawn(move || {
            wg.blocking_wait();
            rx.blocking_recv()
        })
    };
    run(async move {
        for _ in 0..3 {
            let wg = wg.clone();
            weft::spawn(async move {
                weft::time::sleep(Duration::from_millis(2)).await;
                wg.done();
            });
        }
        weft::time::sleep(Duration::from_millis(10)).await;
        tx.send("after the group").unwrap();
    });
    assert_eq!(waiter.join().unwrap(), Ok("after the group"));
}

#[test]
fn threads_and_a_task_share_a_mutex() {
    let counter = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    *counter.blocking_lock() += 1;
                }
            })
        })
        .collect();
    let task_counter = counter.clone();
    run(async move {
        for _ in 0..1000 {
            let mut guard = task_counter.lock().await;
            *guard += 1;
            if *guard % 100 == 0 {
                weft::yield_now().await; // held across a yield
            }
        }
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*counter.blocking_lock(), 4000);
}
