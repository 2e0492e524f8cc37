//! `sync::mpsc`: values arrive in order and exactly once, full channels make senders wait in
//! arrival order, closing drains what was sent, dropping the receiver drops what was not
//! received, and abandoned sends and reservations give their places back.

mod util;

use std::future::{poll_fn, Future};
use std::panic::catch_unwind;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use util::{drop_guard, run, within};
use weft::sync::mpsc::{self, error::TryRecvError, error::TrySendError};

/// Polls `fut` once (as a select branch would) and reports whether it was pending.
async fn pending_once<F: Future>(fut: Pin<&mut F>) -> bool {
    let mut fut = fut;
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
}

#[test]
fn values_from_one_sender_arrive_in_order() {
    run(async {
        let (tx, mut rx) = mpsc::channel(16);
        weft::spawn(async move {
            for i in 0..10_000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let mut next = 0;
        while let Some(i) = rx.recv().await {
            assert_eq!(i, next);
            next += 1;
        }
        assert_eq!(next, 10_000);
    });
}

#[test]
fn every_value_from_many_senders_arrives_exactly_once() {
    run(async {
        let (tx, mut rx) = mpsc::channel(3);
        for s in 0..8u64 {
            let tx = tx.clone();
            weft::spawn(async move {
                for i in 0..500u64 {
                    tx.send(s * 1_000_000 + i).await.unwrap();
                    if i % 7 == 0 {
                        weft::yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut next = [0u64; 8];
        let mut count = 0;
        while let Some(v) = rx.recv().await {
            let (s, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            assert_eq!(
                i, next[s],
                "sender {s}: a value was lost, duplicated or reordered"
            );
            next[s] += 1;
            count += 1;
        }
        assert_eq!(count, 8 * 500);
    });
}

#[test]
fn senders_waiting_on_a_full_channel_are_served_in_arrival_order() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send("first").await.unwrap();
        for name in ["a", "b", "c"] {
            let tx = tx.clone();
            weft::spawn(async move { tx.send(name).await.unwrap() });
            weft::yield_now().await; // let it run and queue up
        }
        assert_eq!(rx.recv().await, Some("first"));
        // The freed slot went to "a", which has not run yet: a newcomer cannot take it.
        assert!(matches!(
            tx.try_send("late"),
            Err(TrySendError::Full("late"))
        ));
        let mut order = Vec::new();
        for _ in 0..3 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, ["a", "b", "c"]);
    });
}

#[test]
fn an_abandoned_reserve_gives_its_place_and_slot_back() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        // Waits, then is given up by a timeout.
        let timed_out = weft::time::timeout(Duration::from_millis(5), tx.reserve()).await;
        assert!(timed_out.is_err());
        // Queued, handed the slot by the receive, then dropped before it ran.
        {
            let mut reserve = pin!(tx.reserve());
            assert!(pending_once(reserve.as_mut()).await);
            assert_eq!(rx.recv().await, Some(0));
        }
        tx.try_send(1).expect("the slot came back");
        assert_eq!(rx.recv().await, Some(1));
    });
}

#[test]
fn an_abandoned_send_is_not_delivered_and_frees_its_place() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<Option<util::DropGuard>>(1);
        tx.try_send(None).unwrap();
        let (guard, flag) = drop_guard();
        {
            let mut send = pin!(tx.send(Some(guard)));
            assert!(pending_once(send.as_mut()).await);
        }
        assert!(flag.is_dropped(), "the abandoned send dropped its value");
        let mut send = pin!(tx.send(None));
        assert!(pending_once(send.as_mut()).await);
        assert!(matches!(rx.recv().await, Some(None)));
        send.await.unwrap();
        assert!(matches!(rx.recv().await, Some(None)));
        assert!(
            matches!(rx.try_recv(), Err(TryRecvError::Empty)),
            "nothing else arrived"
        );
    });
}

#[test]
fn a_permit_holds_a_slot_and_dropping_it_unused_frees_it() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        let permit = tx.reserve().await.unwrap();
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        drop(permit);
        tx.try_send(2).unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(tx.max_capacity(), 1);
    });
}

#[test]
fn close_stops_sends_but_buffered_and_permitted_values_still_drain() {
    run(async {
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        let permit = tx.reserve().await.unwrap();
        let closed = weft::spawn({
            let tx = tx.clone();
            async move { tx.closed().await }
        });
        rx.close();
        within(Duration::from_secs(5), closed).await.unwrap();
        assert!(tx.is_closed());
        assert_eq!(tx.send(3).await.unwrap_err().0, 3);
        assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "a permit is still out"
        );
        permit.send(2);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(
            rx.recv().await,
            None,
            "closed and drained, with senders alive"
        );
    });
}

#[test]
fn waiting_senders_are_woken_with_an_error_when_the_receiver_goes() {
    run(async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let waiting = weft::spawn({
            let tx = tx.clone();
            async move { tx.send(1).await.map_err(|e| e.0) }
        });
        weft::yield_now().await;
        drop(rx);
        assert_eq!(
            within(Duration::from_secs(5), waiting).await.unwrap(),
            Err(1)
        );
    });
}

#[test]
fn dropping_the_receiver_drops_buffered_values_and_later_permitted_ones() {
    let (tx, rx) = mpsc::channel(4);
    let (buffered, buffered_flag) = drop_guard();
    tx.try_send(buffered).unwrap();
    // The channel has room, so `reserve` is ready at once; no runtime needed.
    let permit = weft::task::block_on(tx.reserve()).unwrap();
    drop(rx);
    assert!(
        buffered_flag.is_dropped(),
        "a buffered value outlived the receiver"
    );
    let (late, late_flag) = drop_guard();
    permit.send(late);
    assert!(
        late_flag.is_dropped(),
        "a value sent through a permit after the drop was kept"
    );
}

#[test]
fn recv_ends_once_every_sender_is_gone() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let clones: Vec<_> = (0..3).map(|_| tx.clone()).collect();
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let last = weft::spawn(async move {
            weft::yield_now().await;
            drop(clones);
        });
        assert_eq!(rx.recv().await, None);
        last.await.unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn an_unbounded_channel_never_makes_the_sender_wait() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..50_000u32 {
            tx.send(i).unwrap();
        }
        let closed = weft::spawn({
            let tx = tx.clone();
            async move { tx.closed().await }
        });
        let mut sum = 0u64;
        for _ in 0..50_000 {
            sum += u64::from(rx.recv().await.unwrap());
        }
        assert_eq!(sum, 50_000 * 49_999 / 2);
        drop(rx);
        within(Duration::from_secs(5), closed).await.unwrap();
        assert_eq!(tx.send(1).unwrap_err().0, 1);
    });
}

#[test]
fn the_receiver_is_a_stream() {
    run(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let seen = Arc::new(StdMutex::new(Vec::new()));
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut rx = pin!(rx);
        while let Some(i) = poll_fn(|cx| rx.as_mut().poll_next(cx)).await {
            seen.lock().unwrap().push(i);
        }
        assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn an_abandoned_recv_takes_nothing() {
    run(async {
        let (tx, mut rx) = mpsc::channel(1);
        {
            let mut recv = pin!(rx.recv());
            assert!(pending_once(recv.as_mut()).await);
        }
        tx.send(5).await.unwrap();
        assert_eq!(rx.recv().await, Some(5));
    });
}

#[test]
fn a_zero_capacity_is_refused_with_a_clear_panic() {
    let payload = catch_unwind(|| mpsc::channel::<u8>(0)).unwrap_err();
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("capacity must be at least 1"), "{message}");
}
