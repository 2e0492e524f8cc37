//! The runtime itself: block_on, spawning from this and other threads, spawn_local, yielding,
//! foreign wake-ups, detached tasks, backends, and what happens outside a runtime.

mod util;

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use util::{assert_between, oneshot, run, within};
use weft::net::{TcpListener, TcpStream, UdpSocket};
use weft::{Backend, Handle, Runtime};

/// How long a wait may take before it counts as a failure.
const SHORT: Duration = Duration::from_secs(5);
/// How soon a cross-thread wake-up must be acted on. Well under `SHORT`: the loop also wakes
/// on its own when the timer wheel cascades toward the `within` deadline, which would hide a
/// missing wake-up if the two bounds were close.
const PROMPT: Duration = Duration::from_secs(1);

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn block_on_returns_the_futures_value() {
    let rt = util::rt();
    assert_eq!(rt.block_on(async { 40 + 2 }), 42);
    assert_eq!(rt.block_on(async { "twice" }), "twice");
}

#[test]
fn tasks_spawned_with_runtime_spawn_before_block_on_run_inside_it() {
    let rt = util::rt();
    let task = rt.spawn(async { 7 });
    assert_eq!(util::run_on(&rt, util::LIMIT, task).unwrap(), 7);
}

#[test]
fn pending_tasks_carry_over_to_the_next_block_on() {
    let rt = util::rt();
    let (tx, rx) = oneshot::<()>();
    let task = rt.spawn(async move {
        rx.await;
        "resumed"
    });
    util::run_on(&rt, util::LIMIT, async {
        weft::yield_now().await;
        assert!(!task.is_finished());
    });
    tx.send(());
    assert_eq!(util::run_on(&rt, util::LIMIT, task).unwrap(), "resumed");
}

#[test]
fn a_spawn_from_another_thread_wakes_the_idle_loop() {
    let rt = util::rt();
    let handle = rt.handle().clone();
    util::run_on(&rt, util::LIMIT, async move {
        let (tx, rx) = oneshot();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // The loop is parked in the reactor with nothing due for seconds.
            drop(handle.spawn(async move { tx.send(std::thread::current().id()) }));
        });
        let ran_on = within(SHORT, rx).await.unwrap();
        assert_eq!(
            ran_on,
            std::thread::current().id(),
            "the task ran off the loop thread"
        );
        assert_between(
            "cross-thread spawn",
            start.elapsed(),
            Duration::from_millis(50),
            PROMPT,
        );
        thread.join().unwrap();
    });
}

#[test]
fn a_join_handle_from_another_threads_spawn_can_be_awaited_on_the_loop() {
    let rt = util::rt();
    let handle = rt.handle().clone();
    let task = std::thread::spawn(move || handle.spawn(async { 6 * 7 }))
        .join()
        .unwrap();
    assert_eq!(util::run_on(&rt, util::LIMIT, task).unwrap(), 42);
}

#[test]
fn many_threads_spawning_at_once_all_get_their_tasks_run() {
    let rt = util::rt();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = rt.handle().clone();
            let count = count.clone();
            std::thread::spawn(move || {
                (0..250)
                    .map(|i| {
                        let count = count.clone();
                        handle.spawn(async move {
                            count.fetch_add(1, Ordering::SeqCst);
                            i
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    util::run_on(&rt, util::LIMIT, async {
        for thread in threads {
            let handles = thread.join().unwrap();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), i);
            }
        }
    });
    assert_eq!(count.load(Ordering::SeqCst), 1000);
}

#[test]
fn spawn_local_runs_non_send_futures_on_the_loop_thread() {
    run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let log = log.clone();
                weft::spawn_local(async move {
                    log.borrow_mut().push(i);
                    weft::yield_now().await;
                    log.borrow_mut().push(10 + i);
                    Rc::new(i) // a !Send output is fine too
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(*t.await.unwrap(), i);
        }
        assert_eq!(*log.borrow(), vec![0, 1, 2, 10, 11, 12]);
        assert_eq!(Rc::strong_count(&log), 1);
    });
}

#[test]
fn yield_now_lets_the_other_ready_tasks_run_in_turn() {
    run(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let log = log.clone();
                weft::spawn(async move {
                    for i in 0..3 {
                        log.lock().unwrap().push(format!("{name}{i}"));
                        weft::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), ["a0", "b0", "a1", "b1", "a2", "b2"]);

        let other = weft::spawn(async { "ran" });
        weft::yield_now().await;
        assert!(
            other.is_finished(),
            "yield_now did not let a ready task run"
        );
    });
}

#[test]
fn block_on_inside_a_runtime_panics_with_a_clear_message() {
    let rt = util::rt();
    util::run_on(&rt, util::LIMIT, async {
        // Another runtime's block_on, from inside this one.
        let inner = util::rt();
        let caught = catch_unwind(AssertUnwindSafe(|| inner.block_on(async { 1 })));
        let msg = panic_message(&*caught.unwrap_err());
        assert!(msg.contains("inside a runtime"), "unclear message: {msg:?}");

        // From a task, too.
        let task = weft::spawn_local(async move {
            let caught = catch_unwind(AssertUnwindSafe(|| inner.block_on(async { 2 })));
            panic_message(&*caught.unwrap_err())
        });
        let msg = task.await.unwrap();
        assert!(msg.contains("inside a runtime"), "unclear message: {msg:?}");
    });
    // The same runtime, nested in itself.
    let caught = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async { 3 }) })
    }));
    let msg = panic_message(&*caught.unwrap_err());
    assert!(msg.contains("inside a runtime"), "unclear message: {msg:?}");
    // And the outer runtime still works after all that.
    assert_eq!(
        util::run_on(&rt, util::LIMIT, async {
            weft::spawn(async { 4 }).await.unwrap()
        }),
        4
    );
}

/// Pending until a foreign thread has woken it through a waker sent over a std channel.
struct WokenFromAfar {
    tx: Option<mpsc::Sender<std::task::Waker>>,
    woken: Arc<AtomicBool>,
}

impl Future for WokenFromAfar {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if let Some(tx) = self.tx.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }
}

fn waker_thread(
    woken: Arc<AtomicBool>,
) -> (mpsc::Sender<std::task::Waker>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<std::task::Waker>();
    let thread = std::thread::spawn(move || {
        let waker = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        woken.store(true, Ordering::SeqCst);
        waker.wake();
    });
    (tx, thread)
}

#[test]
fn a_task_woken_from_a_foreign_thread_runs() {
    run(async {
        let woken = Arc::new(AtomicBool::new(false));
        let (tx, thread) = waker_thread(woken.clone());
        let start = Instant::now();
        let task = weft::spawn(WokenFromAfar {
            tx: Some(tx),
            woken,
        });
        within(SHORT, task).await.unwrap();
        assert_between(
            "foreign wake of a task",
            start.elapsed(),
            Duration::from_millis(30),
            PROMPT,
        );
        thread.join().unwrap();
    });
}

#[test]
fn the_block_on_future_woken_from_a_foreign_thread_completes() {
    let woken = Arc::new(AtomicBool::new(false));
    let (tx, thread) = waker_thread(woken.clone());
    let start = Instant::now();
    util::run(WokenFromAfar {
        tx: Some(tx),
        woken,
    });
    assert_between(
        "foreign wake of block_on",
        start.elapsed(),
        Duration::from_millis(30),
        PROMPT,
    );
    thread.join().unwrap();
}

#[test]
fn is_finished_turns_true_when_the_task_completes() {
    run(async {
        let (tx, rx) = oneshot::<()>();
        let task = weft::spawn(async move {
            rx.await;
        });
        weft::yield_now().await;
        assert!(!task.is_finished());
        tx.send(());
        within(SHORT, async {
            while !task.is_finished() {
                weft::yield_now().await;
            }
        })
        .await;
        task.await.unwrap();
    });
}

#[test]
fn a_dropped_join_handle_detaches_and_the_task_still_completes() {
    run(async {
        let (tx, rx) = oneshot();
        drop(weft::spawn(async move {
            weft::time::sleep(Duration::from_millis(20)).await;
            tx.send("side effect");
        }));
        assert_eq!(within(SHORT, rx).await, Some("side effect"));
    });
}

#[test]
fn task_ids_are_distinct_and_alive_tasks_are_counted() {
    run(async {
        let handle = Handle::current();
        let base = handle.alive_tasks();
        let (tx, rx) = oneshot::<()>();
        let a = weft::spawn(async move {
            rx.await;
        });
        let b = weft::spawn(async {});
        assert_ne!(a.id(), b.id());
        assert_eq!(handle.alive_tasks(), base + 2);
        b.await.unwrap();
        assert_eq!(handle.alive_tasks(), base + 1);
        tx.send(());
        a.await.unwrap();
        assert_eq!(handle.alive_tasks(), base);
    });
}

#[test]
fn the_builder_selects_the_poll_backend_and_it_works() {
    for backend in [Backend::Poll, Backend::Epoll] {
        let rt = Runtime::builder().backend(backend).build().unwrap();
        assert_eq!(rt.backend(), backend);
        assert!(format!("{rt:?}").contains(&format!("{backend:?}")));
        let echoed = util::run_on(&rt, util::LIMIT, async {
            let (mut a, mut b) = util::tcp_pair().await.unwrap();
            a.write_all(b"through the backend").await.unwrap();
            let mut buf = [0; 19];
            b.read_exact(&mut buf).await.unwrap();
            weft::time::sleep(Duration::from_millis(1)).await;
            buf
        });
        assert_eq!(&echoed, b"through the backend");
    }
}

#[test]
fn event_interval_of_one_still_runs_everything() {
    let rt = Runtime::builder().event_interval(1).build().unwrap();
    let sum = util::run_on(&rt, util::LIMIT, async {
        let tasks: Vec<_> = (0..100u64).map(|i| weft::spawn(async move { i })).collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

#[test]
fn the_default_backend_follows_weft_backend() {
    let expected = match std::env::var("WEFT_BACKEND").as_deref() {
        Ok(v) if v.eq_ignore_ascii_case("poll") => Backend::Poll,
        _ => Backend::Epoll,
    };
    assert_eq!(util::rt().backend(), expected);
}

#[test]
fn sockets_outside_a_runtime_are_errors_not_panics() {
    let err = TcpListener::bind("127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("no weft runtime"), "{err}");
    let err = UdpSocket::bind("127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("no weft runtime"), "{err}");

    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_stream = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
    let err = TcpStream::from_std(std_stream).unwrap_err();
    assert!(err.to_string().contains("no weft runtime"), "{err}");
    let err = TcpListener::from_std(std_listener).unwrap_err();
    assert!(err.to_string().contains("no weft runtime"), "{err}");

    // Connecting is a future: polling it outside a runtime reports the error, too.
    let connect = TcpStream::connect("127.0.0.1:9");
    let mut connect = std::pin::pin!(connect);
    let waker = std::task::Waker::noop();
    match connect.as_mut().poll(&mut Context::from_waker(waker)) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("no weft runtime"), "{e}"),
        other => panic!("connect outside a runtime gave {other:?}"),
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn timers_and_spawn_outside_a_runtime_panic_with_a_clear_message() {
    let caught = catch_unwind(|| weft::time::sleep(Duration::from_millis(1)));
    let msg = panic_message(&*caught.unwrap_err());
    assert!(msg.contains("no weft runtime"), "{msg:?}");

    let caught = catch_unwind(|| weft::spawn(async {}));
    let msg = panic_message(&*caught.unwrap_err());
    assert!(msg.contains("no weft runtime"), "{msg:?}");

    let caught = catch_unwind(|| weft::spawn_local(async {}));
    let msg = panic_message(&*caught.unwrap_err());
    assert!(msg.contains("no weft runtime"), "{msg:?}");
}

#[test]
fn a_runtime_per_thread_runs_independently() {
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            std::thread::spawn(move || {
                util::run(async move {
                    let (mut a, mut b) = util::tcp_pair().await.unwrap();
                    let msg = util::payload(t, 10_000);
                    let writer = weft::spawn({
                        let msg = msg.clone();
                        async move { a.write_all(&msg).await.unwrap() }
                    });
                    let mut got = vec![0; msg.len()];
                    b.read_exact(&mut got).await.unwrap();
                    writer.await.unwrap();
                    got == msg
                })
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
}

#[test]
fn the_main_future_is_polled_only_when_woken() {
    run(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let counter = polls.clone();
        let mut sleep = Box::pin(weft::time::sleep(Duration::from_millis(50)));
        poll_fn(move |cx| {
            counter.fetch_add(1, Ordering::SeqCst);
            sleep.as_mut().poll(cx)
        })
        .await;
        // Once to start, once when the timer fired: not a busy loop.
        assert!(
            polls.load(Ordering::SeqCst) <= 3,
            "{} polls",
            polls.load(Ordering::SeqCst)
        );
    });
}

/// A handle polled (so the task stored its waker) and then dropped lets go of that waker at
/// once, not when the detached task ends: the waker may hold another runtime's task, and with
/// it that runtime's reactor and descriptors.
#[test]
fn a_dropped_join_handle_releases_the_waker_it_stored() {
    struct CountsDrops(Arc<AtomicUsize>);
    impl std::task::Wake for CountsDrops {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for CountsDrops {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = util::rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handle = rt.spawn(std::future::pending::<()>());
    let waker = std::task::Waker::from(Arc::new(CountsDrops(drops.clone())));
    assert!(Pin::new(&mut handle)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the task holds a clone");
    drop(handle);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the detached task still holds the waker"
    );
}
