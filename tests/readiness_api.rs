//! `readable` / `writable` and the `try_*` operations (tokio's readiness API): `WouldBlock`
//! without waiting, readiness that wakes the waiting task, end of stream, and UDP.

mod util;

use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::{run, within};
use weft::net::{TcpListener, TcpStream, UdpSocket};

const SHORT: Duration = Duration::from_secs(5);

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[test]
fn try_read_would_block_then_readable_wakes_and_try_read_gets_the_data() {
    run(async {
        let (mut client, server) = pair().await;
        let server = Arc::new(server);
        let mut buf = [0; 32];
        let err = server.try_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);

        // a task parked in `readable` is woken by data written later
        let reader = weft::spawn({
            let server = server.clone();
            async move {
                let mut buf = [0; 32];
                loop {
                    server.readable().await.unwrap();
                    match server.try_read(&mut buf) {
                        Ok(n) => return buf[..n].to_vec(),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
        weft::time::sleep(Duration::from_millis(10)).await;
        assert!(!reader.is_finished());
        client.write_all(b"hello").await.unwrap();
        assert_eq!(within(SHORT, reader).await.unwrap(), b"hello");

        // drained: `WouldBlock` again, and end of stream is `Ok(0)` once the peer closes
        let err = server.try_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        drop(client);
        within(SHORT, server.readable()).await.unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn a_fresh_stream_is_writable_and_try_write_sends() {
    run(async {
        let (client, mut server) = pair().await;
        within(SHORT, client.writable()).await.unwrap();
        assert_eq!(client.try_write(b"ping").unwrap(), 4);
        let mut buf = [0; 4];
        within(SHORT, server.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn try_write_would_block_on_a_full_send_buffer_and_writable_waits_for_room() {
    run(async {
        let (client, mut server) = pair().await;
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        // nobody reads: the buffers fill up, bounded by the kernel's socket buffers
        loop {
            match client.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 256 * 1024 * 1024, "the send buffer never filled");
        }
        let writer = weft::spawn(async move {
            client.writable().await.unwrap();
            client
        });
        weft::time::sleep(Duration::from_millis(10)).await;
        assert!(!writer.is_finished(), "writable with a full send buffer");
        let mut drained = vec![0; sent];
        within(SHORT, server.read_exact(&mut drained))
            .await
            .unwrap();
        let client = within(SHORT, writer).await.unwrap();
        assert!(client.try_write(b"more").unwrap() > 0);
    });
}

#[test]
fn udp_try_recv_from_would_block_then_readable_and_try_send_to() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0; 16];
        let err = b.try_recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        within(SHORT, a.writable()).await.unwrap();
        a.try_send_to(b"dgram", b.local_addr().unwrap()).unwrap();
        let (n, from) = loop {
            within(SHORT, b.readable()).await.unwrap();
            match b.try_recv_from(&mut buf) {
                Ok(got) => break got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn a_readable_and_try_read_loop_on_a_socket_that_stays_ready_lets_other_tasks_run() {
    run(async {
        let (mut client, server) = pair().await;
        // all queued before the reader starts: it finds the socket ready for every read
        const QUEUED: usize = 32 * 1024;
        within(SHORT, client.write_all(&vec![1u8; QUEUED]))
            .await
            .unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = weft::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    weft::yield_now().await;
                }
            }
        });
        let reader = weft::spawn({
            let ticks = ticks.clone();
            async move {
                let mut byte = [0; 1];
                // the first wait may park until the loop has turned the reactor and seen the data
                server.readable().await.unwrap();
                let mut got = server.try_read(&mut byte).unwrap();
                let start = ticks.load(Ordering::SeqCst);
                while got < QUEUED / 2 {
                    server.readable().await.unwrap();
                    match server.try_read(&mut byte) {
                        Ok(n) => got += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                ticks.load(Ordering::SeqCst) - start
            }
        });
        let ticked = within(SHORT, reader).await.unwrap();
        ticker.abort();
        assert!(
            ticked > 0,
            "another task never ran while 16 KiB were read a byte at a time"
        );
    });
}
