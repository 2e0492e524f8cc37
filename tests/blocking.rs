//! `spawn_blocking`: jobs run on named pool threads without stalling the loop, the pool grows
//! to its cap and shrinks after the keep-alive, panics and aborts come back as `JoinError`s, and
//! dropping the runtime cancels queued jobs and waits (bounded) for running ones.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use util::{assert_between, run, run_on, within};
use weft::time::sleep;
use weft::Runtime;

fn rt_with(builder: weft::Builder) -> Runtime {
    builder.build().expect("building a runtime")
}

#[test]
fn a_job_runs_on_a_named_pool_thread_and_returns_its_value() {
    run(async {
        let loop_thread = std::thread::current().id();
        let (value, name, thread) = weft::spawn_blocking(|| {
            let me = std::thread::current();
            (6 * 7, me.name().map(str::to_owned), me.id())
        })
        .await
        .unwrap();
        assert_eq!(value, 42);
        assert_ne!(thread, loop_thread);
        let name = name.expect("pool threads are named");
        assert!(name.starts_with("weft-blocking-"), "{name}");
    });
}

#[test]
fn a_blocking_job_does_not_stall_the_loop() {
    run(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = weft::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        weft::spawn_blocking(|| std::thread::sleep(Duration::from_millis(300)))
            .await
            .unwrap();
        ticker.abort();
        // 60 ticks if the loop ran freely; none if the job had blocked it.
        let ticks = ticks.load(Ordering::SeqCst);
        assert!(ticks >= 6, "the loop ticked only {ticks} times in 300 ms");
    });
}

#[test]
fn jobs_run_in_parallel_up_to_the_cap_and_queue_beyond_it() {
    let rt = rt_with(Runtime::builder().max_blocking_threads(3));
    run_on(&rt, util::LIMIT, async {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..9)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                weft::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        for (i, job) in jobs.into_iter().enumerate() {
            assert_eq!(job.await.unwrap(), i);
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= 3, "{peak} jobs ran at once with a cap of 3");
        assert!(peak >= 2, "the pool never ran two jobs at once");
    });
    assert!(rt.metrics().blocking_threads <= 3);
}

#[test]
fn sleeping_jobs_overlap_instead_of_running_one_after_another() {
    run(async {
        let start = Instant::now();
        let jobs: Vec<_> = (0..16)
            .map(|_| weft::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50))))
            .collect();
        for job in jobs {
            job.await.unwrap();
        }
        // One after another: 800 ms; all at once: 50 ms.
        assert_between(
            "16 jobs of 50 ms",
            start.elapsed(),
            Duration::from_millis(50),
            Duration::from_millis(800),
        );
    });
}

#[test]
fn an_idle_thread_is_reused_within_the_keep_alive_and_retires_after_it() {
    let name = || std::thread::current().name().unwrap().to_owned();

    let rt = rt_with(Runtime::builder().thread_keep_alive(Duration::from_secs(10)));
    run_on(&rt, util::LIMIT, async move {
        let first = weft::spawn_blocking(name).await.unwrap();
        sleep(Duration::from_millis(50)).await;
        let second = weft::spawn_blocking(name).await.unwrap();
        assert_eq!(first, second, "the idle thread was not reused");
    });
    assert_eq!(rt.metrics().blocking_threads, 1);

    let rt = rt_with(Runtime::builder().thread_keep_alive(Duration::from_millis(20)));
    run_on(&rt, util::LIMIT, async move {
        let first = weft::spawn_blocking(name).await.unwrap();
        assert_eq!(first, "weft-blocking-1");
        sleep(Duration::from_millis(400)).await;
        let second = weft::spawn_blocking(name).await.unwrap();
        assert_eq!(second, "weft-blocking-2", "the idle thread did not retire");
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.metrics().blocking_threads > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rt.metrics().blocking_threads, 0);
}

#[test]
fn a_panicking_job_gives_a_panic_join_error_and_the_pool_goes_on() {
    run(async {
        let err = weft::spawn_blocking(|| -> u32 { panic!("blocking boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert!(err.to_string().contains("blocking boom"), "{err}");
        assert_eq!(weft::spawn_blocking(|| 7).await.unwrap(), 7);
    });
}

#[test]
fn aborting_a_queued_job_cancels_it_before_it_runs() {
    let rt = rt_with(Runtime::builder().max_blocking_threads(1));
    run_on(&rt, util::LIMIT, async {
        let (release, gate) = mpsc::channel::<()>();
        let busy = weft::spawn_blocking(move || gate.recv().unwrap());
        let ran = Arc::new(AtomicBool::new(false));
        let queued = weft::spawn_blocking({
            let ran = ran.clone();
            move || ran.store(true, Ordering::SeqCst)
        });
        queued.abort();
        release.send(()).unwrap();
        busy.await.unwrap();
        assert!(queued.await.unwrap_err().is_cancelled());
        // The pool's only thread is free again and the aborted job never ran.
        weft::spawn_blocking(|| ()).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    });
}

#[test]
fn other_threads_spawn_jobs_through_a_handle_and_jobs_reach_back_into_the_loop() {
    let rt = util::rt();
    let handle = rt.handle().clone();
    let job = std::thread::spawn(move || {
        let back = handle.clone();
        handle.spawn_blocking(move || back.spawn(async { "spawned from the pool" }))
    })
    .join()
    .unwrap();
    run_on(&rt, util::LIMIT, async move {
        let task = within(Duration::from_secs(5), job).await.unwrap();
        assert_eq!(task.await.unwrap(), "spawned from the pool");
    });
}

#[test]
#[should_panic(expected = "spawn_blocking")]
fn spawn_blocking_outside_a_runtime_panics() {
    drop(weft::spawn_blocking(|| ()));
}

#[test]
fn dropping_the_runtime_waits_for_running_jobs() {
    let rt = rt_with(Runtime::builder().blocking_shutdown_timeout(Duration::from_secs(10)));
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let [job] = rt.block_on(async {
        let job = weft::spawn_blocking({
            let (done, started) = (done.clone(), started.clone());
            move || {
                started.wait();
                std::thread::sleep(Duration::from_millis(100));
                done.store(true, Ordering::SeqCst);
                "finished"
            }
        });
        weft::spawn_blocking({
            let started = started.clone();
            move || started.wait()
        })
        .await
        .unwrap();
        [job] // (in an array: a future returned bare from an async block looks like a mistake)
    });
    drop(rt);
    assert!(done.load(Ordering::SeqCst), "the drop did not wait");
    assert!(job.is_finished());
    // The output still reaches the handle, awaited on another runtime.
    assert_eq!(run(job).unwrap(), "finished");
}

#[test]
fn the_drop_stops_waiting_after_the_timeout_and_cancels_queued_jobs() {
    let rt = rt_with(
        Runtime::builder()
            .max_blocking_threads(1)
            .blocking_shutdown_timeout(Duration::from_millis(50)),
    );
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let (stuck, queued) = rt.block_on(async {
        let stuck = weft::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            gate.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        let queued = weft::spawn_blocking(|| "never runs");
        (stuck, queued)
    });
    started.recv_timeout(Duration::from_secs(5)).unwrap();
    let start = Instant::now();
    drop(rt);
    // The stuck job would hold the drop for 10 s.
    assert_between(
        "dropping with a stuck job",
        start.elapsed(),
        Duration::from_millis(50),
        Duration::from_secs(5),
    );
    assert!(queued.is_finished());
    assert!(run(queued).unwrap_err().is_cancelled());
    assert!(!stuck.is_finished());
    release.send(()).unwrap();
    assert!(run(stuck).unwrap(), "the stuck job finishes on its own");
}

/// `shutdown_timeout` bounds the whole shutdown, blocking pool included, and does not call a
/// shutdown that left a job running clean (it used to wait the pool's full 10 s and say `true`).
#[test]
fn shutdown_timeout_bounds_the_blocking_pool_and_reports_an_abandoned_job() {
    for workers in [None, Some(1)] {
        let builder = Runtime::builder().blocking_shutdown_timeout(Duration::from_secs(10));
        let rt = rt_with(match workers {
            Some(n) => builder.multi_thread().worker_threads(n),
            None => builder,
        });
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        let job = rt.handle().spawn_blocking(move || {
            started_tx.send(()).unwrap();
            gate.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let start = Instant::now();
        let clean = rt.shutdown_timeout(Duration::from_millis(100));
        assert_between(
            "shutdown_timeout(100 ms) with a stuck blocking job",
            start.elapsed(),
            Duration::from_millis(100),
            Duration::from_secs(5),
        );
        assert!(
            !clean,
            "a job was left running, yet the shutdown said it was clean"
        );
        assert!(!job.is_finished());
        release.send(()).unwrap();
        assert!(run(job).unwrap(), "the abandoned job finishes on its own");
    }
    // With nothing left running, the same call is clean.
    let rt = util::rt();
    let job = rt.handle().spawn_blocking(|| 5);
    assert_eq!(rt.block_on(job).unwrap(), 5);
    assert!(rt.shutdown_timeout(Duration::from_secs(5)));
}

#[test]
fn a_job_spawned_after_the_runtime_is_gone_is_cancelled() {
    let rt = util::rt();
    let handle = rt.handle().clone();
    drop(rt);
    let job = handle.spawn_blocking(|| 1);
    assert!(job.is_finished());
    assert!(run(job).unwrap_err().is_cancelled());
}
