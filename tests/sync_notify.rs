//! `sync::Notify`: `notify_one` wakes waiters one at a time in arrival order or leaves one
//! permit; `notify_waiters` wakes everyone waiting now; notifications cross threads.

mod util;

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use util::{run, within};
use weft::sync::Notify;

#[test]
fn notify_one_wakes_waiters_one_at_a_time_in_arrival_order() {
    run(async {
        let notify = Arc::new(Notify::new());
        let order = Arc::new(StdMutex::new(Vec::new()));
        for name in ["a", "b", "c"] {
            let (notify, order) = (notify.clone(), order.clone());
            weft::spawn(async move {
                notify.notified().await;
                order.lock().unwrap().push(name);
            });
            weft::yield_now().await;
        }
        for expected in 1..=3 {
            notify.notify_one();
            weft::yield_now().await;
            weft::yield_now().await;
            assert_eq!(order.lock().unwrap().len(), expected);
        }
        assert_eq!(*order.lock().unwrap(), ["a", "b", "c"]);
    });
}

#[test]
fn a_notification_before_anyone_waits_is_kept_as_one_permit() {
    run(async {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one();
        within(Duration::from_secs(5), notify.notified()).await;
        let second = weft::time::timeout(Duration::from_millis(10), notify.notified()).await;
        assert!(second.is_err(), "two permits were stored");
    });
}

#[test]
fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    run(async {
        let notify = Arc::new(Notify::new());
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let notify = notify.clone();
                weft::spawn(async move { notify.notified().await })
            })
            .collect();
        weft::yield_now().await;
        notify.notify_waiters();
        for waiter in waiters {
            within(Duration::from_secs(5), waiter).await.unwrap();
        }
        let later = weft::time::timeout(Duration::from_millis(10), notify.notified()).await;
        assert!(later.is_err(), "notify_waiters left a permit");
    });
}

#[test]
fn a_thread_notifies_a_task() {
    run(async {
        let notify = Arc::new(Notify::new());
        let thread = {
            let notify = notify.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                notify.notify_one();
            })
        };
        within(Duration::from_secs(5), notify.notified()).await;
        thread.join().unwrap();
    });
}
