//! Out of descriptors with several tasks accepting on one listener: every acceptor backs off
//! and every one of them accepts once descriptors free up (the backoff timer keeps one waker;
//! the others must not be forgotten), and an `accept` dropped while it waits out the backoff
//! leaves nothing behind.
//!
//! This file holds a single test because it lowers `RLIMIT_NOFILE` for the whole process.

mod util;

use std::sync::Arc;
use std::time::Duration;

use util::{wakers_kept_after_dropping, within};
use weft::net::TcpListener;

const ACCEPTORS: usize = 3;

/// Restores the soft limit however the test ends.
struct RestoreLimit(u64);

impl Drop for RestoreLimit {
    fn drop(&mut self) {
        util::set_nofile_soft(self.0).expect("restoring RLIMIT_NOFILE");
    }
}

/// The lowest descriptor number not in use (the kernel hands out the lowest free number): as a
/// soft limit, it leaves no descriptor to open.
fn lowest_free_descriptor() -> u64 {
    use std::os::fd::AsRawFd;
    let probe = std::fs::File::open("/dev/null").unwrap();
    probe.as_raw_fd() as u64
}

#[test]
fn every_acceptor_sharing_a_listener_comes_back_after_emfile() {
    let rt = util::rt();
    let listener = rt
        .block_on(async { TcpListener::bind("127.0.0.1:0") })
        .map(Arc::new)
        .unwrap();
    let addr = listener.local_addr().unwrap();
    // Queued in the backlog before the limit drops.
    let clients: Vec<std::net::TcpStream> = (0..ACCEPTORS)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();

    let (soft, _) = util::nofile_limit();
    let restore = RestoreLimit(soft);
    util::set_nofile_soft(lowest_free_descriptor()).unwrap();

    util::run_on(&rt, Duration::from_secs(30), async {
        let acceptors: Vec<_> = (0..ACCEPTORS)
            .map(|_| {
                let listener = listener.clone();
                weft::spawn(async move { listener.accept().await.map(|(_, peer)| peer) })
            })
            .collect();
        // Every acceptor hits EMFILE and waits on the backoff, several rounds of it.
        weft::time::sleep(Duration::from_millis(150)).await;
        if let Some(done) = acceptors.iter().position(|a| a.is_finished()) {
            let early = acceptors.into_iter().nth(done).unwrap().await;
            panic!("an acceptor finished while no descriptor was free: {early:?}");
        }
        // Accepts given up during the shortage (a timeout, a `select`) take their task back
        // off the backoff timer's list, and the last of them to poll the timer does not take
        // the timer's wake-up with it: the acceptors below still come back.
        let kept = wakers_kept_after_dropping(|| listener.accept());
        assert_eq!(kept, 0, "{kept} of 100 dropped accepts are still listed");

        drop(restore);
        let mut peers = Vec::new();
        for acceptor in acceptors {
            let accepted = within(Duration::from_secs(5), acceptor).await;
            peers.push(accepted.unwrap().unwrap());
        }
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}
