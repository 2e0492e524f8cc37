//! Socket options beyond what std offers (keep-alive, buffer sizes, linger) and the ones std
//! has on streams (TTL, `TCP_NODELAY`): they read back as set, reach the connections a listener
//! accepts, change what the peer sees (an abortive close), and bad values are clear errors.
//! Also `peek`, the other per-stream call a server uses to look before it reads, and the
//! descriptor itself (`AsFd`/`AsRawFd`) for options weft has no setter for.

mod util;

use std::io::{ErrorKind, Read};
use std::time::Duration;

use util::run;
use weft::net::{TcpListener, TcpSocket};

#[test]
fn options_on_a_socket_read_back_as_set() {
    run(async {
        let socket = TcpSocket::new_v4().unwrap();
        for on in [true, false] {
            socket.set_keepalive(on).unwrap();
            assert_eq!(socket.keepalive().unwrap(), on);
            socket.set_nodelay(on).unwrap();
            assert_eq!(socket.nodelay().unwrap(), on);
        }
        // Linux doubles the figure for its bookkeeping (after capping it at
        // net.core.[rw]mem_max, 208 KiB by default, above what is asked here).
        socket.set_send_buffer_size(48 * 1024).unwrap();
        let send = socket.send_buffer_size().unwrap();
        assert!((48 * 1024..=2 * 48 * 1024).contains(&send), "{send}");
        socket.set_recv_buffer_size(40 * 1024).unwrap();
        let recv = socket.recv_buffer_size().unwrap();
        assert!((40 * 1024..=2 * 40 * 1024).contains(&recv), "{recv}");
        assert_ne!(send, recv, "each option sets its own buffer");
        assert_eq!(socket.linger().unwrap(), None);
        socket.set_linger(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(5)));
        // whole seconds only: a fraction rounds up rather than down to an abortive zero
        socket.set_linger(Some(Duration::from_millis(1))).unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(1)));
        socket.set_linger(None).unwrap();
        assert_eq!(socket.linger().unwrap(), None);
    });
}

#[test]
fn out_of_range_values_are_invalid_input_errors_that_say_why() {
    run(async {
        let socket = TcpSocket::new_v4().unwrap();
        let err = socket.set_send_buffer_size(u32::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("4294967295 bytes"), "{err}");
        let err = socket
            .set_linger(Some(Duration::from_secs(u64::MAX)))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("linger"), "{err}");
        // nothing was changed by the refused calls
        assert_eq!(socket.linger().unwrap(), None);
    });
}

#[test]
fn accepted_and_connected_streams_carry_the_sockets_options() {
    run(async {
        let listening = TcpSocket::new_v4().unwrap();
        listening.set_keepalive(true).unwrap();
        listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listening.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();

        let connecting = TcpSocket::new_v4().unwrap();
        connecting.set_nodelay(true).unwrap();
        let client = connecting.connect(addr).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        assert!(client.nodelay().unwrap());
        assert!(
            server_side.keepalive().unwrap(),
            "accepted streams inherit SO_KEEPALIVE"
        );
        assert!(!client.keepalive().unwrap());

        client.set_keepalive(true).unwrap();
        assert!(client.keepalive().unwrap());
        client.set_ttl(17).unwrap();
        assert_eq!(client.ttl().unwrap(), 17);
        server_side
            .set_linger(Some(Duration::from_secs(3)))
            .unwrap();
        assert_eq!(server_side.linger().unwrap(), Some(Duration::from_secs(3)));
    });
}

#[test]
fn a_zero_linger_resets_the_connection_instead_of_closing_it() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Without linger: the peer reads the data, then end-of-file.
        let mut graceful = std::net::TcpStream::connect(addr).unwrap();
        let (mut closing, _) = listener.accept().await.unwrap();
        closing.write_all(b"bye").await.unwrap();
        drop(closing);
        let mut got = Vec::new();
        graceful.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"bye");

        // With a zero linger: the peer gets a reset.
        let mut aborted = std::net::TcpStream::connect(addr).unwrap();
        let (resetting, _) = listener.accept().await.unwrap();
        resetting.set_linger(Some(Duration::ZERO)).unwrap();
        drop(resetting);
        let err = aborted.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn coroutine_streams_have_the_same_options() {
    use weft::coroutines::net::{TcpListener, TcpStream};
    util::run_coro(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream.set_keepalive(true).unwrap();
        assert!(stream.keepalive().unwrap());
        stream.set_ttl(9).unwrap();
        assert_eq!(stream.ttl().unwrap(), 9);
        stream.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(stream.linger().unwrap(), Some(Duration::ZERO));
        drop::<TcpStream>(stream);
        let err = peer.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn peek_sees_the_data_without_consuming_it_and_then_the_end() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = weft::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server_side, _) = listener.accept().await.unwrap();
        // Nothing yet: peek waits for the data, as a read would.
        let sender = weft::spawn(async move {
            weft::time::sleep(Duration::from_millis(20)).await;
            client.write_all(b"\x16\x03\x01 hello").await.unwrap();
            client
        });
        let mut sniff = [0; 3];
        let n = server_side.peek(&mut sniff).await.unwrap();
        assert!(n > 0 && sniff[..n] == b"\x16\x03\x01"[..n], "{sniff:?}");
        let mut all = [0; 9];
        server_side.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"\x16\x03\x01 hello");
        drop(sender.await.unwrap());
        assert_eq!(
            server_side.peek(&mut sniff).await.unwrap(),
            0,
            "end of stream"
        );
    });
}

#[test]
fn a_coroutine_peeks_within_its_read_timeout() {
    use weft::coroutines::net::TcpListener;
    util::run_coro(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let err = stream.peek(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        std::io::Write::write_all(&mut peer, b"ping").unwrap();
        let mut got = [0; 4];
        assert_eq!(stream.peek(&mut got).unwrap(), 4);
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    });
}

#[test]
fn udp_options_read_back_and_multicast_membership_is_checked_by_the_kernel() {
    use std::net::Ipv4Addr;
    use weft::net::UdpSocket;
    run(async {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        for on in [true, false] {
            socket.set_broadcast(on).unwrap();
            assert_eq!(socket.broadcast().unwrap(), on);
            socket.set_multicast_loop_v4(on).unwrap();
            assert_eq!(socket.multicast_loop_v4().unwrap(), on);
        }
        socket.set_ttl(33).unwrap();
        assert_eq!(socket.ttl().unwrap(), 33);
        socket.set_multicast_ttl_v4(4).unwrap();
        assert_eq!(socket.multicast_ttl_v4().unwrap(), 4);

        let group = Ipv4Addr::new(239, 7, 7, 7);
        // Leaving a group never joined is the kernel's error, and it names the group.
        let err = socket
            .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert!(err.to_string().contains("239.7.7.7"), "{err}");
        socket
            .join_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap();
        socket
            .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap();
    });
}

#[test]
fn a_coroutine_udp_socket_takes_over_a_std_socket_with_its_options() {
    use weft::coroutines::net::UdpSocket;
    util::run_coro(|| {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std_socket.set_ttl(21).unwrap();
        let addr = std_socket.local_addr().unwrap();
        let probe = std_socket.try_clone().unwrap();
        let socket = UdpSocket::from_std(std_socket).unwrap();
        assert_eq!(socket.local_addr().unwrap(), addr, "the same socket");
        assert_eq!(probe.ttl().unwrap(), 21, "its options kept");
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.send_to(b"ok", peer.local_addr().unwrap()).unwrap();
        let mut buf = [0; 4];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ok"[..], addr));
    });
}

/// Sets `SO_KEEPALIVE` through `libc` on `fd`, as a user would for an option weft lacks.
fn set_keepalive_raw(fd: std::os::fd::RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: `fd` is an open socket for the duration of the call; `on` is a live c_int and
    // its size is passed along.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn the_descriptor_is_there_for_options_weft_has_no_setter_for() {
    use std::os::fd::{AsFd, AsRawFd};
    run(async {
        let (client, server) = util::tcp_pair().await.unwrap();
        set_keepalive_raw(client.as_raw_fd());
        assert!(client.keepalive().unwrap());
        assert!(!server.keepalive().unwrap());
        assert_ne!(client.as_fd().as_raw_fd(), server.as_raw_fd());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(listener.as_raw_fd() >= 0);
    });
    util::run_coro(|| {
        let listener = weft::coroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream =
            weft::coroutines::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_keepalive_raw(stream.as_raw_fd());
        assert!(stream.keepalive().unwrap());
        let fd = stream.as_raw_fd();
        assert_eq!(stream.into_weft().as_raw_fd(), fd);
        let (a, _b) = weft::coroutines::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        assert_eq!(a.into_weft().as_raw_fd(), fd);
    });
}
