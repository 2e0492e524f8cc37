//! `sync::oneshot`: one value from one task (or thread) to another; a dropped sender is an
//! error, a dropped receiver hands the value back, and a pending receive loses nothing.

mod util;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use util::{drop_guard, run};
use weft::sync::oneshot::{self, error::RecvError, error::TryRecvError};
use weft::time::sleep;

#[test]
fn a_value_sent_from_a_task_is_received() {
    run(async {
        let (tx, rx) = oneshot::channel();
        weft::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            tx.send(String::from("reply")).unwrap();
        });
        assert_eq!(rx.await.as_deref(), Ok("reply"));
    });
}

#[test]
fn dropping_the_sender_wakes_the_receiver_with_an_error() {
    run(async {
        let (tx, rx) = oneshot::channel::<u32>();
        weft::spawn(async move {
            weft::yield_now().await;
            drop(tx);
        });
        assert_eq!(rx.await, Err(RecvError));
    });
}

#[test]
fn a_send_to_a_dropped_receiver_gives_the_value_back() {
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(7), Err(7));
}

#[test]
fn a_value_sent_before_close_is_still_received_and_later_sends_fail() {
    let (tx, mut rx) = oneshot::channel();
    tx.send(1).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "taken once");

    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    rx.close();
    assert_eq!(tx.send(2), Err(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn an_unreceived_value_is_dropped_with_the_receiver() {
    let (guard, flag) = drop_guard();
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(guard).is_ok());
    assert!(!flag.is_dropped());
    drop(rx);
    assert!(flag.is_dropped(), "the value outlived the receiver");
}

#[test]
fn closed_completes_when_the_receiver_goes_away() {
    run(async {
        let (mut tx, rx) = oneshot::channel::<u32>();
        weft::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            drop(rx);
        });
        tx.closed().await;
        assert!(tx.is_closed());
    });
}

#[test]
fn a_receive_polled_then_abandoned_keeps_the_value_for_later() {
    run(async {
        let (tx, mut rx) = oneshot::channel();
        // One poll, as a select branch that lost would do, then the branch is dropped.
        let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut rx).poll(cx))).await;
        assert!(first.is_pending());
        tx.send("kept").unwrap();
        assert_eq!(rx.await, Ok("kept"));
    });
}

#[test]
fn replies_cross_between_many_tasks() {
    run(async {
        let mut replies = Vec::new();
        for i in 0..200u64 {
            let (tx, rx) = oneshot::channel();
            weft::spawn(async move {
                weft::yield_now().await;
                let _ = tx.send(i * i);
            });
            replies.push(rx);
        }
        let mut sum = 0;
        for rx in replies {
            sum += rx.await.unwrap();
        }
        assert_eq!(sum, (0..200u64).map(|i| i * i).sum::<u64>());
    });
}
