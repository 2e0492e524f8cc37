//! Coroutines on the multi-thread runtime: placed over the workers, never moved once started,
//! and talking to async tasks on other workers.

mod util;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;

use util::Watchdog;
use weft::coroutines::net::TcpStream;
use weft::sync::mpsc;

#[test]
fn coroutines_spread_over_workers_and_never_migrate() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    let threads = rt.block_on(async {
        let coroutines: Vec<_> = (0..64)
            .map(|_| {
                weft::go(|| {
                    let home = std::thread::current().id();
                    for i in 0..20 {
                        if i % 2 == 0 {
                            weft::coroutines::yield_now();
                        } else {
                            weft::coroutines::sleep(Duration::from_millis(1));
                        }
                        assert_eq!(std::thread::current().id(), home, "a coroutine moved");
                    }
                    home
                })
            })
            .collect();
        let mut threads = HashSet::new();
        for c in coroutines {
            threads.insert(c.await.unwrap());
        }
        threads
    });
    assert_eq!(
        threads.len(),
        2,
        "64 coroutines spawned from outside use both workers"
    );
}

#[test]
fn coroutine_echo_on_two_workers() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    rt.block_on(async {
        let listener = weft::coroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        weft::go(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                weft::go(move || {
                    let mut buf = [0; 1024];
                    loop {
                        let n = stream.read(&mut buf).unwrap();
                        if n == 0 {
                            return;
                        }
                        stream.write_all(&buf[..n]).unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..40)
            .map(|i| {
                weft::go(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    for round in 0..25 {
                        let msg = format!("coroutine {i} round {round}");
                        c.write_all(msg.as_bytes()).unwrap();
                        let mut back = vec![0; msg.len()];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg.as_bytes());
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
    });
}

#[test]
fn coroutines_and_async_tasks_on_other_workers_exchange_messages() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    let total = rt.block_on(async {
        let (to_async, mut from_coroutines) = mpsc::channel::<u64>(8);
        let (to_coroutines, from_async) = mpsc::channel::<u64>(8);
        // an async task doubles what coroutines send; a coroutine sums the answers
        weft::spawn(async move {
            while let Some(n) = from_coroutines.recv().await {
                if to_coroutines.send(n * 2).await.is_err() {
                    return;
                }
            }
        });
        let producers: Vec<_> = (0..8)
            .map(|p| {
                let to_async = to_async.clone();
                weft::go(move || {
                    for i in 0..100 {
                        to_async.blocking_send(p * 100 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(to_async);
        let summer = weft::go(move || {
            let mut from_async = from_async;
            let mut total = 0;
            while let Some(n) = from_async.blocking_recv() {
                total += n;
            }
            total
        });
        for p in producers {
            p.await.unwrap();
        }
        summer.await.unwrap()
    });
    assert_eq!(total, 2 * (0..800u64).sum::<u64>());
}

/// A coroutine that spins on the CPU holds its worker; coroutines spawned meanwhile must be
/// placed on the other worker, not queued behind it (a pinned task cannot be stolen).
#[test]
fn new_coroutines_avoid_a_worker_stuck_in_a_long_poll() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = stop.clone();
    let finished = util::run_on(&rt, Duration::from_secs(30), async move {
        let hog = weft::go(move || {
            while !spinning.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        // Long enough for the watchdog (a 10 ms tick) to see the hog's worker stuck.
        weft::time::sleep(Duration::from_millis(100)).await;
        let quick: Vec<_> = (0..10u32).map(|i| weft::go(move || i)).collect();
        let mut finished = 0;
        for handle in quick {
            if weft::time::timeout(Duration::from_secs(2), handle)
                .await
                .is_ok()
            {
                finished += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        hog.await.unwrap();
        finished
    });
    assert_eq!(
        finished, 10,
        "coroutines were placed behind the spinning one"
    );
}
