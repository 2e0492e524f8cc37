//! Descriptor and registration-slot reuse: thousands of short connections open and close while
//! long-lived ones keep working. A late event for a closed socket must never reach the socket
//! that reuses its descriptor number or slot, and no wake-up may be lost: every read returns
//! exactly the bytes its own peer sent.

mod util;

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use util::{payload, run_for, Checksum};
use weft::net::{TcpListener, TcpStream};

const WORKERS: u64 = 4;
const CYCLES_PER_WORKER: u64 = 500;
const MAGIC: u64 = 0x5741_4C45_5F54_4F4B;

/// How a cycle ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// The client drops the stream first.
    ClientCloses,
    /// The client half-closes, reads the server's EOF, then drops.
    ClientHalfCloses,
    /// A task waits in `read` on the client stream; it is aborted, then the stream dropped.
    PendingReadAborted,
    /// The server drops its side right after replying.
    ServerCloses,
}

impl Ending {
    fn of(id: u64) -> Ending {
        match id % 4 {
            0 => Ending::ClientCloses,
            1 => Ending::ClientHalfCloses,
            2 => Ending::PendingReadAborted,
            _ => Ending::ServerCloses,
        }
    }
}

fn reply_len(id: u64) -> usize {
    1 + (id as usize * 7919) % 3000
}

/// The server side of one short connection: read the 16-byte request, answer with a header and
/// a payload derived from the id, then wait for EOF (or close first).
async fn serve_short(mut conn: TcpStream) -> io::Result<()> {
    let mut request = [0; 16];
    conn.read_exact(&mut request).await?;
    let id = u64::from_le_bytes(request[..8].try_into().unwrap());
    let check = u64::from_le_bytes(request[8..].try_into().unwrap());
    if check != id ^ MAGIC {
        return Err(io::Error::other(format!(
            "request {id}: bad check word {check:#x}"
        )));
    }
    let body = payload(id, reply_len(id));
    let mut reply = Vec::with_capacity(16 + body.len());
    reply.extend_from_slice(&(id ^ MAGIC).to_le_bytes());
    reply.extend_from_slice(&(body.len() as u64).to_le_bytes());
    reply.extend_from_slice(&body);
    conn.write_all(&reply).await?;
    if let Ending::ServerCloses = Ending::of(id) {
        return Ok(());
    }
    let mut rest = [0; 64];
    match conn.read(&mut rest).await {
        Ok(0) => Ok(()),
        Ok(n) => Err(io::Error::other(format!("request {id}: {n} stray bytes"))),
        // A client that drops with data unread may reset; that is fine here.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(e),
    }
}

/// One client cycle. Returns the client's descriptor number when it was observable.
async fn short_cycle(addr: SocketAddr, id: u64) -> io::Result<Option<i32>> {
    // Alternate weft's own connect with a std connect whose descriptor number we can see.
    let (mut conn, fd) = if id % 2 == 0 {
        let std = std::net::TcpStream::connect(addr)?;
        let fd = std.as_raw_fd();
        (TcpStream::from_std(std)?, Some(fd))
    } else {
        (TcpStream::connect(addr).await?, None)
    };
    // Let the server's handler start waiting before the request exists.
    weft::yield_now().await;
    let mut request = [0; 16];
    request[..8].copy_from_slice(&id.to_le_bytes());
    request[8..].copy_from_slice(&(id ^ MAGIC).to_le_bytes());
    conn.write_all(&request).await?;

    let mut header = [0; 16];
    conn.read_exact(&mut header).await?;
    let check = u64::from_le_bytes(header[..8].try_into().unwrap());
    let len = u64::from_le_bytes(header[8..].try_into().unwrap()) as usize;
    if check != id ^ MAGIC || len != reply_len(id) {
        return Err(io::Error::other(format!(
            "cycle {id}: got a reply header for someone else ({check:#x}, {len})"
        )));
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).await?;
    if Checksum::of(&body) != Checksum::of(&payload(id, len)) {
        return Err(io::Error::other(format!(
            "cycle {id}: reply body corrupted"
        )));
    }

    match Ending::of(id) {
        Ending::ClientCloses => drop(conn),
        Ending::ClientHalfCloses | Ending::ServerCloses => {
            if let Ending::ClientHalfCloses = Ending::of(id) {
                conn.shutdown(std::net::Shutdown::Write)?;
            }
            let mut extra = [0; 8];
            let n = conn.read(&mut extra).await?;
            if n != 0 {
                return Err(io::Error::other(format!(
                    "cycle {id}: {n} bytes after the reply"
                )));
            }
        }
        Ending::PendingReadAborted => {
            let reader = weft::spawn(async move {
                let mut extra = [0; 8];
                conn.read(&mut extra).await
            });
            weft::yield_now().await; // the reader registers its interest and parks
            weft::yield_now().await;
            if reader.is_finished() {
                return Err(io::Error::other(format!(
                    "cycle {id}: a read returned early"
                )));
            }
            reader.abort(); // drops the stream while a waker is registered for it
            match reader.await {
                Err(e) if e.is_cancelled() => {}
                other => {
                    return Err(io::Error::other(format!(
                        "cycle {id}: the parked read ended with {other:?}"
                    )))
                }
            }
        }
    }
    Ok(fd)
}

/// Accepts forever, a `serve_short` task per connection; fails on the first handler error.
async fn accept_loop(listener: TcpListener) -> io::Result<()> {
    let mut handlers = Vec::new();
    loop {
        let (conn, _) = listener.accept().await?;
        handlers.push(weft::spawn(serve_short(conn)));
        // Reap finished handlers so that their errors surface.
        let mut i = 0;
        while i < handlers.len() {
            if handlers[i].is_finished() {
                handlers.swap_remove(i).await??;
            } else {
                i += 1;
            }
        }
    }
}

/// The long-lived connection's server: echo each 64-byte frame.
async fn echo_frames(mut conn: TcpStream) -> io::Result<u64> {
    let mut frame = [0; 64];
    let mut frames = 0;
    loop {
        match conn.read_exact(&mut frame).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(frames),
            Err(e) => return Err(e),
        }
        conn.write_all(&frame).await?;
        frames += 1;
    }
}

#[test]
fn thousands_of_reused_descriptors_never_cross_wires() {
    run_for(Duration::from_secs(60), async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(accept_loop(listener));

        // A long-lived ping-pong that runs the whole time on its own listener.
        let (ping_client, ping_server) = util::tcp_pair().await.unwrap();
        let echo = weft::spawn(echo_frames(ping_server));
        let stop = Arc::new(AtomicBool::new(false));
        let pings = Arc::new(AtomicU64::new(0));
        let pinger = weft::spawn({
            let (stop, pings) = (stop.clone(), pings.clone());
            async move {
                let mut conn = ping_client;
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let frame = payload(seq ^ 0xF00D, 64);
                    conn.write_all(&frame).await?;
                    let mut back = [0; 64];
                    conn.read_exact(&mut back).await?;
                    if back[..] != frame[..] {
                        return Err(io::Error::other(format!("ping {seq}: wrong echo")));
                    }
                    seq += 1;
                    pings.store(seq, Ordering::SeqCst);
                    weft::time::sleep(Duration::from_micros(200)).await;
                }
                Ok::<_, io::Error>(conn)
            }
        });

        // A long-lived connection whose reader is parked the whole time.
        let (mut quiet_client, quiet_server) = util::tcp_pair().await.unwrap();
        let quiet = weft::spawn(async move {
            let mut conn = quiet_server;
            let mut buf = [0; 32];
            let n = conn.read(&mut buf).await?;
            Ok::<_, io::Error>(buf[..n].to_vec())
        });

        // The churn: several workers opening and closing connections in parallel.
        let fds = Arc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let fds = fds.clone();
                weft::spawn(async move {
                    for c in 0..CYCLES_PER_WORKER {
                        let id = w * CYCLES_PER_WORKER + c;
                        if let Some(fd) = short_cycle(addr, id).await? {
                            fds.lock().unwrap().push(fd);
                        }
                    }
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for (w, worker) in workers.into_iter().enumerate() {
            if let Err(e) = worker.await.unwrap() {
                panic!("worker {w}: {e}");
            }
        }

        assert!(
            !server.is_finished(),
            "the accept loop stopped: {:?}",
            server.await
        );
        assert!(!quiet.is_finished(), "the parked reader woke without data");
        quiet_client.write_all(b"finally").await.unwrap();
        let got = util::within(Duration::from_secs(5), quiet)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got, b"finally",
            "the parked reader lost its wake-up or got stray data"
        );

        stop.store(true, Ordering::SeqCst);
        let ping_conn = pinger.await.unwrap().unwrap();
        drop(ping_conn);
        let frames = echo.await.unwrap().unwrap();
        assert_eq!(frames, pings.load(Ordering::SeqCst));
        assert!(
            frames > 0,
            "the long-lived connection made no progress during the churn"
        );

        let fds = fds.lock().unwrap();
        let distinct: HashSet<_> = fds.iter().collect();
        assert_eq!(fds.len() as u64, WORKERS * CYCLES_PER_WORKER / 2);
        assert!(
            distinct.len() * 4 < fds.len(),
            "descriptor numbers were hardly reused ({} distinct of {}); the test lost its point",
            distinct.len(),
            fds.len()
        );
        eprintln!(
            "{} short connections on {} distinct client descriptors; {frames} pings meanwhile",
            WORKERS * CYCLES_PER_WORKER,
            distinct.len()
        );
        server.abort();
    });
}

#[test]
fn a_socket_registered_on_a_just_closed_descriptor_gets_its_own_events_only() {
    run_for(Duration::from_secs(30), async {
        let (listener, addr) = util::listener();
        for round in 0..300u64 {
            // Connection A: a task parks in read; then A is dropped with the waiter aborted.
            let (a_client, a_server) = (
                std::net::TcpStream::connect(addr).unwrap(),
                listener.accept().await.unwrap().0,
            );
            let a_fd = a_client.as_raw_fd();
            let mut a = TcpStream::from_std(a_client).unwrap();
            let waiter = weft::spawn(async move {
                let mut buf = [0; 4];
                a.read(&mut buf).await
            });
            weft::yield_now().await;
            waiter.abort();
            assert!(waiter.await.unwrap_err().is_cancelled());
            // A's server side is still open: its data or FIN could only be a stale event now.
            drop(a_server);

            // Connection B most likely lands on A's descriptor number.
            let b_client = std::net::TcpStream::connect(addr).unwrap();
            let reused = b_client.as_raw_fd() == a_fd;
            let (mut b_server, _) = listener.accept().await.unwrap();
            let mut b = TcpStream::from_std(b_client).unwrap();
            let reader = weft::spawn(async move {
                let mut buf = [0; 8];
                let n = b.read(&mut buf).await?;
                Ok::<_, io::Error>((buf[..n].to_vec(), b))
            });
            weft::yield_now().await;
            assert!(
                !reader.is_finished(),
                "round {round} (fd reused: {reused}): B's read returned before B's peer wrote"
            );
            b_server.write_all(&round.to_le_bytes()).await.unwrap();
            let (got, _b) = util::within(Duration::from_secs(5), reader)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got, round.to_le_bytes(), "round {round}: wrong bytes");
        }
    });
}
