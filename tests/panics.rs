//! Panics in tasks become `JoinError`s and leave the loop running; shutting a runtime down
//! cancels what is left.

mod util;

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use util::{drop_guard, run};
use weft::time::sleep;

#[test]
fn a_panicking_task_gives_a_panic_join_error_with_its_payload() {
    run(async {
        let task = weft::spawn(async {
            weft::yield_now().await;
            panic!("boom");
        });
        let err: weft::JoinError = task.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert!(err.to_string().contains("boom"), "{err}");
        assert!(format!("{err:?}").contains("boom"), "{err:?}");
        let payload = err.try_into_panic().expect("a panic has a payload");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    });
}

#[test]
fn a_formatted_panic_message_comes_back_as_a_string() {
    run(async {
        let n = 42;
        let task = weft::spawn(async move {
            if n == 42 {
                panic!("failed at step {n}");
            }
        });
        let payload = task.await.unwrap_err().try_into_panic().unwrap();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("failed at step 42")
        );
    });
}

#[test]
fn a_panic_payload_can_be_re_raised_with_resume_unwind() {
    let payload = run(async {
        let task = weft::spawn(async { std::panic::panic_any(7u64) });
        task.await.unwrap_err().try_into_panic().unwrap()
    });
    let caught = catch_unwind(AssertUnwindSafe(|| resume_unwind(payload))).unwrap_err();
    assert_eq!(caught.downcast_ref::<u64>(), Some(&7));
}

#[test]
fn try_into_panic_on_a_cancelled_task_gives_the_error_back() {
    run(async {
        let task = weft::spawn(std::future::pending::<()>());
        task.abort();
        let err = task.await.unwrap_err();
        let id = err.id();
        let back = err.try_into_panic().unwrap_err();
        assert!(back.is_cancelled());
        assert_eq!(back.id(), id);
    });
}

#[test]
fn the_loop_keeps_running_other_tasks_after_panics() {
    run(async {
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20u32)
            .map(|i| {
                let done = done.clone();
                weft::spawn(async move {
                    sleep(Duration::from_millis(u64::from(i % 5))).await;
                    if i % 2 == 1 {
                        panic!("task {i} fails");
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok(v) => assert_eq!(v as usize, i),
                Err(e) => {
                    assert_eq!(i % 2, 1, "task {i} failed: {e}");
                    assert!(e.is_panic());
                }
            }
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);

        // New tasks, timers and sockets still work.
        let later = weft::spawn(async {
            sleep(Duration::from_millis(5)).await;
            "still alive"
        });
        assert_eq!(later.await.unwrap(), "still alive");
        let (mut a, mut b) = util::tcp_pair().await.unwrap();
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn a_detached_panicking_task_does_not_take_the_runtime_down() {
    let rt = util::rt();
    util::run_on(&rt, util::LIMIT, async {
        let (guard, flag) = drop_guard();
        drop(weft::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_millis(5)).await;
            panic!("nobody is listening");
        }));
        flag.wait().await; // unwinding dropped the future's state
        sleep(Duration::from_millis(5)).await;
        assert_eq!(weft::spawn(async { 1 + 1 }).await.unwrap(), 2);
    });
    // The runtime is still usable afterwards.
    assert_eq!(util::run_on(&rt, util::LIMIT, async { "again" }), "again");
}

#[test]
fn a_panic_in_a_spawn_local_task_is_caught_too() {
    run(async {
        let shared = std::rc::Rc::new(std::cell::Cell::new(0));
        let task = weft::spawn_local({
            let shared = shared.clone();
            async move {
                shared.set(1);
                weft::yield_now().await;
                panic!("local boom");
            }
        });
        let err = task.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(shared.get(), 1);
        assert_eq!(
            std::rc::Rc::strong_count(&shared),
            1,
            "the task's Rc was not dropped"
        );
    });
}

#[test]
fn a_task_that_panics_while_holding_a_connection_closes_it() {
    run(async {
        let (client, mut server) = util::tcp_pair().await.unwrap();
        let task = weft::spawn(async move {
            let _client = client;
            sleep(Duration::from_millis(5)).await;
            panic!("handler failed");
        });
        assert!(task.await.unwrap_err().is_panic());
        let mut buf = [0; 8];
        assert_eq!(
            server.read(&mut buf).await.unwrap(),
            0,
            "the peer should see EOF"
        );
    });
}

#[test]
fn a_panic_in_the_block_on_future_reaches_the_caller_and_the_runtime_stays_usable() {
    let rt = util::rt();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            weft::yield_now().await;
            panic!("main future failed");
        })
    }));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main future failed"));
    let answer = util::run_on(&rt, util::LIMIT, async {
        let task = weft::spawn(async {
            sleep(Duration::from_millis(2)).await;
            21 * 2
        });
        task.await.unwrap()
    });
    assert_eq!(answer, 42);
}

#[test]
fn dropping_the_runtime_drops_every_pending_task_on_this_thread() {
    let rt = util::rt();
    let mut flags = Vec::new();
    let (handles, _peer) = util::run_on(&rt, util::LIMIT, async {
        let mut handles = Vec::new();
        // Pending forever.
        let (guard, flag) = drop_guard();
        flags.push(flag);
        handles.push(weft::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        // Asleep on a long timer.
        let (guard, flag) = drop_guard();
        flags.push(flag);
        handles.push(weft::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(600)).await;
        }));
        // Waiting on a read that never comes.
        let (guard, flag) = drop_guard();
        flags.push(flag);
        let (mut reader, peer) = util::tcp_pair().await.unwrap();
        handles.push(weft::spawn(async move {
            let _guard = guard;
            let mut buf = [0; 1];
            let _ = reader.read(&mut buf).await;
        }));
        // A detached one, and a !Send one.
        let (guard, flag) = drop_guard();
        flags.push(flag);
        drop(weft::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        let (guard, flag) = drop_guard();
        flags.push(flag);
        let rc = std::rc::Rc::new(guard);
        drop(weft::spawn_local(async move {
            let _rc = rc;
            std::future::pending::<()>().await
        }));
        weft::yield_now().await;
        // Spawned but never polled.
        let (guard, flag) = drop_guard();
        flags.push(flag);
        handles.push(weft::spawn(async move {
            let _guard = guard;
        }));
        (handles, peer)
    });
    assert!(flags.iter().all(|f| !f.is_dropped()));
    drop(rt);
    let me = std::thread::current().id();
    for (i, flag) in flags.iter().enumerate() {
        assert!(flag.is_dropped(), "task {i}'s future outlived its runtime");
        assert_eq!(
            flag.dropped_on(),
            Some(me),
            "task {i} was dropped on another thread"
        );
    }
    // The handles outlive the runtime and resolve, cancelled, when awaited on another runtime.
    let results = util::run(async move {
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await);
        }
        results
    });
    assert_eq!(results.len(), 4);
    for (i, result) in results.iter().enumerate() {
        assert!(
            result.as_ref().unwrap_err().is_cancelled(),
            "handle {i}: {result:?}"
        );
    }
}

#[test]
fn a_handle_awaited_elsewhere_resolves_when_its_runtime_is_dropped() {
    let (tx, rx) = std::sync::mpsc::channel();
    let owner = std::thread::spawn(move || {
        let rt = util::rt();
        let handle = rt.spawn(async { sleep(Duration::from_secs(600)).await });
        util::run_on(&rt, util::LIMIT, weft::yield_now());
        tx.send(handle).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(rt); // cancels the task while another runtime awaits its handle
    });
    let handle = rx.recv().unwrap();
    let result = util::run(handle);
    owner.join().unwrap();
    assert!(result.unwrap_err().is_cancelled());
}

/// A completed future whose destructor panics: the task's result is that panic, as in tokio,
/// and the process does not abort.
#[test]
fn a_future_whose_drop_panics_after_ready_is_a_panic_join_error() {
    struct PanicsOnDrop;
    impl Future for PanicsOnDrop {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            Poll::Ready(5)
        }
    }
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("destructor of a finished future");
        }
    }
    run(async {
        let err = weft::spawn(PanicsOnDrop).await.unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("destructor"), "{err}");
        // The loop goes on.
        assert_eq!(weft::spawn(async { 1 }).await.unwrap(), 1);
    });
}

/// A waker whose `wake` panics, as a foreign executor's might.
fn panicking_waker() -> Waker {
    static VTABLE: RawWakerVTable = RawWakerVTable::new(
        |data| RawWaker::new(data, &VTABLE),
        |_| panic!("a user waker's wake panicked"),
        |_| panic!("a user waker's wake_by_ref panicked"),
        |_| {},
    );
    // SAFETY: the vtable never reads the data pointer, and every function is sound for it.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// The task completes on a worker, which wakes the handle's stored waker: its panic must not
/// unwind through the worker (the runtime lost the worker and then waited for it at drop).
#[test]
fn a_join_waker_that_panics_kills_no_worker() {
    let _dog = util::Watchdog::arm(util::LIMIT);
    let rt = util::multi_thread_rt(2);
    let mut handle = rt.spawn(async {
        sleep(Duration::from_millis(20)).await;
        7
    });
    let waker = panicking_waker();
    assert!(Pin::new(&mut handle)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let deadline = std::time::Instant::now() + util::LIMIT;
    while !handle.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 0..20 {
        let task = rt.spawn(async move {
            sleep(Duration::from_millis(1)).await;
            i
        });
        assert_eq!(util::run_on(&rt, util::LIMIT, task).unwrap(), i);
    }
    assert!(
        rt.shutdown_timeout(util::LIMIT),
        "a worker never exited: it died in the join waker's panic"
    );
}

/// The same on the current-thread runtime, where the panic would escape `block_on`.
#[test]
fn a_join_waker_that_panics_does_not_escape_block_on() {
    let sum = run(async {
        let mut handle = weft::spawn(async {
            weft::yield_now().await;
            1
        });
        let waker = panicking_waker();
        assert!(Pin::new(&mut handle)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        sleep(Duration::from_millis(10)).await;
        assert!(handle.is_finished());
        handle.await.unwrap() + weft::spawn(async { 2 }).await.unwrap()
    });
    assert_eq!(sum, 3);
}
