//! 10,000 concurrent echo connections, each served by a coroutine in `std::io` style, each
//! checked byte for byte (FNV-1a and length).
//!
//! Both ends of 10,000 connections need 20,000 descriptors, above the usual hard limit, so the
//! clients run in a child process (this test binary, re-run with an environment switch), also
//! as coroutines. Every connection is opened before any sends: all 10,000 are live at once.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::{Checksum, XorShift};
use weft::coroutines::{self, net::TcpListener, net::TcpStream};

const CONNECTIONS: usize = 10_000;
const CLIENT: &str = "WEFT_TEST_CORO_ECHO_ADDR";
/// Generous for loaded CI machines and the `poll(2)` backend (about 10 s there, 2 s on epoll).
const LIMIT: Duration = Duration::from_secs(120);
const TEST: &str = "ten_thousand_concurrent_coroutine_connections_echo_every_byte";

/// Connection `i`'s payload: 1 B to 16 KiB of PRNG bytes.
fn payload(i: usize) -> Vec<u8> {
    let len = XorShift::new(i as u64 + 1).log_uniform(1, 16 * 1024);
    util::payload(i as u64, len)
}

/// The server side: echo until EOF; returns the bytes echoed.
fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let mut buf = [0; 4096];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// One client: connect, wait until every client is connected, send in chunks (a writer
/// coroutine on its own stream half), read the echo back, compare.
fn client(addr: SocketAddr, i: usize, connected: Arc<AtomicUsize>) -> io::Result<()> {
    let stream = Arc::new(TcpStream::connect(addr)?);
    connected.fetch_add(1, Ordering::Relaxed);
    while connected.load(Ordering::Relaxed) < CONNECTIONS {
        coroutines::sleep(Duration::from_millis(50));
    }
    let data = payload(i);
    let sent = Checksum::of(&data);
    let writer = weft::go({
        let stream = stream.clone();
        move || -> io::Result<()> {
            let mut rng = XorShift::new(i as u64);
            for chunk in data.chunks(rng.range(1, 4096)) {
                (&*stream).write_all(chunk)?;
            }
            stream.shutdown(Shutdown::Write)
        }
    });
    // Read while the writer writes, through the same shared stream (one call per direction
    // at a time).
    let mut got = Checksum::default();
    let mut buf = [0; 4096];
    loop {
        let n = (&*stream).read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.update(&buf[..n]);
    }
    writer.join()??;
    if got != sent {
        return Err(io::Error::other(format!(
            "connection {i}: sent {sent:?}, got back {got:?}"
        )));
    }
    Ok(())
}

fn run_clients(addr: SocketAddr) {
    let limit = util::raise_nofile(CONNECTIONS as u64 + 200);
    assert!(limit > CONNECTIONS as u64 + 100, "RLIMIT_NOFILE {limit}");
    let failures = util::run_coro_for(LIMIT, move || {
        let connected = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let connected = connected.clone();
                weft::go(move || client(addr, i, connected))
            })
            .collect();
        let mut failures = Vec::new();
        for (i, c) in clients.into_iter().enumerate() {
            if let Err(e) = c.join().map_err(io::Error::from).and_then(|r| r) {
                failures.push(format!("client {i}: {e}"));
            }
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
}

#[test]
fn ten_thousand_concurrent_coroutine_connections_echo_every_byte() {
    if let Ok(addr) = std::env::var(CLIENT) {
        return run_clients(addr.parse().unwrap());
    }
    let limit = util::raise_nofile(CONNECTIONS as u64 + 200);
    assert!(limit > CONNECTIONS as u64 + 100, "RLIMIT_NOFILE {limit}");
    let expected: u64 = (0..CONNECTIONS).map(|i| payload(i).len() as u64).sum();
    let (echoed, child) = util::run_coro_for(LIMIT, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let child = weft::go(move || {
            coroutines::blocking(move || util::rerun_self(TEST, &[(CLIENT, addr.to_string())]))
        });
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (conn, _) = listener.accept().unwrap();
            conns.push(weft::go(move || echo(conn)));
        }
        let echoed: u64 = conns.into_iter().map(|c| c.join().unwrap().unwrap()).sum();
        (echoed, child.join().unwrap())
    });
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(child.status.success(), "the client process: {stderr}");
    assert_eq!(echoed, expected);
}
