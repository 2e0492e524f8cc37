//! UDP on loopback: addressed and connected sockets, wake-ups, and a thousand datagrams.

mod util;

use std::collections::HashSet;
use std::time::Duration;

use util::{payload, run, within};
use weft::net::UdpSocket;

const SHORT: Duration = Duration::from_secs(5);

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket on 127.0.0.1:0")
}

#[test]
fn send_to_and_recv_from_round_trip_with_the_right_addresses() {
    run(async {
        let a = bind();
        let b = bind();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
        let mut buf = [0; 64];
        let (n, from) = within(SHORT, b.recv_from(&mut buf)).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a_addr));
        b.send_to(b"pong!", from).await.unwrap();
        let (n, from) = within(SHORT, a.recv_from(&mut buf)).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"pong!"[..], b_addr));
    });
}

#[test]
fn connected_sockets_send_and_recv_and_ignore_strangers() {
    run(async {
        let a = bind();
        let b = bind();
        let stranger = bind();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

        // A datagram from a third socket is filtered out by the kernel.
        stranger
            .send_to(b"intruder", a.local_addr().unwrap())
            .await
            .unwrap();
        b.send(b"hello").await.unwrap();
        let mut buf = [0; 64];
        let n = within(SHORT, a.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        a.send(b"world").await.unwrap();
        let n = within(SHORT, b.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"world");

        // The non-waiting calls, driven by `readable`/`writable`.
        let err = a.try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
        within(SHORT, b.writable()).await.unwrap();
        assert_eq!(b.try_send(b"again").unwrap(), 5);
        let n = loop {
            within(SHORT, a.readable()).await.unwrap();
            match a.try_recv(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                result => break result.unwrap(),
            }
        };
        assert_eq!(&buf[..n], b"again");
    });
}

#[test]
fn a_parked_receiver_is_woken_by_a_datagram_from_another_task() {
    run(async {
        let rx = bind();
        let addr = rx.local_addr().unwrap();
        let receiver = weft::spawn(async move {
            let mut buf = [0; 32];
            let (n, _) = rx.recv_from(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        weft::yield_now().await;
        assert!(!receiver.is_finished());
        let tx = bind();
        weft::time::sleep(Duration::from_millis(10)).await;
        tx.send_to(b"wake up", addr).await.unwrap();
        assert_eq!(within(SHORT, receiver).await.unwrap(), b"wake up");
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_and_the_rest_discarded() {
    run(async {
        let a = bind();
        let b = bind();
        let b_addr = b.local_addr().unwrap();
        a.send_to(&payload(1, 1000), b_addr).await.unwrap();
        a.send_to(b"next", b_addr).await.unwrap();
        let mut small = [0; 10];
        let (n, _) = within(SHORT, b.recv_from(&mut small)).await.unwrap();
        assert_eq!(n, 10);
        assert_eq!(&small[..], &payload(1, 1000)[..10]);
        // The next receive is the next datagram, not the rest of the first.
        let (n, _) = within(SHORT, b.recv_from(&mut small)).await.unwrap();
        assert_eq!(&small[..n], b"next");
    });
}

#[test]
fn an_echo_server_task_answers_two_hundred_round_trips() {
    run(async {
        let server = bind();
        let server_addr = server.local_addr().unwrap();
        let echo = weft::spawn(async move {
            let mut buf = [0; 1500];
            for _ in 0..200 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = bind();
        client.connect(server_addr).await.unwrap();
        let mut buf = [0; 1500];
        for i in 0..200u64 {
            let msg = payload(i, 1 + (i as usize * 37) % 1400);
            client.send(&msg).await.unwrap();
            let n = within(SHORT, client.recv(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &msg[..], "round trip {i}");
        }
        within(SHORT, echo).await.unwrap();
    });
}

#[test]
fn a_thousand_sequenced_datagrams_arrive_intact() {
    const COUNT: u32 = 1_000;
    run(async {
        let rx = bind();
        let tx = bind();
        let rx_addr = rx.local_addr().unwrap();
        let receiver = weft::spawn(async move {
            let mut seen = HashSet::new();
            let mut buf = [0; 256];
            while seen.len() < COUNT as usize {
                // Stop after a quiet spell: UDP may drop (on loopback it normally does not).
                let Ok(got) =
                    weft::time::timeout(Duration::from_millis(500), rx.recv_from(&mut buf)).await
                else {
                    break;
                };
                let (n, _) = got.unwrap();
                let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
                assert!(seq < COUNT, "bogus sequence number {seq}");
                let body = payload(u64::from(seq), 60);
                assert_eq!(n, 64, "datagram {seq} has the wrong length");
                assert_eq!(&buf[4..n], &body[..], "datagram {seq} corrupted");
                assert!(seen.insert(seq), "datagram {seq} duplicated");
            }
            seen.len()
        });
        for seq in 0..COUNT {
            let mut dgram = seq.to_le_bytes().to_vec();
            dgram.extend_from_slice(&payload(u64::from(seq), 60));
            tx.send_to(&dgram, rx_addr).await.unwrap();
            if seq % 64 == 63 {
                weft::yield_now().await; // let the receiver drain
            }
        }
        let received = within(Duration::from_secs(10), receiver).await.unwrap();
        assert!(
            received >= COUNT as usize * 95 / 100,
            "only {received} of {COUNT} datagrams arrived"
        );
    });
}

#[test]
fn udp_outside_a_runtime_is_an_error() {
    let err = UdpSocket::bind("127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
}
