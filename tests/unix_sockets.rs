//! Unix-domain sockets: streams by path and by abstract name, halves, datagrams with
//! back-pressure, shared acceptors, and errors that name what went wrong.

mod util;

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{multi_thread_rt, payload, run, run_on, within, Checksum, ScratchDir, XorShift};
use weft::net::{UnixDatagram, UnixListener, UnixStream};

const SHORT: Duration = Duration::from_secs(10);

#[test]
fn many_connections_echo_checksummed_payloads_by_path() {
    let dir = ScratchDir::new("unix-echo");
    let path = dir.path("echo.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = weft::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                weft::spawn(async move {
                    let (mut read, mut write) = stream.into_split();
                    let mut buf = vec![0; 16 * 1024];
                    loop {
                        let n = read.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        write.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let mut sizes = XorShift::new(7);
        let clients: Vec<_> = (0..64)
            .map(|i| {
                let len = sizes.log_uniform(1, 512 * 1024);
                let path = path.clone();
                weft::spawn(async move {
                    let data = payload(i, len);
                    let (mut read, mut write) =
                        UnixStream::connect(&path).await.unwrap().into_split();
                    let sender = weft::spawn(async move {
                        write.write_all(&data).await.unwrap();
                        Checksum::of(&data)
                    });
                    let mut got = Checksum::default();
                    let mut buf = vec![0; 7000];
                    while got.len < len as u64 {
                        let n = read.read(&mut buf).await.unwrap();
                        assert_ne!(n, 0, "the server closed early");
                        got.update(&buf[..n]);
                    }
                    assert_eq!(got, sender.await.unwrap());
                })
            })
            .collect();
        for client in clients {
            within(SHORT, client).await.unwrap();
        }
        server.abort();
    });
}

#[test]
fn a_dropped_write_half_is_end_of_stream_and_halves_reunite() {
    run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (read, write) = a.into_split();
        let (other_read, other_write) = UnixStream::pair().unwrap().0.into_split();
        let mismatched = read.reunite(other_write).unwrap_err();
        assert!(mismatched.to_string().contains("different streams"));
        let (read, _) = (mismatched.0, other_read);
        let mut a = read.reunite(write).unwrap();
        a.write_all(b"still one stream").await.unwrap();
        let mut got = [0; 16];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"still one stream");

        let (mut read, write) = a.into_split();
        drop(write);
        let mut buf = [0; 8];
        assert_eq!(within(SHORT, b.read(&mut buf)).await.unwrap(), 0);
        b.write_all(b"reply").await.unwrap();
        read.read_exact(&mut buf[..5]).await.unwrap();
        assert_eq!(&buf[..5], b"reply");
    });
}

#[test]
fn abstract_names_listen_and_connect_without_a_file() {
    let name = format!("weft-test-{}-abstract", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    run(async move {
        let listener = UnixListener::bind_addr(&addr).unwrap();
        let bound = listener.local_addr().unwrap();
        assert_eq!(bound.as_abstract_name(), Some(name.as_bytes()));
        let mut client = UnixStream::connect_addr(&addr).await.unwrap();
        let (mut server, _) = within(SHORT, listener.accept()).await.unwrap();
        assert_eq!(
            server.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        client.write_all(b"hi").await.unwrap();
        let mut buf = [0; 2];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
    });
}

#[test]
fn several_acceptors_share_a_listener_across_workers() {
    let dir = ScratchDir::new("unix-shared");
    let path = dir.path("shared.sock");
    let rt = multi_thread_rt(2);
    run_on(&rt, SHORT, async move {
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let acceptors: Vec<_> = (0..4)
            .map(|_| {
                let (listener, served) = (listener.clone(), served.clone());
                weft::spawn(async move {
                    loop {
                        let (mut stream, _) = listener.accept().await.unwrap();
                        let mut byte = [0; 1];
                        stream.read_exact(&mut byte).await.unwrap();
                        stream.write_all(&byte).await.unwrap();
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for i in 0..100u8 {
            let mut client = UnixStream::connect(&path).await.unwrap();
            client.write_all(&[i]).await.unwrap();
            let mut back = [0; 1];
            within(SHORT, client.read_exact(&mut back)).await.unwrap();
            assert_eq!(back[0], i);
        }
        for acceptor in acceptors {
            acceptor.abort();
            assert!(acceptor.await.unwrap_err().is_cancelled());
        }
        let total = served.load(Ordering::Relaxed);
        assert_eq!(total, 100);
    });
}

#[test]
fn connect_and_bind_errors_name_the_path() {
    let dir = ScratchDir::new("unix-errors");
    run(async {
        let missing = dir.path("missing.sock");
        let err = UnixStream::connect(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("missing.sock"), "{err}");

        let too_long = dir.path(&"x".repeat(200));
        let err = UnixStream::connect(&too_long).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("xxxx"), "{err}");

        let taken = dir.path("taken.sock");
        let _first = UnixListener::bind(&taken).unwrap();
        let err = UnixListener::bind(&taken).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(err.to_string().contains("taken.sock"), "{err}");

        // A datagram socket at the path: nothing there accepts stream connections.
        let datagram = dir.path("datagram.sock");
        let _socket = UnixDatagram::bind(&datagram).unwrap();
        let err = UnixStream::connect(&datagram).await.unwrap_err();
        assert!(err.to_string().contains("datagram.sock"), "{err}");
    });
}

#[test]
fn a_full_backlog_fails_the_connect_at_once_instead_of_blocking_the_loop() {
    let dir = ScratchDir::new("unix-backlog");
    let path = dir.path("full.sock");
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Shrink the backlog to the least the kernel allows (listening again only resets it).
    // SAFETY: `listen` on a descriptor the std listener owns and keeps open.
    assert_eq!(unsafe { libc::listen(std_listener.as_raw_fd(), 0) }, 0);
    run(async {
        let _listener = UnixListener::from_std(std_listener).unwrap();
        let mut held = Vec::new();
        let err = loop {
            match within(SHORT, UnixStream::connect(&path)).await {
                Ok(stream) => held.push(stream),
                Err(e) => break e,
            }
            assert!(held.len() <= 64, "the backlog never filled");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(err.to_string().contains("full.sock"), "{err}");
        assert!(err.to_string().contains("backlog is full"), "{err}");
    });
}

#[test]
fn datagrams_keep_boundaries_and_name_their_sender() {
    let dir = ScratchDir::new("unix-dgram");
    run(async {
        let a = UnixDatagram::bind(dir.path("a.sock")).unwrap();
        let b = UnixDatagram::bind(dir.path("b.sock")).unwrap();
        a.send_to(b"first", dir.path("b.sock")).await.unwrap();
        a.send_to(b"second!", dir.path("b.sock")).await.unwrap();
        let mut buf = [0; 64];
        let (n, from) = within(SHORT, b.recv_from(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        assert_eq!(from.as_pathname(), Some(dir.path("a.sock").as_path()));
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second!");

        let unbound = UnixDatagram::unbound().unwrap();
        unbound.connect(dir.path("a.sock")).unwrap();
        unbound.send(b"from nobody").await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from nobody");
        assert!(from.is_unnamed());

        let err = unbound.connect(dir.path("nobody.sock")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("nobody.sock"), "{err}");
    });
}

#[test]
fn a_sender_waits_while_the_receiver_is_full_and_nothing_is_lost() {
    run(async {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        const COUNT: u32 = 2000;
        let sender = weft::spawn(async move {
            let mut blocked = 0;
            for i in 0..COUNT {
                let mut datagram = payload(u64::from(i), 1024);
                datagram[..4].copy_from_slice(&i.to_le_bytes());
                if tx.try_send(&datagram).is_err() {
                    blocked += 1;
                    tx.send(&datagram).await.unwrap();
                }
            }
            blocked
        });
        let mut buf = [0; 2048];
        for i in 0..COUNT {
            let n = within(SHORT, rx.recv(&mut buf)).await.unwrap();
            assert_eq!(n, 1024);
            assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), i);
            if i % 100 == 0 {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let blocked = sender.await.unwrap();
        assert!(blocked > 0, "the receiver's queue never filled");
        assert_eq!(
            rx.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn a_datagram_socket_shut_down_for_reading_delivers_its_queue_then_fails_instead_of_spinning() {
    run(async {
        // A receive already waiting is released with an error (it used to retry `EAGAIN` for
        // ever inside one poll: the shut-down socket stays readable and never edges again).
        let (_tx, rx) = UnixDatagram::pair().unwrap();
        let rx = Arc::new(rx);
        let waiting = weft::spawn({
            let rx = rx.clone();
            async move { rx.recv(&mut [0; 8]).await }
        });
        weft::time::sleep(Duration::from_millis(20)).await;
        rx.shutdown(std::net::Shutdown::Read).unwrap();
        let err = within(SHORT, waiting).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");

        // What was queued before the shutdown is still delivered; then every receive fails.
        let (tx, rx) = UnixDatagram::pair().unwrap();
        tx.send(b"queued").await.unwrap();
        rx.shutdown(std::net::Shutdown::Read).unwrap();
        let mut buf = [0; 8];
        let n = within(SHORT, rx.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"queued");
        let err = within(SHORT, rx.recv(&mut buf)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        let err = within(SHORT, rx.recv_from(&mut buf)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        let err = tx.send(b"late").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
}

/// CPU time this thread has used (user and system).
fn thread_cpu_time() -> Duration {
    // SAFETY: `getrusage` fills the zero-initialised plain-data struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

#[test]
fn send_to_a_full_receiver_waits_without_spinning_and_delivers_everything_in_order() {
    // The kernel wakes only a connected sender when a full queue drains; an unconnected
    // `send_to` used to retry on every stray write edge, burning a core while it waited.
    let dir = ScratchDir::new("unix-full-send-to");
    run(async move {
        let receiver = UnixDatagram::bind(dir.path("receiver.sock")).unwrap();
        let sender = UnixDatagram::bind(dir.path("sender.sock")).unwrap();
        let target = dir.path("receiver.sock");
        // Far more than the kernel queues for one receiver (`net.unix.max_dgram_qlen`, 10 by
        // default on Linux); the sender waits on the rest.
        const COUNT: u32 = 40;
        let sending = weft::spawn(async move {
            for i in 0..COUNT {
                sender.send_to(&i.to_le_bytes(), &target).await.unwrap();
            }
        });
        weft::time::sleep(Duration::from_millis(20)).await;
        let (cpu_before, wall_before) = (thread_cpu_time(), Instant::now());
        weft::time::sleep(Duration::from_millis(500)).await;
        let (cpu, wall) = (thread_cpu_time() - cpu_before, wall_before.elapsed());
        assert!(!sending.is_finished(), "the receiver's queue never filled");
        assert!(
            cpu * 4 < wall,
            "the waiting sender used {cpu:?} of CPU in {wall:?}: it spins"
        );
        let mut buf = [0; 8];
        for i in 0..COUNT {
            let (n, from) = within(SHORT, receiver.recv_from(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
            assert_eq!(from.as_pathname(), Some(dir.path("sender.sock").as_path()));
        }
        within(SHORT, sending).await.unwrap();
    });
}

#[test]
fn datagrams_travel_between_abstract_names_and_the_try_calls_never_wait() {
    let dir = ScratchDir::new("unix-dgram-try");
    run(async move {
        let name = |tag: &str| {
            SocketAddr::from_abstract_name(format!("weft-test-{}-{tag}", std::process::id()))
                .unwrap()
        };
        let (a_name, b_name) = (name("dgram-a"), name("dgram-b"));
        let a = UnixDatagram::bind_addr(&a_name).unwrap();
        let b = UnixDatagram::bind_addr(&b_name).unwrap();
        assert_eq!(
            a.local_addr().unwrap().as_abstract_name(),
            a_name.as_abstract_name()
        );
        let mut buf = [0; 16];
        let err = b.try_recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");

        a.send_to_addr(b"to b", &b_name).await.unwrap();
        within(SHORT, b.readable()).await.unwrap();
        let (n, from) = b.try_recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"to b");
        assert_eq!(from.as_abstract_name(), a_name.as_abstract_name());
        b.connect_addr(&a_name).unwrap();
        b.send(b"to a").await.unwrap();
        let (n, _) = within(SHORT, a.recv_from(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"to a");

        // `try_send_to` fills a receiver's queue and then says `WouldBlock`; nothing is lost.
        let receiver = UnixDatagram::bind(dir.path("receiver.sock")).unwrap();
        let mut sent = 0u32;
        let full = loop {
            match a.try_send_to(&sent.to_le_bytes(), dir.path("receiver.sock")) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "the receiver's queue never filled");
        };
        assert_eq!(full.kind(), ErrorKind::WouldBlock, "{full}");
        for i in 0..sent {
            let n = within(SHORT, receiver.recv(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
        }
        let err = receiver.try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");

        let err = a.try_send_to(b"x", dir.path("nobody.sock")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("nobody.sock"), "{err}");
        let err = a.send_to_addr(b"x", &name("nobody")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(err.to_string().contains("nobody"), "{err}");
    });
}
