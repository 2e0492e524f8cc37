//! The multi-thread runtime at its edges: configuration errors, a build that fails half way,
//! destructors that spawn during shutdown, waits still in flight when `shutdown_timeout` gives
//! up, and what `metrics()` reports.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::net::UdpSocket;
use weft::{Builder, Runtime};

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

#[test]
fn more_workers_than_the_scheduler_counts_is_an_error_not_a_panic() {
    let err = Builder::new_multi_thread()
        .worker_threads(70_000)
        .build()
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("70000"), "{err}");
}

#[test]
fn weft_workers_garbage_is_an_error_not_a_panic() {
    if let Ok(v) = std::env::var("WEFT_TEST_WORKERS_CHILD") {
        let _ = v;
        let r = std::panic::catch_unwind(|| Builder::new_multi_thread().build().map(|_| ()));
        match r {
            Ok(Ok(())) => println!("RESULT=ok"),
            Ok(Err(e)) => println!("RESULT=err:{e}"),
            Err(p) => println!("RESULT=panic:{}", panic_message(&*p)),
        }
        return;
    }
    use std::os::unix::ffi::OsStringExt;
    let values: Vec<std::ffi::OsString> = vec![
        "abc".into(),
        "0".into(),
        "-3".into(),
        "".into(),
        "1e3".into(),
        "99999999999999999999999".into(),
        std::ffi::OsString::from_vec(vec![0xff, 0xfe]),
    ];
    let exe = std::env::current_exe().unwrap();
    let mut bad = Vec::new();
    for v in values {
        let out = std::process::Command::new(&exe)
            .args([
                "weft_workers_garbage_is_an_error_not_a_panic",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("WEFT_TEST_WORKERS_CHILD", "1")
            .env("WEFT_WORKERS", &v)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("RESULT=").map(|(_, r)| r))
            .unwrap_or("<none>")
            .to_string();
        if !line.starts_with("err:") {
            bad.push(format!("WEFT_WORKERS={v:?} -> {line}"));
        }
    }
    assert!(bad.is_empty(), "not rejected with an error: {bad:#?}");
}

/// A failure to start worker thread k (here: address space exhausted) must not leave workers
/// 0..k running for ever in the background.
#[test]
fn a_failed_build_leaves_no_worker_threads_behind() {
    if std::env::var("WEFT_TEST_NPROC_CHILD").is_ok() {
        let workers = || {
            util::thread_names()
                .iter()
                .filter(|name| name.starts_with("weft-worker"))
                .count()
        };
        // cap the address space a little above what is mapped now: some worker stacks fit,
        // not 200 of them
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let vm: u64 = statm.split_whitespace().next().unwrap().parse().unwrap();
        let cap = vm * 4096 + 64 * 1024 * 1024;
        let lim = libc::rlimit {
            rlim_cur: cap,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: a valid rlimit value.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
        let r = Builder::new_multi_thread().worker_threads(200).build();
        let failed = r.is_err();
        drop(r);
        let lim = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: a valid rlimit value.
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
        std::thread::sleep(Duration::from_millis(300));
        println!("RESULT failed={failed} workers_left={}", workers());
        return;
    }
    let out = util::rerun_self(
        "a_failed_build_leaves_no_worker_threads_behind",
        &[("WEFT_TEST_NPROC_CHILD", "1".into())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "child said nothing: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    if line.contains("failed=false") {
        eprintln!("could not make the build fail here: {line}");
        return;
    }
    assert!(line.ends_with("workers_left=0"), "{line}");
}

struct SpawnOnDrop {
    spawned: Arc<AtomicUsize>,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        // a common cleanup pattern: hand the async part of the cleanup to the runtime
        let r = std::panic::catch_unwind(|| {
            drop(weft::spawn(async {}));
        });
        if r.is_ok() {
            self.spawned.fetch_add(1, Ordering::SeqCst);
        } else {
            self.spawned.fetch_add(1000, Ordering::SeqCst);
        }
    }
}

fn spawn_from_drop_during_shutdown(rt: Runtime) {
    let _dog = util::Watchdog::arm(Duration::from_secs(30));
    let spawned = Arc::new(AtomicUsize::new(0));
    let guard = SpawnOnDrop {
        spawned: spawned.clone(),
    };
    rt.block_on(async {
        drop(weft::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        weft::time::sleep(Duration::from_millis(20)).await;
    });
    drop(rt);
    assert_eq!(
        spawned.load(Ordering::SeqCst),
        1,
        "weft::spawn in a task's Drop during shutdown panicked (1000) or never ran (0)"
    );
}

#[test]
fn mt_spawn_from_drop_during_shutdown() {
    spawn_from_drop_during_shutdown(util::multi_thread_rt(2));
}

/// The docs: shutting down "fails any I/O still waiting with an error, and fires pending
/// timers"; `shutdown_timeout` is "like dropping it" with a bound on the wait.
fn waits_end_after_shutdown_timeout(stuck_for: Option<Duration>, timeout: Duration) {
    let _dog = util::Watchdog::arm(Duration::from_secs(30));
    let rt = util::multi_thread_rt(2);
    // an application keeps a handle somewhere (a server's spawner, a metrics thread...)
    let handle = rt.handle().clone();
    let (sleep, sock) = rt.block_on(async {
        (
            Box::pin(weft::time::sleep(Duration::from_secs(60))),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        )
    });
    let done = Arc::new(AtomicUsize::new(0));
    let d1 = done.clone();
    std::thread::spawn(move || {
        weft::task::block_on(sleep);
        d1.fetch_add(1, Ordering::SeqCst);
    });
    let d2 = done.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4];
        let _ = weft::task::block_on(sock.recv_from(&mut buf));
        d2.fetch_add(1, Ordering::SeqCst);
    });
    if let Some(d) = stuck_for {
        rt.spawn(async move { std::thread::sleep(d) });
    }
    std::thread::sleep(Duration::from_millis(100));
    let clean = rt.shutdown_timeout(timeout);
    let start = Instant::now();
    while done.load(Ordering::SeqCst) < 2 && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let n = done.load(Ordering::SeqCst);
    drop(handle);
    assert_eq!(
        n,
        2,
        "{} of 2 waits still pending 3 s after shutdown_timeout returned {clean} \
         (the stuck worker, if any, has long finished)",
        2 - n
    );
}

#[test]
fn shutdown_timeout_zero_still_fails_waits_in_flight() {
    waits_end_after_shutdown_timeout(None, Duration::ZERO);
}

#[test]
fn shutdown_timeout_with_a_briefly_stuck_worker_still_fails_waits_in_flight() {
    waits_end_after_shutdown_timeout(Some(Duration::from_millis(300)), Duration::from_millis(50));
}

#[test]
fn mt_metrics_make_sense() {
    let rt = Builder::new_multi_thread()
        .worker_threads(3)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..50).map(|i| weft::spawn(async move { i })).collect();
        for t in tasks {
            t.await.unwrap();
        }
        weft::spawn_blocking(|| ()).await.unwrap();
        for _ in 0..10 {
            weft::yield_now().await;
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let m = rt.metrics();
    assert_eq!(m.workers, 3);
    assert_eq!(m.alive_tasks, 0);
    assert_eq!(m.queue_depth, 0);
    assert_eq!(m.stalls, 0);
    assert!(m.blocking_threads >= 1);
    // the docs: "Task polls so far (including polls of the future given to block_on)"
    assert!(
        m.polls >= 50 + 11,
        "polls = {} (50 tasks and at least 11 polls of the block_on future)",
        m.polls
    );
    let pending: Vec<_> = (0..5)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(rt.metrics().alive_tasks, 5);
    for p in &pending {
        p.abort();
    }
    rt.block_on(async {
        for p in pending {
            assert!(p.await.unwrap_err().is_cancelled());
        }
    });
    assert_eq!(rt.metrics().alive_tasks, 0);
}

#[test]
fn mt_queue_depth_counts_pinned_tasks_waiting_on_their_worker() {
    let rt = util::multi_thread_rt(1);
    let handle = rt.handle().clone();
    let started = Arc::new(AtomicBool::new(false));
    let s2 = started.clone();
    let blocker = handle
        .spawn_pinned_on(0, move || async move {
            // ten ready tasks queued on this worker, then the worker is busy for a while
            let locals: Vec<_> = (0..10).map(|_| weft::spawn_local(async {})).collect();
            s2.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            for l in locals {
                l.await.unwrap();
            }
        })
        .unwrap();
    let start = Instant::now();
    while !started.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    let depth = rt.metrics().queue_depth;
    rt.block_on(util::within(Duration::from_secs(5), blocker))
        .unwrap();
    assert!(
        depth >= 10,
        "queue_depth = {depth} while 10 ready tasks wait for the worker"
    );
}

/// Regression: a finished task woke its `JoinHandle` before leaving the owned list, so a
/// joiner that read the metrics right away could still count it alive.
#[test]
fn a_joined_task_is_no_longer_counted_alive() {
    let rt = util::multi_thread_rt(2);
    rt.block_on(async {
        for round in 0..300 {
            weft::spawn(async {}).await.unwrap();
            assert_eq!(rt.metrics().alive_tasks, 0, "round {round}");
        }
    });
}
