//! Sockets whose waiting methods take `&self` (`TcpListener::accept`, `UdpSocket`'s sends and
//! receives) shared by several tasks at once: every waiting task is woken when its socket gets
//! ready, none is forgotten because another one started waiting after it.

mod util;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use util::{run, wakers_kept_after_dropping, within};
use weft::net::{TcpListener, TcpStream, UdpSocket};

const SHORT: Duration = Duration::from_secs(5);

/// Lets every spawned task run until it waits.
async fn let_them_wait() {
    for _ in 0..4 {
        weft::yield_now().await;
    }
}

#[test]
fn several_tasks_accept_on_one_listener_and_each_gets_a_connection() {
    run(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..3)
            .map(|_| {
                let listener = listener.clone();
                weft::spawn(async move { listener.accept().await.map(|(_, peer)| peer) })
            })
            .collect();
        let_them_wait().await;
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            // one connection at a time, so each edge finds the others still waiting
            weft::time::sleep(Duration::from_millis(20)).await;
        }
        let mut peers: Vec<SocketAddr> = Vec::new();
        for acceptor in acceptors {
            let peer = within(SHORT, acceptor).await.unwrap().unwrap();
            peers.push(peer);
        }
        let mut expected: Vec<SocketAddr> =
            clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn several_tasks_receive_on_one_udp_socket_and_each_gets_a_datagram() {
    run(async {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = socket.local_addr().unwrap();
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let socket = socket.clone();
                weft::spawn(async move {
                    let mut buf = [0; 16];
                    let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        let_them_wait().await;
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..3u8 {
            sender.send_to(&[i], addr).await.unwrap();
            weft::time::sleep(Duration::from_millis(20)).await;
        }
        let mut got = Vec::new();
        for receiver in receivers {
            got.extend(within(SHORT, receiver).await.unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn a_waiter_that_gave_up_does_not_keep_the_others_from_being_woken() {
    run(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let quitter = {
            let listener = listener.clone();
            weft::spawn(async move {
                weft::time::timeout(Duration::from_millis(10), listener.accept())
                    .await
                    .is_err()
            })
        };
        let stayer = {
            let listener = listener.clone();
            weft::spawn(async move { listener.accept().await.map(|(_, peer)| peer) })
        };
        assert!(
            within(SHORT, quitter).await.unwrap(),
            "nothing to accept yet"
        );
        let client = TcpStream::connect(addr).await.unwrap();
        let peer = within(SHORT, stayer).await.unwrap().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

#[test]
fn a_dropped_wait_beside_another_waiter_leaves_nothing_behind() {
    run(async {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = socket.local_addr().unwrap();
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let listen_addr = listener.local_addr().unwrap();
        // The parked waiters the dropped operations join.
        let receiver = weft::spawn({
            let socket = socket.clone();
            async move {
                let mut buf = [0; 8];
                socket.recv_from(&mut buf).await.map(|(n, _)| n)
            }
        });
        let acceptor = weft::spawn({
            let listener = listener.clone();
            async move { listener.accept().await.map(|(_, peer)| peer) }
        });
        let_them_wait().await;

        let shared = &socket;
        let receive = || async move { shared.recv_from(&mut [0; 8]).await };
        assert_eq!(wakers_kept_after_dropping(receive), 0);
        assert_eq!(wakers_kept_after_dropping(|| socket.readable()), 0);
        assert_eq!(wakers_kept_after_dropping(|| listener.accept()), 0);

        // The waiters that stayed are still woken.
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"still", addr).await.unwrap();
        assert_eq!(within(SHORT, receiver).await.unwrap().unwrap(), 5);
        let client = TcpStream::connect(listen_addr).await.unwrap();
        let peer = within(SHORT, acceptor).await.unwrap().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}
