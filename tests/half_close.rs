//! Half-close: FIN in one direction while the other keeps flowing, FIN arriving together with
//! the last data (the edge-triggered trap: no further edge will announce the EOF), and the FIN
//! sent by dropping an `OwnedWriteHalf`.

mod util;

use std::future::poll_fn;
use std::io::Write;
use std::net::Shutdown;
use std::pin::Pin;
use std::time::Duration;

use util::{payload, run, tcp_pair, within, Checksum, XorShift};
use weft::io::AsyncWrite;
use weft::net::TcpStream;

const SHORT: Duration = Duration::from_secs(2);

/// Reads to EOF; fails the test instead of hanging.
async fn read_to_end(conn: &mut TcpStream, buf_size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0; buf_size];
    loop {
        let n = within(SHORT, conn.read(&mut buf)).await.expect("read");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn the_server_reads_to_eof_then_still_replies_and_the_client_sees_reply_then_eof() {
    run(async {
        let (mut client, mut server) = tcp_pair().await.unwrap();
        let data = payload(1, 100_000);
        let server = weft::spawn(async move {
            let got = read_to_end(&mut server, 4096).await;
            // Reading past EOF keeps returning 0.
            let mut more = [0; 16];
            assert_eq!(server.read(&mut more).await.unwrap(), 0);
            let reply = format!("got {} bytes, fnv {:x}", got.len(), Checksum::of(&got).hash);
            server.write_all(reply.as_bytes()).await.unwrap();
            // Dropping sends our FIN.
        });
        client.write_all(&data).await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let reply = read_to_end(&mut client, 7).await;
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            format!(
                "got {} bytes, fnv {:x}",
                data.len(),
                Checksum::of(&data).hash
            )
        );
        let mut more = [0; 4];
        assert_eq!(client.read(&mut more).await.unwrap(), 0, "EOF is sticky");
        server.await.unwrap();
    });
}

#[test]
fn data_and_fin_that_arrive_together_before_the_read_give_data_then_eof() {
    run(async {
        let (listener, addr) = util::listener();
        // Read buffers smaller than, equal to and larger than the message.
        for (round, buf_size) in [1, 2, 5, 6, 64, 65536]
            .into_iter()
            .cycle()
            .take(36)
            .enumerate()
        {
            let mut std_client = std::net::TcpStream::connect(addr).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            std_client.write_all(b"hello").unwrap();
            std_client.shutdown(Shutdown::Write).unwrap();
            // Both the bytes and the FIN are in the socket before the first read.
            weft::time::sleep(Duration::from_millis(2)).await;
            let got = read_to_end(&mut server, buf_size).await;
            assert_eq!(got, b"hello", "round {round}, buffer {buf_size}");
        }
    });
}

#[test]
fn data_and_fin_that_arrive_together_while_the_reader_waits_give_data_then_eof() {
    run(async {
        let (listener, addr) = util::listener();
        let mut rng = XorShift::new(99);
        for round in 0..60 {
            let mut std_client = std::net::TcpStream::connect(addr).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let len = rng.range(1, 3000);
            let buf_size = [len, len + 1, 512, 1, 4096][round % 5];
            let reader = weft::spawn(async move { read_to_end(&mut server, buf_size).await });
            weft::yield_now().await; // the reader is parked on an empty socket
            let data = payload(round as u64, len);
            std_client.write_all(&data).unwrap();
            std_client.shutdown(Shutdown::Write).unwrap();
            let got = within(SHORT, reader).await.unwrap();
            assert_eq!(got.len(), len, "round {round}, buffer {buf_size}");
            assert!(got == data, "round {round}: corrupted");
        }
    });
}

#[test]
fn a_megabyte_followed_by_fin_is_read_completely_then_eof() {
    run(async {
        let (mut client, mut server) = tcp_pair().await.unwrap();
        let data = payload(3, 1 << 20);
        let expect = Checksum::of(&data);
        let writer = weft::spawn(async move {
            client.write_all(&data).await.unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            client // keep the socket open: only the write half is closed
        });
        let got = read_to_end(&mut server, 65536).await;
        assert_eq!(Checksum::of(&got), expect);
        drop(writer.await.unwrap());
    });
}

#[test]
fn a_fin_without_any_data_reads_as_eof() {
    run(async {
        let (client, mut server) = tcp_pair().await.unwrap();
        let reader = weft::spawn(async move {
            let mut buf = [0; 8];
            server.read(&mut buf).await.unwrap()
        });
        weft::yield_now().await;
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(within(SHORT, reader).await.unwrap(), 0);
        drop(client);
    });
}

#[test]
fn the_server_half_closes_while_the_client_keeps_sending() {
    run(async {
        let (mut client, mut server) = tcp_pair().await.unwrap();
        server.write_all(b"bye").await.unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        let data = payload(4, 300_000);
        let expect = Checksum::of(&data);
        let sink = weft::spawn(async move { Checksum::of(&read_to_end(&mut server, 8192).await) });
        assert_eq!(read_to_end(&mut client, 64).await, b"bye");
        // The other direction still works after our side saw EOF.
        client.write_all(&data).await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(within(SHORT, sink).await.unwrap(), expect);
    });
}

#[test]
fn dropping_an_owned_write_half_sends_fin_and_the_read_half_keeps_working() {
    run(async {
        let (mut client, server) = tcp_pair().await.unwrap();
        let (mut rd, mut wr) = server.into_split();
        wr.write_all(b"last words").await.unwrap();
        drop(wr);
        assert_eq!(read_to_end(&mut client, 4).await, b"last words");
        client.write_all(b"still listening?").await.unwrap();
        let mut buf = [0; 16];
        within(SHORT, rd.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"still listening?");
        drop(client);
        let mut buf = [0; 1];
        assert_eq!(within(SHORT, rd.read(&mut buf)).await.unwrap(), 0);
    });
}

#[test]
fn owned_write_half_shutdown_sends_fin_at_once() {
    run(async {
        let (mut client, server) = tcp_pair().await.unwrap();
        let (_rd, wr) = server.into_split();
        wr.shutdown().unwrap();
        assert_eq!(read_to_end(&mut client, 4).await, b"");
        drop(wr);
    });
}

#[test]
fn reunited_halves_do_not_send_fin() {
    run(async {
        let (mut client, server) = tcp_pair().await.unwrap();
        let (rd, wr) = server.into_split();
        let mut server = rd.reunite(wr).expect("halves of one stream");
        // No FIN arrived: a read on the client side stays pending.
        let mut buf = [0; 4];
        let quiet = weft::time::timeout(Duration::from_millis(50), client.read(&mut buf)).await;
        assert!(quiet.is_err(), "the client saw {quiet:?} after a reunite");
        server.write_all(b"ok").await.unwrap();
        client.read_exact(&mut buf[..2]).await.unwrap();
        assert_eq!(&buf[..2], b"ok");
    });
}

#[test]
fn halves_of_different_streams_do_not_reunite() {
    run(async {
        let (a, _a_peer) = tcp_pair().await.unwrap();
        let (b, _b_peer) = tcp_pair().await.unwrap();
        let (a_rd, _a_wr) = a.into_split();
        let (_b_rd, b_wr) = b.into_split();
        let err = a_rd.reunite(b_wr).unwrap_err();
        assert!(err.to_string().contains("different"), "{err}");
    });
}

#[test]
fn async_write_poll_close_sends_fin() {
    run(async {
        let (mut client, mut server) = tcp_pair().await.unwrap();
        server.write_all(b"x").await.unwrap();
        poll_fn(|cx| Pin::new(&mut server).poll_close(cx))
            .await
            .unwrap();
        assert_eq!(read_to_end(&mut client, 4).await, b"x");
    });
}
