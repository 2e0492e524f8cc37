//! Host names are resolved on the blocking pool, never on the loop thread; literal addresses
//! never leave the loop. `localhost` is the only name used: it is in every /etc/hosts, so no
//! test here needs a DNS server.

mod util;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use util::{multi_thread_rt, rt, run_on, LIMIT};
use weft::net::{lookup_host, TcpListener, TcpStream, UdpSocket};

fn blocking_threads(rt: &weft::Runtime) -> usize {
    rt.metrics().blocking_threads
}

#[test]
fn literal_addresses_stay_on_the_loop_and_names_go_to_the_pool() {
    let rt = rt();
    run_on(&rt, LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let literal = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let (_served, _) = listener.accept().await.unwrap();
        assert_eq!(literal.peer_addr().unwrap().port(), port);
        let found: Vec<SocketAddr> = lookup_host(("127.0.0.1", port)).await.unwrap().collect();
        assert_eq!(
            found,
            [SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]
        );
    });
    assert_eq!(
        blocking_threads(&rt),
        0,
        "a literal address went to the pool"
    );

    run_on(&rt, LIMIT, async {
        let found: Vec<SocketAddr> = lookup_host(("localhost", 80)).await.unwrap().collect();
        assert!(!found.is_empty(), "localhost resolved to nothing");
        assert!(
            found.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
            "{found:?}"
        );
    });
    assert!(
        blocking_threads(&rt) >= 1,
        "the name was resolved without the pool, so on the loop thread"
    );
}

#[test]
fn tcp_and_udp_connect_by_name_on_both_runtimes() {
    for rt in [rt(), multi_thread_rt(2)] {
        run_on(&rt, LIMIT, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            // localhost may list ::1 first, where nothing listens: connect tries each address.
            let mut client = TcpStream::connect(format!("localhost:{port}"))
                .await
                .unwrap();
            let (mut served, _) = listener.accept().await.unwrap();
            client.write_all(b"by name").await.unwrap();
            let mut buf = [0; 7];
            served.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"by name");

            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let udp_port = server.local_addr().unwrap().port();
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            udp.connect(("localhost", udp_port)).await.unwrap();
            udp.send(b"datagram").await.unwrap();
            let mut buf = [0; 16];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"datagram"[..], udp.local_addr().unwrap())
            );
        });
        assert!(blocking_threads(&rt) >= 1);
    }
}

#[test]
fn malformed_addresses_fail_at_once_with_the_input_named() {
    let rt = rt();
    run_on(&rt, LIMIT, async {
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999"] {
            let err = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    });
    assert_eq!(
        blocking_threads(&rt),
        0,
        "a malformed address went to the pool"
    );
}

#[test]
fn a_coroutine_connects_and_looks_up_by_name() {
    let rt = rt();
    run_on(&rt, LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = weft::go(move || {
            let found = weft::coroutines::net::lookup_host(("localhost", port))?;
            assert!(found.into_iter().all(|a| a.ip().is_loopback()));
            let mut stream = weft::coroutines::net::TcpStream::connect(("localhost", port))?;
            stream.write_all(b"hello")?;
            let mut reply = [0; 5];
            stream.read_exact(&mut reply)?;
            Ok::<_, std::io::Error>(reply)
        });
        let (mut served, _) = listener.accept().await.unwrap();
        let mut buf = [0; 5];
        served.read_exact(&mut buf).await.unwrap();
        served.write_all(&buf).await.unwrap();
        assert_eq!(&client.await.unwrap().unwrap(), b"hello");
    });
    assert!(blocking_threads(&rt) >= 1);
}

#[test]
fn a_plain_thread_resolves_in_place() {
    let found = std::thread::spawn(|| weft::coroutines::net::lookup_host(("localhost", 80)))
        .join()
        .unwrap()
        .unwrap();
    assert!(found
        .into_iter()
        .all(|a| a.ip().is_loopback() && a.port() == 80));
    let err = std::thread::spawn(|| weft::coroutines::net::lookup_host("localhost"))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}
