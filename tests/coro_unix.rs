//! Coroutine Unix-domain sockets in `std::io` style: a line server over `incoming`, halves
//! through `&UnixStream`, timeouts, and datagrams.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::time::{Duration, Instant};

use util::ScratchDir;
use weft::coroutines::net::{UnixDatagram, UnixListener, UnixStream};

#[test]
fn a_line_server_over_incoming_answers_every_client() {
    let dir = ScratchDir::new("coro-unix-lines");
    let path = dir.path("lines.sock");
    util::run_coro(move || {
        let listener = UnixListener::bind(&path).unwrap();
        let server = weft::go(move || {
            for stream in listener.incoming().take(20) {
                let stream = stream.unwrap();
                weft::go(move || {
                    // `&UnixStream` reads through a BufReader while the stream still writes.
                    let mut lines = BufReader::new(&stream);
                    let mut line = String::new();
                    while lines.read_line(&mut line).unwrap() > 0 {
                        (&stream).write_all(line.to_uppercase().as_bytes()).unwrap();
                        line.clear();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..20)
            .map(|i| {
                let path = path.clone();
                weft::go(move || {
                    let mut stream = UnixStream::connect(&path).unwrap();
                    stream
                        .write_all(format!("client {i}\nsecond line\n").as_bytes())
                        .unwrap();
                    stream.shutdown(Shutdown::Write).unwrap();
                    let mut got = String::new();
                    stream.read_to_string(&mut got).unwrap();
                    assert_eq!(got, format!("CLIENT {i}\nSECOND LINE\n"));
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        server.join().unwrap();
    });
}

#[test]
fn a_read_timeout_fails_with_timed_out_and_the_stream_stays_usable() {
    util::run_coro(|| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = Instant::now();
        let err = b.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        util::assert_between(
            "the read timeout",
            start.elapsed(),
            Duration::from_millis(15),
            Duration::from_secs(2),
        );
        a.write_all(b"late").unwrap();
        let mut got = [0; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        assert!(a.peer_addr().unwrap().is_unnamed());
        let async_side = a.into_weft();
        drop(async_side);
        assert_eq!(b.read(&mut got).unwrap(), 0);
    });
}

#[test]
fn datagrams_round_trip_and_a_receive_times_out() {
    let dir = ScratchDir::new("coro-unix-dgram");
    util::run_coro(move || {
        let a = UnixDatagram::bind(dir.path("a.sock")).unwrap();
        let b = UnixDatagram::bind(dir.path("b.sock")).unwrap();
        a.send_to(b"ping", dir.path("b.sock")).unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from.as_pathname(), Some(dir.path("a.sock").as_path()));
        b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let err = b.recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        let err = a.send_to(b"x", dir.path("nobody.sock")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");

        // Abstract names: no file, the same calls.
        let name =
            SocketAddr::from_abstract_name(format!("weft-coro-{}", std::process::id())).unwrap();
        let c = UnixDatagram::bind_addr(&name).unwrap();
        a.send_to_addr(b"pong", &name).unwrap();
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from.as_pathname(), Some(dir.path("a.sock").as_path()));
        c.connect_addr(&from).unwrap();
        c.send(b"back").unwrap();
        let (n, _) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}
