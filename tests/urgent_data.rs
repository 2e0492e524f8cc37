//! TCP urgent data (`MSG_OOB`) from the peer. Linux stops a read at the urgent mark although more
//! data is queued behind it, so a short read there does not mean the socket is drained. A
//! runtime that took it so would clear readiness and never read the rest: no new edge comes.
//! Any remote peer can send urgent data, so both front ends must read through it.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use util::run;
use weft::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(5);

/// Sends `before`, one urgent byte, then `after`, and waits until all of it is queued at the
/// receiver, so its first read sees the urgent mark.
fn send_with_urgent_byte(client: &StdStream, before: &[u8], after: &[u8]) {
    client.set_nodelay(true).unwrap();
    (&*client).write_all(before).unwrap();
    let urgent = b'!';
    // SAFETY: a connected socket the caller owns, and a one-byte buffer that outlives the call.
    let sent = unsafe {
        libc::send(
            client.as_raw_fd(),
            (&urgent as *const u8).cast(),
            1,
            libc::MSG_OOB,
        )
    };
    assert_eq!(
        sent,
        1,
        "send(MSG_OOB): {}",
        std::io::Error::last_os_error()
    );
    (&*client).write_all(after).unwrap();
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn an_async_read_goes_on_past_the_urgent_mark() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        send_with_urgent_byte(&client, b"before", b"after");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while got.len() < b"beforeafter".len() {
            let n = weft::time::timeout(LIMIT, server.read(&mut buf))
                .await
                .unwrap_or_else(|_| {
                    panic!("the read hung after {:?}", String::from_utf8_lossy(&got))
                })
                .unwrap();
            assert_ne!(n, 0, "EOF before all the data");
            got.extend_from_slice(&buf[..n]);
        }
        // The urgent byte is out of band (no SO_OOBINLINE): the stream skips it.
        assert_eq!(got, b"beforeafter");

        // Readiness is cleared again once the data is read: the next read waits for new data.
        let next = weft::time::timeout(Duration::from_millis(50), server.read(&mut buf)).await;
        assert!(
            next.is_err(),
            "a read with nothing queued returned {next:?}"
        );
        (&client).write_all(b"more").unwrap();
        let n = weft::time::timeout(LIMIT, server.read(&mut buf))
            .await
            .expect("the read after new data hung")
            .unwrap();
        assert_eq!(&buf[..n], b"more");
    });
}

#[test]
fn a_coroutine_read_goes_on_past_the_urgent_mark() {
    util::run_coro(|| {
        let listener = weft::coroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server.set_read_timeout(Some(LIMIT)).unwrap();
        send_with_urgent_byte(&client, b"before", b"after");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while got.len() < b"beforeafter".len() {
            match server.read(&mut buf) {
                Ok(0) => panic!("EOF before all the data"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("after {:?}: {e}", String::from_utf8_lossy(&got)),
            }
        }
        assert_eq!(got, b"beforeafter");
    });
}
