//! Cooperative budget: a task whose operations never return `Pending` (a socket that always
//! has data, timers already due) must still let the other tasks, timers and I/O run.
//!
//! Without the budget these firehoses would hold the loop forever; each one is bounded by its
//! own clock and byte count, so a regression fails the assertions instead of hanging.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{assert_between, run, tcp_pair, within};
use weft::time::sleep;

/// How long a firehose may run at most.
const FIREHOSE_MAX: Duration = Duration::from_secs(5);
/// How quickly the starved task must finish.
const VICTIM_MAX: Duration = Duration::from_secs(2);

/// A weft task that reads the firehose one byte at a time, far slower than the writer fills
/// the socket, so every read completes without waiting. Returns the bytes read.
fn drink(
    mut conn: weft::net::TcpStream,
    running: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
) -> weft::JoinHandle<u64> {
    weft::spawn(async move {
        let start = Instant::now();
        let mut byte = [0; 1];
        let mut total = 0u64;
        running.store(true, Ordering::SeqCst);
        while running.load(Ordering::SeqCst)
            && start.elapsed() < FIREHOSE_MAX
            && total < 200_000_000
        {
            match conn.read(&mut byte).await {
                Ok(1) => total += 1,
                _ => break,
            }
            if total % 1024 == 0 {
                bytes.store(total, Ordering::Relaxed);
            }
        }
        running.store(false, Ordering::SeqCst);
        total
    })
}

/// Sets up a firehose connection; returns (the weft reader task, its flag, the flood thread's
/// stop flag and handle).
async fn firehose() -> (
    weft::JoinHandle<u64>,
    Arc<AtomicBool>,
    Arc<AtomicU64>,
    Arc<AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let (listener, addr) = util::listener();
    let writer = std::net::TcpStream::connect(addr).unwrap();
    let (reader, _) = listener.accept().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = util::flood(writer, stop.clone(), FIREHOSE_MAX * 2);
    // Let the socket fill up before the reader starts.
    std::thread::sleep(Duration::from_millis(20));
    let running = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let drinker = drink(reader, running.clone(), bytes.clone());
    (drinker, running, bytes, stop, flooder)
}

#[test]
fn yielding_tasks_and_timers_progress_next_to_a_socket_that_is_always_ready() {
    run(async {
        let (drinker, running, bytes, stop, flooder) = firehose().await;
        weft::yield_now().await;
        assert!(
            running.load(Ordering::SeqCst),
            "the firehose reader did not start"
        );

        let start = Instant::now();
        let victim = weft::spawn(async {
            for _ in 0..20 {
                weft::yield_now().await;
            }
            sleep(Duration::from_millis(10)).await;
            for _ in 0..20 {
                weft::yield_now().await;
            }
        });
        // Awaiting the victim from the main future: the main future itself must get turns.
        victim.await.unwrap();
        let took = start.elapsed();
        let still_running = running.load(Ordering::SeqCst);
        let drunk = bytes.load(Ordering::Relaxed);

        running.store(false, Ordering::SeqCst);
        let total = drinker.await.unwrap();
        stop.store(true, Ordering::SeqCst);
        flooder.join().unwrap();

        util::assert_victim_ran_beside_firehose(still_running, took, drunk, total);
    });
}

#[test]
fn a_ping_pong_on_another_connection_progresses_next_to_a_firehose() {
    run(async {
        let (drinker, running, _bytes, stop, flooder) = firehose().await;
        let (mut a, mut b) = tcp_pair().await.unwrap();
        let echo = weft::spawn(async move {
            let mut buf = [0; 8];
            for _ in 0..20 {
                b.read_exact(&mut buf).await.unwrap();
                b.write_all(&buf).await.unwrap();
            }
        });
        let start = Instant::now();
        for i in 0..20u64 {
            a.write_all(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0; 8];
            a.read_exact(&mut buf).await.unwrap();
            assert_eq!(u64::from_le_bytes(buf), i);
        }
        let took = start.elapsed();
        let still_running = running.load(Ordering::SeqCst);
        echo.await.unwrap();

        running.store(false, Ordering::SeqCst);
        drinker.await.unwrap();
        stop.store(true, Ordering::SeqCst);
        flooder.join().unwrap();

        assert!(
            still_running,
            "the ping-pong only finished after the firehose ended ({took:?})"
        );
        assert_between(
            "20 round trips next to a firehose",
            took,
            Duration::ZERO,
            VICTIM_MAX,
        );
    });
}

#[test]
fn two_firehoses_share_the_loop_with_each_other() {
    run(async {
        let (d1, r1, b1, s1, f1) = firehose().await;
        let (d2, r2, b2, s2, f2) = firehose().await;
        sleep(Duration::from_millis(200)).await;
        let (n1, n2) = (b1.load(Ordering::Relaxed), b2.load(Ordering::Relaxed));
        let both_running = r1.load(Ordering::SeqCst) && r2.load(Ordering::SeqCst);
        r1.store(false, Ordering::SeqCst);
        r2.store(false, Ordering::SeqCst);
        d1.await.unwrap();
        d2.await.unwrap();
        s1.store(true, Ordering::SeqCst);
        s2.store(true, Ordering::SeqCst);
        f1.join().unwrap();
        f2.join().unwrap();
        assert!(both_running, "a firehose ended before the 200 ms sample");
        assert!(
            n1 > 0 && n2 > 0,
            "one firehose starved the other: {n1} vs {n2}"
        );
    });
}

#[test]
fn a_loop_over_already_due_timers_does_not_starve_others() {
    run(async {
        let running = Arc::new(AtomicBool::new(true));
        let past = Instant::now();
        sleep(Duration::from_millis(1)).await;
        let spinner = weft::spawn({
            let running = running.clone();
            async move {
                let start = Instant::now();
                let mut spins = 0u64;
                // Every sleep is already due: without the budget this never yields.
                while running.load(Ordering::SeqCst) && start.elapsed() < FIREHOSE_MAX {
                    weft::time::sleep_until(past).await;
                    spins += 1;
                }
                running.store(false, Ordering::SeqCst);
                spins
            }
        });
        weft::yield_now().await;
        let start = Instant::now();
        let victim = weft::spawn(async {
            for _ in 0..20 {
                weft::yield_now().await;
            }
            sleep(Duration::from_millis(5)).await;
        });
        victim.await.unwrap();
        let took = start.elapsed();
        let still_running = running.swap(false, Ordering::SeqCst);
        let spins = spinner.await.unwrap();
        assert!(spins > 0);
        assert!(
            still_running,
            "the victim only finished after the spinner gave up ({took:?})"
        );
        assert_between(
            "the victim next to a timer spinner",
            took,
            Duration::from_millis(5),
            VICTIM_MAX,
        );
    });
}

#[test]
fn a_backlog_of_ready_connections_does_not_starve_others() {
    const QUEUED: u64 = 600;
    run(async {
        let (listener, addr) = util::listener();
        // Connections already queued: once the listener is ready, every accept completes
        // without waiting.
        let clients: Vec<_> = (0..QUEUED)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let accepted = Arc::new(AtomicU64::new(0));
        let acceptor = weft::spawn({
            let accepted = accepted.clone();
            async move {
                let mut conns = Vec::new();
                for _ in 0..QUEUED {
                    conns.push(listener.accept().await.unwrap().0);
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                conns.len() as u64
            }
        });
        // Once the acceptor is under way, one turn of this task must come before the end.
        let victim = weft::spawn({
            let accepted = accepted.clone();
            async move {
                while accepted.load(Ordering::SeqCst) == 0 {
                    weft::yield_now().await;
                }
                weft::yield_now().await;
                accepted.load(Ordering::SeqCst)
            }
        });
        let seen = within(VICTIM_MAX, victim).await.unwrap();
        assert_eq!(acceptor.await.unwrap(), QUEUED);
        assert!(
            seen < QUEUED,
            "the other task got no turn during {QUEUED} ready accepts"
        );
        drop(clients);
    });
}
