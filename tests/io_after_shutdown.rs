//! Sockets outliving their runtime: once it is dropped, every operation fails with an error,
//! also one whose direction the reactor had last seen ready (that readiness can no longer be
//! renewed, so trying the syscall on it would work once and then wait for nobody).

mod util;

use std::io;
use std::net::SocketAddr;

use weft::net::{TcpStream, UdpSocket};
use weft::task::block_on;
use weft::Runtime;

/// Sockets whose readiness the reactor has cached: `reader` has unread bytes after a read
/// that filled its buffer (not a short read, so still readable), `writer` and `udp` have
/// written in full (still writable).
struct Cached {
    reader: TcpStream,
    writer: TcpStream,
    udp: UdpSocket,
    target: SocketAddr,
    _target_socket: UdpSocket,
}

fn sockets_with_cached_readiness(rt: &Runtime) -> Cached {
    util::run_on(rt, util::LIMIT, async {
        let (mut writer, mut reader) = util::tcp_pair().await.expect("a connected pair");
        writer.write_all(b"ping").await.expect("write");
        let mut one = [0; 1];
        reader
            .read_exact(&mut one)
            .await
            .expect("read one byte of four");
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let target_socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let target = target_socket.local_addr().expect("local_addr");
        udp.send_to(b"x", target).await.expect("send_to");
        Cached {
            reader,
            writer,
            udp,
            target,
            _target_socket: target_socket,
        }
    })
}

fn assert_shut_down<T: std::fmt::Debug>(what: &str, result: io::Result<T>) {
    match result {
        Err(e) => assert!(
            e.to_string().contains("shut down"),
            "{what} after the runtime dropped: unexpected error {e}"
        ),
        Ok(v) => panic!("{what} after the runtime dropped succeeded: {v:?}"),
    }
}

fn every_operation_fails_after(rt: Runtime) {
    let mut s = sockets_with_cached_readiness(&rt);
    drop(rt);
    let mut buf = [0; 8];
    assert_shut_down("read", block_on(s.reader.read(&mut buf)));
    assert_shut_down("try_read", s.reader.try_read(&mut buf));
    assert_shut_down("write", block_on(s.writer.write(b"pong")));
    assert_shut_down("try_write", s.writer.try_write(b"pong"));
    assert_shut_down("send_to", block_on(s.udp.send_to(b"y", s.target)));
    assert_shut_down("try_send_to", s.udp.try_send_to(b"y", s.target));
}

#[test]
fn current_thread_sockets_fail_every_operation_once_the_runtime_is_gone() {
    every_operation_fails_after(util::rt());
}

#[test]
fn multi_thread_sockets_fail_every_operation_once_the_runtime_is_gone() {
    every_operation_fails_after(util::multi_thread_rt(2));
}
