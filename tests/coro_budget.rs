//! Cooperative budget for coroutines: a coroutine whose socket reads never wait (a firehose)
//! must still let the other coroutines of its loop run. Coroutine sockets keep their own
//! per-resume budget (they skip the runtime's thread-local one), so this checks that budget.
//!
//! Each firehose is bounded by its own clock and byte count, so a regression fails the
//! assertions instead of hanging.

mod util;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::run_coro;
use weft::coroutines::{self, net::TcpListener};

/// How long the firehose reader may run at most.
const FIREHOSE_MAX: Duration = Duration::from_secs(5);

#[test]
fn a_coroutine_progresses_next_to_a_coroutine_whose_socket_is_always_ready() {
    victim_next_to_a_firehose(None);
}

/// Reads with a timeout take another path (the runtime's timeout future); they spend the same
/// budget.
#[test]
fn the_budget_holds_for_reads_with_a_timeout() {
    victim_next_to_a_firehose(Some(Duration::from_secs(30)));
}

/// Runs a victim coroutine next to a coroutine reading a firehose one byte at a time (with
/// `read_timeout` on its socket) and checks that the victim finished while the firehose ran.
fn victim_next_to_a_firehose(read_timeout: Option<Duration>) {
    run_coro(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::net::TcpStream::connect(addr).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        reader.set_read_timeout(read_timeout).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flooder = util::flood(writer, stop.clone(), FIREHOSE_MAX * 2);
        // Let the socket fill up before the reader starts.
        std::thread::sleep(Duration::from_millis(20));

        let running = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        // Reads one byte at a time, far slower than the writer fills the socket, so every
        // read completes without parking.
        let drinker = {
            let (running, bytes) = (running.clone(), bytes.clone());
            weft::go(move || {
                let start = Instant::now();
                let mut byte = [0; 1];
                let mut total = 0u64;
                running.store(true, Ordering::SeqCst);
                while running.load(Ordering::SeqCst)
                    && start.elapsed() < FIREHOSE_MAX
                    && total < 200_000_000
                {
                    match reader.read(&mut byte) {
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
        };
        coroutines::yield_now();
        assert!(
            running.load(Ordering::SeqCst),
            "the firehose reader did not start"
        );

        let start = Instant::now();
        let victim = weft::go(|| {
            for _ in 0..20 {
                coroutines::yield_now();
            }
            coroutines::sleep(Duration::from_millis(10));
            for _ in 0..20 {
                coroutines::yield_now();
            }
        });
        // Joining from this coroutine: it must get turns too.
        victim.join().unwrap();
        let took = start.elapsed();
        let still_running = running.load(Ordering::SeqCst);
        let drunk = bytes.load(Ordering::Relaxed);

        running.store(false, Ordering::SeqCst);
        let total = drinker.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        flooder.join().unwrap();

        util::assert_victim_ran_beside_firehose(still_running, took, drunk, total);
    });
}
