//! `weft::signal`: raised signals reach waiting receivers, bursts coalesce without being lost,
//! every receiver in every runtime hears a delivery, and Ctrl-C works once its handler is in.
//!
//! Signals are process-wide and the tests of this file share one process, so each test uses a
//! signal of its own; none of them can kill the harness, because each is raised only after
//! weft's handler for it is installed.

mod util;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use util::{run, within};
use weft::signal::{ctrl_c, signal, SignalKind};
use weft::time::timeout;

/// Sends `signum` to the calling thread.
fn raise(signum: i32) {
    // SAFETY: `raise` with a valid signal number whose handler is installed.
    assert_eq!(unsafe { libc::raise(signum) }, 0, "raise({signum})");
}

/// Sends `signum` to the process (any thread may take it).
fn kill_self(signum: i32) {
    // SAFETY: `kill` on our own pid with a valid signal number whose handler is installed.
    assert_eq!(
        unsafe { libc::kill(libc::getpid(), signum) },
        0,
        "kill({signum})"
    );
}

const QUIET: Duration = Duration::from_millis(100);

#[test]
fn a_waiting_receiver_hears_a_signal_from_another_thread_every_time() {
    run(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        assert_eq!(usr1.kind(), SignalKind::user_defined1());
        for _ in 0..5 {
            let raiser = std::thread::spawn(|| {
                std::thread::sleep(Duration::from_millis(10));
                raise(libc::SIGUSR1);
            });
            assert_eq!(within(Duration::from_secs(5), usr1.recv()).await, Some(()));
            raiser.join().unwrap();
        }
    });
}

#[test]
fn a_burst_is_coalesced_but_not_lost() {
    run(async {
        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        for _ in 0..10 {
            raise(libc::SIGUSR2);
        }
        assert_eq!(within(Duration::from_secs(5), usr2.recv()).await, Some(()));
        // Usually that was all. A receiver of another test draining the shared eventfd in the
        // middle of the burst can split it in two, but ten deliveries never give ten reports.
        let mut more = 0;
        while timeout(QUIET, usr2.recv()).await.is_ok() {
            more += 1;
            assert!(more < 9, "a burst of ten was not coalesced");
        }
        raise(libc::SIGUSR2);
        assert_eq!(within(Duration::from_secs(5), usr2.recv()).await, Some(()));
    });
}

#[test]
fn every_receiver_in_every_runtime_hears_one_delivery() {
    let ready = Arc::new(Barrier::new(2));
    let other = std::thread::spawn({
        let ready = ready.clone();
        move || {
            run(async move {
                let mut hup = signal(SignalKind::hangup()).unwrap();
                ready.wait();
                within(Duration::from_secs(5), hup.recv()).await
            })
        }
    });
    run(async move {
        let mut first = signal(SignalKind::hangup()).unwrap();
        let mut second = signal(SignalKind::hangup()).unwrap();
        ready.wait();
        kill_self(libc::SIGHUP);
        assert_eq!(within(Duration::from_secs(5), first.recv()).await, Some(()));
        assert_eq!(
            within(Duration::from_secs(5), second.recv()).await,
            Some(())
        );
    });
    assert_eq!(other.join().unwrap(), Some(()));
}

#[test]
fn a_receiver_hears_only_deliveries_after_it_was_made() {
    run(async {
        let mut early = signal(SignalKind::window_change()).unwrap();
        raise(libc::SIGWINCH);
        assert_eq!(within(Duration::from_secs(5), early.recv()).await, Some(()));
        let mut late = signal(SignalKind::window_change()).unwrap();
        assert!(
            timeout(QUIET, late.recv()).await.is_err(),
            "a receiver heard a signal delivered before it existed"
        );
        // One raised before the first `recv` (but after the receiver was made) counts.
        raise(libc::SIGWINCH);
        assert_eq!(within(Duration::from_secs(5), late.recv()).await, Some(()));
    });
}

#[test]
fn a_signal_is_a_stream_of_unit() {
    let signum = libc::SIGRTMIN() + 1;
    run(async move {
        let mut rt_signal = signal(SignalKind::from_raw(signum)).unwrap();
        assert_eq!(rt_signal.kind().as_raw(), signum);
        raise(signum);
        let next = poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut rt_signal), cx));
        assert_eq!(within(Duration::from_secs(5), next).await, Some(()));
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    run(async {
        // The handler is in once `ctrl_c()` returns, so raising right away is safe.
        let interrupted = ctrl_c();
        raise(libc::SIGINT);
        within(Duration::from_secs(5), interrupted).await.unwrap();
        // And again, from another thread while waiting.
        let waiting = weft::spawn(ctrl_c());
        weft::time::sleep(Duration::from_millis(20)).await;
        kill_self(libc::SIGINT);
        within(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn a_receiver_outliving_its_runtime_ends() {
    let signum = libc::SIGRTMIN() + 2;
    let mut orphan = run(async move { signal(SignalKind::from_raw(signum)).unwrap() });
    assert_eq!(run(orphan.recv()), None);
}

#[test]
fn unhandleable_signals_and_calls_outside_a_runtime_are_errors() {
    run(async {
        for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, 1000] {
            let err = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::InvalidInput,
                "{signum}: {err}"
            );
        }
    });
    assert!(signal(SignalKind::terminate()).is_err());
    assert!(run(ctrl_c_outside()).is_err());
}

/// `ctrl_c()` made outside a runtime fails when awaited (made here, awaited inside `run`).
fn ctrl_c_outside() -> weft::signal::CtrlC {
    ctrl_c()
}

/// A delivery that arrived while nobody listened (the handler stays installed) belongs to no
/// receiver made afterwards: a later `ctrl_c()` must not end at once for an old Ctrl-C.
#[test]
fn a_delivery_while_nobody_listened_is_not_reported_to_a_later_receiver() {
    let signum = libc::SIGRTMIN() + 7;
    run(async move {
        let mut first = signal(SignalKind::from_raw(signum)).unwrap();
        raise(signum);
        assert_eq!(within(Duration::from_secs(5), first.recv()).await, Some(()));
        drop(first);
        raise(signum); // nobody listens now
        let mut late = signal(SignalKind::from_raw(signum)).unwrap();
        assert!(
            timeout(Duration::from_millis(100), late.recv())
                .await
                .is_err(),
            "a receiver heard a signal delivered before it existed"
        );
        raise(signum);
        assert_eq!(within(Duration::from_secs(5), late.recv()).await, Some(()));
    });
}
