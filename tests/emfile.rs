//! Out of descriptors: `accept` must back off (not spin) while the process is at its
//! `RLIMIT_NOFILE`, and accept every queued connection once descriptors free up.
//!
//! This file holds a single test because it lowers the limit for the whole process.

mod util;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{assert_between, within};
use weft::net::{TcpListener, TcpStream};

const CLIENTS: usize = 30;
/// Descriptors left free above those open when the limit is lowered.
const HEADROOM: u64 = 10;

/// Restores the soft limit however the test ends.
struct RestoreLimit(u64);

impl Drop for RestoreLimit {
    fn drop(&mut self) {
        util::set_nofile_soft(self.0).expect("restoring RLIMIT_NOFILE");
    }
}

/// A soft limit that leaves exactly `free` descriptor numbers available: new descriptors take
/// the lowest free number, and the limit caps the number, not the count (inherited descriptors
/// may sit high above the others).
fn limit_leaving_free(free: u64) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut left = free;
    (0..)
        .find(|n| {
            if !open.contains(n) {
                left -= 1;
            }
            left == 0
        })
        .unwrap()
        + 1
}

fn message(i: usize) -> Vec<u8> {
    format!("client {i:03} says hi").into_bytes()
}

#[test]
fn accept_backs_off_at_emfile_and_loses_no_queued_connection() {
    let rt = util::rt();
    let (listener, addr) = rt
        .block_on(async {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let addr = l.local_addr()?;
            Ok::<_, std::io::Error>((l, addr))
        })
        .unwrap();

    // All clients connect (into the backlog) and send their message before the limit drops:
    // after that, the server can accept only a few.
    let mut clients: Vec<Option<std::net::TcpStream>> = (0..CLIENTS)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&message(i)).unwrap();
            Some(c)
        })
        .collect();

    let (soft, _) = util::nofile_limit();
    let _restore = RestoreLimit(soft);
    let limit = limit_leaving_free(HEADROOM);
    util::set_nofile_soft(limit).unwrap();

    let accepted = Arc::new(AtomicUsize::new(0));
    let stuck_at = util::run_on(&rt, Duration::from_secs(30), async {
        // The server: accept forever, echo each connection's message once, then wait for EOF.
        let server = weft::spawn({
            let accepted = accepted.clone();
            async move {
                loop {
                    let (mut conn, _) = listener.accept().await.unwrap();
                    accepted.fetch_add(1, Ordering::SeqCst);
                    weft::spawn(async move {
                        let mut buf = [0; 64];
                        let n = conn.read(&mut buf).await.unwrap();
                        conn.write_all(&buf[..n]).await.unwrap();
                        let mut rest = [0; 1];
                        let _ = conn.read(&mut rest).await;
                    });
                }
            }
        });

        // Phase 1: the server fills its headroom and hits EMFILE.
        within(Duration::from_secs(5), async {
            while accepted.load(Ordering::SeqCst) < HEADROOM as usize {
                weft::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        weft::time::sleep(Duration::from_millis(100)).await;
        let stuck_at = accepted.load(Ordering::SeqCst);
        assert!(
            stuck_at < CLIENTS,
            "the limit did not bite: {stuck_at} accepted"
        );

        // Phase 2: while stuck, the loop must idle, not spin on accept.
        let (cpu0, wall0) = (util::cpu_time(), Instant::now());
        weft::time::sleep(Duration::from_millis(500)).await;
        let (cpu, wall) = (util::cpu_time() - cpu0, wall0.elapsed());
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            stuck_at,
            "accepted past the limit?"
        );
        assert!(
            cpu.as_secs_f64() < 0.5 * wall.as_secs_f64(),
            "the loop burned {cpu:?} of CPU in {wall:?} while accept was out of descriptors"
        );
        let server_alive = !server.is_finished();
        assert!(server_alive, "the accept loop gave up");
        (stuck_at, server)
    });
    let (stuck_at, server) = stuck_at;

    // Phase 3: free descriptors by closing the clients that were served, which also ends
    // their server tasks; every queued connection must then be accepted and echoed.
    util::run_on(&rt, Duration::from_secs(30), async {
        for (i, slot) in clients.iter_mut().enumerate().take(stuck_at) {
            expect_echo(slot.take().unwrap(), i, "client").await;
        }
        let start = Instant::now();
        within(Duration::from_secs(10), async {
            while accepted.load(Ordering::SeqCst) < CLIENTS {
                weft::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        // The backoff is capped at 100 ms: recovery is quick.
        assert_between(
            "recovery after EMFILE",
            start.elapsed(),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        for (i, slot) in clients.iter_mut().enumerate().skip(stuck_at) {
            expect_echo(slot.take().unwrap(), i, "queued client (not served?)").await;
        }
        server.abort();
    });
    drop(rt);

    // A std read on a freshly made socket proves descriptors work again after the restore.
    drop(_restore);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"ok").unwrap();
    let mut buf = [0; 2];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

/// Reads client `i`'s echo back through weft (bounded) and checks it; closes the client.
async fn expect_echo(client: std::net::TcpStream, i: usize, who: &str) {
    let mut c = TcpStream::from_std(client).unwrap();
    let mut buf = vec![0; message(i).len()];
    within(Duration::from_secs(5), c.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(buf, message(i), "{who} {i}");
}
