//! The multi-thread runtime under stress: ping-pong across workers, wake storms from foreign
//! threads, spawns racing shutdown, and many runtimes created and dropped.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::{drop_guard, oneshot, Watchdog};

#[test]
fn many_short_tasks_ping_pong_across_workers() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(4);
    let total = rt.block_on(async {
        // 200 pairs; each pair passes a counter back and forth 200 times through oneshots, so
        // every hop is a wake of a task that may sit on another worker
        let mut pairs = Vec::new();
        for _ in 0..200 {
            pairs.push(weft::spawn(async {
                let mut hops = 0u32;
                for _ in 0..200 {
                    let (tx, rx) = oneshot::<u32>();
                    let (back_tx, back_rx) = oneshot::<u32>();
                    let peer = weft::spawn(async move {
                        let v = rx.await.expect("sent");
                        back_tx.send(v + 1);
                    });
                    tx.send(hops);
                    hops = back_rx.await.expect("answered");
                    peer.await.unwrap();
                }
                hops
            }));
        }
        let mut total = 0;
        for p in pairs {
            total += p.await.unwrap();
        }
        total
    });
    assert_eq!(total, 200 * 200);
}

#[test]
fn wake_storms_from_foreign_threads_lose_no_wake() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    const TASKS: usize = 400;
    const ROUNDS: usize = 50;
    // each task waits for ROUNDS values, each sent from one of four plain threads
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let mut rxs = Vec::new();
        let mut txs = Vec::new();
        for _ in 0..ROUNDS {
            let (tx, rx) = oneshot::<usize>();
            txs.push(tx);
            rxs.push(rx);
        }
        senders.push(txs);
        tasks.push(rt.spawn(async move {
            let mut sum = 0;
            for rx in rxs {
                sum += rx.await.expect("sent");
            }
            sum
        }));
    }
    let mut by_thread: Vec<Vec<_>> = (0..4).map(|_| Vec::new()).collect();
    for (i, txs) in senders.into_iter().enumerate() {
        by_thread[i % 4].push(txs);
    }
    let threads: Vec<_> = by_thread
        .into_iter()
        .map(|mine| {
            std::thread::spawn(move || {
                let mut mine: Vec<_> = mine.into_iter().map(|t| t.into_iter()).collect();
                for _ in 0..ROUNDS {
                    for txs in mine.iter_mut() {
                        txs.next().unwrap().send(1);
                    }
                }
            })
        })
        .collect();
    let sums = rt.block_on(async move {
        let mut sums = Vec::new();
        for t in tasks {
            sums.push(t.await.unwrap());
        }
        sums
    });
    for t in threads {
        t.join().unwrap();
    }
    assert!(sums.iter().all(|&s| s == ROUNDS));
}

#[test]
fn spawns_racing_shutdown_are_run_or_cancelled_never_lost() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    for _ in 0..20 {
        let rt = util::multi_thread_rt(2);
        let handle = rt.handle().clone();
        let ran = Arc::new(AtomicUsize::new(0));
        let spammer = {
            let ran = ran.clone();
            std::thread::spawn(move || {
                let mut handles = Vec::new();
                for _ in 0..2_000 {
                    let ran = ran.clone();
                    let (guard, flag) = drop_guard();
                    handles.push((
                        handle.spawn(async move {
                            let _guard = guard;
                            ran.fetch_add(1, Ordering::Relaxed);
                        }),
                        flag,
                    ));
                }
                handles
            })
        };
        std::thread::sleep(Duration::from_micros(200));
        drop(rt);
        let handles = spammer.join().unwrap();
        let mut completed = 0;
        for (join, flag) in handles {
            // every future was dropped: after running, or cancelled by the shutdown
            assert!(flag.is_dropped());
            match weft::task::block_on(join) {
                Ok(()) => completed += 1,
                Err(e) => assert!(e.is_cancelled(), "{e}"),
            }
        }
        assert_eq!(completed, ran.load(Ordering::Relaxed));
    }
}

#[test]
fn dropping_the_runtime_cancels_tasks_and_fails_pending_io() {
    let _watchdog = Watchdog::arm(Duration::from_secs(60));
    let rt = util::multi_thread_rt(2);
    let (guard, flag) = drop_guard();
    let (io_result_tx, io_result_rx) = oneshot();
    // a connected pair on which nobody ever writes
    let (server_side, client_side) = rt.block_on(async {
        let (listener, addr) = util::listener();
        let client = weft::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    });
    // a task parked on a read
    let parked = rt.spawn(async move {
        let _guard = guard;
        let mut server_side = server_side;
        let mut buf = [0; 8];
        let _ = server_side.read(&mut buf).await;
    });
    // a plain thread parked on a read of a socket registered with the runtime's reactor
    let reader = std::thread::spawn(move || {
        let mut client_side = client_side;
        let mut buf = [0; 8];
        io_result_tx.send(weft::task::block_on(client_side.read(&mut buf)).map(|_| ()));
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    assert!(flag.is_dropped(), "the parked task's future was dropped");
    let err = weft::task::block_on(parked).unwrap_err();
    assert!(err.is_cancelled());
    let io = weft::task::block_on(io_result_rx).expect("the reader answered");
    assert!(
        io.is_err(),
        "pending I/O fails once its reactor is gone: {io:?}"
    );
    reader.join().unwrap();
}
