//! One thousand echo connections at once on one runtime, payloads from 1 B to 1 MiB.
//!
//! Each client writes its payload in random-sized chunks from one task while another task reads
//! the echo back, so partial reads and writes, full send buffers and interleaved wake-ups all
//! happen. Every connection must come back byte for byte (FNV-1a and length).

mod util;

use std::io;
use std::time::{Duration, Instant};

use util::{Checksum, XorShift};
use weft::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 1_000;
const MAX_PAYLOAD: usize = 1 << 20;
/// How many connections are forced to the largest size.
const LARGEST: usize = 4;
const CHUNK_MAX: usize = 16 * 1024;

/// Payload sizes: log-uniform between 1 B and 1 MiB, a few at exactly 1 MiB, shuffled.
fn sizes() -> Vec<usize> {
    let mut rng = XorShift::new(0xEC40);
    let mut sizes: Vec<usize> = (0..CONNECTIONS)
        .map(|i| {
            if i < LARGEST {
                MAX_PAYLOAD
            } else {
                rng.log_uniform(1, MAX_PAYLOAD)
            }
        })
        .collect();
    rng.shuffle(&mut sizes);
    sizes
}

/// The server half of one connection: echo until EOF, then close. Returns the bytes echoed.
async fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 8 * 1024];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// The client: write `size` PRNG bytes in random chunks while reading the echo concurrently.
/// Returns (what was sent, what came back).
async fn client(
    addr: std::net::SocketAddr,
    id: u64,
    size: usize,
) -> io::Result<(Checksum, Checksum)> {
    let stream = TcpStream::connect(addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let writer = weft::spawn(async move {
        let mut bytes = XorShift::new(id);
        let mut chunks = XorShift::new(id ^ 0xC4C4);
        let mut buf = vec![0; CHUNK_MAX];
        let mut sent = Checksum::default();
        let mut left = size;
        while left > 0 {
            let n = chunks.log_uniform(1, CHUNK_MAX).min(left);
            bytes.fill(&mut buf[..n]);
            sent.update(&buf[..n]);
            wr.write_all(&buf[..n]).await?;
            left -= n;
        }
        drop(wr); // FIN: the server sees EOF after the last byte
        Ok::<_, io::Error>(sent)
    });
    let mut got = Checksum::default();
    let mut buf = vec![0; 8 * 1024];
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got.update(&buf[..n]);
    }
    let sent = writer.await??;
    Ok((sent, got))
}

#[test]
fn a_thousand_concurrent_connections_echo_every_byte() {
    // 2 descriptors per connection (both ends live in this process) plus slack.
    let limit = util::raise_nofile(8192);
    assert!(
        limit >= (2 * CONNECTIONS + 100) as u64,
        "RLIMIT_NOFILE {limit} is too low for {CONNECTIONS} connections"
    );
    let sizes = sizes();
    let total: usize = sizes.iter().sum();
    assert!(
        total < 200 << 20,
        "payload total {total} out of the intended range"
    );
    assert_eq!(sizes.iter().filter(|&&s| s == MAX_PAYLOAD).count(), LARGEST);

    let start = Instant::now();
    util::run_for(Duration::from_secs(90), async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();

        let server = weft::spawn(async move {
            let mut conns = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (conn, _) = listener.accept().await?;
                conns.push(weft::spawn(echo(conn)));
            }
            Ok::<_, io::Error>(conns)
        });

        let clients: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| (size, weft::spawn(client(addr, i as u64, size))))
            .collect();

        let mut failures = Vec::new();
        let mut echoed_by_clients = 0u64;
        for (i, (size, handle)) in clients.into_iter().enumerate() {
            match handle.await {
                Ok(Ok((sent, got))) => {
                    assert_eq!(sent.len, size as u64, "connection {i}: the writer's count");
                    if sent != got {
                        failures.push(format!(
                            "connection {i} ({size} B): sent {sent:?}, got back {got:?}"
                        ));
                    }
                    echoed_by_clients += got.len;
                }
                Ok(Err(e)) => failures.push(format!("connection {i} ({size} B): {e}")),
                Err(e) => failures.push(format!("connection {i} ({size} B): {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {CONNECTIONS} connections failed; first ones: {:#?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );

        let conns = server.await.unwrap().unwrap();
        let mut echoed_by_server = 0;
        for conn in conns {
            echoed_by_server += conn.await.unwrap().unwrap();
        }
        assert_eq!(echoed_by_server, total as u64);
        assert_eq!(echoed_by_clients, total as u64);
    });
    eprintln!(
        "echoed {} MiB over {CONNECTIONS} connections in {:?}",
        total >> 20,
        start.elapsed()
    );
}
