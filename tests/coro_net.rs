//! Coroutine sockets in `std::io` style: data, EOF, reset, timeouts, `BufReader` over
//! `&TcpStream`, UDP, and the rules outside a coroutine.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use weft::coroutines::net::{TcpListener, TcpStream, UdpSocket};

/// A listener and a connected `(client, server)` pair, in the calling coroutine.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn eof_is_ok_zero_after_the_data() {
    util::run_coro(|| {
        let (mut client, mut server) = pair();
        client.write_all(b"last words").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
        assert_eq!(server.read(&mut [0; 8]).unwrap(), 0);
    });
}

#[test]
fn a_reset_is_a_connection_reset_error() {
    util::run_coro(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // A std client whose close sends RST (SO_LINGER 0).
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        util::set_linger_zero(client.as_fd()).unwrap();
        drop(client);
        let err = server.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn a_read_timeout_fails_with_timed_out_and_the_stream_stays_usable() {
    util::run_coro(|| {
        let (mut client, mut server) = pair();
        server
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(
            server.read_timeout().unwrap(),
            Some(Duration::from_millis(20))
        );
        let start = Instant::now();
        let err = server.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        util::assert_between(
            "the timed-out read",
            start.elapsed(),
            Duration::from_millis(20),
            Duration::from_secs(2),
        );
        client.write_all(b"ok").unwrap();
        let mut buf = [0; 2];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
        let zero = server.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(zero.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn a_bufreader_over_a_shared_stream_reads_lines_while_writing() {
    util::run_coro(|| {
        let (client, server) = pair();
        let echo = weft::go(move || {
            // Line-echo server, std style: read through &server, write through &server.
            let mut reader = BufReader::new(&server);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 {
                (&server).write_all(line.to_uppercase().as_bytes()).unwrap();
                line.clear();
            }
        });
        let mut reader = BufReader::new(&client);
        let mut reply = String::new();
        for word in ["alpha\n", "beta\n"] {
            (&client).write_all(word.as_bytes()).unwrap();
            reply.clear();
            reader.read_line(&mut reply).unwrap();
            assert_eq!(reply, word.to_uppercase());
        }
        client.shutdown(Shutdown::Write).unwrap();
        echo.join().unwrap();
    });
}

/// Go's pattern: one coroutine parked in a read while another writes, shuts down, and reads
/// options and addresses on the same stream. Only a second read at once is refused.
#[test]
fn a_shared_stream_reads_in_one_coroutine_while_another_writes() {
    util::run_coro(|| {
        let (mut client, server) = pair();
        let server = std::sync::Arc::new(server);
        let reader = weft::go({
            let server = server.clone();
            move || {
                let mut got = Vec::new();
                (&*server).read_to_end(&mut got).map(|_| got)
            }
        });
        weft::coroutines::sleep(Duration::from_millis(5)); // the reader is parked in `read`
        let err = (&*server).read(&mut [0; 8]).unwrap_err();
        assert!(err.to_string().contains("another call"), "{err}");
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        server.set_nodelay(true).unwrap();
        assert!(server.nodelay().unwrap());
        (&*server).write_all(b"while reading").unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).unwrap();
        assert_eq!(echoed, b"while reading");
        client.write_all(b"the reply").unwrap();
        drop(client); // EOF ends the parked read
        assert_eq!(reader.join().unwrap().unwrap(), b"the reply");
    });
}

#[test]
fn udp_round_trip_and_receive_timeout() {
    util::run_coro(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let err = b.recv_from(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        a.send_to(b"datagram", b.local_addr().unwrap()).unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"datagram"[..], a.local_addr().unwrap())
        );
    });
}

#[test]
fn on_a_loop_thread_outside_a_coroutine_calls_are_clear_errors() {
    util::run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        let mut stream = TcpStream::from_std(client).unwrap();
        // Async code must use weft::net: a blocking read here would stall the loop.
        let err = stream.read(&mut [0; 4]).unwrap_err();
        assert!(err.to_string().contains("outside a coroutine"), "{err}");
    });
}

#[test]
fn a_stream_moved_to_a_plain_thread_works_as_a_blocking_socket() {
    let got = util::run(async {
        let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = weft::go(move || TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        // The plain thread blocks in read while this loop drives the socket.
        let thread = std::thread::spawn(move || {
            let mut client = client;
            let mut buf = [0; 5];
            client.read_exact(&mut buf).unwrap();
            client.write_all(b"back").unwrap();
            buf
        });
        server.write_all(b"hello").await.unwrap();
        let mut back = [0; 4];
        server.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
        thread.join().unwrap()
    });
    assert_eq!(&got, b"hello");
}

#[test]
fn several_coroutines_accept_on_one_listener_go_style() {
    util::run_coro(|| {
        let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..3)
            .map(|_| {
                let listener = listener.clone();
                weft::go(move || listener.accept().map(|(_, peer)| peer))
            })
            .collect();
        weft::coroutines::sleep(Duration::from_millis(5)); // every acceptor is parked
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).unwrap());
            weft::coroutines::sleep(Duration::from_millis(10));
        }
        let mut peers: Vec<_> = acceptors
            .into_iter()
            .map(|a| a.join().unwrap().unwrap())
            .collect();
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn connect_timeout_refuses_zero_and_times_out_or_connects_otherwise() {
    util::run_coro(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
    });
}
