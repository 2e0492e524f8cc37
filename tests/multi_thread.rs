//! The multi-thread runtime: spreading, stealing, cross-thread wakes, pinned tasks, shutdown.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::net::{TcpListener, TcpStream};

#[test]
fn spawned_tasks_run_on_several_workers() {
    let rt = util::multi_thread_rt(2);
    let names = rt.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                weft::spawn(async {
                    // long enough that one worker cannot take all of them alone
                    std::thread::sleep(Duration::from_millis(1));
                    std::thread::current().name().unwrap_or("").to_owned()
                })
            })
            .collect();
        let mut names = Vec::new();
        for t in tasks {
            names.push(t.await.unwrap());
        }
        names
    });
    assert!(
        names.iter().all(|n| n.starts_with("weft-worker-")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "weft-worker-0"));
    assert!(
        names.iter().any(|n| n == "weft-worker-1"),
        "no stealing happened"
    );
}

#[test]
fn ping_pong_across_workers() {
    let rt = util::multi_thread_rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let count = count.clone();
            tasks.push(weft::spawn(async move {
                for _ in 0..100 {
                    weft::yield_now().await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(count.load(Ordering::Relaxed), 10_000);
}

#[test]
fn echo_over_tcp_on_two_workers() {
    let rt = util::multi_thread_rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        weft::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                weft::spawn(async move {
                    let mut buf = [0; 4096];
                    loop {
                        let n = conn.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        conn.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..50)
            .map(|i| {
                weft::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    for round in 0..20u32 {
                        let msg = format!("client {i} round {round}");
                        c.write_all(msg.as_bytes()).await.unwrap();
                        let mut back = vec![0; msg.len()];
                        c.read_exact(&mut back).await.unwrap();
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
fn pinned_tasks_stay_on_their_worker_and_spawn_local_works_there() {
    let rt = util::multi_thread_rt(2);
    let handle = rt.handle().clone();
    let out = rt.block_on(async move {
        let task = handle.spawn_pinned_on(1, || {
            let here = std::thread::current().name().unwrap().to_owned();
            let rc = std::rc::Rc::new(here);
            async move {
                let inner = weft::spawn_local({
                    let rc = rc.clone();
                    async move { std::thread::current().name().unwrap().to_owned() + &*rc }
                });
                for _ in 0..10 {
                    weft::yield_now().await;
                    weft::time::sleep(Duration::from_millis(1)).await;
                    assert_eq!(std::thread::current().name().unwrap(), rc.as_str());
                }
                inner.await.unwrap()
            }
        });
        task.unwrap().await.unwrap()
    });
    assert_eq!(out, "weft-worker-1weft-worker-1");
    assert!(rt.handle().spawn_pinned_on(2, || async {}).is_err());
}

#[test]
#[allow(clippy::async_yields_async)] // the server hands back the echo task's handle
fn a_stuck_worker_does_not_strand_ready_io() {
    let rt = util::multi_thread_rt(2);
    let handle = rt.handle().clone();
    let took = rt.block_on(async move {
        // the listener, and so the accepted socket, register with worker 0's reactor
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = handle
            .spawn_pinned_on(0, move || async move {
                let (mut conn, _) = listener.accept().await.unwrap();
                // a Send task, free to run on any worker
                weft::spawn(async move {
                    let mut buf = [0; 5];
                    conn.read_exact(&mut buf).await.unwrap();
                    conn.write_all(&buf).await.unwrap();
                })
            })
            .unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let echo = server.await.unwrap();
        weft::time::sleep(Duration::from_millis(50)).await;
        // worker 0 is now stuck in one poll for 2 s
        let hog = handle
            .spawn_pinned_on(0, || async { std::thread::sleep(Duration::from_secs(2)) })
            .unwrap();
        let start = Instant::now();
        // this thread's timers and sockets also live on worker 0's reactor
        weft::time::sleep(Duration::from_millis(50)).await;
        client.write_all(b"hello").await.unwrap();
        let mut back = [0; 5];
        client.read_exact(&mut back).await.unwrap();
        let took = start.elapsed();
        assert_eq!(&back, b"hello");
        echo.await.unwrap();
        hog.await.unwrap();
        took
    });
    assert!(
        took < Duration::from_secs(1),
        "the echo waited {took:?} for the stuck worker"
    );
}
