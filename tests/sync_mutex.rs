//! `sync::Mutex`: mutual exclusion between tasks that hold the guard across awaits, lockers
//! served in arrival order with no barging, and abandoned lock futures that never lose the
//! lock.

mod util;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use util::{run, within};
use weft::sync::Mutex;
use weft::time::sleep;

#[test]
fn tasks_holding_the_guard_across_awaits_exclude_each_other() {
    run(async {
        let shared = Arc::new(Mutex::new(0u32));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let shared = shared.clone();
                weft::spawn(async move {
                    for _ in 0..10 {
                        let mut guard = shared.lock().await;
                        let seen = *guard;
                        weft::yield_now().await; // another task would see `seen` if not excluded
                        *guard = seen + 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*shared.lock().await, 200);
    });
}

#[test]
fn lockers_get_the_lock_in_arrival_order_and_newcomers_cannot_barge() {
    run(async {
        let mutex = Arc::new(Mutex::new(Vec::new()));
        let guard = mutex.lock().await;
        let mut tasks = Vec::new();
        for name in ["a", "b", "c"] {
            let mutex = mutex.clone();
            tasks.push(weft::spawn(async move { mutex.lock().await.push(name) }));
            weft::yield_now().await; // let it queue
        }
        drop(guard);
        // The lock now belongs to "a", which has not run yet.
        assert!(
            mutex.try_lock().is_err(),
            "a newcomer took a handed-off lock"
        );
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*mutex.lock().await, ["a", "b", "c"]);
    });
}

#[test]
fn an_abandoned_lock_future_never_keeps_the_lock() {
    run(async {
        let mutex = Mutex::new(());
        let guard = mutex.lock().await;
        assert!(weft::time::timeout(Duration::from_millis(5), mutex.lock())
            .await
            .is_err());
        {
            // Queued, handed the lock by the unlock, then dropped before it ran.
            let mut lock = pin!(mutex.lock());
            let first = poll_fn(|cx| Poll::Ready(lock.as_mut().poll(cx).is_pending())).await;
            assert!(first);
            drop(guard);
        }
        assert!(mutex.try_lock().is_ok(), "the lock was lost");
    });
}

#[test]
fn a_waiter_gets_the_lock_when_a_sleeping_holder_lets_go() {
    run(async {
        let mutex = Arc::new(Mutex::new("before"));
        let holder = {
            let mutex = mutex.clone();
            weft::spawn(async move {
                let mut guard = mutex.lock().await;
                sleep(Duration::from_millis(20)).await;
                *guard = "after";
            })
        };
        weft::yield_now().await;
        let seen = *within(Duration::from_secs(5), mutex.lock()).await;
        assert_eq!(seen, "after");
        holder.await.unwrap();
    });
}

#[test]
fn exclusive_access_needs_no_lock() {
    let mut mutex = Mutex::new(vec![1]);
    mutex.get_mut().push(2);
    assert_eq!(format!("{:?}", mutex), "Mutex { value: [1, 2] }");
    {
        let guard = mutex.try_lock().unwrap();
        assert_eq!(format!("{:?}", mutex), "Mutex { value: <locked> }");
        drop(guard);
    }
    assert_eq!(mutex.into_inner(), [1, 2]);
}

#[test]
fn the_guard_may_move_to_another_thread() {
    fn is_send<T: Send>(_: &T) {}
    let mutex = Arc::new(Mutex::new(1));
    let guard = mutex.try_lock().unwrap();
    is_send(&guard);
    std::thread::scope(|s| {
        s.spawn(move || drop(guard));
    });
    assert_eq!(*mutex.try_lock().unwrap(), 1);
}
